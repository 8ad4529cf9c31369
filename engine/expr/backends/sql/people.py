"""Records and people in SQL: CURRENT_USER, CURRENT_DEPARTMENTS and CONTAINS.

Ids are plain integers in both databases. CURRENT_USER is a bound parameter (the actor from the
evaluation context, like TODAY's moment); CURRENT_DEPARTMENTS only ever appears as CONTAINS's
list and becomes ``x IN (...)`` over bound ids. CONTAINS over a field list is ``EXISTS`` over
the rows of a to-many relation or subform, or a JSON-array test for users, departments and
multiselect columns (``json_each`` on SQLite, ``jsonb @>`` on PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, and_, bindparam, exists, literal, select

from engine.expr import ast
from engine.expr.errors import ExprError
from engine.expr.types import ID_KINDS

from .compiler import SqlCompiler, SqlRows, emitter
from .nodes import Val, define, op

define(
    "num_to_id",
    sqlite="(CASE WHEN {0} NOT GLOB '*[^0-9]*' AND {0} <> '' THEN CAST({0} AS INTEGER) END)",
    postgresql="(CASE WHEN {0} > 0 AND {0} = TRUNC({0}) THEN CAST({0} AS BIGINT) END)",
)
define(
    "json_contains",
    sqlite=lambda a, p: (
        f"({a[1]} IS NOT NULL AND EXISTS (SELECT 1 FROM json_each({a[0]}) AS je{p[0]}"
        f" WHERE je{p[0]}.value = {a[1]}))"
    ),
    postgresql=(
        "({1} IS NOT NULL AND COALESCE(CAST({0} AS JSONB) @> jsonb_build_array({1}), FALSE))"
    ),
)


def _false() -> Val:
    return Val(op("false"), "boolean", simple=True, nullable=False)


@emitter("CURRENT_USER")
def current_user(c: SqlCompiler, node: ast.Call) -> Val:
    if c.ctx.user is None:
        return c.null("user")
    bound = bindparam(None, c.ctx.user, type_=BigInteger(), unique=True)
    return Val(op("col", bound), "user", simple=True, nullable=False)


@emitter("CURRENT_DEPARTMENTS")
def current_departments(c: SqlCompiler, node: ast.Call) -> Val:
    raise TypeError("a list outside an aggregate")  # pragma: no cover - only CONTAINS reads it


@emitter("CONTAINS")
def contains(c: SqlCompiler, node: ast.Call) -> Val:
    items, value_node = node.args
    assert items.type is not None
    value = c.compile(value_node)
    if value.kind == "blank" or items.type.kind == "blank":
        return _false()
    if value.kind == "number" and items.type.kind in ID_KINDS:
        if value.literal is not None:
            whole = value.literal == value.literal.to_integral_value()
            if not whole or not 0 < value.literal < 2**63:
                return _false()
            bound = bindparam(None, int(value.literal), type_=BigInteger(), unique=True)
            value = Val(op("col", bound), items.type.kind, simple=True, nullable=False)
        else:
            value = Val(op("num_to_id", value), items.type.kind)
    if isinstance(items, ast.Call) and items.name == "CURRENT_DEPARTMENTS":
        ids = list(c.ctx.departments)
        if not ids:
            return _false()
        return Val(and_(value.sql.is_not(None), value.sql.in_(ids)), "boolean", nullable=False)
    assert items.type.source is not None
    target = c.rows(items.type.source)
    if isinstance(target, SqlRows):
        sub = c.element_subquery(items)
        test = exists(select(literal(1)).select_from(sub).where(sub.c.v == value.sql))
        return Val(test, "boolean", nullable=False)
    if not (isinstance(items, ast.Ref) and items.path == tuple(items.type.source.split("."))):
        raise ExprError(
            "list_not_in_backend",
            span=items.span,
            name=items.type.source,
            backend_zh="数据库",
            backend_en="the database",
        )
    return Val(op("json_contains", target, value, params=(c.next_id(),)), "boolean", nullable=False)
