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
    getcontext,
    setcontext,
)

PLACES = 10
LIMIT = Decimal(10) ** 18
QUANTUM = Decimal(1).scaleb(-PLACES)
ZERO = Decimal(0)
ONE = Decimal(1)
# Wide enough that + - * of two in-range numbers are exact before rounding to PLACES, and that a
# quotient rounded to PREC digits never double-rounds at the 10th place: a run of more than ~40
# equal digits cannot occur in the expansion of a ratio of two in-range numbers.
PREC = 81
CTX = Context(prec=PREC, rounding=ROUND_HALF_UP, Emax=10**6, Emin=-(10**6), traps=[])

Num = Decimal | None


def ensure_context() -> None:
    """Make the language's decimal context the current thread's (it stays; checking is cheap).

    Decimal operators are ~4x faster than Context methods, so arithmetic runs under this
    context instead of passing it to every call. Every function here calls this first.
    """
    if getcontext().prec != PREC:
        setcontext(CTX.copy())


def norm(value: Decimal) -> Num:
    """Round to 10 places half away from zero; blank if out of range or not finite."""
    ensure_context()
    if not value.is_finite():
        return None
    value = value.quantize(QUANTUM)
    return value if abs(value) < LIMIT else None


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
    if getcontext().prec != PREC:
        setcontext(CTX.copy())
    total = (a or ZERO) + (b or ZERO)
    return total if abs(total) < LIMIT else None


def sub(a: Num, b: Num) -> Num:
    if getcontext().prec != PREC:
        setcontext(CTX.copy())
    total = (a or ZERO) - (b or ZERO)
    return total if abs(total) < LIMIT else None


def mul(a: Num, b: Num) -> Num:
    if getcontext().prec != PREC:
        setcontext(CTX.copy())
    product = ((a or ZERO) * (b or ZERO)).quantize(QUANTUM)
    return product if abs(product) < LIMIT else None


def mul_exact(a: Num, b: Num) -> Num:
    """``mul`` for operands whose decimal places add up to at most 10 (nothing to round)."""
    if getcontext().prec != PREC:
        setcontext(CTX.copy())
    product = (a or ZERO) * (b or ZERO)
    return product if abs(product) < LIMIT else None


def places(value: Decimal) -> int:
    """Decimal places of a (finite) number as written: 1.50 has 2."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else PLACES


def neg(a: Num) -> Num:
    return ZERO - (a or ZERO)


def percent(a: Num) -> Num:
    return norm((a or ZERO).scaleb(-2))


def div(a: Num, b: Num) -> Num:
    """a / b rounded to 10 places (exactly: see PREC); blank on b = 0."""
    ensure_context()
    if not b:
        return None
    quotient = ((a or ZERO) / b).quantize(QUANTUM)
    return quotient if abs(quotient) < LIMIT else None


_STEPS = {d: Decimal(1).scaleb(-d) for d in range(-18, PLACES + 1)}


def round_to(value: Num, digits: int, mode: str = ROUND_HALF_UP) -> Num:
    """Round to ``digits`` places (negative: tens, hundreds...) with a decimal rounding mode."""
    ensure_context()
    digits = max(-18, min(PLACES, digits))
    rounded = (value or ZERO).quantize(_STEPS[digits], mode)
    return rounded if abs(rounded) < LIMIT else None


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
    ensure_context()
    a, b = a or ZERO, b or ZERO
    if b.is_zero():
        return None
    r = a % b  # sign of the dividend; moved to the divisor's below
    if r and (r < 0) != (b < 0):
        r += b
    return norm(r)


def power(a: Num, b: Num) -> Num:
    """a ^ b; blank when undefined or out of range. Huge results are refused before computing."""
    ensure_context()
    a, b = a or ZERO, b or ZERO
    if a.is_zero():
        if b < 0:
            return None
        return ONE if b.is_zero() else ZERO
    integral = b == b.to_integral_value()
    if a < 0 and not integral:
        return None
    magnitude = abs(a).log10() * b  # order of magnitude of the result
    if magnitude >= 18:
        return None
    if magnitude < -(PLACES + 2):
        return ZERO
    result = a ** int(b) if integral and abs(b) <= 200 else a**b
    return norm(result)


def sqrt(a: Num) -> Num:
    ensure_context()
    a = a or ZERO
    if a < 0:
        return None
    return norm(a.sqrt())


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
        value = value.scaleb(-2, CTX)  # not the thread's context, which may round to 28 digits
    if len(match.group(2)) > 60:
        return None
    return norm(value)
