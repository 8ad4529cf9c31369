"""Math and aggregate functions. Aggregates take lists (subform/relation fields) and skip blanks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_UP, Decimal
from typing import Any, ClassVar

from engine.expr import ast, numbers
from engine.expr.functions.base import ANY, Function, Param, unify
from engine.expr.types import NUMBER, ExprType, Kind

NUM: tuple[Kind, ...] = ("number",)
ORDERABLE: tuple[Kind, ...] = ("number", "date", "datetime")
Num = Decimal | None


def values(args: Iterable[Any]) -> list[Any]:
    """Arguments flattened one level (lists spread), blanks dropped."""
    out: list[Any] = []
    for arg in args:
        if isinstance(arg, list):
            out.extend(v for v in arg if v is not None)
        elif arg is not None:
            out.append(arg)
    return out


def integer(value: Num) -> int:
    """A count argument: truncated toward zero; blank is 0."""
    return int(value) if value is not None else 0


total = numbers.total


class Sum(Function):
    name = "SUM"
    category = "math"
    params = (Param("number1", NUM, list_ok=True), Param("number2", NUM, True, True, True))
    returns = NUMBER
    summary_zh = "求和；可对子表单或关联字段的一列求和（如 SUM(items.qty * items.price)），空值跳过"
    summary_en = "Adds numbers, including a column of a subform or relation (SUM(items.qty * items.price)); blanks are skipped"
    examples = (("SUM(1, 2.5, 3)", "6.5"), ("SUM(0.1, 0.2)", "0.3"))

    def python(self, *args: Any) -> Num:
        return total(values(args))


class Average(Function):
    name = "AVERAGE"
    category = "math"
    params = Sum.params
    returns = NUMBER
    summary_zh = "平均值，空值不计入；没有值时为空"
    summary_en = "The mean of the non-blank values; blank if there are none"
    examples = (("AVERAGE(2, NULL, 4)", "3"),)

    def python(self, *args: Any) -> Num:
        items = values(args)
        if not items:
            return None
        return numbers.div(total(items), Decimal(len(items)))


class Min(Function):
    name = "MIN"
    category = "math"
    params = (
        Param("value1", ORDERABLE, list_ok=True),
        Param("value2", ORDERABLE, True, True, True),
    )
    summary_zh = "最小值（数字、日期或日期时间），空值跳过；没有值时为空"
    summary_en = "The smallest value (numbers, dates or datetimes), blanks skipped; blank if none"
    examples = (("MIN(3, 1, 2)", "1"),)

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        t = unify(self.name, [a.element() for a in args], call, source)
        return NUMBER if t.kind == "blank" else t

    def python(self, *args: Any) -> Any:
        items = values(args)
        return min(items) if items else None


class Max(Min):
    name = "MAX"
    summary_zh = "最大值（数字、日期或日期时间），空值跳过；没有值时为空"
    summary_en = "The largest value (numbers, dates or datetimes), blanks skipped; blank if none"
    examples = (("MAX(3, 1, 2)", "3"),)

    def python(self, *args: Any) -> Any:
        items = values(args)
        return max(items) if items else None


class Count(Function):
    name = "COUNT"
    category = "math"
    params = (
        Param("value1", ORDERABLE, list_ok=True),
        Param("value2", ORDERABLE, True, True, True),
    )
    returns = NUMBER
    summary_zh = "数字（或日期）值的个数，空值不计"
    summary_en = "How many number (or date) values are not blank"
    examples = (("COUNT(1, NULL, 3)", "2"),)

    def python(self, *args: Any) -> Num:
        return Decimal(len(values(args)))


class CountA(Function):
    name = "COUNTA"
    category = "math"
    params = (Param("value1", ANY, list_ok=True), Param("value2", ANY, True, True, True))
    returns = NUMBER
    summary_zh = "非空值的个数（任意类型）"
    summary_en = "How many values of any type are not blank"
    examples = (('COUNTA("a", "", 0)', "2"),)

    def python(self, *args: Any) -> Num:
        return Decimal(len(values(args)))


class _Rounding(Function):
    category = "math"
    params = (Param("number", NUM), Param("num_digits", NUM, True))
    returns = NUMBER
    mode = ""

    def python(self, value: Num, digits: Num = None) -> Num:
        return numbers.round_to(value, integer(digits), self.mode)


class Round(_Rounding):
    name = "ROUND"
    mode = "ROUND_HALF_UP"
    summary_zh = "四舍五入到指定小数位（默认 0；负数表示十位、百位）；.5 远离零进位"
    summary_en = "Rounds to a number of decimal places (default 0; negative for tens, hundreds), half away from zero"
    examples = (
        ("ROUND(2.5)", "3"),
        ("ROUND(-2.5)", "-3"),
        ("ROUND(1.005, 2)", "1.01"),
        ("ROUND(1234, -2)", "1200"),
    )


class RoundUp(_Rounding):
    name = "ROUNDUP"
    mode = "ROUND_UP"
    summary_zh = "远离零方向舍入到指定小数位"
    summary_en = "Rounds away from zero to a number of decimal places"
    examples = (("ROUNDUP(3.141, 2)", "3.15"), ("ROUNDUP(-3.141, 2)", "-3.15"))


class RoundDown(_Rounding):
    name = "ROUNDDOWN"
    mode = "ROUND_DOWN"
    summary_zh = "向零方向舍入（截断）到指定小数位"
    summary_en = "Rounds toward zero (truncates) to a number of decimal places"
    examples = (("ROUNDDOWN(3.149, 2)", "3.14"),)


class Trunc(RoundDown):
    name = "TRUNC"
    summary_zh = "截去小数部分（或保留指定位数），向零方向"
    summary_en = "Truncates toward zero, optionally to a number of decimal places"
    examples = (("TRUNC(-4.7)", "-4"),)


class Int(Function):
    name = "INT"
    category = "math"
    params = (Param("number", NUM),)
    returns = NUMBER
    summary_zh = "向下取整（向负无穷方向）"
    summary_en = "Rounds down to an integer (toward negative infinity)"
    examples = (("INT(-4.3)", "-5"), ("INT(4.7)", "4"))

    def python(self, value: Num) -> Num:
        return numbers.floor(value)


class Abs(Function):
    name = "ABS"
    category = "math"
    params = (Param("number", NUM),)
    returns = NUMBER
    summary_zh = "绝对值"
    summary_en = "Absolute value"
    examples = (("ABS(-3)", "3"),)

    def python(self, value: Num) -> Num:
        return (value or numbers.ZERO).copy_abs()


class Sign(Function):
    name = "SIGN"
    category = "math"
    params = (Param("number", NUM),)
    returns = NUMBER
    summary_zh = "正数为 1，负数为 -1，零为 0"
    summary_en = "1 for positive, -1 for negative, 0 for zero"
    examples = (("SIGN(-8)", "-1"),)

    def python(self, value: Num) -> Num:
        x = value or numbers.ZERO
        return Decimal((x > 0) - (x < 0))


class Mod(Function):
    name = "MOD"
    category = "math"
    params = (Param("number", NUM), Param("divisor", NUM))
    returns = NUMBER
    summary_zh = "余数，符号与除数相同（同 Excel）；除数为 0 时为空"
    summary_en = "Remainder with the sign of the divisor (as Excel); blank when the divisor is 0"
    examples = (("MOD(-7, 3)", "2"), ("MOD(7, -3)", "-2"))

    def python(self, number: Num, divisor: Num) -> Num:
        return numbers.mod(number, divisor)


class Power(Function):
    name = "POWER"
    category = "math"
    params = (Param("number", NUM), Param("power", NUM))
    returns = NUMBER
    summary_zh = "乘方，等同于 ^；结果超出范围或无定义时为空"
    summary_en = "Raises to a power, like ^; blank when undefined or out of range"
    examples = (("POWER(2, 10)", "1024"), ("POWER(9, 9^9)", "(blank)"))

    def python(self, number: Num, exponent: Num) -> Num:
        return numbers.power(number, exponent)


class Sqrt(Function):
    name = "SQRT"
    category = "math"
    params = (Param("number", NUM),)
    returns = NUMBER
    summary_zh = "平方根（保留 10 位小数）；负数为空"
    summary_en = "Square root (10 decimal places); blank for negative numbers"
    examples = (("SQRT(16)", "4"), ("SQRT(2)", "1.4142135624"))

    def python(self, value: Num) -> Num:
        return numbers.sqrt(value)


class Ceiling(Function):
    name = "CEILING"
    category = "math"
    params = (Param("number", NUM), Param("significance", NUM, True))
    returns = NUMBER
    summary_zh = (
        "舍入到基数（默认 1）的倍数：基数为正时向上（正无穷方向），数字与基数都为负时远离零；"
        "正数配负基数为空；基数为 0 时为 0（同 Excel）"
    )
    summary_en = (
        "Rounds to a multiple of significance (default 1): up (toward +infinity) for a positive"
        " significance, away from zero when number and significance are both negative; blank for a"
        " positive number with a negative significance; 0 if significance is 0 (as Excel)"
    )
    examples: ClassVar[tuple[tuple[str, str], ...]] = (
        ("CEILING(4.2)", "5"),
        ("CEILING(-2.5, 2)", "-2"),
        ("CEILING(-2.5, -2)", "-4"),
        ("CEILING(23, 5)", "25"),
    )
    # rounding of number / significance when the significance is positive / negative
    positive: ClassVar[str] = ROUND_CEILING
    negative: ClassVar[str] = ROUND_UP
    at_zero: ClassVar[Decimal | None] = numbers.ZERO

    def python(self, value: Num, significance: Num = None) -> Num:
        step = numbers.ONE if significance is None else significance
        x = value or numbers.ZERO
        if step.is_zero():
            return self.at_zero
        if step < 0 and x > 0:
            return None
        mode = self.positive if step > 0 else self.negative
        quotient = numbers.CTX.divide(x, step.copy_abs())
        return numbers.mul(quotient.to_integral_value(mode, numbers.CTX), step.copy_abs())


class Floor(Ceiling):
    name = "FLOOR"
    summary_zh = (
        "舍入到基数（默认 1）的倍数：基数为正时向下（负无穷方向），数字与基数都为负时向零；"
        "正数配负基数、或基数为 0 时为空（同 Excel）"
    )
    summary_en = (
        "Rounds to a multiple of significance (default 1): down (toward -infinity) for a positive"
        " significance, toward zero when number and significance are both negative; blank for a"
        " positive number with a negative significance or a significance of 0 (as Excel)"
    )
    examples: ClassVar[tuple[tuple[str, str], ...]] = (
        ("FLOOR(4.8)", "4"),
        ("FLOOR(-2.5, 2)", "-4"),
        ("FLOOR(-2.5, -2)", "-2"),
    )
    positive, negative, at_zero = ROUND_FLOOR, ROUND_DOWN, None


FUNCTIONS: tuple[Function, ...] = (
    Sum(),
    Average(),
    Min(),
    Max(),
    Count(),
    CountA(),
    Round(),
    RoundUp(),
    RoundDown(),
    Trunc(),
    Int(),
    Abs(),
    Sign(),
    Mod(),
    Power(),
    Sqrt(),
    Ceiling(),
    Floor(),
)
