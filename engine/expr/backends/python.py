"""Python backend: closures built from the checked tree (never ``eval`` of user text).

Each node becomes a function ``(record, ctx) -> value``; the tree is walked once per formula
version, so evaluating a record is a chain of direct calls. Hot shapes are specialised:
comparisons with a constant skip a call, ``a & b & c`` is one join, and list expressions
(``items.qty * items.price``) run as one loop over the rows (:class:`ListPlan`) instead of
building intermediate lists.

Reads coerce every record value to its field's kind (strict). A caller whose records come
from the store, already typed at their field's precision, may compile with ``trusted=True``:
values already of the right Python type are then taken as they are (datetimes are always
normalised, so nothing can raise at run time).
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
# Kinds whose values are taken as they are when trusted (datetimes always get normalised).
_TRUSTED_TYPES: dict[str, type] = {
    "number": Decimal,
    "text": str,
    "boolean": bool,
    "date": dt.date,
    "time": dt.time,
    "record": int,
    "user": int,
    "department": int,
}
_NOT_CONSTANT = object()


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
_UNARY: dict[str, Callable[[Any], Any]] = {
    "-": numbers.neg,
    "+": lambda a: a if a is not None else numbers.ZERO,
    "%": numbers.percent,
    "NOT": lambda a: a is not True,
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


def _walk(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


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


def places(node: ast.Node) -> int:
    """An upper bound on the decimal places of a number node's values (at most 10).

    Fields hold values at their declared precision (the form pipeline rounds on input, and
    strict reads round too), so a product of a 0-place and a 2-place field has at most 2
    places and needs no rounding.
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
    if node.op == "*" and places(node.left) + places(node.right) <= numbers.PLACES:
        return numbers.mul_exact
    return _NUMBER_OPS[node.op]


@dataclass(frozen=True, slots=True)
class ListPlan:
    """A list expression as one loop: the rows it ranges over and the value per row."""

    rows: Rows
    element: Element

    def materialize(self) -> Compiled:
        rows, element = self.rows, self.element
        return lambda r, c: [element(row, r, c) for row in rows(r, c)]


def _metered(closure: Compiled) -> Compiled:
    """``closure`` charging the context's budget: one unit, plus the code points of a text
    result, plus the elements (and their text) of a list result (``engine.expr.budget``)."""

    def run(r: Mapping[str, Any], c: EvalContext) -> Any:
        value = closure(r, c)
        budget = c.budget
        if budget is not None:
            cost = 1
            if type(value) is str:
                cost += len(value)
            elif type(value) is list:
                cost += len(value) + sum(len(v) for v in value if type(v) is str)
            budget.charge(cost)
        return value

    return run


