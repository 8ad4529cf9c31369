"""Helpers of record values shared by the field types' `coerce` and `to_json` hooks.

Every helper returns `(value, issues)` and never raises: bad input yields None and at least
one issue, with paths relative to the field ("" for the field itself). See DESIGN §12's
table of record JSON values and docs/decisions.md "Field values".
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from engine.core.issues import Issue
from engine.core.moments import datetime_json
from engine.core.sqltypes import INT64_MAX
from engine.expr.numbers import to_text
from engine.forms.messages import issue

UTC = dt.UTC
LIMIT = Decimal(10) ** 18  # the formula language's range (engine.expr.numbers)
# Wide enough that quantizing any accepted input is exact before rounding.
CTX = Context(prec=120, rounding=ROUND_HALF_UP, Emax=10**6, Emin=-(10**6), traps=[])
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
MAX_TEXT_DIGITS = 200  # longer decimal texts are refused before parsing
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATETIME_TEXT = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<hms>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)"
    r"(?:\.(?P<frac>[0-9]{1,9}))?(?P<tz>Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?"
)
TIME_TEXT = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")

Result = tuple[Any, list[Issue]]


def fail(code: str, path: str = "", **params: Any) -> Result:
    """No value and one issue."""
    return None, [issue(path, code, **params)]


def show(value: Any) -> str:
    """A short display of an input value for a message."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        text = "<large number>"
    return text if len(text) <= 40 else text[:37] + "..."


# -- numbers ----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def decimal_limit(scale: int) -> Decimal:
    """The largest magnitude a decimal with `scale` places may have: below 10^18 (the formula
    language's range) and small enough for SQLite's scaled 64-bit integer column."""
    step = Decimal(1).scaleb(-scale)
    stored = (Decimal(INT64_MAX).scaleb(-scale, CTX)).quantize(step, ROUND_FLOOR, CTX)
    return min(LIMIT - step, stored)


def parse_decimal(raw: Any) -> Result:
    """A finite Decimal from a JSON number, a plain decimal text or a Decimal; booleans,
    exponents, thousands separators, NaN and Infinity are refused."""
    if isinstance(raw, bool) or raw is None:
        return fail("expected_number")
    if isinstance(raw, int):
        return Decimal(raw), []
    if isinstance(raw, float):
        return (Decimal(repr(raw)), []) if math.isfinite(raw) else fail("expected_number")
    if isinstance(raw, Decimal):
        return (raw, []) if raw.is_finite() else fail("expected_number")
    if isinstance(raw, str) and len(raw) <= MAX_TEXT_DIGITS and DECIMAL_TEXT.fullmatch(raw):
        try:
            return Decimal(raw), []
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid text
            return fail("expected_number")
    if isinstance(raw, str) and DECIMAL_TEXT.fullmatch(raw):
        return fail("number_too_large", limit="10^18")
    return fail("expected_number")


def check_bounds(value: Decimal | int, field: Any) -> list[Issue]:
    """`min`/`max` of the field (a number's value)."""
    low, high = getattr(field, "min", None), getattr(field, "max", None)
    if low is not None and value < Decimal(repr(float(low))):
        return [issue("", "min", min=plain(low))]
    if high is not None and value > Decimal(repr(float(high))):
        return [issue("", "max", max=plain(high))]
    return []


def plain(value: float) -> str:
    """A bound as text: `5` rather than `5.0`."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def coerce_decimal(field: Any, raw: Any, scale: int) -> Result:
    """A Decimal with exactly `scale` places (rounded half away from zero), in range."""
    number, issues = parse_decimal(raw)
    if issues:
        return None, issues
    limit = decimal_limit(scale)
    if number.copy_abs() > LIMIT * 10:  # far out of range: do not quantize huge exponents
        return fail("number_too_large", limit=format(limit, "f"))
    rounded = number.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP, CTX)
    if rounded.copy_abs() > limit:
        return fail("number_too_large", limit=format(limit, "f"))
    if rounded.is_zero():
        rounded = rounded.copy_abs()  # no "-0.00"
    bounds = check_bounds(rounded, field)
    return (None, bounds) if bounds else (rounded, [])


def coerce_integer(field: Any, raw: Any) -> Result:
    """A whole number below 10^18 in magnitude, from a JSON number, whole text or Decimal."""
    if isinstance(raw, str) and INTEGER_TEXT.fullmatch(raw) and len(raw) <= MAX_TEXT_DIGITS:
        raw = int(raw)
    number: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, (float, Decimal)) and _whole(raw):
        number = int(raw)
    if number is None:
        return fail("expected_integer")
    if abs(number) >= LIMIT:
        return fail("number_too_large", limit=format(LIMIT - 1, "f"))
    bounds = check_bounds(number, field)
    return (None, bounds) if bounds else (number, [])


def _whole(value: float | Decimal) -> bool:
    if isinstance(value, float):
        return math.isfinite(value) and value.is_integer()
    return value.is_finite() and value == value.to_integral_value()


def decimal_json(value: Any, scale: int | None) -> str | None:
    """A stored decimal as DESIGN §12 text: exactly `scale` places ("12.50")."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if scale is None:
        return to_text(number)
    return format(number.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP, CTX), "f")


