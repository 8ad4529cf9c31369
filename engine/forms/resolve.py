"""The store's column resolver for the expression language: field paths -> SQL.

One `Resolver` reads one container (a form's table or a subform's row table, possibly an
alias) and answers the expression backend's questions (``("amount",)``,
``("customer", "level")``, ``("items",)``, ``("items", "qty")``) with SQL that runs inside the
enclosing query: columns, correlated scalar subqueries through to-one relations and lookups,
:class:`SqlRows` for subforms and many-valued relations, and read-time formulas and rollups
compiled in place. Nothing is computed per row in Python, and the statement count never
depends on how many rows a page has.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.sql import ColumnElement, FromClause

from engine import expr
from engine.expr.backends.sql import SqlRows
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.layout import (
    SYSTEM_SOURCES,
    AppLayout,
    Container,
    FieldLayout,
    FormLayout,
    RowsLayout,
)

ROLLUP_FUNCTIONS = {"sum": "SUM", "avg": "AVERAGE", "min": "MIN", "max": "MAX", "count": "COUNTA"}


class Resolver:
    """Resolves field paths of `container`, read through `table`, for `engine.expr.to_sql`."""

    def __init__(
        self,
        app: AppLayout,
        container: Container,
        table: FromClause | None = None,
        *,
        now: dt.datetime | None = None,
        tz: str = "Asia/Shanghai",
    ) -> None:
        self.app = app
        self.container = container
        self.table: Any = table if table is not None else container.table
        self.now = now
        self.tz = tz
        self._aliases: dict[str, Any] = {}

    def _nested(self, container: Container, table: Any) -> Resolver:
        return Resolver(self.app, container, table, now=self.now, tz=self.tz)

    def formula(self, source: str) -> ColumnElement[Any]:
        """A formula over this container as SQL (its type gives the Python value)."""
        return expr.to_sql(source, self, self.container.schema, now=self.now, tz=self.tz)

    def value(self, key: str) -> Any:
        """The SQL value of field `key` (None for a field without a scalar value)."""
        return self((key,))

    def __call__(self, path: tuple[str, ...]) -> Any:
        key, rest = path[0], path[1:]
        found = self.container.fields.get(key)
        if found is None:
            if isinstance(self.container, RowsLayout) and self.container.parent is not None:
                return self._through_parent(self.container.parent, path)
            raise KeyError(f"no field {key!r}")
        return self._field(found, rest)

    def _through_parent(self, parent: FormLayout, path: tuple[str, ...]) -> Any:
        alias = parent.table.alias()
        inner = self._nested(parent, alias)(path)
        return select(inner).where(alias.c._id == self.table.c._parent_id).scalar_subquery()

    def _field(self, field: FieldLayout, rest: tuple[str, ...]) -> Any:
        spec = field.spec
        table = self.table
        if field.source == "rows":
            assert field.rows is not None
            child = self._alias(spec.key, field.rows.table)
            if not rest:
                return SqlRows(child, child.c._parent_id == table.c._id, (child.c._seq, child.c._id))
            return self._nested(field.rows, child)(rest)
        if field.source == "links":
            assert isinstance(spec, RelationField) and field.link is not None
            target = self.app.forms[spec.target]
            link, rows = self._link_aliases(spec.key, field.link, target)
            if not rest:
                joined = link.join(rows, link.c._target_id == rows.c._id)
                where = and_(link.c._source_id == table.c._id, rows.c._deleted_at.is_(None))
                return SqlRows(joined, where, (link.c._seq,))
            return self._nested(target, rows)(rest)
        if isinstance(spec, RelationField):
            column = table.c[field.column]
            if not rest:
                return column
            target = self.app.forms[spec.target]
            alias = target.table.alias()
            inner = self._nested(target, alias)(rest)
            return (
                select(inner)
                .where(alias.c._id == column, alias.c._deleted_at.is_(None))
                .scalar_subquery()
            )
        if field.source == "column":
            return table.c[field.column]
        if field.source == "system":
            return table.c[SYSTEM_SOURCES[spec.type]]
        if field.source == "formula":
            return self.formula(spec.expr)  # type: ignore[attr-defined]
        if isinstance(spec, LookupField):
            return self((spec.relation, spec.field, *rest))
        if isinstance(spec, RollupField):
            return self.formula(f"{ROLLUP_FUNCTIONS[spec.aggregate]}({spec.relation}.{spec.field})")
        raise KeyError(f"field {spec.key!r} has no value")

    def _alias(self, name: str, table: Any) -> Any:
        if name not in self._aliases:
            self._aliases[name] = table.alias()
        return self._aliases[name]

    def _link_aliases(self, name: str, link: Any, target: FormLayout) -> tuple[Any, Any]:
        return self._alias(f"{name}#link", link), self._alias(f"{name}#rows", target.table)


__all__ = ["ROLLUP_FUNCTIONS", "Resolver"]
