"""Moments as every JSON answer writes them: `datetime_json` (UTC, milliseconds, `Z`).

Records, audit entries, tokens and public links all answer with this one form, so it lives
below the engines that use it.
"""

from __future__ import annotations

import datetime as dt

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


def epoch_ms_json(ms: int) -> str:
    """`datetime_json` of the moment `ms` milliseconds after the epoch (how SQLite stores
    moments), written straight from the integer: the same text as
    ``datetime_json(EPOCH + timedelta(milliseconds=ms))`` without building the datetime.
    A page of records writes three per record."""
    day, rest = divmod(ms, _DAY_MS)  # floor division: moments before 1970 too
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _day(day)
    minute, rest = divmod(rest, 60_000)
    return f"{prefix}{_HOURS_MINUTES[minute]}{_SECONDS[rest // 1000]}{_MILLIS[rest % 1000]}"


def utc_datetime_json(value: dt.datetime) -> str:
    """`datetime_json(value)`, written from the fields of a UTC datetime (what PostgreSQL's
    driver returns for a session in UTC) through the tables of `epoch_ms_json` instead of
    `isoformat`; any other datetime goes to `datetime_json`."""
    if value.tzinfo is not UTC:
        return datetime_json(value)
    day = value.toordinal() - _EPOCH_ORDINAL
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _day(day)
    return (
        f"{prefix}{_HOURS_MINUTES[value.hour * 60 + value.minute]}{_SECONDS[value.second]}"
        f"{_MILLIS[value.microsecond // 1000]}"
    )


def _day(day: int) -> str:
    date = EPOCH + dt.timedelta(days=day)  # OverflowError out of range, as the datetime would
    prefix = f"{date.year:04d}-{date.month:02d}-{date.day:02d}T"
    if len(_DAYS) >= _MAX_DAYS:
        _DAYS.clear()
    _DAYS[day] = prefix
    return prefix


__all__ = ["EPOCH", "datetime_json", "epoch_ms_json", "utc_datetime_json"]
