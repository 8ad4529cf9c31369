"""Python backend: closures built from the checked tree (never ``eval`` of user text).

Each node becomes a function ``(record, ctx) -> value``; the tree is walked once per formula
version, so evaluating a record is a chain of direct calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from engine.expr import ast, numbers
from engine.expr.functions import FUNCTIONS
from engine.expr.functions.texts import cap_text
from engine.expr.runtime import COERCE, EvalContext

Compiled = Callable[[Mapping[str, Any], EvalContext], Any]

_NUMBER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": numbers.add,
    "-": numbers.sub,
    "*": numbers.mul,
    "/": numbers.div,
    "^": numbers.power,
}


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(a == b)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": _equal,
    "<>": lambda a, b: not _equal(a, b),
    "<": lambda a, b: a is not None and b is not None and a < b,
    "<=": lambda a, b: a is not None and b is not None and a <= b,
    ">": lambda a, b: a is not None and b is not None and a > b,
    ">=": lambda a, b: a is not None and b is not None and a >= b,
}


def _concat(a: str | None, b: str | None) -> str | None:
    return cap_text((a or "") + (b or ""))


def _date_shift(d: dt.date | None, days: Decimal | None, sign: int) -> dt.date | None:
    if d is None:
        return None
    whole = numbers.floor(days)
    if whole is None:
        return None
    try:
        return d + dt.timedelta(days=sign * int(whole))
    except OverflowError:
        return None


def _date_diff(a: dt.date | None, b: dt.date | None) -> Decimal | None:
    if a is None or b is None:
        return None
    return Decimal((a - b).days)


def _getter(path: tuple[str, ...], list_at: int | None, kind: str) -> Compiled:
    coerce = COERCE[kind]

    def walk(value: Any, keys: tuple[str, ...]) -> Any:
        for key in keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    if len(path) == 1 and list_at is None:
        key = path[0]
        return lambda r, c: coerce(r.get(key))
    if list_at is None:
        return lambda r, c: coerce(walk(r, path))
    head, tail = path[: list_at + 1], path[list_at + 1 :]

    def rows(r: Mapping[str, Any], c: EvalContext) -> list[Any]:
        items = walk(r, head)
        if not isinstance(items, list):
            return []
        if not tail:
            return [coerce(v) for v in items]
        return [coerce(walk(row, tail)) for row in items]

    return rows


def _list_position(node: ast.Ref) -> int | None:
    """Index in the path of the container whose rows make the reference a list."""
    if node.type is None or not node.type.is_list:
        return None
    source = node.type.source or ""
    return source.count(".")


def _elementwise(
    op: Callable[[Any, Any], Any], left_list: bool, right_list: bool, left: Compiled, right: Compiled
) -> Compiled:
    if left_list and right_list:
        return lambda r, c: [op(a, b) for a, b in zip(left(r, c), right(r, c), strict=False)]
    if left_list:
        return lambda r, c: [op(a, b) for b in (right(r, c),) for a in left(r, c)]
    return lambda r, c: [op(a, b) for a in (left(r, c),) for b in right(r, c)]


def _binary_op(node: ast.Binary) -> Callable[[Any, Any], Any]:
    assert node.left.type is not None and node.right.type is not None
    lk, rk = node.left.type.kind, node.right.type.kind
    if node.op == "&":
        return _concat
    if node.op in _COMPARE:
        return _COMPARE[node.op]
    if node.op in ("+", "-") and "date" in (lk, rk):
        if lk == rk == "date":
            return _date_diff
        if lk == "date":
            sign = 1 if node.op == "+" else -1
            return lambda d, n: _date_shift(d, n, sign)
        return lambda n, d: _date_shift(d, n, 1)
    return _NUMBER_OPS[node.op]


def compile_node(node: ast.Node) -> Compiled:
    """The closure computing ``node`` for a record."""
    if isinstance(node, ast.NumberLit):
        value = numbers.norm(node.value)
        return lambda r, c: value
    if isinstance(node, ast.TextLit):
        text = node.value or None
        return lambda r, c: text
    if isinstance(node, ast.BoolLit):
        flag = node.value
        return lambda r, c: flag
    if isinstance(node, ast.BlankLit):
        return lambda r, c: None
    if isinstance(node, ast.Ref):
        assert node.type is not None
        return _getter(node.path, _list_position(node), node.type.kind)
    if isinstance(node, ast.Unary):
        return _unary(node)
    if isinstance(node, ast.Binary):
        return _binary(node)
    if isinstance(node, ast.Call):
        return _call(node)
    raise TypeError(f"cannot compile {node!r}")  # pragma: no cover


def _unary(node: ast.Unary) -> Compiled:
    operand = compile_node(node.operand)
    if node.op == "NOT":
        return lambda r, c: operand(r, c) is not True
    op: Callable[[Any], Any] = {
        "-": numbers.neg,
        "+": lambda a: a if a is not None else numbers.ZERO,
        "%": numbers.percent,
    }[node.op]
    if node.type is not None and node.type.is_list:
        return lambda r, c: [op(v) for v in operand(r, c)]
    return lambda r, c: op(operand(r, c))


def _binary(node: ast.Binary) -> Compiled:
    left = compile_node(node.left)
    right = compile_node(node.right)
    if node.op == "AND":
        return lambda r, c: left(r, c) is True and right(r, c) is True
    if node.op == "OR":
        return lambda r, c: left(r, c) is True or right(r, c) is True
    op = _binary_op(node)
    assert node.left.type is not None and node.right.type is not None
    if node.left.type.is_list or node.right.type.is_list:
        return _elementwise(op, node.left.type.is_list, node.right.type.is_list, left, right)
    return lambda r, c: op(left(r, c), right(r, c))


def _call(node: ast.Call) -> Compiled:
    fn = FUNCTIONS[node.name]
    args = [compile_node(a) for a in node.args]
    if fn.lazy:
        lazy = fn.python_lazy
        return lambda r, c: lazy(r, c, args)
    impl = fn.python
    if node.type is not None and node.type.is_list and fn.returns is not None:  # TEXT of a list
        (inner,) = args
        if fn.needs_ctx:
            return lambda r, c: [impl(c, v) for v in inner(r, c)]
        return lambda r, c: [impl(v) for v in inner(r, c)]
    if fn.needs_ctx:
        return lambda r, c: impl(c, *[a(r, c) for a in args])
    if len(args) == 0:
        return lambda r, c: impl()
    if len(args) == 1:
        (a0,) = args
        return lambda r, c: impl(a0(r, c))
    if len(args) == 2:
        a0, a1 = args
        return lambda r, c: impl(a0(r, c), a1(r, c))
    return lambda r, c: impl(*[a(r, c) for a in args])
