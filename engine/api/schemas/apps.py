"""Response models of the app routes (`engine.api.routes.apps`): app lists, definitions with
their revision, migration plans and the warnings of a publish."""

from __future__ import annotations

from typing import Any

from pydantic import Field, create_model

from engine.api.schemas.common import Answer, Json, Label, OpenAnswer
from engine.api.schemas.records import IssueOut


class AppSummary(Answer):
    """An installed app: key, name, version and live revision."""

    key: str
    name: Label
    version: str | None
    revision: int = Field(alias="_revision")


class PlanStep(Answer):
    """One change a publish makes, said in zh and en for the person publishing."""

    op: str
    form: str
    field: str | None
    detail: dict[str, Json]
    message: dict[str, str]


class MigrationPlan(Answer):
    """Every step of a publish; `plan_hash` identifies exactly this plan."""

    steps: list[PlanStep]
    plan_hash: str


class PlanPreview(MigrationPlan):
    """What publishing a definition would do, and the engines' warnings about it."""

    warnings: list[IssueOut]


class DefinitionOut(OpenAnswer):
    """An app definition (`jimu.app/1`, DESIGN §4; its JSON Schema is `GET /schema/app.json`).
    Forms, flows, rules, reports, dashboards, roles and menu are open here: the definition
    format describes them."""

    format: str
    key: str
    name: Label
    version: str


class AppDefinitionOut(DefinitionOut):
    """An app definition with the revision it is live as (send it back with `PUT`)."""

    revision: int = Field(alias="_revision")


class CreatedApp(AppDefinitionOut):
    """A new app's definition, revision and the plan that created its tables."""

    plan: MigrationPlan


class PublishedApp(CreatedApp):
    """A published definition, its new revision, the plan applied and the warnings."""

    warnings: list[IssueOut]


class ImportedApp(Answer):
    """An installed or upgraded pack: the app's key and revision, the plan, the warnings."""

    key: str
    revision: int = Field(alias="_revision")
    plan: MigrationPlan
    warnings: list[IssueOut]


class ExportedPack(DefinitionOut):
    """The app as a pack: its definition and, when asked, every live record per form."""

    data: dict[str, list[dict[str, Json]]] | None = None


class Purged(Answer):
    """How many kept columns were dropped for good."""

    purged_columns: int


def published_part(part: str) -> type[Answer]:
    """The answer of `PUT /apps/{app}/<part>`: the part as live now, the new revision, the
    plans per item and the warnings."""
    fields: dict[str, Any] = {
        part: (list[dict[str, Json]], ...),
        "revision": (int, Field(alias="_revision")),
        "plans": (dict[str, Json], ...),
        "warnings": (list[IssueOut], ...),
    }
    model: type[Answer] = create_model(f"Published{part.title()}", __base__=Answer, **fields)
    model.__doc__ = f"The app's {part} as published, the new revision, plans and warnings."
    return model


class FormUse(Answer):
    """What the caller may do with one form (`GET /apps/{app}/menu`) and how its lookups,
    rollups and formulas display (`engine.forms.display`)."""

    read: bool
    create: bool
    display: dict[str, Json]


class AppMenu(Answer):
    """The app's forms as the caller may use them, by form key, and the reports they may run."""

    forms: dict[str, FormUse]
    reports: list[str] = Field(
        default_factory=list,
        description="Keys of the reports the caller may run (may view the report's form and "
        "the report reads no field hidden from them): the app menu's 报表 entries",
    )


class BackupOut(Answer):
    """A type change's backup of one field: its column, the type it kept, when, and how many
    values it holds."""

    field: str
    backup: str
    type: str | None
    at: str | None
    values: int


class NotRestored(Answer):
    """A record whose backed-up value was not restored, and why (`not_converted`,
    `has_value`)."""

    id: int
    title: str | None
    row: int | None = None  # the subform row's id, for a subform's row field
    value: str
    reason: str


class RestoreOut(Answer):
    """What restoring a backup did: the field and backup, how many values came back, how many
    did not, and the first of those."""

    field: str
    backup: str
    restored: int
    skipped: int
    not_restored: list[NotRestored]
