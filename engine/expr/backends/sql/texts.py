"""Text functions in SQL: code-point lengths and slices, Unicode case mapping (PostgreSQL's ICU
collation ``und-x-icu``; Python's own mapping on SQLite), TEXT formats, TEXTJOIN over lists.
Every text result is capped (blank beyond 100,000 code points; a TEXT format beyond 100 gives blank) and "" is blank."""

from __future__ import annotations

from typing import Any

from engine.expr import ast

from .compiler import SqlCompiler, call, emitter, function, optional
from .maths import aggregate_args
from .nodes import Val, define, op

function("CONCATENATE", lambda a, p: f"jimu_cap(concat({', '.join(a)}))")
function("LEFT", lambda a, p: f"jimu_left({a[0]}, {optional(a, 1, '1')})")
function("RIGHT", lambda a, p: f"jimu_right({a[0]}, {optional(a, 1, '1')})")
function("MID", "jimu_mid({0}, {1}, {2})")
function("UPPER", "jimu_upper({0})")
function("LOWER", "jimu_lower({0})")
function("TRIM", "jimu_trim({0})")
function("REPLACE", "jimu_replace({0}, {1}, {2}, {3})")
function("SUBSTITUTE", lambda a, p: f"jimu_substitute({a[0]}, {a[1]}, {a[2]}, {optional(a, 3)})")
function("SEARCH", lambda a, p: f"jimu_find({a[0]}, {a[1]}, {optional(a, 2, '1')}, TRUE)")
function("FIND", lambda a, p: f"jimu_find({a[0]}, {a[1]}, {optional(a, 2, '1')}, FALSE)")
function("REPT", "jimu_rept({0}, {1})")
function("VALUE", "jimu_value({0})")
function(
    "TEXTJOIN",
    lambda a, p: (
        f"jimu_textjoin({a[0]}, {a[1]}, "
        + " || ".join(
            x if is_list else f"ARRAY[{x}]" for x, is_list in zip(a[2:], p[1][2:], strict=True)
        )
        + ")"
    ),
)
define(
    "len",
    sqlite="CAST(length(COALESCE({0}, '')) AS TEXT)",
    postgresql="CAST(length(COALESCE({0}, '')) AS NUMERIC)",
)
define(
    "exact",
    sqlite="(COALESCE({0}, '') = COALESCE({1}, ''))",
    postgresql="(COALESCE({0}, '') = COALESCE({1}, ''))",
)


_PG_DEFAULT_TEXT = {
    "number": "jimu_ntext({0})",
    "boolean": "jimu_btext({0})",
    "text": "jimu_cap({0})",
    "date": "to_char({0}, 'YYYY-MM-DD')",
    "time": "to_char({0}, 'HH24:MI:SS')",
}
_PG_FORMAT = {
    "number": "jimu_format_number({0}, {1})",
    "date": "jimu_format_date({0}, {1})",
    "time": "jimu_format_time({0}, {1})",
    "datetime": "jimu_format_datetime({0}, {1}, {2})",
}


def _pg_text(a: list[str], p: tuple[Any, ...]) -> str:
    kind = p[2][0]
    if kind == "blank":
        return "CAST(NULL AS TEXT)"
    formatted = len(a) > 2  # the time zone is always the last argument
    if kind == "datetime":
        if formatted:
            return _PG_FORMAT["datetime"].format(*a)
        return f"jimu_format_datetime({a[0]}, NULL, {a[1]})"
    if formatted and kind in _PG_FORMAT:
        return _PG_FORMAT[kind].format(*a)
    return _PG_DEFAULT_TEXT[kind].format(*a)


def _sqlite_text(a: list[str], p: tuple[Any, ...]) -> str:
    kind = p[2][0]
    if len(a) == 2 and kind in ("number", "date", "time"):  # (value, time zone)
        return a[0]  # already its canonical text on SQLite
    return f"jimu_call('{p[0]}'" + "".join(f", {x}" for x in a) + ")"


function("TEXT", _pg_text, sqlite=_sqlite_text)


@emitter(
    "CONCATENATE",
    "LEFT",
    "RIGHT",
    "MID",
    "UPPER",
    "LOWER",
    "TRIM",
    "REPLACE",
    "SUBSTITUTE",
    "SEARCH",
    "FIND",
    "REPT",
    "VALUE",
    "TEXT",
)
def text_function(c: SqlCompiler, node: ast.Call) -> Val:
    return call(c, node, c.args(node))


@emitter("LEN")
def length(c: SqlCompiler, node: ast.Call) -> Val:
    return Val(op("len", c.compile(node.args[0])), "number", nullable=False)


@emitter("EXACT")
def exact(c: SqlCompiler, node: ast.Call) -> Val:
    a, b = c.args(node)
    a = c.null("text") if a.kind == "blank" else a
    b = c.null("text") if b.kind == "blank" else b
    return Val(op("exact", a, b), "boolean", nullable=False)


@emitter("TEXTJOIN")
def textjoin(c: SqlCompiler, node: ast.Call) -> Val:
    head = [c.compile(node.args[0]), c.compile(node.args[1])]
    values, lists = aggregate_args(c, node.args[2:], "text")
    return call(c, node, head + values, [False, False, *lists])
