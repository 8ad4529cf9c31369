"""Response models of the rule and report routes (`engine.api.routes.rules_runtime`,
`rule_buttons`, `reports`): rule state, runs, tests, buttons and saved reports."""

from __future__ import annotations

from pydantic import Field

from engine.api.schemas.common import Answer, Json, Label, OpenAnswer


class RuleRunOut(Answer):
    """One run of a rule: what triggered it, its state, the condition's result, each action's
    outcome, timings and the job that ran it."""

    id: int
    rule: str
    revision: int
    mode: str
    state: str
    record_id: int | None
    event: dict[str, Json]
    condition: bool | None
    actions: list[Json]
    error: str | None
    duration_ms: int | None
    job_id: int | None
    attempt: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class RuleState(Answer):
    """A live rule: key, name, form, trigger, mode, whether it is enabled now, its last run."""

    key: str
    name: Label
    form: str | None
    on: str
    mode: str
    enabled: bool
    last_run: RuleRunOut | None


class RulesState(Answer):
    """Every rule of the live revision."""

    rules: list[RuleState]


class RuleEnabled(Answer):
    """A rule's switch as set."""

    key: str
    enabled: bool


class RuleRuns(Answer):
    """One page of a rule's runs, newest first, and how many there are."""

    items: list[RuleRunOut]
    total: int


class RuleTest(Answer):
    """A dry run of a rule on one record: the condition's result and each action's outcome."""

    condition: Json
    actions: list[dict[str, Json]]


class RuleButton(Answer):
    """A rule button the caller may press on a record page."""

    rule: str
    label: dict[str, str]
    mode: str


class RuleButtons(Answer):
    """The rule buttons of a form's record page."""

    buttons: list[RuleButton]


class Fired(Answer):
    """Whether the button's condition held, and the run it made (null when none)."""

    condition: bool
    run: RuleRunOut | None


class SavedReport(OpenAnswer):
    """A report as saved (its definition, DESIGN §4 reports; open here) and the new revision."""

    key: str
    revision: int = Field(alias="_revision")
