"""The store's column resolver for the expression language: field paths -> SQL.

One `Resolver` reads one container (a form's table or a subform's row table, possibly an
alias) and answers the expression backend's questions (``("amount",)``,
``("customer", "level")``, ``("items",)``, ``("items", "qty")``) with SQL that runs inside the
enclosing query: columns, correlated scalar subqueries through to-one relations and lookups,
:class:`SqlRows` for subforms and many-valued relations, and read-time formulas and rollups
compiled in place. Nothing is computed per row in Python, and the statement count never
depends on how many rows a page has.

A resolver given the caller's `access` reads every relation hop with the caller's rights on the
*target* form (issue 10): the target's row scope joins the hop's condition (a to-one hop to a
record outside it reads as blank, a to-many relation lists only the targets inside it, so
rollups aggregate only those), and a field hidden from the caller in the target reads as
blank. Row scopes themselves are written by the app's builders and evaluated unrestricted
(`unrestricted`). The form's own fields are read as they are: callers refuse hidden ones
before they get here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, null, select, type_coerce
from sqlalchemy.sql import ColumnElement, FromClause

from engine import expr
from engine.core.context import ExecutionContext
from engine.expr.backends.sql import SqlRows
from engine.forms.access import Access
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
# The system columns formulas read (`engine.forms.schema.SYSTEM_ENTRIES`); in a subform row they
# are the record's.
SYSTEM_KEYS = frozenset(
    {"_id", "_owner", "_created_by", "_updated_by", "_created_at", "_updated_at"}
)


@dataclass(frozen=True)
class Who:
    """The member a formula's CURRENT_USER() and CURRENT_DEPARTMENTS() read (None: nobody)."""

    user: int | None = None
    departments: tuple[int, ...] = ()

    @classmethod
    def of(cls, access: Any) -> Who:
        """The member holding `access` (`FormAccess` carries `user_id` and `department_ids`;
        a public link's access has none: nobody)."""
        user = getattr(access, "user_id", None)
        departments = getattr(access, "department_ids", ())
        return cls(user if isinstance(user, int) else None, tuple(departments or ()))

    @classmethod
    def acting(cls, access: Any, ctx: ExecutionContext) -> Who:
        """The holder of `access` when there is one, else the actor of `ctx` (departments
        unknown: none)."""
        if access is not None:
            return cls.of(access)
        return cls(ctx.actor.user_id)


NOBODY = Who()

Final = Callable[[FieldLayout, Any], Any]
"""How a sort reads a stored column (`Resolver.sorting`): its field and the column -> SQL."""


