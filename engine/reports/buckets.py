"""Date buckets as native SQL: the first day of a value's year, quarter, month, ISO week or day,
in the organisation's time zone, without a Python call per record.

A date is stored as ``YYYY-MM-DD`` text on SQLite and DATE on PostgreSQL; an instant as epoch
milliseconds (UTC) on SQLite and TIMESTAMPTZ on PostgreSQL. PostgreSQL converts an instant with
``AT TIME ZONE`` and truncates with ``date_trunc`` (ISO weeks start on Monday). SQLite has no
time zones: for a zone whose UTC offset has not changed since some moment (Asia/Shanghai since
1991), instants after it are shifted by that fixed offset and cut with ``date()``; earlier
instants — and every instant in a zone that still changes its offset (summer time) — get their
local date from the expression language's ``DATEVALUE`` (``fallback``, which knows every zone's
rules: one function call per such record) and are cut like any date text.
The result is typed as the expression language's date, so rows read back as `datetime.date`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, String, case, cast, func, literal, type_coerce
from sqlalchemy.sql import ColumnElement

from engine.expr.backends.sql.types import DateValue

WEEK = 7 * 86_400
SAMPLES_FROM = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
SAMPLES_TO = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
STEADY_FROM = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@lru_cache(maxsize=64)
def fixed_offset(tz: str) -> tuple[int, int] | None:
    """(offset in seconds, epoch ms from which it holds) when zone `tz` keeps one UTC offset
    from some moment on (never before the epoch); None when it still changes (summer time)."""
    zone = ZoneInfo(tz)

    def offset(seconds: int) -> int:
        found = dt.datetime.fromtimestamp(seconds, zone).utcoffset()
        return int(found.total_seconds()) if found is not None else 0

    end = int(SAMPLES_TO.timestamp())
    final = offset(end)
    steady = int(STEADY_FROM.timestamp())
    moment = end
    while moment > steady:
        if offset(moment) != final:
            return None
        moment -= WEEK
    start = int(SAMPLES_FROM.timestamp())
    good = moment
    while moment > start and offset(moment) == final:
        good = moment
        moment -= WEEK
    if offset(moment) == final:  # the same offset all along
        return final, 0
    bad = moment
    while good - bad > 1:  # the exact second the offset became `final`
        middle = (good + bad) // 2
        if offset(middle) == final:
            good = middle
        else:
            bad = middle
    return final, max(good, 0) * 1000


def bucket_sql(
    value: ColumnElement[Any],
    kind: str,
    bucket: str,
    dialect: str,
    tz: str,
    fallback: Callable[[], ColumnElement[Any]],
    unguarded: Callable[[Any, int], bool] | None = None,
) -> ColumnElement[Any]:
    """The first day of `bucket` holding `value` (a ``date`` or ``datetime`` kind).

    `unguarded(value, since)` (SQLite, an instant in a zone with a fixed offset since epoch ms
    `since`): True when the caller makes sure every value is at or after `since` (it checks
    the column's first value before running the statement): the bucket is then the shift
    alone, without the per-record ``CASE`` choosing between it and ``fallback``."""
    if dialect == "postgresql":
        day = func.timezone(literal(tz, String()), value) if kind == "datetime" else value
        stamp = cast(day, _timestamp())
        if bucket == "day":
            return type_coerce(cast(stamp, _date()), DateValue())
        return type_coerce(cast(func.date_trunc(bucket, stamp), _date()), DateValue())
    if kind == "datetime":
        # `fallback`: the instant's local date by the expression language (DATEVALUE), one
        # function call, cut like any date text
        fixed = fixed_offset(tz)
        if fixed is None:
            return type_coerce(_sqlite_bucket(_text(fallback()), bucket), DateValue())
        seconds, since = fixed
        ms = type_coerce(value, BigInteger())
        local = type_coerce(
            func.date(ms // literal(1000) + literal(seconds), literal("unixepoch")), String()
        )
        day = _sqlite_bucket(local, bucket)
        if unguarded is not None and unguarded(value, since):
            return type_coerce(day, DateValue())
        slow = _sqlite_bucket(_text(fallback()), bucket)
        return type_coerce(case((ms >= literal(since), day), else_=slow), DateValue())
    value = type_coerce(value, String())
    return type_coerce(_sqlite_bucket(value, bucket), DateValue())


def _sqlite_bucket(day: Any, bucket: str) -> Any:
    """SQLite: the bucket's first day of a ``YYYY-MM-DD`` text `day`."""
    if bucket == "day":
        return day
    if bucket == "year":
        return _text(func.substr(day, 1, 4)).concat("-01-01")
    if bucket == "month":
        return _text(func.substr(day, 1, 7)).concat("-01")
    if bucket == "quarter":
        month = (cast(func.substr(day, 6, 2), Integer()) - 1) // 3 * 3 + 1
        return _text(func.substr(day, 1, 5)).concat(_text(func.printf("%02d", month))).concat("-01")
    weekday = (cast(func.strftime("%w", day), Integer()) + 6) % 7  # Monday = 0
    return func.date(day, literal("-").concat(cast(weekday, String())).concat(" days"))


def _text(value: Any) -> Any:
    return type_coerce(value, String())


def _timestamp() -> Any:
    from sqlalchemy import DateTime

    return DateTime(timezone=False)


def _date() -> Any:
    from sqlalchemy import Date

    return Date()


__all__ = ["bucket_sql", "fixed_offset"]
