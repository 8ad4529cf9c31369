"""Time field types: date, datetime (UTC, milliseconds) and time of day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.core.moments import datetime_json
from engine.core.sqltypes import Date, Time, UtcDateTime
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, Traits, none_or, register
from engine.forms.field_types.cells import (
    Cell,
    CellReader,
    CellWriter,
    cell_text,
    date_input,
    datetime_cell,
    datetime_input,
)
from engine.forms.field_types.values import Result, coerce_date, coerce_datetime, coerce_time


def moment_reader(
    column_type: TypeEngine[Any], dialect: Dialect, fallback: Callable[[Any], Any]
) -> Callable[[Any], Any] | None:
    """`datetime_json` straight from the driver's value of a `UtcDateTime` column
    (`UtcDateTime.json_reader`); None for any other column."""
    if isinstance(column_type, UtcDateTime):
        return column_type.json_reader(dialect, fallback)
    return None


MOMENT = Traits(
    computed=False,
    portable=True,
    sortable=True,
    many_valued=False,
    is_file=False,
    refers_to=None,
    publicly_fillable=True,
    link_key=False,
    importable=True,
    live_scalar=True,
    source="column",
    linkage_from=frozenset(),
    compare_family=None,
)
"""A date, date-time or time (copied from and compared with its own type only)."""


def _iso(value: Any) -> Any:
    return value.isoformat()


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
    title = ("日期", "Date")
    group = "time"
    spec = DateField
    traits = replace(MOMENT, link_key=True, linkage_from=frozenset({"date"}), compare_family="date")

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Date()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """`YYYY-MM-DD`, a real calendar date."""
        return (None, []) if raw is None or raw == "" else coerce_date(raw)

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """ISO text such as "2024-06-01"."""
        return None if value is None else value.isoformat()

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return none_or(_iso)

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """A spreadsheet date shown as yyyy-mm-dd."""
        return dt.date.fromisoformat(value), "yyyy-mm-dd"

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """A spreadsheet date, 2024/6/1, 2024-6-1 or 2024年6月1日."""
        return date_input(raw), []


class InstantType(FieldType):
    """What the types whose values are UTC instants (a `UtcDateTime` column) share: record JSON
    straight from the driver's value and a date-time export cell — `datetime` and the computed
    `created_at` and `updated_at`."""

    def raw_json_reader(
        self,
        field: FieldSpecBase,
        column_type: TypeEngine[Any],
        dialect: Dialect,
        fallback: Callable[[Any], Any],
    ) -> Callable[[Any], Any] | None:
        """The moment column as `datetime_json` text (what `json_writer` writes)."""
        return moment_reader(column_type, dialect, fallback)

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """A spreadsheet date-time in the export's time zone."""
        return datetime_cell(value, sheet)


@register
class DatetimeType(InstantType):
    """`datetime`: a UTC timestamp with milliseconds."""

    name = "datetime"
    title = ("日期时间", "Date and time")
    group = "time"
    spec = DatetimeField
    traits = replace(MOMENT, linkage_from=frozenset({"datetime"}), compare_family="datetime")

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return UtcDateTime()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """ISO 8601 with `Z` or an offset (none = UTC) -> aware UTC, truncated to ms."""
        return (None, []) if raw is None or raw == "" else coerce_datetime(raw)

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """UTC with milliseconds: "2024-06-01T04:00:00.000Z"."""
        return None if value is None else datetime_json(value)

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return none_or(datetime_json)

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """A spreadsheet date-time or `YYYY-MM-DD HH:MM[:SS]`, in the import's time zone."""
        return datetime_input(raw, sheet.zone), []


@register
class TimeType(FieldType):
    """`time`: TIME to the second."""

    name = "time"
    title = ("时间", "Time")
    group = "time"
    spec = TimeField
    traits = replace(MOMENT, linkage_from=frozenset({"time"}), compare_family="time")

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Time()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """`HH:MM` or `HH:MM:SS`."""
        return (None, []) if raw is None or raw == "" else coerce_time(raw)

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """ISO text such as "13:45:00"."""
        return None if value is None else value.isoformat()

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return none_or(_iso)

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """A spreadsheet time or `HH:MM[:SS]`."""
        return (raw.isoformat() if isinstance(raw, dt.time) else cell_text(raw)), []
