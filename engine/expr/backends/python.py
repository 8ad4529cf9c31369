"""Python backend: closures built from the checked tree (never ``eval`` of user text).

Each node becomes a function ``(record, ctx) -> value``; the tree is walked once per formula
version, so evaluating a record is a chain of direct calls. Hot shapes are specialised: field
reads trust values already of the right Python type, comparisons with a constant skip a call,
and list expressions (``items.qty * items.price``) run as one loop over the rows
(:class:`ListPlan`) instead of building intermediate lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.expr import ast, numbers
from engine.expr.functions import FUNCTIONS
from engine.expr.functions.texts import MAX_TEXT, cap_text
from engine.expr.runtime import COERCE, EvalContext

Compiled = Callable[[Mapping[str, Any], EvalContext], Any]
Element = Callable[[Any, Mapping[str, Any], EvalContext], Any]
Rows = Callable[[Mapping[str, Any], EvalContext], list[Any]]

_NUMBER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": numbers.add,
    "-": numbers.sub,
    "*": numbers.mul,
    "/": numbers.div,
    "^": numbers.power,
}
_PYTHON_TYPES: dict[str, type] = {
    "number": Decimal,
    "text": str,
    "boolean": bool,
    "date": dt.date,
    "datetime": dt.datetime,
    "time": dt.time,
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


def _reader(kind: str) -> Callable[[Any], Any]:
    """Coerce a raw value to ``kind``, with a fast path for values already of that type.

    Values of the right Python type are trusted as they are: the store hands out numbers at
    their field's precision, so re-normalising every read would only cost time.
    """
    coerce = COERCE[kind]
    expected = _PYTHON_TYPES.get(kind)
    if kind == "text":
        return lambda v: (v or None) if type(v) is str else coerce(v)
    if expected is None:
        return coerce
    return lambda v: v if v is None or type(v) is expected else coerce(v)


def _key_reader(key: str, kind: str) -> Element:
    """Read one key of a mapping and coerce it, in a single call (the hottest closure)."""
    coerce = COERCE[kind]
    expected = _PYTHON_TYPES.get(kind)
    if kind == "text":

        def read_text(m: Any, r: Any, c: Any) -> Any:
            try:
                v = m.get(key)
            except AttributeError:
                return None
            return (v or None) if type(v) is str else coerce(v)

        return read_text

    def read(m: Any, r: Any, c: Any) -> Any:
        try:
            v = m.get(key)
        except AttributeError:
            return None
        return v if v is None or type(v) is expected else coerce(v)

    return read


def _field_reader(key: str, kind: str) -> Compiled:
    """A record's own field as one closure ``(record, ctx)``."""
    coerce = COERCE[kind]
    expected = _PYTHON_TYPES.get(kind)
    if kind == "text":
        return lambda r, c: (v or None) if type(v := r.get(key)) is str else coerce(v)
    return lambda r, c: v if (v := r.get(key)) is None or type(v) is expected else coerce(v)


