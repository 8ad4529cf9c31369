"""Pydantic models of the app definition format `jimu.app/1` (DESIGN §4), and its JSON Schema.

The models are the single source of truth: `app_json_schema()` publishes the JSON Schema
(draft 2020-12) generated from them. Fields are a union discriminated on `type`, built from the
field type registry, so registering a field type extends the format. Flows, rules, reports,
dashboards, roles and menu entries stay opaque objects until their engines define them.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, StringConstraints

from engine.forms.common import FieldSpecBase, Formula, Key, Label, LocalizedText, Spec
from engine.forms.field_types import FIELD_TYPES
from engine.forms.field_types.structure import SubformField
from engine.forms.roles import RoleSpec

FORMAT = "jimu.app/1"
SCHEMA_ID = "urn:jimu:schema:app:1"

if TYPE_CHECKING:
    AnyField = FieldSpecBase
else:
    AnyField = Annotated[
        Union[tuple(field_type.spec for field_type in FIELD_TYPES)],  # noqa: UP007
        Field(discriminator="type"),
    ]

SubformField.model_rebuild(_types_namespace={"AnyField": AnyField})

Opaque = dict[str, Any]


class Validation(Spec):
    """A cross-field rule: `expr` must be true, otherwise `message` is shown."""

    expr: Formula
    message: LocalizedText


IndexKey = Annotated[str, StringConstraints(pattern=r"^-?[a-z][a-z0-9_]{0,40}$")]
"""A field key in a composite index; a leading `-` makes that column descending."""

MAX_INDEX_FIELDS = 5


class FormSpec(Spec):
    """One form: its fields (a record table), title field, validations, attached flow and
    composite indexes (`indexes: [["status", "-amount"]]`, see `engine.forms.indexes`)."""

    key: Key
    name: Label
    title_field: Key | None = None
    fields: list[AnyField]
    validations: list[Validation] = Field(default_factory=list)
    flow: Key | None = None
    indexes: list[Annotated[list[IndexKey], Field(min_length=1, max_length=MAX_INDEX_FIELDS)]] = (
        Field(
            default_factory=list,
            description="Composite indexes: field keys in order, a leading - for descending",
        )
    )


class AppSpec(Spec):
    """A whole app ("pack"): forms plus flows, rules, reports, dashboards, roles and menu."""

    format: Literal["jimu.app/1"] = Field(description="Definition format and its version")
    key: Key
    name: Label
    version: Annotated[str, Field(min_length=1, max_length=40)]
    description: Label | None = None
    forms: list[FormSpec] = Field(default_factory=list)
    flows: list[Opaque] = Field(default_factory=list)
    rules: list[Opaque] = Field(default_factory=list)
    reports: list[Opaque] = Field(default_factory=list)
    dashboards: list[Opaque] = Field(default_factory=list)
    roles: list[RoleSpec] = Field(default_factory=list)
    menu: list[Opaque] = Field(default_factory=list)
    data: dict[Key, list[Opaque]] | None = Field(
        default=None,
        description="Records carried by the pack (export with data, sample data): form key -> records",
    )


def app_json_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of `jimu.app/1`, generated from the models."""
    return copy.deepcopy(_app_json_schema())


@cache
def _app_json_schema() -> dict[str, Any]:
    schema = AppSpec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Jimu app definition (jimu.app/1)",
        **{k: v for k, v in schema.items() if k != "title"},
    }


__all__ = ["FORMAT", "AnyField", "AppSpec", "FormSpec", "Validation", "app_json_schema"]
