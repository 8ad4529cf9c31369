"""Run-time values: the evaluation context (clock, time zone, actor) and value coercion/encoding.

Python values of each kind: number ``Decimal``, text ``str`` (never ""), boolean ``bool``,
date ``datetime.date``, datetime an aware UTC ``datetime.datetime`` with millisecond
precision, time ``datetime.time``; the ids of records, users and departments ``int``; blank
is ``None``; lists are Python lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.expr import numbers
from engine.expr.budget import Budget
from engine.expr.types import ExprType

UTC = dt.UTC
DEFAULT_TZ = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What one evaluation sees of the world: now (UTC, ms) and the organisation's time zone,
    the acting user and their departments (``CURRENT_USER()``, ``CURRENT_DEPARTMENTS()``;
    None and () when nobody acts), and for a metered evaluation (``engine.expr.budget``) the
    budget it spends."""

    now: dt.datetime
    tz: ZoneInfo
    today: dt.date
    budget: Budget | None = None
    user: int | None = None
    departments: tuple[int, ...] = ()

    @classmethod
    def create(
        cls,
        now: dt.datetime | None = None,
        tz: str | ZoneInfo = DEFAULT_TZ,
        budget: Budget | None = None,
        *,
        user: int | None = None,
        departments: tuple[int, ...] = (),
    ) -> EvalContext:
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        moment = now or dt.datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = truncate_ms(moment.astimezone(UTC))
        return cls(
            moment,
            zone,
            moment.astimezone(zone).date(),
            budget,
            user,
            tuple(sorted(set(departments))),
        )


def truncate_ms(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def coerce_text(value: object) -> str | None:
    """Text from a record value; numbers and booleans as the language writes them, other
    values (objects, lists) blank."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return numbers.to_text(value)
    if isinstance(value, (int, float)):
        number = numbers.coerce(value)
        return None if number is None else numbers.to_text(number)
    return None


def coerce_boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def coerce_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def coerce_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return truncate_ms(value.astimezone(UTC))
        except (OverflowError, ValueError):  # an offset that leaves years 1-9999
            return None
    return None


def coerce_time(value: object) -> dt.time | None:
    if isinstance(value, dt.time):
        return value.replace(microsecond=0, tzinfo=None)
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value).replace(microsecond=0, tzinfo=None)
        except ValueError:
            return None
    return None


def coerce_id(value: object) -> int | None:
    """An id (of a record, user or department) from a record value: a positive integer, its
    decimal text, or an object carrying it as ``_id`` (a related record) or ``id`` (a person
    or department as reads return them); anything else is blank."""
    if isinstance(value, Mapping):
        found = value.get("_id")
        value = found if found is not None else value.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None
    elif isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
    elif isinstance(value, Decimal):
        value = int(value) if value.is_finite() and value == value.to_integral_value() else None
    if isinstance(value, int) and 0 < value < 2**63:
        return value
    return None


COERCE: dict[str, Callable[[object], Any]] = {
    "number": numbers.coerce,
    "text": coerce_text,
    "boolean": coerce_boolean,
    "date": coerce_date,
    "datetime": coerce_datetime,
    "time": coerce_time,
    "blank": lambda value: None,
    "record": coerce_id,
    "user": coerce_id,
    "department": coerce_id,
}


def encode(value: Any, t: ExprType | None = None) -> Any:
    """A value as JSON: numbers as shortest decimal text, dates ISO, datetimes UTC with ms + Z."""
    if value is None:
        return None
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return numbers.to_text(value)
    if isinstance(value, dt.datetime):
        utc = value.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value


def decode(value: Any, t: ExprType) -> Any:
    """The inverse of :func:`encode` for a value of type ``t``."""
    if value is None:
        return None
    if t.is_list:
        return [decode(v, t.element()) for v in value]
    return COERCE[t.kind](value)
