"""Decimal arithmetic of the language, identical in every backend (DESIGN §6).

A number has at most 10 decimal places and an absolute value below 10^18; ``+ - *`` are exact
before the final rounding, ``/`` is exact to 10 places, rounding is half away from zero, and a
result outside the range is blank (None). The SQLite functions reuse these definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
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
# Wide enough that products are exact before rounding to PLACES, and that a quotient rounded to
# PREC digits never double-rounds at the 10th place (a run of more than ~40 equal digits cannot
# occur in the expansion of a ratio of two in-range numbers).
PREC = 81
CTX = Context(prec=PREC, rounding=ROUND_HALF_UP, Emax=10**6, Emin=-(10**6), traps=[])

# The thread's decimal context is never changed. In-range values have at most 28 significant
# digits (18 integer + 10 places), so + and - of two of them, and products whose decimal places
# add up to 10 or fewer, are exact under Python's default context (28 digits) and use the fast
# operators; everything that may need more digits passes CTX explicitly.

Num = Decimal | None


def _fit(value: Decimal) -> Num:
    """Round to 10 places half away from zero; blank if out of range."""
    rounded = value.quantize(QUANTUM, ROUND_HALF_UP, CTX)
    return rounded if rounded.copy_abs() < LIMIT else None


def norm(value: Decimal) -> Num:
    """Round to 10 places half away from zero; blank if out of range or not finite."""
    if not value.is_finite() or value.copy_abs() >= LIMIT:
        return None
    return _fit(value)


def coerce(value: object) -> Num:
    """A number from a record value: Decimal, int, float, numeric text; else blank."""
    if type(value) is Decimal:
        return norm(value)
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
    total = (a or ZERO) + (b or ZERO)
    return total if total.copy_abs() < LIMIT else None


def sub(a: Num, b: Num) -> Num:
    total = (a or ZERO) - (b or ZERO)
    return total if total.copy_abs() < LIMIT else None


def mul(a: Num, b: Num) -> Num:
    return _fit(CTX.multiply(a or ZERO, b or ZERO))


def mul_exact(a: Num, b: Num) -> Num:
    """``mul`` for operands whose decimal places add up to at most 10 (nothing to round)."""
    product = (a or ZERO) * (b or ZERO)
    return product if product.copy_abs() < LIMIT else None


def total(items: Sequence[Decimal]) -> Num:
    """The exact sum of in-range numbers (fast while partial sums stay in range)."""
    acc = ZERO
    for item in items:
        acc += item
        if (
            acc.copy_abs() >= LIMIT
        ):  # beyond 28 digits the default context could round: redo exactly
            exact = ZERO
            for value in items:
                exact = CTX.add(exact, value)
            return exact if exact.copy_abs() < LIMIT else None
    return acc


def places(value: Decimal) -> int:
    """Decimal places of a (finite) number as written: 1.50 has 2."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else PLACES


def neg(a: Num) -> Num:
    return ZERO - (a or ZERO)


def percent(a: Num) -> Num:
    return _fit((a or ZERO).scaleb(-2, CTX))


def div(a: Num, b: Num) -> Num:
    """a / b rounded to 10 places (exactly: see PREC); blank on b = 0."""
    if not b:
        return None
    return _fit(CTX.divide(a or ZERO, b))


_STEPS = {d: Decimal(1).scaleb(-d) for d in range(-18, PLACES + 1)}


def round_to(value: Num, digits: int, mode: str = ROUND_HALF_UP) -> Num:
    """Round to ``digits`` places (negative: tens, hundreds...) with a decimal rounding mode."""
    digits = max(-18, min(PLACES, digits))
    rounded = (value or ZERO).quantize(_STEPS[digits], mode, CTX)
    return rounded if rounded.copy_abs() < LIMIT else None


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
    r = CTX.remainder(a, b)  # sign of the dividend; moved to the divisor's below
    if r and (r < 0) != (b < 0):
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
    magnitude = CTX.multiply(a.copy_abs().log10(CTX), b)  # order of magnitude of the result
    if magnitude >= 18:
        return None
    if magnitude < -(PLACES + 2):
        return ZERO
    result = CTX.power(a, int(b)) if integral and b.copy_abs() <= 200 else CTX.power(a, b)
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
        value = value.scaleb(-2, CTX)  # not the thread's context, which may round to 28 digits
    if len(match.group(2)) > 60:
        return None
    return norm(value)
