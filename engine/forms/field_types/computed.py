"""Computed field types: formula, serial (流水号), created_by/at and updated_by/at.

Their values are never typed in. A formula's result type is only known once its formula is
checked, so `engine.forms.schema` supplies its entry; the created/updated fields read the
record's system columns (`_created_at`, ...), so they have no column of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.core.sqltypes import Text
from engine.forms.common import FieldSpecBase, Formula
from engine.forms.field_types.base import ComputedType, Scope, Traits, none_or, register
from engine.forms.field_types.cells import (
    Cell,
    CellWriter,
    decimal_cell,
    people_cell,
)
from engine.forms.field_types.time import InstantType
from engine.forms.messages import issue

COMPUTED = Traits(
    computed=True,
    portable=False,
    sortable=True,
    many_valued=False,
    is_file=False,
    refers_to=None,
    publicly_fillable=False,
    link_key=False,
    importable=False,
    live_scalar=False,
    source="column",
    linkage_from=frozenset(),
    compare_family=None,
)
"""A value the engine computes (recomputed after an app pack's import)."""

SERIAL_TOKEN = re.compile(r"\{([^{}]*)\}")
SERIAL_DATE_TOKENS = frozenset({"YYYY", "YY", "MM", "DD"})
SERIAL_COUNTER = re.compile(r"^0{1,10}$")


class FormulaField(FieldSpecBase):
    """A value computed from a formula over the record (and its relations)."""

    type: Literal["formula"]
    expr: Formula
    precision: Annotated[int, Field(ge=0, le=10)] | None = None


class SerialField(FieldSpecBase):
    """A sequence number such as HT-202406-0001, from a pattern of date parts and a counter.

    `pattern` here is the serial's format, not a regular expression: `{YYYY}`, `{YY}`, `{MM}`,
    `{DD}` are the creation date's parts and `{0000}` the zero-padded counter (exactly one).
    """

    type: Literal["serial"]
    pattern: Annotated[str, Field(min_length=1, max_length=100)]


class CreatedByField(FieldSpecBase):
    """Who created the record."""

    type: Literal["created_by"]


class CreatedAtField(FieldSpecBase):
    """When the record was created."""

    type: Literal["created_at"]


class UpdatedByField(FieldSpecBase):
    """Who last changed the record."""

    type: Literal["updated_by"]


class UpdatedAtField(FieldSpecBase):
    """When the record was last changed."""

    type: Literal["updated_at"]


@register
class FormulaType(ComputedType):
    """`formula`: typed by its formula (see `engine.forms.schema`), computed, not typed in."""

    name = "formula"
    title = ("公式", "Formula")
    group = "computed"
    spec = FormulaField
    traits = replace(COMPUTED, source="formula")
    example: ClassVar[dict[str, Any]] = {"expr": "1 + 1"}

    def expr_schema(
        self, field: FieldSpecBase, scope: Scope | None = None
    ) -> dict[str, Any] | None:
        return None

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """A decimal result as a real number with its places; anything else as it is."""
        return decimal_cell(value, sheet)


def serial_pattern_problem(pattern: str) -> tuple[str, str] | None:
    """Why a serial pattern is invalid (zh, en), or None when it is valid."""
    if SERIAL_TOKEN.sub("", pattern).count("{") or SERIAL_TOKEN.sub("", pattern).count("}"):
        return "花括号不成对", "unbalanced braces"
    counters = 0
    for token in SERIAL_TOKEN.findall(pattern):
        if SERIAL_COUNTER.match(token):
            counters += 1
        elif token not in SERIAL_DATE_TOKENS:
            return f"未知占位符 {{{token}}}", f"unknown placeholder {{{token}}}"
    if counters != 1:
        return "需要恰好一个计数器，例如 {0000}", "needs exactly one counter such as {0000}"
    return None


@register
class SerialType(ComputedType):
    """`serial`: TEXT assigned on insert from a counter row; may be a title."""

    name = "serial"
    title = ("流水号", "Serial number")
    group = "computed"
    spec = SerialField
    traits = replace(COMPUTED, portable=True, link_key=True, source="column", compare_family="text")
    example: ClassVar[dict[str, Any]] = {"pattern": "HT-{YYYY}{MM}-{0000}"}
    titleable = True

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Text()

    def validate(self, field: FieldSpecBase, scope: Scope) -> list[Issue]:
        assert isinstance(field, SerialField)
        problem = serial_pattern_problem(field.pattern)
        if problem is None:
            return []
        return [
            issue("pattern", "invalid_serial_pattern", reason_zh=problem[0], reason_en=problem[1])
        ]


class _WhoType(ComputedType):
    """Who created or last changed the record: a member read from its system column."""

    group = "computed"

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """`{"id": n}` like a user field; the store adds `name` when it reads records."""
        return None if value is None else {"id": value}

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return none_or(lambda value: {"id": value})

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """The member's name."""
        return people_cell(value, sheet)


class _WhenType(ComputedType, InstantType):
    """When the record was created or last changed: a moment read from its system column."""

    group = "computed"


@register
class CreatedByType(_WhoType):
    """`created_by`: the record's `_created_by`."""

    name = "created_by"
    title = ("创建人", "Created by")
    spec = CreatedByField
    traits = replace(COMPUTED, refers_to="user", source="system")


@register
class CreatedAtType(_WhenType):
    """`created_at`: the record's `_created_at`."""

    name = "created_at"
    title = ("创建时间", "Created at")
    spec = CreatedAtField
    traits = replace(COMPUTED, source="system")


@register
class UpdatedByType(_WhoType):
    """`updated_by`: the record's `_updated_by`."""

    name = "updated_by"
    title = ("修改人", "Updated by")
    spec = UpdatedByField
    traits = replace(COMPUTED, refers_to="user", source="system")


@register
class UpdatedAtType(_WhenType):
    """`updated_at`: the record's `_updated_at`."""

    name = "updated_at"
    title = ("修改时间", "Updated at")
    spec = UpdatedAtField
    traits = replace(COMPUTED, source="system")
