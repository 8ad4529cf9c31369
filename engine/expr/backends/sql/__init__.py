"""SQL backend of the expression language: a checked formula as one SQLAlchemy expression.

``compile_sql(tree, columns, ctx)`` returns a dialect-neutral ``ColumnElement`` that runs on
SQLite and PostgreSQL (each dialect's rendering lives in per-operation templates, see
:mod:`.nodes`), whose ``type`` turns the selected value into the formula's Python value, so
``conn.execute(select(expr).select_from(table)).scalar()`` equals ``engine.expr.evaluate``.
Boolean results are never NULL where the formula is a condition and can go straight into
``.where(...)``.

``columns`` maps field keys or dotted paths (``"amount"``, ``"customer.level"``,
``"items.qty"``, and a list source's own path ``"items"``) to SQL, or is a callable taking a
path tuple. A scalar path gives a column (its type, e.g. :class:`engine.core.sqltypes.
ExactDecimal`, says how it is stored); a list source gives :class:`SqlRows`, whose rows the
list's fields are columns of; a multiselect field (a JSON array column) is its own list.
Aggregates become correlated scalar subqueries, so the record's table must be in the
enclosing query's FROM (``select(expr).select_from(table)``).

Set-up: SQLite connections need :func:`register_sqlite_functions` (``create_engine`` wires
it, with WAL and a busy timeout); PostgreSQL databases need :func:`install_postgres_functions`
once per database.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy
from sqlalchemy import event, type_coerce
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from engine.expr import ast
from engine.expr.errors import ExprError
from engine.expr.functions import FUNCTIONS
from engine.expr.runtime import EvalContext

from . import dates, logic, maths, operators, people, texts  # noqa: F401 - fill the emitter table
from .compiler import EMITTERS, Resolver, SqlCompiler, SqlRows, resolver_for
from .postgres_functions import install_postgres_functions
from .sqlite_functions import register_sqlite_functions
from .types import KIND_TYPES

__all__ = [
    "EMITTERS",
    "SqlRows",
    "compile_sql",
    "create_engine",
    "install_postgres_functions",
    "register_sqlite_functions",
]


def compile_sql(
    tree: ast.Node, columns: Mapping[str, Any] | Resolver, ctx: EvalContext
) -> ColumnElement[Any]:
    """The SQL of a checked tree (raises ExprError for a function the database cannot run)."""
    assert tree.type is not None
    for node in _walk(tree):
        if isinstance(node, ast.Call) and "sql" not in FUNCTIONS[node.name].backends:
            raise ExprError(
                "not_in_backend",
                span=node.span,
                name=node.name,
                backend_zh="数据库",
                backend_en="the database",
            )
    value = SqlCompiler(resolver_for(columns), ctx).compile(tree)
    kind = tree.type.kind
    return type_coerce(value.sql, KIND_TYPES[kind]())


def _walk(tree: ast.Node) -> Iterator[ast.Node]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(ast.children(node))


def create_engine(url: str, **options: Any) -> Engine:
    """An SQLAlchemy engine ready for formulas.

    SQLite: the ``jimu_*`` functions are registered on every connection, with WAL,
    ``synchronous=NORMAL`` and a 5 s busy timeout. PostgreSQL: nothing implicit; call
    :func:`install_postgres_functions` once (migrations or tests do).
    """
    engine = sqlalchemy.create_engine(url, **options)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, record: Any) -> None:
            register_sqlite_functions(dbapi_connection)
            cursor = dbapi_connection.cursor()
            try:
                if ":memory:" not in url and url.rstrip("/") != "sqlite:":
                    cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA busy_timeout=5000")
            finally:
                cursor.close()

    return engine
