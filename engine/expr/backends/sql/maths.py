"""Math and aggregate functions in SQL.

An aggregate over one list is a correlated scalar subquery over the list's rows (native SUM,
MIN, COUNT... on PostgreSQL; exact Python aggregates for numbers on SQLite). Several
arguments mixing lists and scalars pass each list as an array (PostgreSQL) or JSON array
(SQLite) to one function, so the blank rules and the single final rounding of the Python
backend hold. Rounding functions, MOD, POWER, SQRT, CEILING and FLOOR use the ``jimu_``
PostgreSQL functions and the Python code on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from engine.expr import ast, numbers

from .compiler import SqlCompiler, SqlRows, call, emitter, function, optional
from .nodes import Op, Val, define, op

# --- aggregates over one list (the body of a correlated subquery) ---------------------------
define(
    "agg:SUM",
    # '0' over no rows, blank past the limit (as in Python). Python's sqlite3 answers NULL for
    # an aggregate whose step never ran, without asking it, so no rows are told apart here.
    sqlite="CASE WHEN count(*) = 0 THEN '0' ELSE jimu_sumagg({0}) END",
    postgresql="jimu_num(COALESCE(sum({0}), 0))",
)
define(
    "agg:AVERAGE", sqlite="jimu_avgagg({0})", postgresql="jimu_div(jimu_num(sum({0})), count({0}))"
)
define("agg:COUNT", sqlite="CAST(count({0}) AS TEXT)", postgresql="CAST(count({0}) AS NUMERIC)")
define(
    "agg:MIN",
    sqlite=lambda a, p: f"jimu_minagg({a[0]})" if p[0] == "number" else f"min({a[0]})",
    postgresql="min({0})",
)
define(
    "agg:MAX",
    sqlite=lambda a, p: f"jimu_maxagg({a[0]})" if p[0] == "number" else f"max({a[0]})",
    postgresql="max({0})",
)


# --- SUM, MIN and MAX over a fixed-scale column, in plain SQL -------------------------------
# On SQLite such a column holds scaled 64-bit integers. SUM adds them as two sums that cannot
# overflow (the quotient and the remainder by 10^9: SQLite's `sum()` raises on an overflow) and
# puts the total back together, MIN and MAX pick one; the exact total is then written as the
# canonical decimal text every number is inside a formula on SQLite (`types`) with SQLite's own
# functions. A SUM total past the number limit is blank, as in Python. A total that does not fit
# 64 bits (SQLite makes it a float) or a product past 64 bits or the limit takes the general
# path (a CASE: only then do the Python aggregates run). On PostgreSQL the column is NUMERIC:
# the native aggregate, as before.
_BILLION = 1_000_000_000
define("sagg_hi:SUM", sqlite=f"COALESCE(sum({{0}} / {_BILLION}), 0)", postgresql="sum({0})")
define("sagg_lo:SUM", sqlite=f"COALESCE(sum({{0}} % {_BILLION}), 0)", postgresql="NULL")
define("sagg_hi:MIN", sqlite="min({0})", postgresql="min({0})")
define("sagg_hi:MAX", sqlite="max({0})", postgresql="max({0})")
define("sagg_over", sqlite="max({0})", postgresql="max({0})")
# A product of two scaled columns, and whether it cannot be added exactly here: past 64 bits
# (SQLite turns it into a float) or, as a number, past the limit (Python's blank).
define("scaled_mul", sqlite="{0} * {1}", postgresql="{0} * {1}")


def _mul_over(args: list[str], params: tuple[Any, ...]) -> str:
    a, b = args
    checks = [f"abs({b}) > {2**63 - 1} / abs({a})"]
    if params[0] == 0:
        checks.append(f"abs({a} * {b}) >= {numbers.LIMIT}")
    return (
        f"CASE WHEN {a} IS NULL OR {b} IS NULL OR {a} = 0 THEN 0"
        f" WHEN {' OR '.join(checks)} THEN 1 ELSE 0 END"
    )


define(
    "scaled_mul_over",
    sqlite=_mul_over,
    postgresql=f"CASE WHEN abs({{0}} * {{1}}) >= {numbers.LIMIT} THEN 1 ELSE 0 END",
)
define("scaled_never", sqlite="0", postgresql="0")


def _sagg_text(args: list[str], params: tuple[Any, ...]) -> str:
    """The scaled total (``hi * 10^9 + lo`` for SUM, one value for MIN/MAX) as canonical
    decimal text; for SUM the general path (`args[3]`) when it does not fit or a product
    could not be added (`args[2]`), blank past the limit."""
    name, scale, _ = params
    total = f"({args[0]} * {_BILLION} + {args[1]})" if name == "SUM" else args[0]
    unit = 10**scale
    whole = total if scale == 0 else f"abs({total} / {unit})"
    fraction = (
        ""
        if scale == 0
        else f" || CASE WHEN {total} % {unit} = 0 THEN ''"
        f" ELSE '.' || rtrim(printf('%0{scale}d', abs({total} % {unit})), '0') END"
    )
    sign = "" if scale == 0 else f"CASE WHEN {total} < 0 THEN '-' ELSE '' END || "
    text = f"{sign}{whole}{fraction}" if scale else f"CAST({total} AS TEXT)"
    cases = [f"WHEN {total} IS NULL THEN NULL", f"WHEN {total} = 0 THEN '0'"]
    if name == "SUM":
        fallback = f"WHEN {args[2]} = 1 OR typeof({total}) = 'real' THEN {args[3]}"
        cases = [fallback, *cases]
        if scale == 0:
            cases.append(f"WHEN abs({total}) >= {numbers.LIMIT} THEN NULL")
    return f"CASE {' '.join(cases)} ELSE {text} END"


def _sagg_text_pg(args: list[str], params: tuple[Any, ...]) -> str:
    """PostgreSQL adds NUMERIC exactly: the native aggregate, with the general path only for a
    product past the limit (a column's sum needs no fallback, and a CASE costs a subplan)."""
    name, _, product = params
    if name != "SUM":
        return args[0]
    total = f"jimu_num(COALESCE({args[0]}, 0))"
    return f"CASE WHEN {args[2]} = 1 THEN {args[3]} ELSE {total} END" if product else total


define("sagg_text", sqlite=_sagg_text, postgresql=_sagg_text_pg)


def scaled_aggregate(c: SqlCompiler, node: ast.Node, name: str) -> Any:
    """``SUM``/``MIN``/``MAX`` of list `node` as plain SQL aggregates when its elements are a
    fixed-scale number column or (SUM) the product of two (see above); None otherwise."""
    columns: dict[str, Any] = {"hi": lambda v, o: Op(f"sagg_hi:{name}", v)}
    if name == "SUM":
        columns["lo"] = lambda v, o: Op("sagg_lo:SUM", v)
        columns["o"] = lambda v, o: Op("sagg_over", o)
    found = c.scaled_subquery(node, columns, products=name == "SUM")
    if found is None:
        return None
    parts, scale = found
    args: list[Any] = [parts.c.hi]
    if name == "SUM":
        args += [parts.c.lo, parts.c.o, c.aggregate(node, "agg:SUM", params=("number",))]
    product = isinstance(node, ast.Binary)
    text = Op("sagg_text", *args, params=(name, scale, product))
    return select(text).select_from(parts).scalar_subquery()


def _pg_array(args: list[str], lists: tuple[bool, ...]) -> str:
    """Concatenate list arrays and scalars into one PostgreSQL array."""
    return " || ".join(
        a if is_list else f"ARRAY[{a}]" for a, is_list in zip(args, lists, strict=True)
    )


def _pg_count(args: list[str], params: tuple[Any, ...]) -> str:
    lists = params[1]
    terms = [
        f"jimu_count({a})" if is_list else f"(CASE WHEN {a} IS NULL THEN 0 ELSE 1 END)"
        for a, is_list in zip(args, lists, strict=True)
    ]
    return f"CAST(({' + '.join(terms)}) AS NUMERIC)"


def _pg_extreme(native: str, helper: str) -> Any:
    def render(args: list[str], params: tuple[Any, ...]) -> str:
        if not any(params[1]):
            return f"{native}({', '.join(args)})"
        return f"{helper}({_pg_array(args, params[1])})"

    return render


function("SUM", lambda a, p: f"jimu_sum({_pg_array(a, p[1])})")
function("AVERAGE", lambda a, p: f"jimu_average({_pg_array(a, p[1])})")
function("COUNT", _pg_count)
function("COUNTA", _pg_count)
function("MIN", _pg_extreme("LEAST", "jimu_min"))
function("MAX", _pg_extreme("GREATEST", "jimu_max"))


def aggregate_args(
    c: SqlCompiler, args: Sequence[ast.Node], element_kind: Any = None
) -> tuple[list[Val], list[bool]]:
    """Arguments of an aggregate: list arguments as arrays, scalars as values."""
    values: list[Val] = []
    lists: list[bool] = []
    for arg in args:
        assert arg.type is not None
        if arg.type.is_list:
            kind = arg.type.kind if element_kind is None else element_kind
            values.append(Val(c.list_array(arg), kind))
            lists.append(True)
        else:
            v = c.compile(arg)
            if v.kind == "blank" and element_kind is not None:
                v = c.null(element_kind)
            values.append(v)
            lists.append(False)
    return values, lists


@emitter("SUM", "AVERAGE", "MIN", "MAX", "COUNT", "COUNTA")
def aggregate(c: SqlCompiler, node: ast.Call) -> Val:
    assert node.type is not None
    kind = node.type.kind
    only = node.args[0] if len(node.args) == 1 else None
    if (
        only is not None
        and only.type is not None
        and only.type.is_list
        and only.type.source is not None
        and isinstance(c.rows(only.type.source), SqlRows)
    ):
        # One list: an aggregate over its rows (the common SUM(items.x)).
        name = "COUNT" if node.name == "COUNTA" else node.name
        if name in ("SUM", "MIN", "MAX") and only.type.kind == "number":
            exact = scaled_aggregate(c, only, name)
            if exact is not None:
                return Val(exact, kind)
        sql = c.aggregate(only, f"agg:{name}", params=(only.type.kind,))
        return Val(sql, kind)
    element = None if node.name in ("COUNT", "COUNTA") else (kind if kind != "blank" else "number")
    values, lists = aggregate_args(c, node.args, element)
    return call(c, node, values, lists)


# --- rounding and arithmetic functions ------------------------------------------------------


for _name, _mode in (
    ("ROUND", "half_up"),
    ("ROUNDUP", "up"),
    ("ROUNDDOWN", "down"),
    ("TRUNC", "down"),
):
    function(_name, lambda a, p, m=_mode: f"jimu_round({a[0]}, {optional(a, 1)}, '{m}')")
function("INT", "jimu_round({0}, NULL, 'floor')")
function("ABS", "abs(COALESCE({0}, 0))")
function("SIGN", "sign(COALESCE({0}, 0))")
function("MOD", "jimu_mod({0}, {1})")
function("POWER", "jimu_power({0}, {1})")
function("SQRT", "jimu_sqrt({0})")
function("CEILING", lambda a, p: f"jimu_multiple({a[0]}, {optional(a, 1)}, TRUE)")
function("FLOOR", lambda a, p: f"jimu_multiple({a[0]}, {optional(a, 1)}, FALSE)")


@emitter(
    "ROUND",
    "ROUNDUP",
    "ROUNDDOWN",
    "TRUNC",
    "INT",
    "ABS",
    "SIGN",
    "MOD",
    "POWER",
    "SQRT",
    "CEILING",
    "FLOOR",
)
def numeric(c: SqlCompiler, node: ast.Call) -> Val:
    result = call(c, node, c.args(node))
    if node.name in ("ABS", "SIGN"):
        return result.but(nullable=False)
    return result


__all__ = ["aggregate", "numeric", "op"]
