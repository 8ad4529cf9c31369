"""Operators: arithmetic, date arithmetic, ``&``, comparisons, AND/OR/NOT and unary signs.

PostgreSQL computes numbers natively in NUMERIC; the range check and rounding of
``numbers.norm`` are inlined for small operands (so ``amount * qty > 1000`` stays native) and
go through ``jimu_num`` otherwise. SQLite numbers are canonical text, computed by registered
functions, except comparisons of a scaled-integer column with a literal, which compare the
stored integers (and so use indexes). Comparisons never yield NULL.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, bindparam

from engine.expr import ast
from engine.expr.types import ID_KINDS

from .compiler import SqlCompiler
from .nodes import ByElement, Val, define, op
from .sqlite_calc import render_arithmetic, render_comparison
from .types import KIND_TYPES

INT62 = 2**62

# --- numbers ------------------------------------------------------------------------------


def _z(arg: str, nullable: bool, zero: str = "0") -> str:
    return f"COALESCE({arg}, {zero})" if nullable else arg


def _pg_arith(symbol: str) -> Any:
    def render(a: list[str], p: tuple[Any, ...]) -> str:
        simple, left_null, right_null, exact = p
        expr = f"{_z(a[0], left_null)} {symbol} {_z(a[1], right_null)}"
        if not simple:
            return f"jimu_num({expr})"
        if not exact:
            expr = f"round({expr}, 10)"
        return f"(CASE WHEN abs({expr}) < 1e18 THEN {expr} END)"

    return render


# On SQLite a whole tree of these operators is one jimu_calc call (see sqlite_calc).
_FUSED = ByElement(render_arithmetic)
for _name, _symbol in (("add", "+"), ("sub", "-"), ("mul", "*")):
    define(_name, sqlite=_FUSED, postgresql=_pg_arith(_symbol))
define("div", sqlite=_FUSED, postgresql="jimu_div({0}, {1})")
define("pow", sqlite=_FUSED, postgresql="jimu_power({0}, {1})")
define("neg", sqlite=_FUSED, postgresql="(- COALESCE({0}, 0))")
define("pos", sqlite="COALESCE({0}, '0')", postgresql="COALESCE({0}, 0)")
define("pct", sqlite=_FUSED, postgresql="round(COALESCE({0}, 0) * 0.01, 10)")

# --- dates --------------------------------------------------------------------------------
define(
    "date_shift",
    sqlite="jimu_date_shift({0}, {1}, {p0})",
    postgresql="jimu_date_shift({0}, {1}, {p0})",
)
define(
    "date_diff",
    sqlite="CAST(CAST(julianday({0}) - julianday({1}) AS INTEGER) AS TEXT)",
    postgresql="CAST({0} - {1} AS NUMERIC)",
)

# --- text ---------------------------------------------------------------------------------
define(
    "concat",
    sqlite="jimu_concat({0}, {1})",
    postgresql="jimu_cap(COALESCE({0}, '') || COALESCE({1}, ''))",
)

# --- comparisons --------------------------------------------------------------------------
define("is", sqlite="({0} IS {1})", postgresql="({0} IS NOT DISTINCT FROM {1})")
define("is_not", sqlite="({0} IS NOT {1})", postgresql="({0} IS DISTINCT FROM {1})")
define("is_null", sqlite="({0} IS NULL)", postgresql="({0} IS NULL)")
define("is_not_null", sqlite="({0} IS NOT NULL)", postgresql="({0} IS NOT NULL)")


def _guarded(a: list[str], p: tuple[Any, ...], collate: str = "") -> str:
    """``a op b`` that is FALSE (not NULL) when a side is NULL; repeats only small operands."""
    symbol, simple, left_null, right_null = p[:4]
    test = f"{a[0]} {symbol} {a[1]}{collate}"
    if not (left_null or right_null):
        return f"({test})"
    if not simple:
        return f"COALESCE({test}, FALSE)"
    checks = [f"{x} IS NOT NULL" for x, n in ((a[0], left_null), (a[1], right_null)) if n]
    return f"({test} AND {' AND '.join(checks)})"


# params: (symbol, both operands small, left nullable, right nullable, is text, is number)
# Numbers compare through "compare_number"; text by code point (COLLATE "C" on PostgreSQL),
# dates and times as ISO text and datetimes as epoch ms on SQLite.
define(
    "compare",
    sqlite=_guarded,
    postgresql=lambda a, p: _guarded(a, p, ' COLLATE "C"' if p[4] else ""),
)
# Two numbers in order: fused into one jimu_calc call on SQLite.
define(
    "compare_number",
    sqlite=ByElement(render_comparison),
    postgresql=lambda a, p: _guarded(a, p),
)
# A column against a number literal; params hold each dialect's finished test of {0}.
define(
    "compare_literal",
    sqlite=lambda a, p: p[0].format(a[0]),
    postgresql=lambda a, p: p[1].format(a[0]),
)
define("false", sqlite="FALSE", postgresql="FALSE")
define("true", sqlite="TRUE", postgresql="TRUE")

# --- logic --------------------------------------------------------------------------------
define("not", sqlite="(NOT COALESCE({0}, 0))", postgresql="(NOT COALESCE({0}, FALSE))")
define("not_nn", sqlite="(NOT {0})", postgresql="(NOT {0})")
define("cond", sqlite="COALESCE({0}, 0)", postgresql="COALESCE({0}, FALSE)")
define("and", sqlite="({0} AND {1})", postgresql="({0} AND {1})")
define("or", sqlite="({0} OR {1})", postgresql="({0} OR {1})")

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}


def condition(v: Val) -> Val:
    """A condition that is never NULL (blank counts as FALSE)."""
    if v.kind == "blank":
        return Val(op("false"), "boolean", simple=True, nullable=False)
    if not v.nullable:
        return v
    return Val(op("cond", v), "boolean", nullable=False)


def logic(kind: str, values: list[Val]) -> Val:
    """AND / OR of conditions, left to right."""
    result = condition(values[0])
    for v in values[1:]:
        result = Val(op(kind, result, condition(v)), "boolean", nullable=False)
    return result


def negate(v: Val) -> Val:
    if v.kind == "blank":
        return Val(op("true"), "boolean", simple=True, nullable=False)
    return Val(op("not" if v.nullable else "not_nn", v), "boolean", nullable=False)


SMALL = 6  # operands of at most this many leaves are repeated rather than passed to jimu_num


def arithmetic(name: str, a: Val, b: Val) -> Val:
    """``+ - *`` of two numbers (blank counts as 0).

    On PostgreSQL small operands are inlined twice (range check and value) so common filters
    stay native; the bound on their size keeps the SQL linear in the formula.
    """
    leaves = a.cost + b.cost
    small = leaves <= SMALL
    # + and - of numbers with at most 10 places are exact; a product when the places add up.
    places = None
    if a.places is not None and b.places is not None:
        places = a.places + b.places if name == "mul" else max(a.places, b.places)
    exact = name != "mul" or (places is not None and places <= 10)
    params = (small, a.nullable, b.nullable, exact)
    weight = 2 * leaves + 1 if small else leaves + 1
    return Val(
        op(name, a, b, params=params), "number", weight=weight, places=places if exact else None
    )


def _constant(value: bool) -> Val:
    return Val(op("true" if value else "false"), "boolean", simple=True, nullable=False)


def id_against_number(a: Val, b: Val) -> tuple[Val, Val] | bool:
    """An id compared with a number (``customer = 12``): the number literal as an integer
    parameter (a fractional one equals no id: False), or else the id read as a number."""
    if a.kind in ID_KINDS and b.kind == "number":
        pair = id_against_number(b, a)
        return pair if isinstance(pair, bool) else (pair[1], pair[0])
    if not (a.kind == "number" and b.kind in ID_KINDS):
        return (a, b)
    if a.literal is not None:
        if a.literal != a.literal.to_integral_value() or not 0 < a.literal < 2**63:
            return False
        bound = bindparam(None, int(a.literal), type_=BigInteger(), unique=True)
        return (Val(op("col", bound), b.kind, simple=True, nullable=False), b)
    return (a, Val(op("col_scaled", b, params=(0,)), "number", simple=b.simple))


def compare(symbol: str, a: Val, b: Val) -> Val:
    """A comparison with the language's blank rules; never NULL."""
    pair = id_against_number(a, b)
    if isinstance(pair, bool):  # `customer = 1.5`: FALSE, `customer <> 1.5`: TRUE
        return _constant(symbol == "<>")
    a, b = pair
    if a.kind == "blank" or b.kind == "blank":
        if symbol not in ("=", "<>"):
            return _constant(False)
        if a.kind == "blank" and b.kind == "blank":
            return _constant(symbol == "=")
        other = b if a.kind == "blank" else a
        return Val(
            op("is_null" if symbol == "=" else "is_not_null", other), "boolean", nullable=False
        )
    if a.literal is not None and b.scaled is not None:
        a, b, symbol = b, a, _FLIP[symbol]
    if a.scaled is not None and b.literal is not None:
        fast = _compare_literal(symbol, a, b.literal)
        if fast is not None:
            return fast
    if a.scaled is not None and b.scaled is not None and a.scaled[1] == b.scaled[1]:
        a = a.but(sql=a.scaled[0])  # same scale: compare the stored integers natively
        b = b.but(sql=b.scaled[0])
        if symbol in ("=", "<>"):
            return Val(op("is" if symbol == "=" else "is_not", a, b), "boolean", nullable=False)
        params = (symbol, True, a.nullable, b.nullable, False, False)
        return Val(op("compare", a, b, params=params), "boolean", nullable=False)
    if symbol == "=" and a.simple and b.simple and not (a.nullable and b.nullable):
        # An equality with a literal: plain "=" keeps indexes usable (IS NOT DISTINCT FROM
        # does not on PostgreSQL); canonical number text makes it exact on SQLite.
        params = ("=", True, a.nullable, b.nullable, False, False)
        return Val(op("compare", a, b, params=params), "boolean", nullable=False)
    if symbol in ("=", "<>"):
        return Val(op("is" if symbol == "=" else "is_not", a, b), "boolean", nullable=False)
    params = (
        symbol,
        a.simple and b.simple,
        a.nullable,
        b.nullable,
        a.kind == "text",
        a.kind == "number",
    )
    name = "compare_number" if a.kind == "number" else "compare"
    return Val(op(name, a, b, params=params), "boolean", nullable=False)