# -- time -------------------------------------------------------------------------------------


def coerce_date(raw: Any) -> Result:
    """A date from `YYYY-MM-DD` (or a `datetime.date`)."""
    if type(raw) is dt.date:
        return raw, []
    if isinstance(raw, str) and DATE_TEXT.fullmatch(raw):
        try:
            return dt.date.fromisoformat(raw), []
        except ValueError:
            pass
    return fail("invalid_date")


def coerce_datetime(raw: Any) -> Result:
    """An aware UTC datetime truncated to ms, from ISO 8601 text with `Z` or an offset
    (none means UTC), or a `datetime.datetime`."""
    value: dt.datetime | None = raw if isinstance(raw, dt.datetime) else None
    if isinstance(raw, str):
        match = DATETIME_TEXT.fullmatch(raw)
        if match is None:
            return fail("invalid_datetime")
        frac = (match["frac"] or "")[:6]
        tz = match["tz"] or "Z"
        text = f"{match['date']}T{match['hms']}" + (f".{frac:0<6}" if frac else "")
        try:
            value = dt.datetime.fromisoformat(text + ("+00:00" if tz == "Z" else tz))
        except ValueError:
            return fail("invalid_datetime")
    if value is None:
        return fail("invalid_datetime")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):  # an offset that leaves years 1-9999
        return fail("invalid_datetime")
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000), []


def coerce_time(raw: Any) -> Result:
    """A time of day from `HH:MM` or `HH:MM:SS` (or a `datetime.time`), to the second."""
    if isinstance(raw, dt.time):
        return raw.replace(microsecond=0, tzinfo=None), []
    if isinstance(raw, str) and TIME_TEXT.fullmatch(raw):
        try:
            return dt.time.fromisoformat(raw), []
        except ValueError:
            pass
    return fail("invalid_time")


def generic_json(value: Any) -> Any:
    """Any stored value as JSON: decimals as shortest text, dates/times ISO, lists mapped."""
    if isinstance(value, list):
        return [generic_json(v) for v in value]
    if isinstance(value, Decimal):
        return decimal_json(value, None)
    if isinstance(value, dt.datetime):
        return datetime_json(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value


# -- lists ------------------------------------------------------------------------------------


def coerce_list(field: Any, raw: Any, item: Callable[[Any], Result]) -> Result:
    """A list of distinct items (each checked by `item`, issues at `[i]`); [] is blank.

    `min`/`max` of the field bound the number of items.
    """
    if not isinstance(raw, list):
        return fail("expected_list")
    values: list[Any] = []
    issues: list[Issue] = []
    for index, element in enumerate(raw):
        value, problems = item(element)
        issues.extend(p.under(f"[{index}]") for p in problems)
        if problems:
            continue
        if value in values:
            issues.append(issue(f"[{index}]", "duplicate_value", value=show(element)))
        values.append(value)
    if issues:
        return None, issues
    low, high = getattr(field, "min", None), getattr(field, "max", None)
    if low is not None and values and len(values) < low:
        return fail("min_count", min=plain(low))
    if high is not None and len(values) > high:
        return fail("max_count", max=plain(high))
    return (values or None), []


def coerce_id(raw: Any) -> Result:
    """A positive id from a whole number, or an `{"id": n, ...}` object as reads return."""
    if isinstance(raw, dict) and "id" in raw:
        raw = raw["id"]
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= INT64_MAX:
        return raw, []
    return fail("expected_id")
