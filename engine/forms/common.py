"""Building blocks shared by every part of the definition: keys, labels and the field bases.

`FieldSpecBase` holds what any field has (key, label, help, layout width, show/readonly
conditions, `index`); `ValueFieldSpec` adds what a field the user fills in has (required, unique,
default, min/max, pattern). Each field type's own model (in `field_types/`) extends one of them
with its `type` literal and its own options.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,40}$"

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
Formula = Annotated[
    str, StringConstraints(min_length=1), Field(description="A formula (DESIGN §6)")
]
Width = Literal["full", "half", "third", "two_thirds", "quarter"]


class Spec(BaseModel):
    """Base of every definition model: immutable, and unknown properties are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class OpenSpec(Spec):
    """A definition object that keeps properties it does not know yet: the parts of flows,
    rules and reports whose details later engines will type (node and action settings)."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)


class LocalizedText(Spec):
    """Free text per language; at least one language should be given."""

    zh: str | None = None
    en: str | None = None


Label = str | LocalizedText


class DefaultExpr(Spec):
    """A default computed by a formula when a record is created."""

    expr: Formula


SourceKey = Annotated[str, StringConstraints(pattern=r"^(_id|[a-z][a-z0-9_]{0,40})$")]


class LinkageCondition(Spec):
    """One condition of a data linkage: the source record's `field` equals this form's `equals`."""

    field: SourceKey = Field(description="A field key of the source form, or _id")
    equals: Key = Field(description="A field key of this form")


class Linkage(Spec):
    """Data linkage (数据联动): take `take` from the record of `form` matching every `when`."""

    form: Key = Field(description="The source form (same app)")
    when: Annotated[list[LinkageCondition], Field(min_length=1, max_length=3)]
    take: Key = Field(description="The source field whose value fills this field")


class DefaultLinkage(Spec):
    """A default filled from a related record (see `engine.forms.linkage`)."""

    linkage: Linkage


DefaultValue = DefaultExpr | DefaultLinkage | bool | int | float | str | list[str] | None


class FieldSpecBase(Spec):
    """What every field has: a stable key, a label, help, layout width and conditions."""

    type: str
    key: Key
    label: Label | None = None
    help: Label | None = None
    width: Width | None = None
    visible_when: Formula | None = None
    readonly_when: Formula | None = None
    index: bool = Field(
        default=False,
        description="Used often to filter and sort: the field's column gets a database index",
    )


class ValueFieldSpec(FieldSpecBase):
    """A field the user fills in: required, unique, a default and range or pattern limits.

    `min`/`max` bound a number's value, a text's length or a multi-valued field's count;
    `pattern` is a regular expression a text value must match.
    """

    required: bool = False
    unique: bool = False
    default: DefaultValue = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None


def label_text(label: Label | None, fallback: str) -> str:
    """A display text of a label: Chinese first, then English, then `fallback`."""
    if isinstance(label, str):
        return label or fallback
    if label is not None:
        return label.zh or label.en or fallback
    return fallback


def label_value(label: Label | None) -> str | dict[str, str] | None:
    """A label as `engine.expr` schemas take it: text, or {zh, en} (every name a formula may use)."""
    if isinstance(label, LocalizedText):
        return label.model_dump(exclude_none=True)
    return label
