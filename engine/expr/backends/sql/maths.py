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

from engine.expr import ast

from .compiler import SqlCompiler, SqlRows, call, emitter, function, optional
from .nodes import Val, define, op

# --- aggregates over one list (the body of a correlated subquery) ---------------------------
define(
    "agg:SUM",
    sqlite="COALESCE(jimu_sumagg({0}), '0')",
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
