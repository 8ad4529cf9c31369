"""JavaScript backend: a checked tree → the source of ``(record, ctx) => value``.

This module owns the translation of formulas into JavaScript for the builder UI, which
re-evaluates formulas and visibility live in the browser. The generated code is one arrow
function expression, self-contained except that it reaches the runtime
(``builder_ui/src/formula/runtime.js``) only through ``ctx.rt``::

    import { makeContext, compile } from "./formula/runtime.js";
    const fn = new Function("return " + src)();      // or compile(src)
    const value = fn(record, makeContext({ now, tz }));  // runtime values
    const json = encode(value, kind);                    // as engine.expr.runtime.encode

``record`` is in the API's JSON form (numbers as strings or JSON numbers, dates, datetimes
and times as ISO strings, subforms as arrays of row objects, relations as objects); every
reference coerces its value by kind, exactly as the Python backend does.

Safety: user text never becomes JS syntax. Text literals and field keys are emitted as JSON
string literals with every non-ASCII character and ``<``, ``>``, ``&`` escaped (so neither
U+2028 nor ``</script>`` can break out); numbers are emitted as normalised decimal text inside
a string; everything else is fixed syntax chosen by this module.

Semantics mirror :mod:`engine.expr.backends.python`; the emitter table :data:`EMITTERS` has
one entry per function of :data:`engine.expr.functions.FUNCTIONS`. IF, IFS and SWITCH
evaluate only the chosen branch (ternaries and thunks).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from engine.expr import ast, numbers
from engine.expr.functions import FUNCTIONS
from engine.expr.types import ExprType

Emitter = Callable[[ast.Call, Sequence[str]], str]

_OPS: dict[str, str] = {
    "+": "rt.add",
    "-": "rt.sub",
    "*": "rt.mul",
    "/": "rt.div",
    "^": "rt.power",
    "&": "rt.concat",
    "=": "rt.eq",
    "<>": "rt.ne",
    "<": "rt.lt",
    "<=": "rt.le",
    ">": "rt.gt",
    ">=": "rt.ge",
}
_UNARY: dict[str, str] = {"-": "rt.neg", "+": "rt.pos", "%": "rt.percent"}


def js_string(text: str) -> str:
    """A JS string literal for any text, safe inside a ``<script>`` element too."""
    literal = json.dumps(text, ensure_ascii=True)
    return literal.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _kind(node: ast.Node) -> str:
    assert node.type is not None
    return node.type.kind


def _type(node: ast.Node) -> ExprType:
    assert node.type is not None
    return node.type


# --- function emitters ------------------------------------------------------------------


def _eager(name: str) -> Emitter:
    """``rt.F.NAME(args)``, with ``ctx`` first for functions that need the context."""

    def emit(node: ast.Call, args: Sequence[str]) -> str:
        fn = FUNCTIONS[name]
        head = ["ctx"] if fn.needs_ctx else []
        if _type(node).is_list and fn.returns is not None:  # element-wise, as in Python
            params = ", ".join([*head, "v"])
            return f"rt.map1((v) => rt.F.{name}({params}), {args[0]})"
        return f"rt.F.{name}({', '.join([*head, *args])})"

    return emit


def _text(node: ast.Call, args: Sequence[str]) -> str:
    kind = js_string(_kind(node.args[0]))
    if _type(node).is_list:
        return f"rt.map1((v) => rt.F.TEXT(ctx, {kind}, v), {args[0]})"
    return f"rt.F.TEXT(ctx, {kind}, {', '.join(args)})"


def _if(node: ast.Call, args: Sequence[str]) -> str:
    otherwise = args[2] if len(args) > 2 else "null"
    return f"(({args[0]}) === true ? ({args[1]}) : ({otherwise}))"


def _ifs(node: ast.Call, args: Sequence[str]) -> str:
    code = "null"
    for i in range(len(args) - 2, -1, -2):
        code = f"(({args[i]}) === true ? ({args[i + 1]}) : {code})"
    return code


def _switch(node: ast.Call, args: Sequence[str]) -> str:
    thunks = ", ".join(f"() => ({a})" for a in args[1:])
    return f"rt.SWITCH({args[0]}, [{thunks}])"


_EAGER_NAMES = (
    # logic
    "AND", "OR", "XOR", "NOT", "ISBLANK",
    # maths
    "SUM", "AVERAGE", "MIN", "MAX", "COUNT", "COUNTA", "ROUND", "ROUNDUP", "ROUNDDOWN", "TRUNC",
    "INT", "ABS", "SIGN", "MOD", "POWER", "SQRT", "CEILING", "FLOOR",
    # text
    "CONCATENATE", "LEFT", "RIGHT", "MID", "LEN", "UPPER", "LOWER", "TRIM", "REPLACE",
    "SUBSTITUTE", "SEARCH", "FIND", "EXACT", "REPT", "VALUE", "TEXTJOIN", "SPLIT",
    # dates
    "TODAY", "NOW", "DATE", "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "WEEKDAY",
    "WEEKNUM", "ISOWEEKNUM", "DATEDIF", "EDATE", "EOMONTH", "DAYS", "NETWORKDAYS", "DATEVALUE",
    "TIMEVALUE",
    # people and records
    "CURRENT_USER", "CURRENT_DEPARTMENTS", "CONTAINS",
)  # fmt: skip

#: One emitter per function of the registry, keyed by name.
EMITTERS: dict[str, Emitter] = {
    "IF": _if,
    "IFS": _ifs,
    "SWITCH": _switch,
    "TEXT": _text,
    **{name: _eager(name) for name in _EAGER_NAMES},
}


# --- nodes ------------------------------------------------------------------------------


def _ref(node: ast.Ref) -> str:
    t = _type(node)
    kind = js_string(t.kind)
    if not t.is_list:
        path = "[" + ", ".join(js_string(k) for k in node.path) + "]"
        return f"rt.ref(record, {path}, {kind})"
    list_at = (t.source or "").count(".")
    head = "[" + ", ".join(js_string(k) for k in node.path[: list_at + 1]) + "]"
    tail = "[" + ", ".join(js_string(k) for k in node.path[list_at + 1 :]) + "]"
    return f"rt.refList(record, {head}, {tail}, {kind})"


def _binary_op(node: ast.Binary) -> str:
    lk, rk = _kind(node.left), _kind(node.right)
    if node.op in ("+", "-") and "date" in (lk, rk):
        if lk == rk == "date":
            return "rt.dateDiff"
        if lk == "date":
            return "rt.datePlus" if node.op == "+" else "rt.dateMinus"
        return "rt.numberPlusDate"
    return _OPS[node.op]


def _emit(node: ast.Node) -> str:
    if isinstance(node, ast.NumberLit):
        value = numbers.norm(node.value)
        return "null" if value is None else f"rt.k({js_string(numbers.to_text(value))})"
    if isinstance(node, ast.TextLit):
        return js_string(node.value) if node.value else "null"
    if isinstance(node, ast.BoolLit):
        return "true" if node.value else "false"
    if isinstance(node, ast.BlankLit):
        return "null"
    if isinstance(node, ast.Ref):
        return _ref(node)
    if isinstance(node, ast.Unary):
        operand = _emit(node.operand)
        if node.op == "NOT":
            return f"(({operand}) !== true)"
        op = _UNARY[node.op]
        if _type(node).is_list:
            return f"rt.map1({op}, {operand})"
        return f"{op}({operand})"
    if isinstance(node, ast.Binary):
        if node.op == "&" and not _type(node).is_list:
            return f"rt.concatAll([{', '.join(_emit(o) for o in ast.chain(node, '&'))}])"
        left, right = _emit(node.left), _emit(node.right)
        if node.op == "AND":
            return f"(({left}) === true && ({right}) === true)"
        if node.op == "OR":
            return f"(({left}) === true || ({right}) === true)"
        op = _binary_op(node)
        left_list, right_list = _type(node.left).is_list, _type(node.right).is_list
        if left_list and right_list:
            return f"rt.zip2({op}, {left}, {right})"
        if left_list:
            return f"rt.mapLeft({op}, {left}, {right})"
        if right_list:
            return f"rt.mapRight({op}, {left}, {right})"
        return f"{op}({left}, {right})"
    if isinstance(node, ast.Call):
        emitter = EMITTERS.get(node.name)
        if emitter is None:  # pragma: no cover - the coverage test keeps this unreachable
            raise TypeError(f"no JavaScript emitter for {node.name}")
        return emitter(node, [_emit(a) for a in node.args])
    raise TypeError(f"cannot compile {node!r}")  # pragma: no cover


def compile_js(tree: ast.Node) -> str:
    """The source of ``(record, ctx) => value`` computing a checked tree."""
    return f"(record, ctx) => {{ const rt = ctx.rt; return {_emit(tree)}; }}"