def _compare_literal(symbol: str, column: Val, literal: Decimal) -> Val | None:
    """A scaled-integer column against a number literal, comparing stored integers on SQLite."""
    assert column.scaled is not None
    raw, scale = column.scaled
    scaled = literal.scaleb(scale)
    if abs(scaled) >= INT62:
        return None
    null_check = " AND {0} IS NOT NULL" if column.nullable else ""
    if scaled == scaled.to_integral_value():
        sqlite = _integer_test(symbol, int(scaled), null_check)
    elif symbol in ("=", "<>"):
        sqlite = "FALSE" if symbol == "=" else "TRUE"
    else:
        rounder = ROUND_FLOOR if symbol in (">", "<=") else ROUND_CEILING
        sqlite = _integer_test(symbol, int(scaled.to_integral_value(rounder)), null_check)
    number = f"CAST({format(literal, 'f')} AS NUMERIC)"
    if symbol == "<>":
        pg = f"({{0}} IS DISTINCT FROM {number})"
    else:
        pg = f"({{0}} {symbol} {number}{null_check})"
    return Val(op("compare_literal", raw, params=(sqlite, pg)), "boolean", nullable=False)


def _integer_test(symbol: str, value: int, null_check: str) -> str:
    if symbol == "=":
        return f"({{0}} IS {value})"
    if symbol == "<>":
        return f"({{0}} IS NOT {value})"
    return f"({{0}} {symbol} {value}{null_check})"