def _walk(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@dataclass(frozen=True, slots=True)
class ListPlan:
    """A list expression as one loop: the rows it ranges over and the value per row."""

    rows: Rows
    element: Element

    def materialize(self) -> Compiled:
        rows, element = self.rows, self.element

        def values(r: Mapping[str, Any], c: EvalContext) -> list[Any]:
            numbers.ensure_context()  # element functions may rely on it (see _fused_element)
            return [element(row, r, c) for row in rows(r, c)]

        return values


def _list_plan(node: ast.Node) -> ListPlan:
    assert node.type is not None and node.type.is_list
    if isinstance(node, ast.Ref):
        return _ref_plan(node)
    if isinstance(node, ast.Unary):
        inner = _list_plan(node.operand)
        op = _UNARY[node.op]
        ie = inner.element
        return ListPlan(inner.rows, lambda row, r, c: op(ie(row, r, c)))
    if isinstance(node, ast.Binary):
        return _binary_plan(node)
    if isinstance(node, ast.Call):
        fn = FUNCTIONS[node.name]
        if fn.returns is not None:  # an element-wise conversion inserted by the checker
            inner = _list_plan(node.args[0])
            ie, impl = inner.element, fn.python
            if fn.needs_ctx:
                return ListPlan(inner.rows, lambda row, r, c: impl(c, ie(row, r, c)))
            return ListPlan(inner.rows, lambda row, r, c: impl(ie(row, r, c)))
        produce = _call(node)  # a function returning a list (SPLIT)
        return ListPlan(produce, lambda row, r, c: row)
    raise TypeError(f"not a list expression: {node!r}")  # pragma: no cover


def _ref_plan(node: ast.Ref) -> ListPlan:
    assert node.type is not None
    read = _reader(node.type.kind)
    at = (node.type.source or "").count(".")
    head, tail = node.path[: at + 1], node.path[at + 1 :]

    if len(head) == 1:
        first = head[0]

        def rows(r: Mapping[str, Any], c: EvalContext) -> list[Any]:
            items = r.get(first)
            return items if type(items) is list else []
    else:

        def rows(r: Mapping[str, Any], c: EvalContext) -> list[Any]:
            items = _walk(r, head)
            return items if type(items) is list else []

    if not tail:
        return ListPlan(rows, lambda row, r, c: read(row))
    if len(tail) == 1:
        return ListPlan(rows, _key_reader(tail[0], node.type.kind))
    return ListPlan(rows, lambda row, r, c: read(_walk(row, tail)))


def _row_number_key(node: ast.Node) -> str | None:
    """The key when ``node`` is a number field read directly from a list's row."""
    if not isinstance(node, ast.Ref) or node.type is None or node.type.kind != "number":
        return None
    at = (node.type.source or "").count(".")
    tail = node.path[at + 1 :]
    return tail[0] if len(tail) == 1 else None


def _fused_element(op_name: str, exact: bool, left: str, right: str) -> Element:
    """``row.left op row.right`` in one call; runs inside a loop that set the decimal context."""
    coerce = numbers.coerce
    zero, limit, quantum = numbers.ZERO, numbers.LIMIT, numbers.QUANTUM

    def element(row: Any, r: Any, c: Any) -> Any:
        try:
            a, b = row.get(left), row.get(right)
        except AttributeError:
            return None
        if a is not None and type(a) is not Decimal:
            a = coerce(a)
        if b is not None and type(b) is not Decimal:
            b = coerce(b)
        if op_name == "*":
            v = (a or zero) * (b or zero)
            if not exact:
                v = v.quantize(quantum)
        elif op_name == "+":
            v = (a or zero) + (b or zero)
        else:
            v = (a or zero) - (b or zero)
        return v if abs(v) < limit else None

    return element


def _binary_plan(node: ast.Binary) -> ListPlan:
    assert node.left.type is not None and node.right.type is not None
    op = _binary_op(node)
    if node.left.type.is_list and node.right.type.is_list:
        left, right = _list_plan(node.left), _list_plan(node.right)
        lk, rk = _row_number_key(node.left), _row_number_key(node.right)
        if lk and rk and node.op in ("+", "-", "*"):
            exact = op is not numbers.mul
            return ListPlan(left.rows, _fused_element(node.op, exact, lk, rk))
        le, re = left.element, right.element
        return ListPlan(left.rows, lambda row, r, c: op(le(row, r, c), re(row, r, c)))
    if node.left.type.is_list:
        plan, scalar = _list_plan(node.left), compile_node(node.right)
        pe = plan.element
        return ListPlan(plan.rows, lambda row, r, c: op(pe(row, r, c), scalar(r, c)))
    plan, scalar = _list_plan(node.right), compile_node(node.left)
    pe = plan.element
    return ListPlan(plan.rows, lambda row, r, c: op(scalar(r, c), pe(row, r, c)))


def places(node: ast.Node) -> int:
    """An upper bound on the decimal places of a number node's values (at most 10).

    Fields hold values at their declared precision (the form pipeline rounds on input), so a
    product of a 0-place and a 2-place field has at most 2 places and needs no rounding.
    """
    if isinstance(node, ast.NumberLit):
        return min(numbers.places(node.value), numbers.PLACES)
    if isinstance(node, ast.Ref):
        return numbers.PLACES if node.scale is None else node.scale
    if isinstance(node, ast.Unary) and node.op in ("-", "+"):
        return places(node.operand)
    if isinstance(node, ast.Binary) and node.op in ("+", "-", "*"):
        left, right = places(node.left), places(node.right)
        total = left + right if node.op == "*" else max(left, right)
        return min(total, numbers.PLACES)
    return numbers.PLACES


def _binary_op(node: ast.Binary) -> Callable[[Any, Any], Any]:
    assert node.left.type is not None and node.right.type is not None
    lk, rk = node.left.type.kind, node.right.type.kind
    if node.op == "*" and places(node.left) + places(node.right) <= numbers.PLACES:
        return numbers.mul_exact
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
    if node.type is not None and node.type.is_list:
        return _list_plan(node).materialize()
    constant = _constant(node)
    if constant is not _NOT_CONSTANT:
        return lambda r, c: constant
    if isinstance(node, ast.Ref):
        assert node.type is not None
        if len(node.path) == 1:
            return _field_reader(node.path[0], node.type.kind)
        read = _reader(node.type.kind)
        path = node.path
        return lambda r, c: read(_walk(r, path))
    if isinstance(node, ast.Unary):
        return _unary(node)
    if isinstance(node, ast.Binary):
        return _binary(node)
    if isinstance(node, ast.Call):
        return _call(node)
    raise TypeError(f"cannot compile {node!r}")  # pragma: no cover


_NOT_CONSTANT = object()


def _constant(node: ast.Node) -> Any:
    """The value of a literal node, or ``_NOT_CONSTANT``."""
    if isinstance(node, ast.NumberLit):
        return numbers.norm(node.value)
    if isinstance(node, ast.TextLit):
        return node.value or None
    if isinstance(node, ast.BoolLit):
        return node.value
    if isinstance(node, ast.BlankLit):
        return None
    return _NOT_CONSTANT


_UNARY: dict[str, Callable[[Any], Any]] = {
    "-": numbers.neg,
    "+": lambda a: a if a is not None else numbers.ZERO,
    "%": numbers.percent,
    "NOT": lambda a: a is not True,
}


def _unary(node: ast.Unary) -> Compiled:
    operand = compile_node(node.operand)
    op = _UNARY[node.op]
    return lambda r, c: op(operand(r, c))


def _binary(node: ast.Binary) -> Compiled:
    left = compile_node(node.left)
    right = compile_node(node.right)
    if node.op == "AND":
        return lambda r, c: left(r, c) is True and right(r, c) is True
    if node.op == "OR":
        return lambda r, c: left(r, c) is True or right(r, c) is True
    if node.op == "&":
        return _concat_chain(node)
    op = _binary_op(node)
    constant = _constant(node.right)
    if constant is not None and constant is not _NOT_CONSTANT:
        if node.op in ("<", "<=", ">", ">="):
            return _compare_constant(node.op, left, constant)
        return lambda r, c: op(left(r, c), constant)
    return lambda r, c: op(left(r, c), right(r, c))


def _concat_chain(node: ast.Binary) -> Compiled:
    """A run of ``&`` as one join (``a & b & c`` is left-nested; evaluate it flat)."""
    operands: list[ast.Node] = []
    stack: list[ast.Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Binary) and current.op == "&":
            stack += [current.right, current.left]
        else:
            operands.append(current)
    # (0, text) a constant, (1, key) a text field of the record, (2, closure) anything else
    plan: list[tuple[int, Any]] = []
    for operand in operands:
        constant = _constant(operand)
        if constant is not _NOT_CONSTANT:
            plan.append((0, constant or ""))
        elif isinstance(operand, ast.Ref) and len(operand.path) == 1:
            plan.append((1, operand.path[0]))
        else:
            plan.append((2, compile_node(operand)))
    coerce = COERCE["text"]
    cap = MAX_TEXT
    def concat(r: Mapping[str, Any], c: EvalContext) -> str | None:
        get = r.get
        text = "".join(
            [
                x
                if t == 0
                else ((v if type(v := get(x)) is str else (coerce(v) or "")) if t == 1 else (x(r, c) or ""))
                for t, x in plan
            ]
        )
        return text if text and len(text) <= cap else None

    return concat


def _compare_constant(op: str, left: Compiled, k: Any) -> Compiled:
    if op == "<":
        return lambda r, c: (v := left(r, c)) is not None and v < k
    if op == "<=":
        return lambda r, c: (v := left(r, c)) is not None and v <= k
    if op == ">":
        return lambda r, c: (v := left(r, c)) is not None and v > k
    return lambda r, c: (v := left(r, c)) is not None and v >= k


def _sum_plan(plan: ListPlan) -> Compiled:
    """SUM over one list expression as a single loop over its rows."""
    rows, element = plan.rows, plan.element

    limit = numbers.LIMIT

    def total(r: Mapping[str, Any], c: EvalContext) -> Any:
        numbers.ensure_context()
        acc = numbers.ZERO
        for row in rows(r, c):
            v = element(row, r, c)
            if v is not None:
                acc += v
        # Every element has at most 10 places, so the exact sum needs no rounding.
        return acc if abs(acc) < limit else None

    return total


def _call(node: ast.Call) -> Compiled:
    fn = FUNCTIONS[node.name]
    only = node.args[0].type if len(node.args) == 1 else None
    if node.name == "SUM" and only is not None and only.is_list:
        return _sum_plan(_list_plan(node.args[0]))
    args = [compile_node(a) for a in node.args]
    special = fn.compile_python(args)
    if special is not None:
        return special
    if fn.lazy:
        lazy = fn.python_lazy
        return lambda r, c: lazy(r, c, args)
    impl = fn.python
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