class Resolver:
    """Resolves field paths of `container`, read through `table`, for `engine.expr.to_sql`."""

    def __init__(
        self,
        app: AppLayout,
        container: Container,
        table: FromClause | None = None,
        *,
        ctx: ExecutionContext,
        access: Access | None = None,
        guarded: frozenset[str] = frozenset(),
        who: Who | None = None,
        final: Final | None = None,
    ) -> None:
        self.app = app
        self.container = container
        self.table: Any = table if table is not None else container.table
        self.ctx = ctx  # the clock and time zone of formulas (`NOW()`, `TODAY()`)
        self.now = ctx.now
        self.tz = ctx.tz
        self.access = access  # the caller's rights on the form `container` belongs to (None: all)
        self.guarded = guarded  # fields of `container` that read as blank (hidden in a target)
        # Who CURRENT_USER() is: given, else the holder of `access`, else the context's actor.
        self.who = who if who is not None else Who.acting(access, ctx)
        # What a stored column is read as (a sort reads a text's key, an option's place).
        self.final = final
        self._aliases: dict[str, Any] = {}

    def _nested(
        self,
        container: Container,
        table: Any,
        access: Access | None = None,
        guarded: frozenset[str] = frozenset(),
    ) -> Resolver:
        return Resolver(
            self.app,
            container,
            table,
            ctx=self.ctx,
            access=access,
            guarded=guarded,
            who=self.who,
            final=self.final,
        )

    def sorting(self, final: Final) -> Resolver:
        """The same container, table and rights, with each stored column a field path ends on
        read as `final(field, column)` (through relations and lookups too): what a sort orders
        by (`FormSql.order_by`). Row scopes and formulas inside still read plain values."""
        return Resolver(
            self.app,
            self.container,
            self.table,
            ctx=self.ctx,
            access=self.access,
            guarded=self.guarded,
            who=self.who,
            final=final,
        )

    def unrestricted(self) -> Resolver:
        """The same container and table read without the caller's rights (for row scopes)."""
        if self.access is None and not self.guarded:
            return self
        return Resolver(self.app, self.container, self.table, ctx=self.ctx, who=self.who)

    def acting(self, who: Who) -> Resolver:
        """The same resolver with `who` as CURRENT_USER() (a role scope reads its holder)."""
        if who == self.who:
            return self
        return Resolver(
            self.app,
            self.container,
            self.table,
            ctx=self.ctx,
            access=self.access,
            guarded=self.guarded,
            who=who,
        )

    def target(self, form: FormLayout) -> tuple[Access | None, frozenset[str]]:
        """The caller's rights on `form` reached through a relation, and the fields of it that
        read as blank (all of them when the caller may not view the form)."""
        return target_access(self.access, form)

    def scope(
        self, form: FormLayout, access: Access | None, table: Any
    ) -> ColumnElement[bool] | None:
        """The condition that a row of `form` read through `table` is in the caller's view scope
        (None: every row is)."""
        if access is None:
            return None
        return access.where(
            "view", table, Resolver(self.app, form, table, ctx=self.ctx, who=self.who)
        )

    def formula(self, source: str) -> ColumnElement[Any]:
        """A formula over this container as SQL (its type gives the Python value)."""
        return expr.to_sql(
            source,
            self,
            self.container.schema,
            now=self.now,
            tz=self.tz,
            user=self.who.user,
            departments=self.who.departments,
        )

    def value(self, key: str) -> Any:
        """The SQL value of field `key` (None for a field without a scalar value)."""
        return self((key,))

    def __call__(self, path: tuple[str, ...]) -> Any:
        key, rest = path[0], path[1:]
        found = self.container.fields.get(key)
        if found is None and key in SYSTEM_KEYS and not rest:
            if isinstance(self.container, RowsLayout) and self.container.parent is not None:
                return self._through_parent(self.container.parent, path)
            return self.table.c[key]
        if found is None:
            if isinstance(self.container, RowsLayout) and self.container.parent is not None:
                return self._through_parent(self.container.parent, path)
            raise KeyError(f"no field {key!r}")
        if key in self.guarded:
            return _blank(self._field(found, rest))
        return self._field(found, rest)

    def _through_parent(self, parent: FormLayout, path: tuple[str, ...]) -> Any:
        alias = parent.table.alias()
        # A row formula reading its record's fields: those hidden from the caller read as blank.
        guarded = hidden_in(self.access, parent) if self.access is not None else frozenset()
        inner = self._nested(parent, alias, self.access, guarded)(path)
        return select(inner).where(alias.c._id == self.table.c._parent_id).scalar_subquery()

    def _field(self, field: FieldLayout, rest: tuple[str, ...]) -> Any:
        spec = field.spec
        table = self.table
        if field.source == "rows":
            assert field.rows is not None
            child = self._alias(spec.key, field.rows.table)
            if not rest:
                return SqlRows(
                    child, child.c._parent_id == table.c._id, (child.c._seq, child.c._id)
                )
            return self._nested(field.rows, child, self.access)(rest)
        if field.source == "links":
            assert isinstance(spec, RelationField) and field.link is not None
            target = self.app.forms[spec.target]
            access, guarded = self.target(target)
            link, rows = self._link_aliases(spec.key, field.link, target)
            if not rest:
                joined = link.join(rows, link.c._target_id == rows.c._id)
                where = and_(link.c._source_id == table.c._id, rows.c._deleted_at.is_(None))
                scope = self.scope(target, access, rows)
                if scope is not None:  # only the targets the caller may see are listed
                    where = and_(where, scope)
                return SqlRows(joined, where, (link.c._seq,), ids=rows.c._id)
            return self._nested(target, rows, access, guarded)(rest)
        if isinstance(spec, RelationField):
            column = table.c[field.column]
            if not rest:
                return column
            target = self.app.forms[spec.target]
            access, guarded = self.target(target)
            alias = target.table.alias()
            inner = self._nested(target, alias, access, guarded)(rest)
            conditions = [alias.c._id == column, alias.c._deleted_at.is_(None)]
            scope = self.scope(target, access, alias)
            if scope is not None:  # a target outside the caller's scope reads as blank
                conditions.append(scope)
            return select(inner).where(*conditions).scalar_subquery()
        if field.source == "column":
            if self.final is not None:
                return self.final(field, table.c[field.column])
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


def target_access(access: Access | None, form: FormLayout) -> tuple[Access | None, frozenset[str]]:
    """The caller's rights on `form` reached through a relation from a form they hold `access`
    on (None: unrestricted), and the fields of `form` hidden from them."""
    if access is None:
        return None, frozenset()
    found = access.on(form)
    if found is None or getattr(found, "everything", False):
        return None, frozenset()
    return found, hidden_in(found, form)


def hidden_in(access: Access, form: FormLayout) -> frozenset[str]:
    """The fields of `form` the caller holding `access` on it may not read (all of them when
    they may not view the form)."""
    if not access.allows("view"):
        return frozenset(form.fields)
    return access.hidden()


def _blank(value: Any) -> Any:
    """A field the caller may not read, as blank of the same type (no rows for a list)."""
    if isinstance(value, SqlRows):
        return SqlRows(value.from_, false(), value.order_by)
    return type_coerce(null(), value.type)


__all__ = [
    "NOBODY",
    "ROLLUP_FUNCTIONS",
    "SYSTEM_KEYS",
    "Resolver",
    "Who",
    "hidden_in",
    "target_access",
]