# --- the walker's entry points ------------------------------------------------------------


def unary(c: SqlCompiler, node: ast.Unary) -> Val:
    v = c.compile(node.operand)
    if node.op == "NOT":
        return negate(v)
    if v.kind == "blank":
        v = c.null("number")
    name = {"-": "neg", "+": "pos", "%": "pct"}[node.op]
    return Val(op(name, v), "number", nullable=False)


def binary(c: SqlCompiler, node: ast.Binary) -> Val:
    if node.op in ("AND", "OR"):
        return logic(node.op.lower(), [c.compile(node.left), c.compile(node.right)])
    if node.op in ast.COMPARISON_OPS:
        ranged = day_range(c, node)
        if ranged is not None:
            return ranged
    a, b = c.compile(node.left), c.compile(node.right)
    if node.op == "&":
        return Val(op("concat", a, b), "text")
    if node.op in ast.COMPARISON_OPS:
        return compare(node.op, a, b)
    kinds = (a.kind, b.kind)
    if "date" in kinds:
        if kinds == ("date", "date"):
            return Val(op("date_diff", a, b), "number")
        if a.kind == "date":
            sign = 1 if node.op == "+" else -1
            return Val(op("date_shift", a, _number(c, b), params=(sign,)), "date")
        return Val(op("date_shift", b, _number(c, a), params=(1,)), "date")
    a, b = _number(c, a), _number(c, b)
    if node.op in ("+", "-", "*"):
        return arithmetic({"+": "add", "-": "sub", "*": "mul"}[node.op], a, b)
    return Val(op("div" if node.op == "/" else "pow", a, b), "number")


