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


__all__ = ["datetime_json"]
