"""Logic functions: IF, IFS, SWITCH, AND, OR, XOR, NOT, ISBLANK.

IF, IFS and SWITCH are lazy: only the chosen branch is evaluated. A blank condition is FALSE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.expr import ast
from engine.expr.errors import ExprError
from engine.expr.functions.base import ANY, Function, Param, Thunk, unify
from engine.expr.runtime import EvalContext
from engine.expr.types import BOOLEAN, ID_KINDS, ExprType, Kind

COND: tuple[Kind, ...] = ("boolean",)


class If(Function):
    name = "IF"
    category = "logic"
    params = (
        Param("condition", COND),
        Param("value_if_true", ANY),
        Param("value_if_false", ANY, True),
    )
    lazy = True
    summary_zh = "条件为真时返回第二个参数，否则返回第三个参数（省略时为空）；只计算被选中的分支"
    summary_en = "The second argument if the condition is TRUE, else the third (blank if omitted); only the chosen branch is evaluated"
    examples = (('IF(5 > 3, "高", "低")', "高"), ("IF(0 = 0, 0, 10 / 0)", "0"))

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        return unify(self.name, args[1:], call, source)

    def python_lazy(self, record: Any, ctx: EvalContext, thunks: Sequence[Thunk]) -> Any:
        if thunks[0](record, ctx) is True:
            return thunks[1](record, ctx)
        return thunks[2](record, ctx) if len(thunks) > 2 else None

    def compile_python(self, args: Sequence[Thunk]) -> Thunk | None:
        condition, then = args[0], args[1]
        otherwise = args[2] if len(args) > 2 else (lambda r, c: None)
        return lambda r, c: then(r, c) if condition(r, c) is True else otherwise(r, c)


class Ifs(Function):
    name = "IFS"
    category = "logic"
    params = (Param("condition1", COND), Param("value1", ANY), Param("...", ANY, True, True))
    lazy = True
    summary_zh = "依次检查条件，返回第一个为真的条件对应的值；都不为真时为空"
    summary_en = "The value paired with the first TRUE condition; blank if none is TRUE"
    examples = (('IFS(1 > 2, "a", 2 > 1, "b")', "b"),)

    def signature(self) -> str:
        return "IFS(condition1, value1, [condition2, value2, ...])"

    def check_arity(self, call: ast.Call, source: str) -> None:
        if len(call.args) < 2 or len(call.args) % 2:
            raise ExprError(
                "arg_count",
                source,
                call.span,
                name=self.name,
                expected="2, 4, 6…",
                actual=len(call.args),
            )

    def param_for(self, index: int) -> Param | None:
        return (
            Param(f"condition{index // 2 + 1}", COND)
            if index % 2 == 0
            else Param(f"value{index // 2 + 1}", ANY)
        )

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        return unify(self.name, args[1::2], call, source)

    def python_lazy(self, record: Any, ctx: EvalContext, thunks: Sequence[Thunk]) -> Any:
        for i in range(0, len(thunks), 2):
            if thunks[i](record, ctx) is True:
                return thunks[i + 1](record, ctx)
        return None


class Switch(Function):
    name = "SWITCH"
    category = "logic"
    params = (
        Param("expression", ANY),
        Param("value1", ANY),
        Param("result1", ANY),
        Param("...", ANY, True, True),
    )
    lazy = True
    summary_zh = (
        "把表达式依次与各个值比较（= 的语义），返回第一个相等值对应的结果；都不相等时返回默认值或空"
    )
    summary_en = "Compares the expression with each value (as =) and returns the result of the first match; else the default or blank"
    examples = (('SWITCH(2, 1, "一", 2, "二", "其他")', "二"),)

    def signature(self) -> str:
        return "SWITCH(expression, value1, result1, [value2, result2, ...], [default])"

    def param_for(self, index: int) -> Param | None:
        return Param("expression" if index == 0 else "value", ANY)

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        pairs = (len(args) - 1) // 2
        unify(self.name, [args[0], *args[1 : 1 + 2 * pairs : 2]], call, source)
        results = list(args[2 : 2 + 2 * pairs : 2])
        if (len(args) - 1) % 2:
            results.append(args[-1])
        return unify(self.name, results, call, source)

    def python_lazy(self, record: Any, ctx: EvalContext, thunks: Sequence[Thunk]) -> Any:
        subject = thunks[0](record, ctx)
        pairs = len(thunks) - 1
        for i in range(1, pairs - pairs % 2 + 1, 2):
            candidate = thunks[i](record, ctx)
            if (subject is None and candidate is None) or (
                subject is not None and candidate is not None and subject == candidate
            ):
                return thunks[i + 1](record, ctx)
        return thunks[-1](record, ctx) if pairs % 2 else None


class And(Function):
    name = "AND"
    category = "logic"
    params = (Param("logical1", COND), Param("logical2", COND, True, True))
    returns = BOOLEAN
    summary_zh = "所有条件都为真时为真（空值视为假）；也可写作 a AND b"
    summary_en = "TRUE if every condition is TRUE (blank counts as FALSE); also written a AND b"
    examples = (("AND(TRUE, 1 < 2)", "TRUE"),)

    def python(self, *args: Any) -> bool:
        return all(a is True for a in args)


class Or(Function):
    name = "OR"
    category = "logic"
    params = (Param("logical1", COND), Param("logical2", COND, True, True))
    returns = BOOLEAN
    summary_zh = "任一条件为真时为真；也可写作 a OR b"
    summary_en = "TRUE if any condition is TRUE; also written a OR b"
    examples = (("OR(FALSE, 1 < 2)", "TRUE"),)

    def python(self, *args: Any) -> bool:
        return any(a is True for a in args)


class Xor(Function):
    name = "XOR"
    category = "logic"
    params = (Param("logical1", COND), Param("logical2", COND, True, True))
    returns = BOOLEAN
    summary_zh = "为真的条件个数为奇数时为真"
    summary_en = "TRUE if an odd number of the conditions are TRUE"
    examples = (("XOR(TRUE, TRUE)", "FALSE"),)

    def python(self, *args: Any) -> bool:
        return sum(1 for a in args if a is True) % 2 == 1


class Not(Function):
    name = "NOT"
    category = "logic"
    params = (Param("logical", COND),)
    returns = BOOLEAN
    summary_zh = "条件取反；空值视为假，所以 NOT(空) 为真"
    summary_en = "Negates a condition; blank counts as FALSE, so NOT(blank) is TRUE"
    examples = (("NOT(1 > 2)", "TRUE"),)

    def python(self, value: Any) -> bool:
        return value is not True


class IsBlank(Function):
    name = "ISBLANK"
    category = "logic"
    params = (Param("value", (*ANY, *ID_KINDS)),)
    returns = BOOLEAN
    summary_zh = "值为空（包括空文本）时为真"
    summary_en = "TRUE if the value is blank (empty text included)"
    examples = (('ISBLANK("")', "TRUE"), ("ISBLANK(0)", "FALSE"))

    def python(self, value: Any) -> bool:
        return value is None


FUNCTIONS: tuple[Function, ...] = (If(), Ifs(), Switch(), And(), Or(), Xor(), Not(), IsBlank())