def _number(c: SqlCompiler, v: Val) -> Val:
    """A blank-kind operand as a typed NULL number (PostgreSQL needs the type)."""
    return c.null("number") if v.kind == "blank" else v


# --- a datetime's day against a fixed date: a range on the column ----------------------------

VOLATILE = frozenset({"TODAY", "NOW", "CURRENT_USER", "CURRENT_DEPARTMENTS"})


def _day_of_instant(node: ast.Node) -> bool:
    """``DATEVALUE(<a datetime>)``."""
    return (
        isinstance(node, ast.Call)
        and node.name == "DATEVALUE"
        and len(node.args) == 1
        and node.args[0].type is not None
        and node.args[0].type.kind == "datetime"
        and not node.args[0].type.is_list
    )


def _fixed_date(node: ast.Node) -> bool:
    """A date that reads no field and no clock or caller: the same value whenever compiled."""
    if node.type is None or node.type.kind != "date" or node.type.is_list:
        return False
    stack = [node]
    while stack:
        found = stack.pop()
        if isinstance(found, ast.Ref):
            return False
        if isinstance(found, ast.Call):
            if found.name in VOLATILE:
                return False
            stack.extend(found.args)
        elif isinstance(found, ast.Binary):
            stack.extend((found.left, found.right))
        elif isinstance(found, ast.Unary):
            stack.append(found.operand)
    return True


def first_instant(day: dt.date, zone: ZoneInfo) -> dt.datetime | None:
    """The first instant whose local date in `zone` is `day`, when no UTC offset change falls
    within two days of it (so an instant's local date is before `day` exactly when it is
    earlier); None otherwise, or outside the years 2–9998."""
    if not 1 < day.year < 9999:
        return None
    moment = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    around = [(moment + dt.timedelta(days=n)).astimezone(zone).utcoffset() for n in (-2, 2)]
    if around[0] != around[1]:
        return None
    return moment


def day_range(c: SqlCompiler, node: ast.Binary) -> Val | None:
    """``DATEVALUE(at) >= DATE(2025, 12, 1)`` (any of ``= < <= > >=``, either side) as a range
    on the instant itself — ``at >= <local midnight of 2025-12-01>`` — so an index on ``at``
    serves and no function runs per row; the same answer, blanks included (a blank instant
    fails both). None when the shape differs, ``<>``, or the day's midnight is near an offset
    change (then the general comparison runs)."""
    symbol, left, right = node.op, node.left, node.right
    if symbol == "<>":
        return None
    if _day_of_instant(right) and _fixed_date(left):
        left, right, symbol = right, left, _FLIP[symbol]
    if not (_day_of_instant(left) and _fixed_date(right)):
        return None
    from engine.expr.backends.python import compile_node

    day = compile_node(right)({}, c.ctx)
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        return None
    zone = c.ctx.tz
    start = first_instant(day, zone)
    end = first_instant(day + dt.timedelta(days=1), zone) if day < dt.date(9998, 1, 1) else None
    if start is None or end is None:
        return None
    assert isinstance(left, ast.Call)
    at = c.compile(left.args[0])
    if at.kind != "datetime":
        return None

    def moment(value: dt.datetime) -> Val:
        bound = bindparam(None, value, type_=KIND_TYPES["datetime"](), unique=True)
        return Val(op("col", bound), "datetime", simple=True, nullable=False)

    if symbol == ">=":
        return compare(">=", at, moment(start))
    if symbol == ">":
        return compare(">=", at, moment(end))
    if symbol == "<":
        return compare("<", at, moment(start))
    if symbol == "<=":
        return compare("<", at, moment(end))
    return logic("and", [compare(">=", at, moment(start)), compare("<", at, moment(end))])
