"""The expression language (DESIGN §6): one formula language for Python, SQL and JavaScript.

Public API, used by every engine and by the tests::

    parse(source) -> ast.Node
    check(source, schema) -> ExprType
    evaluate(source, record, schema=None, *, now=None, tz="Asia/Shanghai", user=None,
             departments=()) -> value
    to_sql(source, columns, schema, *, now=None, tz=..., user=..., departments=...)
        -> SQLAlchemy ColumnElement
    to_js(source, schema) -> JavaScript source of ``(record, ctx) => value``

Only parse and type errors raise (:class:`ExprError`); run-time problems yield blank (None).
A metered evaluation (``evaluate(..., budget=N)``) also raises :class:`BudgetExceeded` when it
does more work than its budget allows (see :mod:`engine.expr.budget`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine.expr import ast
from engine.expr.backends.python import Compiled, compile_node
from engine.expr.budget import DEFAULT_BUDGET, Budget, BudgetExceeded
from engine.expr.checker import check_tree
from engine.expr.errors import ExprError
from engine.expr.parser import MAX_DEPTH, MAX_LENGTH, parse
from engine.expr.runtime import DEFAULT_TZ, EvalContext, decode, encode
from engine.expr.types import ExprType, infer_schema

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "DEFAULT_BUDGET",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Budget",
    "BudgetExceeded",
    "CompiledFormula",
    "EvalContext",
    "ExprError",
    "ExprType",
    "check",
    "checked",
    "compile_formula",
    "decode",
    "encode",
    "evaluate",
    "parse",
    "to_js",
    "to_sql",
]


def _schema_key(schema: Mapping[str, Any] | None) -> str:
    return json.dumps(schema or {}, sort_keys=True, ensure_ascii=False, default=str)


@lru_cache(maxsize=4096)
def _checked(source: str, schema_key: str) -> ast.Node:
    return check_tree(parse(source), source, json.loads(schema_key))


def checked(source: str, schema: Mapping[str, Any] | None) -> ast.Node:
    """The parsed and type-checked tree (cached per source and schema)."""
    return _checked(source, _schema_key(schema))


def check(source: str, schema: Mapping[str, Any] | None = None) -> ExprType:
    """The type of a formula against a schema; raise ExprError on a parse or type error."""
    tree = checked(source, schema)
    assert tree.type is not None
    return tree.type


@dataclass(frozen=True, slots=True)
class CompiledFormula:
    """A formula compiled for Python: call ``run(record, ctx)`` on hot paths."""

    source: str
    type: ExprType
    run: Compiled

    def __call__(self, record: Mapping[str, Any], ctx: EvalContext | None = None) -> Any:
        return self.run(record, ctx or EvalContext.create())


@lru_cache(maxsize=4096)
def _compiled(
    source: str, schema_key: str, trusted: bool, metered: bool = False
) -> CompiledFormula:
    tree = _checked(source, schema_key)
    assert tree.type is not None
    return CompiledFormula(source, tree.type, compile_node(tree, trusted=trusted, metered=metered))


def compile_formula(
    source: str, schema: Mapping[str, Any] | None, *, trusted: bool = False, metered: bool = False
) -> CompiledFormula:
    """The Python closure of a formula (cached per source and schema).

    ``trusted=True`` is for records from the store, whose values are already of their
    field's Python type and precision: such values are then read without re-normalising.
    ``metered=True`` charges the context's budget (``engine.expr.budget``); hot paths stay
    unmetered.
    """
    return _compiled(source, _schema_key(schema), trusted, metered)


def evaluate(
    source: str,
    record: Mapping[str, Any],
    schema: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
    tz: str = DEFAULT_TZ,
    budget: int | None = None,
    user: int | None = None,
    departments: tuple[int, ...] = (),
) -> Any:
    """Evaluate a formula on one record. Without a schema, it is inferred from the record.

    With ``budget`` the evaluation is metered and raises :class:`BudgetExceeded` past it.
    ``user`` and ``departments`` are the acting member (``CURRENT_USER()``,
    ``CURRENT_DEPARTMENTS()``); without them nobody acts.
    """
    formula = compile_formula(
        source, schema if schema is not None else infer_schema(record), metered=budget is not None
    )
    meter = Budget(budget) if budget is not None else None
    ctx = EvalContext.create(now, tz, meter, user=user, departments=departments)
    return formula.run(record, ctx)


def to_sql(
    source: str,
    columns: Any,
    schema: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
    tz: str = DEFAULT_TZ,
    user: int | None = None,
    departments: tuple[int, ...] = (),
) -> ColumnElement[Any]:
    """A SQLAlchemy expression computing the formula in the database (SQLite or PostgreSQL).

    ``columns`` maps field keys (or dotted paths) to SQL columns, or is a resolver callable
    taking a path tuple; see :mod:`engine.expr.backends.sql`.
    """
    from engine.expr.backends.sql import compile_sql

    ctx = EvalContext.create(now, tz, user=user, departments=departments)
    return compile_sql(checked(source, schema), columns, ctx)


def to_js(source: str, schema: Mapping[str, Any] | None = None) -> str:
    """JavaScript source of ``(record, ctx) => value`` using the builder UI's formula runtime."""
    from engine.expr.backends.js import compile_js

    return compile_js(checked(source, schema))
