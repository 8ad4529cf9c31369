"""Decimal arithmetic of the language, identical in every backend (DESIGN §6).

A number has at most 10 decimal places and an absolute value below 10^18; ``+ - *`` are exact
before the final rounding, ``/`` is exact to 10 places, rounding is half away from zero, and a
result outside the range is blank (None). The SQLite functions reuse these definitions.
"""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    InvalidOperation,
)

PLACES = 10
LIMIT = Decimal(10) ** 18
QUANTUM = Decimal(1).scaleb(-PLACES)
ZERO = Decimal(0)
ONE = Decimal(1)
# Wide enough that + - * of two in-range numbers are exact before rounding to PLACES.
CTX = Context(prec=80, rounding=ROUND_HALF_UP, Emax=10**6, Emin=-(10**6), traps=[])

Num = Decimal | None


def norm(value: Decimal) -> Num:
    """Round to 10 places half away from zero; blank if out of range or not finite."""
    if not value.is_finite():
        return None
    if value.as_tuple().exponent < -PLACES:  # type: ignore[operator]
        value = value.quantize(QUANTUM, ROUND_HALF_UP, CTX)
    if abs(value) >= LIMIT:
        return None
    return value + ZERO if value.is_zero() else value


def coerce(value: object) -> Num:
    """A number from a record value: Decimal, int, float, numeric text; else blank."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return norm(value)
    if isinstance(value, int):
        return norm(Decimal(value))
    if isinstance(value, float):
        return norm(Decimal(repr(value)))
    if isinstance(value, str):
        try:
            return norm(Decimal(value.strip()))
        except InvalidOperation:
            return None
    return None


def add(a: Num, b: Num) -> Num:
    return norm(CTX.add(a or ZERO, b or ZERO))


def sub(a: Num, b: Num) -> Num:
    return norm(CTX.subtract(a or ZERO, b or ZERO))


def mul(a: Num, b: Num) -> Num:
    return norm(CTX.multiply(a or ZERO, b or ZERO))


def neg(a: Num) -> Num:
    return ZERO - (a or ZERO)


def percent(a: Num) -> Num:
    return norm((a or ZERO).scaleb(-2))


def div(a: Num, b: Num) -> Num:
    """a / b rounded exactly (not via a wider rounding) to 10 places; blank on b = 0."""
    a, b = a or ZERO, b or ZERO
    if b.is_zero():
        return None
    # Scale both to integers, then one integer division decides the rounding exactly.
    scale = max(-a.as_tuple().exponent, -b.as_tuple().exponent, 0)  # type: ignore[operator]
    ai = int(a.scaleb(scale, CTX))
    bi = int(b.scaleb(scale, CTX))
    q, r = divmod(abs(ai) * 10**PLACES, abs(bi))
    if 2 * r >= abs(bi):
        q += 1
    if (ai < 0) != (bi < 0):
        q = -q
    return norm(Decimal(q).scaleb(-PLACES))


def round_to(value: Num, digits: int, mode: str = ROUND_HALF_UP) -> Num:
    """Round to ``digits`` places (negative: tens, hundreds...) with a decimal rounding mode."""
    x = value or ZERO
    digits = max(-18, min(PLACES, digits))
    return norm(x.quantize(Decimal(1).scaleb(-digits), mode, CTX))


def floor(value: Num) -> Num:
    return round_to(value, 0, ROUND_FLOOR)


def ceiling(value: Num) -> Num:
    return round_to(value, 0, ROUND_CEILING)


def trunc(value: Num) -> Num:
    return round_to(value, 0, ROUND_DOWN)


def round_up(value: Num, digits: int) -> Num:
    return round_to(value, digits, ROUND_UP)


def round_down(value: Num, digits: int) -> Num:
    return round_to(value, digits, ROUND_DOWN)


def mod(a: Num, b: Num) -> Num:
    """Remainder with the sign of the divisor (Excel); blank on b = 0."""
    a, b = a or ZERO, b or ZERO
    if b.is_zero():
        return None
    r = CTX.remainder(a, b)
    if not r.is_zero() and (r < 0) != (b < 0):
        r = CTX.add(r, b)
    return norm(r)


def power(a: Num, b: Num) -> Num:
    """a ^ b; blank when undefined or out of range. Huge results are refused before computing."""
    a, b = a or ZERO, b or ZERO
    if a.is_zero():
        if b < 0:
            return None
        return ONE if b.is_zero() else ZERO
    integral = b == b.to_integral_value()
    if a < 0 and not integral:
        return None
    magnitude = abs(a).log10(CTX) * b  # order of magnitude of the result
    if magnitude >= 18:
        return None
    if magnitude < -(PLACES + 2):
        return ZERO
    if integral and abs(b) <= 200:
        result = CTX.power(a, int(b))
    else:
        result = CTX.power(a, b)
    return norm(result)


def sqrt(a: Num) -> Num:
    a = a or ZERO
    if a < 0:
        return None
    return norm(a.sqrt(CTX))


def to_text(value: Decimal) -> str:
    """Shortest exact decimal text without trailing zeros or exponent ("1.5", "-0.25", "100")."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_number_text(text: str) -> Num:
    """VALUE(): a decimal with optional sign, thousands commas and trailing %; else blank."""
    import re

    cleaned = text.strip().replace(",", "")
    match = re.fullmatch(r"([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(%?)", cleaned)
    if not match:
        return None
    value = Decimal(match.group(1) + match.group(2))
    if match.group(3):
        value = value.scaleb(-2)
    if len(value.as_tuple().digits) > 60:
        return None
    return norm(value)
