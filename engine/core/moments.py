"""Moments as every JSON answer writes them: `datetime_json` (UTC, milliseconds, `Z`).

Records, audit entries, tokens and public links all answer with this one form, so it lives
below the engines that use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

UTC = dt.UTC


def datetime_json(value: dt.datetime) -> str:
    """`2024-06-01T04:00:00.000Z`: UTC, milliseconds, four-digit year."""
    if value.tzinfo is UTC and value.microsecond % 1000 == 0:  # as the store returns moments
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    utc = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_DAYS: dict[int, str] = {}  # days since the epoch -> "YYYY-MM-DDT" (bounded, see `_day`)
_MAX_DAYS = 4096
_EPOCH_ORDINAL = EPOCH.toordinal()
_HOURS_MINUTES = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECONDS = tuple(f"{s:02d}." for s in range(60))
_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))


def _day(day: int) -> str:
    date = EPOCH + dt.timedelta(days=day)  # OverflowError out of range, as the datetime would
    prefix = f"{date.year:04d}-{date.month:02d}-{date.day:02d}T"
    if len(_DAYS) >= _MAX_DAYS:
        _DAYS.clear()
    _DAYS[day] = prefix
    return prefix


def epoch_ms_reader(fallback: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """`datetime_json` of the moment an integer of milliseconds after the epoch names (how
    SQLite stores moments), written straight from the integer through tables, without building
    a datetime: the same text as ``datetime_json(EPOCH + timedelta(milliseconds=ms))``. A value
    that is not an int goes to `fallback`. One function per reader, no inner call: a page of
    records writes three moments per record."""
    days, hours_minutes, seconds, millis, day_of = _DAYS, _HOURS_MINUTES, _SECONDS, _MILLIS, _day

    def read(ms: Any) -> str | None:
        if type(ms) is not int:
            return fallback(ms)
        day, rest = divmod(ms, _DAY_MS)  # floor division: moments before 1970 too
        prefix = days.get(day) or day_of(day)
        minute, rest = divmod(rest, 60_000)
        return f"{prefix}{hours_minutes[minute]}{seconds[rest // 1000]}{millis[rest % 1000]}"

    return read


def _not_milliseconds(value: Any) -> str:
    raise TypeError(f"expected milliseconds since the epoch, got {type(value).__name__}")


epoch_ms_json = cast(Callable[[int], str], epoch_ms_reader(_not_milliseconds))
"""`epoch_ms_reader` of ints alone: ``epoch_ms_json(0) == "1970-01-01T00:00:00.000Z"``."""


def utc_datetime_json(value: dt.datetime) -> str:
    """`datetime_json(value)`, written from the fields of a UTC datetime (what PostgreSQL's
    driver returns for a session in UTC) through the tables of `epoch_ms_json` instead of
    `isoformat`; any other datetime goes to `datetime_json`."""
    if value.tzinfo is not UTC:
        return datetime_json(value)
    day = value.toordinal() - _EPOCH_ORDINAL
    prefix = _DAYS.get(day) or _day(day)
    return (
        f"{prefix}{_HOURS_MINUTES[value.hour * 60 + value.minute]}{_SECONDS[value.second]}"
        f"{_MILLIS[value.microsecond // 1000]}"
    )


__all__ = ["EPOCH", "datetime_json", "epoch_ms_json", "epoch_ms_reader", "utc_datetime_json"]
