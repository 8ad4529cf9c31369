"""Time field types: date, datetime (UTC, milliseconds) and time of day."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.types import TypeEngine

from engine.core.sqltypes import Date, Time, UtcDateTime
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, register


class DateField(ValueFieldSpec):
    """A calendar date."""

    type: Literal["date"]


class DatetimeField(ValueFieldSpec):
    """An instant, shown in the organisation's time zone."""

    type: Literal["datetime"]


class TimeField(ValueFieldSpec):
    """A time of day to the second."""

    type: Literal["time"]


@register
class DateType(FieldType):
    """`date`: DATE."""

    name = "date"
    group = "time"
    spec = DateField

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Date()


@register
class DatetimeType(FieldType):
    """`datetime`: a UTC timestamp with milliseconds."""

    name = "datetime"
    group = "time"
    spec = DatetimeField

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return UtcDateTime()


@register
class TimeType(FieldType):
    """`time`: TIME to the second."""

    name = "time"
    group = "time"
    spec = TimeField

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Time()