class PythonCompiler:
    """Turns a checked tree into closures; ``trusted`` selects the fast reads (see module doc);
    ``metered`` makes every call, ``&`` and list charge the evaluation's budget."""

    def __init__(self, trusted: bool = False, metered: bool = False) -> None:
        self.trusted = trusted
        self.metered = metered

    # --- reads --------------------------------------------------------------------------
    def reader(self, kind: str) -> Callable[[Any], Any]:
        coerce = COERCE[kind]
        expected = _TRUSTED_TYPES.get(kind) if self.trusted else None
        if kind == "text":
            return lambda v: (v or None) if type(v) is str else coerce(v)
        if expected is None:
            return coerce
        return lambda v: v if v is None or type(v) is expected else coerce(v)

    def field(self, key: str, kind: str) -> Compiled:
        """A record's own field as one closure (the hottest one)."""
        coerce = COERCE[kind]
        expected = _TRUSTED_TYPES.get(kind) if self.trusted else None
        if kind == "text":
            return lambda r, c: (v or None) if type(v := r.get(key)) is str else coerce(v)
        if expected is None:
            return lambda r, c: coerce(r.get(key))
        return lambda r, c: v if (v := r.get(key)) is None or type(v) is expected else coerce(v)

    def row_field(self, key: str, kind: str) -> Element:
        """One key of a list's row (rows that are not objects read as blank)."""
        read = self.reader(kind)

        def element(row: Any, r: Any, c: Any) -> Any:
            return read(row.get(key)) if isinstance(row, Mapping) else None

        return element

    # --- nodes --------------------------------------------------------------------------
    def compile(self, node: ast.Node) -> Compiled:
        """The closure computing ``node`` for a record."""
        closure = self.compile_node(node)
        if self.metered and (
            isinstance(node, ast.Call)
            or (isinstance(node, ast.Binary) and node.op == "&")
            or (node.type is not None and node.type.is_list)
        ):
            return _metered(closure)
        return closure

    def compile_node(self, node: ast.Node) -> Compiled:
        """The closure computing ``node`` for a record, unmetered."""
        if node.type is not None and node.type.is_list:
            return self.list_plan(node).materialize()
        constant = _constant(node)
        if constant is not _NOT_CONSTANT:
            return lambda r, c: constant
        if isinstance(node, ast.Ref):
            assert node.type is not None
            if len(node.path) == 1:
                return self.field(node.path[0], node.type.kind)
            read, path = self.reader(node.type.kind), node.path
            return lambda r, c: read(_walk(r, path))
        if isinstance(node, ast.Unary):
            operand, op = self.compile(node.operand), _UNARY[node.op]
            return lambda r, c: op(operand(r, c))
        if isinstance(node, ast.Binary):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise TypeError(f"cannot compile {node!r}")  # pragma: no cover

    def binary(self, node: ast.Binary) -> Compiled:
        if node.op == "&":
            return self.concat_chain(node)
        left, right = self.compile(node.left), self.compile(node.right)
        if node.op == "AND":
            return lambda r, c: left(r, c) is True and right(r, c) is True
        if node.op == "OR":
            return lambda r, c: left(r, c) is True or right(r, c) is True
        op = _binary_op(node)
        k = _constant(node.right)
        if k is not None and k is not _NOT_CONSTANT:
            if node.op == "<":
                return lambda r, c: (v := left(r, c)) is not None and v < k
            if node.op == "<=":
                return lambda r, c: (v := left(r, c)) is not None and v <= k
            if node.op == ">":
                return lambda r, c: (v := left(r, c)) is not None and v > k
            if node.op == ">=":
                return lambda r, c: (v := left(r, c)) is not None and v >= k
            return lambda r, c: op(left(r, c), k)
        return lambda r, c: op(left(r, c), right(r, c))

    def concat_chain(self, node: ast.Binary) -> Compiled:
        """A run of ``&`` as one join (``a & b & c`` is left-nested; evaluate it flat)."""
        operands = ast.chain(node, "&")
        # (0, text) a constant, (1, key) a text field of the record, (2, closure) the rest
        plan: list[tuple[int, Any]] = []
        for operand in operands:
            constant = _constant(operand)
            if constant is not _NOT_CONSTANT:
                plan.append((0, constant or ""))
            elif (
                isinstance(operand, ast.Ref)
                and len(operand.path) == 1
                and operand.type is not None
                and operand.type.kind == "text"
            ):
                plan.append((1, operand.path[0]))
            else:
                plan.append((2, self.compile(operand)))
        coerce, cap = COERCE["text"], MAX_TEXT
        if all(t != 2 for t, _ in plan):
            fields = [(t == 0, x) for t, x in plan]

            def concat_fields(r: Mapping[str, Any], c: EvalContext) -> str | None:
                get = r.get
                text = "".join(
                    [
                        x if constant else (v if type(v := get(x)) is str else (coerce(v) or ""))
                        for constant, x in fields
                    ]
                )
                return text if text and len(text) <= cap else None

            return concat_fields

        def concat(r: Mapping[str, Any], c: EvalContext) -> str | None:
            get = r.get
            text = "".join(
                [
                    x
                    if t == 0
                    else (
                        (v if type(v := get(x)) is str else (coerce(v) or ""))
                        if t == 1
                        else (x(r, c) or "")
                    )
                    for t, x in plan
                ]
            )
            return text if text and len(text) <= cap else None

        return concat

    def call(self, node: ast.Call) -> Compiled:
        fn = FUNCTIONS[node.name]
        only = node.args[0].type if len(node.args) == 1 else None
        if node.name == "SUM" and only is not None and only.is_list:
            return self.sum_plan(self.list_plan(node.args[0]))
        args = [self.compile(a) for a in node.args]
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

    # --- lists --------------------------------------------------------------------------
    def list_plan(self, node: ast.Node) -> ListPlan:
        assert node.type is not None and node.type.is_list
        if isinstance(node, ast.Ref):
            return self.ref_plan(node)
        if isinstance(node, ast.Unary):
            inner, op = self.list_plan(node.operand), _UNARY[node.op]
            ie = inner.element
            return ListPlan(inner.rows, lambda row, r, c: op(ie(row, r, c)))
        if isinstance(node, ast.Binary):
            return self.binary_plan(node)
        if isinstance(node, ast.Call):
            fn = FUNCTIONS[node.name]
            if fn.returns is not None:  # an element-wise conversion inserted by the checker
                inner = self.list_plan(node.args[0])
                ie, impl = inner.element, fn.python
                if fn.needs_ctx:
                    return ListPlan(inner.rows, lambda row, r, c: impl(c, ie(row, r, c)))
                return ListPlan(inner.rows, lambda row, r, c: impl(ie(row, r, c)))
            produce = self.call(node)  # a function returning a list (SPLIT)
            return ListPlan(produce, lambda row, r, c: row)
        raise TypeError(f"not a list expression: {node!r}")  # pragma: no cover

    def ref_plan(self, node: ast.Ref) -> ListPlan:
        assert node.type is not None
        at = (node.type.source or "").count(".")
        head, tail = node.path[: at + 1], node.path[at + 1 :]

        def rows(r: Mapping[str, Any], c: EvalContext) -> list[Any]:
            items = r.get(head[0]) if len(head) == 1 else _walk(r, head)
            return items if type(items) is list else []

        if len(tail) == 1:
            return ListPlan(rows, self.row_field(tail[0], node.type.kind))
        read = self.reader(node.type.kind)
        if not tail:
            return ListPlan(rows, lambda row, r, c: read(row))
        return ListPlan(rows, lambda row, r, c: read(_walk(row, tail)))

    def binary_plan(self, node: ast.Binary) -> ListPlan:
        assert node.left.type is not None and node.right.type is not None
        op = _binary_op(node)
        if node.left.type.is_list and node.right.type.is_list:
            left, right = self.list_plan(node.left), self.list_plan(node.right)
            fused = self.fused_element(node, op)
            if fused is not None:
                return ListPlan(left.rows, fused)
            le, re = left.element, right.element
            return ListPlan(left.rows, lambda row, r, c: op(le(row, r, c), re(row, r, c)))
        if node.left.type.is_list:
            plan, scalar = self.list_plan(node.left), self.compile(node.right)
            pe = plan.element
            return ListPlan(plan.rows, lambda row, r, c: op(pe(row, r, c), scalar(r, c)))
        plan, scalar = self.list_plan(node.right), self.compile(node.left)
        pe = plan.element
        return ListPlan(plan.rows, lambda row, r, c: op(scalar(r, c), pe(row, r, c)))

    def fused_element(self, node: ast.Binary, op: Callable[[Any, Any], Any]) -> Element | None:
        """``row.a op row.b`` for two number fields of the same row, in a single call."""
        keys = [_row_number_key(node.left), _row_number_key(node.right)]
        if None in keys or node.op not in ("+", "-", "*"):
            return None
        left, right = keys[0], keys[1]
        coerce, trusted = numbers.coerce, self.trusted
        zero, limit, symbol = numbers.ZERO, numbers.LIMIT, node.op
        exact = op is not numbers.mul  # '+', '-' and products that cannot exceed 10 places

        def element(row: Any, r: Any, c: Any) -> Any:
            try:
                a, b = row.get(left), row.get(right)
            except AttributeError:  # a row that is not an object reads as blank
                return None
            if not trusted or (a is not None and type(a) is not Decimal):
                a = coerce(a)
            if not trusted or (b is not None and type(b) is not Decimal):
                b = coerce(b)
            if not exact:
                return op(a, b)
            # Inline exact arithmetic (see numbers.add/sub/mul_exact): the hottest loop.
            if symbol == "*":
                v = (a or zero) * (b or zero)
            elif symbol == "+":
                v = (a or zero) + (b or zero)
            else:
                v = (a or zero) - (b or zero)
            return v if v.copy_abs() < limit else None

        return element

    def sum_plan(self, plan: ListPlan) -> Compiled:
        """SUM over one list expression as a single loop over its rows."""
        rows, element = plan.rows, plan.element
        limit, exact_total = numbers.LIMIT, numbers.total

        def sum_rows(r: Mapping[str, Any], c: EvalContext) -> Any:
            acc = numbers.ZERO
            for row in rows(r, c):
                v = element(row, r, c)
                if v is not None:
                    acc += v
                    if acc.copy_abs() >= limit:  # past 28 digits: let total() decide exactly
                        values = [element(x, r, c) for x in rows(r, c)]
                        return exact_total([x for x in values if x is not None])
            return acc

        return sum_rows


def _row_number_key(node: ast.Node) -> str | None:
    """The key when ``node`` is a number field read directly from a list's row."""
    if not isinstance(node, ast.Ref) or node.type is None or node.type.kind != "number":
        return None
    at = (node.type.source or "").count(".")
    tail = node.path[at + 1 :]
    return tail[0] if len(tail) == 1 else None


def compile_node(node: ast.Node, *, trusted: bool = False, metered: bool = False) -> Compiled:
    """The closure computing a checked tree for a record (charging ``ctx.budget`` if metered)."""
    return PythonCompiler(trusted, metered).compile(node)
