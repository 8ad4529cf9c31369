"""Date and time functions in SQL. TODAY() and NOW() are bind parameters from the evaluation
context (never the database clock); date parts of datetimes use the organisation's time zone
(``AT TIME ZONE`` on PostgreSQL, zoneinfo in the SQLite functions); month arithmetic clamps to
the month end and dates outside years 1–9999 are blank."""

from __future__ import annotations

from sqlalchemy import bindparam

from engine.expr import ast

from .compiler import SqlCompiler, call, emitter, function
from .nodes import Val, define, op
from .types import KIND_TYPES

function("DATE", "jimu_date({0}, {1}, {2})")
function("WEEKDAY", lambda a, p: f"jimu_weekday({a[0]}, {a[1] if len(a) > 1 else 'NULL'})")
function("WEEKNUM", lambda a, p: f"jimu_weeknum({a[0]}, {a[1] if len(a) > 1 else 'NULL'})")
function("ISOWEEKNUM", "CAST(EXTRACT(WEEK FROM {0}) AS NUMERIC)")
function("DATEDIF", "jimu_datedif({0}, {1}, {2})")
function("EDATE", "jimu_add_months({0}, {1})")
function("EOMONTH", "jimu_eomonth({0}, {1})")
function("NETWORKDAYS", "jimu_networkdays({0}, {1})")
function(
    "DATEVALUE",
    lambda a, p: (
        f"CAST(({a[0]} AT TIME ZONE {a[1]}) AS DATE)"
        if p[2][0] == "datetime"
        else f"jimu_datevalue({a[0]})"
    ),
)
function(
    "TIMEVALUE",
    lambda a, p: (
        f"CAST(date_trunc('second', {a[0]} AT TIME ZONE {a[1]}) AS TIME)"
        if p[2][0] == "datetime"
        else f"jimu_timevalue({a[0]})"
    ),
)

# Parts of 'YYYY-MM-DD' and 'HH:MM:SS' texts on SQLite; EXTRACT on PostgreSQL.
_PARTS = {
    "YEAR": ("YEAR", 1, 4),
    "MONTH": ("MONTH", 6, 2),
    "DAY": ("DAY", 9, 2),
    "HOUR": ("HOUR", 1, 2),
    "MINUTE": ("MINUTE", 4, 2),
    "SECOND": ("SECOND", 7, 2),
}
for _name, (_field, _start, _length) in _PARTS.items():
    define(
        f"part:{_name}",
        sqlite=f"CAST(CAST(substr({{0}}, {_start}, {_length}) AS INTEGER) AS TEXT)",
        postgresql=f"CAST(trunc(EXTRACT({_field} FROM {{0}})) AS NUMERIC)",
    )
define(
    "days",
    sqlite="CAST(CAST(julianday({0}) - julianday({1}) AS INTEGER) AS TEXT)",
    postgresql="CAST({0} - {1} AS NUMERIC)",
)


@emitter("TODAY")
def today(c: SqlCompiler, node: ast.Call) -> Val:
    value = bindparam("jimu_today", c.ctx.today, type_=KIND_TYPES["date"](), unique=True)
    return Val(op("col", value), "date", simple=True, nullable=False)


@emitter("NOW")
def now(c: SqlCompiler, node: ast.Call) -> Val:
    value = bindparam("jimu_now", c.ctx.now, type_=KIND_TYPES["datetime"](), unique=True)
    return Val(op("col", value), "datetime", simple=True, nullable=False)


@emitter("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")
def part(c: SqlCompiler, node: ast.Call) -> Val:
    v = c.compile(node.args[0])
    if v.kind == "blank":
        return c.null("number")
    return Val(op(f"part:{node.name}", v), "number")


@emitter("DAYS")
def days(c: SqlCompiler, node: ast.Call) -> Val:
    end, start = c.args(node)
    if "blank" in (end.kind, start.kind):
        return c.null("number")
    return Val(op("days", end, start), "number")


@emitter(
    "DATE",
    "WEEKDAY",
    "WEEKNUM",
    "ISOWEEKNUM",
    "DATEDIF",
    "EDATE",
    "EOMONTH",
    "NETWORKDAYS",
    "DATEVALUE",
    "TIMEVALUE",
)
def date_function(c: SqlCompiler, node: ast.Call) -> Val:
    return call(c, node, c.args(node))
