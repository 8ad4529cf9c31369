"""Number field types: number, integer, money, percent, rating."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field, StringConstraints
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.core.sqltypes import ExactDecimal
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, Traits, none_or, register
from engine.forms.field_types.cells import Cell, CellReader, CellWriter, number_input, places_of
from engine.forms.field_types.values import (
    CTX,
    Result,
    coerce_decimal,
    coerce_integer,
    decimal_json,
    fail,
)

Precision = Annotated[int, Field(ge=0, le=10, description="Decimal places (0-10)")]
PercentPrecision = Annotated[
    int, Field(ge=0, le=8, description="Decimal places of the percentage shown (0-8)")
]
NUMBER = Traits(
    computed=False,
    portable=True,
    sortable=True,
    many_valued=False,
    is_file=False,
    refers_to=None,
    publicly_fillable=True,
    link_key=True,
    importable=True,
    live_scalar=True,
    source="column",
    linkage_from=frozenset({"number", "integer", "money"}),
    compare_family="number",
)
"""A plain number (a linkage copies and compares numbers of any of these types)."""


class NumberField(ValueFieldSpec):
    """An exact decimal number with a fixed number of places."""

    type: Literal["number"]
    precision: Precision = 2


class IntegerField(ValueFieldSpec):
    """A whole number."""

    type: Literal["integer"]


class MoneyField(ValueFieldSpec):
    """An amount of money in one currency (ISO 4217 code)."""

    type: Literal["money"]
    precision: Precision = 2
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"


class PercentField(ValueFieldSpec):
    """A percentage, stored as a fraction (0.125 is shown as 12.5%), as Excel and Airtable do,
    so formulas read it naturally: ``amount * (1 - discount)``. ``precision`` counts the decimal
    places of the percentage shown; the stored value has two more."""

    type: Literal["percent"]
    precision: PercentPrecision = 2


class RatingField(ValueFieldSpec):
    """A star rating from 0 to `max`."""

    type: Literal["rating"]
    max: Annotated[int, Field(ge=1, le=10)] = 5


def scaled_writer(scale: int) -> Callable[[Any], Any]:
    """`decimal_json(value, scale)` with the quantum computed once."""
    quantum = Decimal(1).scaleb(-scale)

    def write(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            return decimal_json(value, scale)
        return format(value.quantize(quantum, ROUND_HALF_UP, CTX), "f")

    return write


def scaled_reader(
    column_type: TypeEngine[Any], scale: int, dialect: Dialect, fallback: Callable[[Any], Any]
) -> Callable[[Any], Any] | None:
    """`scaled_writer(scale)` straight from the driver's value of an `ExactDecimal` column of
    that scale (`ExactDecimal.json_reader`); None for any other column."""
    if isinstance(column_type, ExactDecimal) and column_type.scale == scale:
        return column_type.json_reader(dialect, fallback)
    return None


class _NumberType(FieldType):
    """What every number type shares: its group and import cells read as digits."""

    group = "number"

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """Digits, without thousands separators or a currency sign."""
        return number_input(raw), []


class _DecimalType(_NumberType):
    """An exact decimal stored with `scale(field)` places: number, money and percent."""

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return ExactDecimal(self.scale(field))

    @staticmethod
    def scale(field: FieldSpecBase) -> int:
        """Decimal places stored: the field's `precision`."""
        return int(getattr(field, "precision", 0))

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """A JSON number or plain decimal text, rounded half away from zero to the scale."""
        return (None, []) if raw is None else coerce_decimal(field, raw, self.scale(field))

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """Text with exactly the field's scale ("12.50")."""
        return decimal_json(value, self.scale(field))

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return scaled_writer(self.scale(field))

    def raw_json_reader(
        self,
        field: FieldSpecBase,
        column_type: TypeEngine[Any],
        dialect: Dialect,
        fallback: Callable[[Any], Any],
    ) -> Callable[[Any], Any] | None:
        return scaled_reader(column_type, self.scale(field), dialect, fallback)

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """A real number with the value's places (money with thousands separators)."""
        return sheet.number(value, "#,##0" if self.name == "money" else "0")


@register
class NumberType(_DecimalType):
    """`number`: NUMERIC with the field's precision."""

    name = "number"
    title = ("数字", "Number")
    spec = NumberField
    traits = NUMBER


class _WholeType(_NumberType):
    """A whole number, written as a JSON number: integer and rating."""

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """A JSON number."""
        return None if value is None else int(value)

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return none_or(int)


@register
class IntegerType(_WholeType):
    """`integer`: a 64-bit integer."""

    name = "integer"
    title = ("整数", "Integer")
    spec = IntegerField
    traits = NUMBER

    def expr_schema(self, field: FieldSpecBase, scope: Any = None) -> dict[str, Any] | None:
        return {**(super().expr_schema(field, scope) or {}), "precision": 0}

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.BigInteger()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """A whole number (JSON number, whole text) below 10^18 in magnitude, within min/max."""
        return (None, []) if raw is None else coerce_integer(field, raw)


@register
class MoneyType(_DecimalType):
    """`money`: NUMERIC with the field's precision and a currency."""

    name = "money"
    title = ("金额", "Money")
    spec = MoneyField
    traits = NUMBER


@register
class PercentType(_DecimalType):
    """`percent`: NUMERIC holding the fraction, with two more places than are shown. Input is
    the fraction (0.125 for 12.5%) as a number or decimal text, rounded to the scale (`min`/`max`
    bound the fraction too); its record JSON is the fraction with the stored scale ("0.1250")."""

    name = "percent"
    title = ("百分比", "Percent")
    spec = PercentField
    traits = replace(
        NUMBER, link_key=False, linkage_from=frozenset({"percent"}), compare_family="percent"
    )

    def expr_schema(self, field: FieldSpecBase, scope: Any = None) -> dict[str, Any] | None:
        return {**(super().expr_schema(field, scope) or {}), "precision": self.scale(field)}

    @staticmethod
    def scale(field: FieldSpecBase) -> int:
        """Decimal places stored: the places shown plus two (the value is a fraction)."""
        return min(int(getattr(field, "precision", 2)) + 2, 10)

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """A real number (the fraction) shown as a percentage with the places it has."""
        number = Decimal(value)
        shown = max(0, places_of(number) - 2)
        return number, "0" + ("." + "0" * shown if shown else "") + "%"

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """`12.5%` as the fraction; a number without `%` is taken as the fraction already."""
        if isinstance(raw, str) and raw.endswith("%"):
            number = number_input(raw[:-1])
            try:
                return str(Decimal(str(number)) / 100), []
            except InvalidOperation:
                return raw, []
        return number_input(raw), []


@register
class RatingType(_WholeType):
    """`rating`: a small integer from 0 to `max` stars."""

    name = "rating"
    title = ("评分", "Rating")
    spec = RatingField
    traits = replace(NUMBER, link_key=False, linkage_from=frozenset({"rating", "integer"}))

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.SmallInteger()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """A whole number of stars from 0 to the field's `max`."""
        if raw is None:
            return None, []
        stars, issues = coerce_integer(None, raw)
        if issues:
            return None, issues
        top = int(getattr(field, "max", 5))
        if not 0 <= stars <= top:
            return fail("out_of_range", min=0, max=top)
        return stars, []
