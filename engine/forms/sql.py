"""Reading records, the SQL half: what a caller may read of one form, as SQLAlchemy statements.

`FormSql` builds, for one form, one caller (`Access`: row scopes and hidden fields) and one
execution context (clock, time zone, who `CURRENT_USER()` is), every statement and column
expression that reading records needs — and executes none of them:

- the caller's row scope as the WHERE every query starts from (`visible`), also on every
  relation hop (titles, lookups, rollups and filters read the target form with the caller's
  rights on it, `Resolver`);
- filters, sorts, the title search and "records pointing to this one" (`filter_sql`,
  `order_by`, `search_sql`, `related_sql`), refusing fields hidden from the caller (422);
- the page statement and its count (`page_statements`) and the batched statements of the
  multi-valued parts (subform rows, to-many relations, many-relation lookups, titles). A page
  reads its to-one relations' titles through one LEFT JOIN each (`title_join`); elsewhere a
  title is a correlated subquery (`title_sql`).

Turning the rows into record JSON is `engine.forms.record_json`; `engine.forms.query.Reader`
composes the two.

**For report compilers**: `FormSql.scoped(filter=..., q=..., related=...)` gives a `Scoped`:
the live records of the form that the caller may read, filtered, as a WHERE condition, with
`value(key)` (a field's value; 422 for unknown, hidden or list-valued fields), `formula(source)`
(any formula over the record, hidden fields refused like in filters), `rows(columns)` (one row
per record, optionally sorted) and `grouped(by, measures)` (a GROUP BY select: counts, sums, averages, minimums and
maximums per group). Example — how many opportunities per stage the caller can see::

    scoped = FormSql(app, form, ctx, access=access).scoped(filter='amount > 1000')
    statement = scoped.grouped({"stage": scoped.value("stage")}, {"n": ("count", None)})
    counts = dict(conn.execute(statement).all())

SQL built with the caller's rights is kept per caller fingerprint (`_scope_key`) on the layout.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import Case, ColumnClause, True_, UnaryExpression
from sqlalchemy.sql.visitors import iterate

from engine import expr
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.expr import ast
from engine.forms.access import Access
from engine.forms.cache import calls_clock, lru_on_layout, on_layout, reads_clock
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.layout import AppLayout, Container, FieldLayout, FormLayout, RowsLayout
from engine.forms.resolve import SYSTEM_KEYS, Resolver, Who, target_access
from engine.store.records import SYSTEM_FIELDS

MAX_LIMIT = 1000
LATE_LOOKUP = True
SORTABLE_SYSTEM = {"_id", "_created_at", "_updated_at", "_version"}
# The system columns `Scoped.value` reads (those formulas read, and the version).
READABLE_SYSTEM = SYSTEM_KEYS | {"_version"}


def _issue(
    path: str, code: str, zh: str, en: str, line: int | None = None, column: int | None = None
) -> Issue:
    return Issue(path, code, zh, en, line, column)


class FormSql:
    """Builds the SQL of reading one form's records as one caller (nothing is executed here)."""

    def __init__(
        self,
        app: AppLayout,
        form: FormLayout,
        ctx: ExecutionContext,
        *,
        access: Access | None = None,
        who: Who | None = None,
    ):
        self.app = app
        self.form = form
        self.ctx = ctx  # the clock and time zone of formulas (`NOW()`, `TODAY()`)
        self.now = ctx.now
        self.tz = ctx.tz
        self.access = access
        # Who CURRENT_USER() is in filters and read-time formulas (default: `access`'s holder,
        # else the context's actor).
        self.who = who if who is not None else Who.acting(access, ctx)
        self.hidden = access.hidden() if access is not None else frozenset()
        self._scope_key = self._scope_fingerprint()

    def resolver(self, container: Container | None = None, table: Any = None) -> Resolver:
        """Reads this form's fields (and, through relations, other forms' with the caller's
        rights on them)."""
        return Resolver(
            self.app,
            container or self.form,
            table,
            ctx=self.ctx,
            who=self.who,
            access=self.access,
        )

    def _scope_fingerprint(self) -> Any:
        """What SQL built for this caller depends on besides the layout and hidden fields: ()
        when nothing is read through a relation with restricted rights; None when it must not
        be kept (rights without a fingerprint)."""
        if self.access is None or not reaches_other_forms(self.form):
            return ()
        if getattr(self.access, "everything", False):
            return ()
        fingerprint = getattr(self.access, "fingerprint", None)
        return None if fingerprint is None else ("rights", fingerprint)

    # --- the page statement -------------------------------------------------------------
    def scalar_columns(
        self,
        container: Container,
        resolver: Resolver,
        joins: builtins.list[tuple[Any, ColumnElement[bool]]] | None = None,
    ) -> builtins.list[ColumnElement[Any]]:
        """Every scalar value of a container's records, labelled by field key. With `joins`, a
        to-one relation's title and restriction read the target through a LEFT JOIN appended
        to it (``(alias, on)``) instead of correlated subqueries (`title_join`)."""
        columns: list[ColumnElement[Any]] = []
        for field in container.fields.values():
            if field.source in ("rows", "links", "none") or self.many_lookup(container, field):
                continue
            if container is self.form and field.key in self.hidden:
                continue
            value = resolver.value(field.key)
            columns.append(value.label(field.key))
            if isinstance(field.spec, RelationField) and joins is not None:
                joined = self.title_join(field.spec.target, value)
                joins.append((joined.alias, joined.on))
                columns.append(joined.title.label(f"{field.key}#title"))
                if joined.restricted is not None:
                    columns.append(joined.restricted.label(f"{field.key}#restricted"))
            elif isinstance(field.spec, RelationField):
                title = self.title_sql(field.spec.target, value)
                columns.append(title.label(f"{field.key}#title"))
                restricted = self.restricted_sql(field.spec.target, value)
                if restricted is not None:
                    columns.append(restricted.label(f"{field.key}#restricted"))
        return columns

    def title_sql(self, form_key: str, record_id: Any) -> ColumnElement[Any]:
        """The title of record `record_id` of form `form_key` (a correlated subquery); blank
        when the caller may not see that record or its title field."""
        target = self.app.forms[form_key]
        access, hidden = target_access(self.access, target)
        alias = target.table.alias()
        if target.title_field is None:
            value: Any = func.cast(alias.c._id, expr_text_type())
        elif target.title_field in hidden:
            value = literal(None, expr_text_type())
        else:
            value = Resolver(
                self.app,
                target,
                alias,
                ctx=self.ctx,
                who=self.who,
                access=access,
                guarded=hidden,
            ).value(target.title_field)
        statement = select(value).where(alias.c._id == record_id, alias.c._deleted_at.is_(None))
        if access is not None:
            statement = statement.where(
                access.where(
                    "view",
                    alias,
                    Resolver(self.app, target, alias, ctx=self.ctx, who=self.who),
                )
            )
        return statement.scalar_subquery()

    def title_join(self, form_key: str, record_id: Any) -> TitleJoin:
        """The title and restriction of record `record_id` of form `form_key` read through a
        LEFT JOIN of the target's table on its id (live records only): the same answers as
        `title_sql` and `restricted_sql`. The caller's row scope on the target is not part of
        the join (a record outside it must still be told from a missing one) but a condition
        on the joined row: outside it the title is blank and the record restricted."""
        target = self.app.forms[form_key]
        access, hidden = target_access(self.access, target)
        alias = target.table.alias()
        on = and_(alias.c._id == record_id, alias.c._deleted_at.is_(None))
        hidden_title = target.title_field is not None and target.title_field in hidden
        if target.title_field is None:
            value: Any = func.cast(alias.c._id, expr_text_type())
        elif hidden_title:
            value = literal(None, expr_text_type())
        else:
            value = Resolver(
                self.app, target, alias, ctx=self.ctx, who=self.who, access=access, guarded=hidden
            ).value(target.title_field)
        if access is None:
            return TitleJoin(alias, on, value, None)
        scope: ColumnElement[bool] = access.where(
            "view", alias, Resolver(self.app, target, alias, ctx=self.ctx, who=self.who)
        )
        title = value if isinstance(scope, True_) else case((scope, value), else_=None)
        missing = alias.c._id.is_(None)
        restricted: ColumnElement[Any] | None
        if hidden_title or not access.allows("view"):
            restricted = case((missing, None), else_=literal(True))
        elif isinstance(scope, True_):
            restricted = None  # every record of the form is in scope (e.g. scope `all`)
        else:
            restricted = case((missing, None), (scope, literal(False)), else_=literal(True))
        return TitleJoin(alias, on, title, restricted)

    def restricted_sql(self, form_key: str, record_id: Any) -> ColumnElement[Any] | None:
        """Whether record `record_id` of form `form_key` exists (not deleted) but the caller may
        not see it or its title (a correlated subquery; blank for a missing record); None when
        the caller sees every record of that form."""
        target = self.app.forms[form_key]
        access, hidden = target_access(self.access, target)
        if access is None:
            return None
        alias = target.table.alias()
        outside: Any
        if (target.title_field is not None and target.title_field in hidden) or not access.allows(
            "view"
        ):
            outside = literal(True)
        else:
            scope = access.where(
                "view",
                alias,
                Resolver(self.app, target, alias, ctx=self.ctx, who=self.who),
            )
            if isinstance(scope, True_):
                return None  # every record of the form is in scope (e.g. scope `all`)
            outside = case((scope, literal(False)), else_=literal(True))
        return (
            select(outside)
            .where(alias.c._id == record_id, alias.c._deleted_at.is_(None))
            .scalar_subquery()
        )

    def base_select(
        self, *, deleted: bool = False, action: str = "view"
    ) -> tuple[Select[Any], Resolver]:
        """The page statement before filter, search, order and paging, and its resolver."""
        resolver = self.resolver()
        shape = self.page_shape(resolver)
        statement = select(*shape.columns).select_from(shape.from_)
        return statement.where(self.visible(resolver, deleted=deleted, action=action)), resolver

    def page_columns(self, resolver: Resolver) -> builtins.list[Any]:
        """The page statement's columns (`page_shape`)."""
        return self.page_shape(resolver).columns

    def page_shape(self, resolver: Resolver) -> PageShape:
        """The page statement's columns, each labelled by what it holds: the system columns by
        their names, then every visible field's scalar value by its key (a relation's title and
        restriction as ``key#title``, ``key#restricted``). Record JSON reads them by label.

        Kept per layout, hidden fields, time zone and, when the form has relations, the caller's
        fingerprint (titles and lookups hold the targets' scopes): the columns depend on nothing
        else unless a read-time formula of the app reads the clock (then they are built per call)."""
        key = ("shape", self.hidden, self.tz, self._scope_key)
        if self._reads_clock or self._scope_key is None:
            return self._build_shape(resolver)
        cache = lru_on_layout(self.form, "reader")
        found: PageShape | None = cache.get(key)
        if found is None:
            found = self._build_shape(resolver)
            cache.put(key, found)
        return found

    def _build_shape(self, resolver: Resolver) -> PageShape:
        table = self.form.table
        columns: list[Any] = [table.c[name].label(name) for name in SYSTEM_FIELDS]
        joins: list[tuple[Any, ColumnElement[bool]]] = []
        columns.extend(self.scalar_columns(self.form, resolver, joins))
        from_: Any = table
        for alias, on in joins:  # one LEFT JOIN per to-one relation shown (titles)
            from_ = from_.outerjoin(alias, on)
        return PageShape(columns, from_)

    @property
    def _reads_clock(self) -> bool:
        return reads_clock(self.app)

    def visible(
        self, resolver: Resolver, *, deleted: bool = False, action: str = "view"
    ) -> ColumnElement[bool]:
        """Live (or binned) records the caller may `action`: the WHERE every query starts from."""
        table = self.form.table
        if deleted:
            live = on_layout(self.form, "binned", lambda: table.c._deleted_at.is_not(None))
        else:
            live = on_layout(self.form, "live", lambda: table.c._deleted_at.is_(None))
        if self.access is None:
            return live
        return and_(live, self.access.where(action, table, resolver))

    def check_visible_refs(self, source: str, where: str) -> None:
        """422 when a filter reads a field hidden from the caller, here or in a form it reaches
        through a relation (values could be inferred)."""
        if self.access is None:
            return
        try:
            paths = ref_paths(expr.checked(source, self.form.schema))
        except (expr.ExprError, ValueError):
            return  # filter_sql reports it
        self._refuse_hidden(paths, where)

    def filter_sql(self, source: str, resolver: Resolver) -> ColumnElement[Any]:
        """A filter as SQL: checked (boolean, no hidden field), compiled once per layout, source
        and time zone, and again per call only when it reads the clock."""
        cache = lru_on_layout(self.form, "filters")
        key = self._filter_key(source)
        found: _Filter | None = cache.get(key) if key is not None else None
        if found is not None:
            self._refuse_hidden(found.refs, "filter")
            if found.sql is not None:
                return found.sql
            return resolver.formula(source)
        sql = self._compile_filter(source, resolver)
        tree = expr.checked(source, self.form.schema)
        volatile = self._reads_clock or calls_clock(tree)
        if key is not None:
            cache.put(key, _Filter(ref_paths(tree), None if volatile else sql, nonblank_keys(tree)))
        return sql

    def _filter_key(self, source: str) -> Any:
        """The filter cache's key for `source` (None: not kept for this caller)."""
        return None if self._scope_key is None else (source, self.tz, self._scope_key)

    def _nonblank(self, filter: str | None) -> frozenset[str]:
        """Fields every record matching `filter` has a value in (see `nonblank_keys`)."""
        if not filter:
            return frozenset()
        key = self._filter_key(filter)
        found: _Filter | None = (
            lru_on_layout(self.form, "filters").get(key) if key is not None else None
        )
        if found is not None:
            return found.nonblank
        try:
            return nonblank_keys(expr.checked(filter, self.form.schema))
        except (expr.ExprError, ValueError):
            return frozenset()

    def _refuse_hidden(
        self, paths: frozenset[tuple[str, ...]], where: str, *, reading: bool = False
    ) -> None:
        """422 for the first of `paths` that reaches a field hidden from the caller (`reading`:
        the message says read, not filter by)."""
        if self.access is None:
            return
        for path in sorted(paths):
            reached = self._hidden_prefix(path)
            if reached is not None:
                raise ServiceError(
                    422,
                    "validation_failed",
                    [
                        _issue(
                            where,
                            "hidden_field",
                            f"不能读取无权查看的字段 {reached}"
                            if reading
                            else f"不能按无权查看的字段 {reached} 筛选",
                            f"Cannot read {reached}, which you may not see"
                            if reading
                            else f"Cannot filter by {reached}, which you may not see",
                        )
                    ],
                )

    def _hidden_prefix(self, path: tuple[str, ...]) -> str | None:
        """The part of a field path up to the first field hidden from the caller (None: all
        visible). Relations are followed with the caller's rights on their target form."""
        return hidden_prefix(self.app, self.form, self.hidden, self.access, path)

    def _compile_filter(self, source: str, resolver: Resolver) -> ColumnElement[Any]:
        self.check_visible_refs(source, "filter")
        try:
            result = expr.check(source, self.form.schema)
        except expr.ExprError as exc:
            raise ServiceError(
                422,
                "validation_failed",
                [_issue("filter", exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)],
            ) from None
        if result.kind != "boolean" or result.is_list:
            raise ServiceError(
                422,
                "validation_failed",
                [
                    _issue(
                        "filter",
                        "filter_not_boolean",
                        "筛选条件必须是条件（真/假）",
                        "The filter must be a condition (true/false)",
                    )
                ],
            )
        try:
            return resolver.formula(source)
        except expr.ExprError as exc:  # a function or list the database cannot compute (SPLIT)
            raise ServiceError(
                422,
                "validation_failed",
                [_issue("filter", exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)],
            ) from None

    def order_by(
        self, sort: str, resolver: Resolver, filter: str | None = None
    ) -> builtins.list[ColumnElement[Any]]:
        """ORDER BY keys of `sort` ("-amount,title") for a page filtered by `filter`, kept per
        layout, sort, hidden fields, time zone and the fields the filter leaves no blank in
        (built per call when the app reads the clock).

        Blanks sort last. A descending key is always ``DESC NULLS LAST``, the order a declared
        index's descending column is built in (`engine.forms.indexes`), so PostgreSQL walks
        that index instead of sorting. Where the filter already excludes blanks of an ascending
        sort field, the key is written without ``NULLS LAST`` (same order), so SQLite walks an
        ascending index forwards; on PostgreSQL ``ASC`` already puts blanks last."""
        nonblank = self._nonblank(filter)
        if self._reads_clock or self._scope_key is None:
            return self._order_by(sort, resolver, nonblank)
        cache = lru_on_layout(self.form, "sorts")
        key = (sort, self.hidden, self.tz, nonblank, self._scope_key)
        found: list[ColumnElement[Any]] | None = cache.get(key)
        if found is None:
            found = self._order_by(sort, resolver, nonblank)
            cache.put(key, found)
        return found

    def _order_by(
        self, sort: str, resolver: Resolver, nonblank: frozenset[str]
    ) -> builtins.list[ColumnElement[Any]]:
        keys: list[ColumnElement[Any]] = []
        for raw in [part.strip() for part in sort.split(",") if part.strip()]:
            descending = raw.startswith("-")
            key = raw.lstrip("-+")
            if key in SORTABLE_SYSTEM:
                value: Any = self.form.table.c[key]
            else:
                field = self.form.fields.get(key)
                if field is None or key in self.hidden or not self.sortable(self.form, field):
                    raise ServiceError(
                        422,
                        "validation_failed",
                        [
                            _issue(
                                "sort",
                                "unknown_sort",
                                f"不能按 {key} 排序",
                                f"Cannot sort by {key}",
                            )
                        ],
                    )
                value = resolver.value(key)
                first = self._sort_first(resolver, field)
                if first is not None:  # text by pinyin, options by their place; then the value
                    keys.append(self._direction(first, descending, key in nonblank))
            keys.append(self._direction(value, descending, key in nonblank))
        keys.append(self.form.table.c._id)  # a stable order for paging
        return keys

    def _sort_first(self, resolver: Resolver, field: FieldLayout) -> ColumnElement[Any] | None:
        """What a sort by `field` orders by before its value (None: the value alone): a text
        field's pinyin key (`engine.forms.sortkey`), a select's option place, and the same for a
        lookup of one through to-one relations, read through the lookup's own subquery (the
        target's key column; no per-row Python)."""
        if field.sort_column is not None:
            column: ColumnElement[Any] = self.form.table.c[field.sort_column]
            return column
        if isinstance(field.spec, LookupField):
            if not self._lookup_chain(self.form, field):
                return None
            return resolver.sorting(_sorted_by).value(field.key)  # type: ignore[no-any-return]
        if field.source == "column":
            return _sort_value(field, self.form.table.c[field.column])  # type: ignore[no-any-return]
        return None

    def _lookup_chain(self, container: Container, field: FieldLayout) -> bool:
        """Whether lookup `field` reads, through to-one relations only, a stored text or select
        field (whose key or option place a sort can read in the same subquery)."""
        while isinstance(field.spec, LookupField):
            via = container.fields.get(field.spec.relation)
            if via is None or via.source != "column" or not isinstance(via.spec, RelationField):
                return False
            container = self.app.forms[via.spec.target]
            found = container.fields.get(field.spec.field)
            if found is None:
                return False
            field = found
        return field.source == "column" and (field.sort_column is not None or _is_select(field))

    @staticmethod
    def _direction(value: Any, descending: bool, nonblank: bool) -> ColumnElement[Any]:
        """A sort key: descending always ``DESC NULLS LAST`` (the order declared indexes are
        built in); ascending without ``NULLS LAST`` where the filter leaves no blank."""
        if descending:
            return value.desc().nulls_last()  # type: ignore[no-any-return]
        if nonblank:
            return value.asc()  # type: ignore[no-any-return]
        return value.asc().nulls_last()  # type: ignore[no-any-return]

    def search_sql(self, q: str, resolver: Resolver) -> ColumnElement[bool]:
        title = self.form.title_field
        if title is None or title in self.hidden:
            return literal(False)
        return func.lower(resolver.value(title)).contains(q.lower(), autoescape=True)

    def related_sql(self, key: str, record_id: int) -> ColumnElement[bool]:
        """Records whose relation field `key` points to record `record_id` of its target form
        (a record drawer's related records); 422 for a field that is no relation I may see."""
        layout = self.form.fields.get(key)
        if layout is None or not isinstance(layout.spec, RelationField) or key in self.hidden:
            raise ServiceError(
                422,
                "validation_failed",
                [
                    _issue(
                        "related",
                        "not_a_relation",
                        f"字段 {key} 不是可查看的关联字段",
                        f"Field {key} is not a relation you may see",
                    )
                ],
            )
        table = self.form.table
        if layout.link is not None:  # a to-many relation lives in its link table
            link = layout.link
            condition: ColumnElement[bool] = exists(
                select(link.c._source_id).where(
                    link.c._source_id == table.c._id, link.c._target_id == record_id
                )
            )
        else:
            condition = table.c[layout.column] == record_id
        target = self.app.forms[layout.spec.target]
        access, _ = target_access(self.access, target)
        if access is not None:  # the related record itself must be one the caller may see
            alias = target.table.alias()
            scope = access.where(
                "view",
                alias,
                Resolver(self.app, target, alias, ctx=self.ctx, who=self.who),
            )
            condition = and_(
                condition, exists(select(alias.c._id).where(alias.c._id == record_id, scope))
            )
        return condition

    def page_statements(
        self,
        *,
        filter: str | None = None,
        sort: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
        count: bool = True,
        deleted: bool = False,
        ids: Sequence[int] | None = None,
        action: str = "view",
        related: tuple[str, int] | None = None,
    ) -> PageStatements:
        """The statements of a page of the records the caller may see (see `Reader.list`) and
        the parameters to run them with; `limit` and `offset` are taken as given."""
        one = ids is not None and len(ids) == 1
        params = {"jimu_record_id": ids[0]} if ids is not None and one else {}
        # Callers without row scopes (administrators, the engine itself) reuse whole statements:
        # executing the same statement object again skips building it and its cache key. Scoped
        # callers' statements hold their own scope, so they are built per call.
        key = (filter, sort or "", deleted, action, one, count, limit, offset, self.tz)
        cacheable = (
            self.access is None
            and not q
            and related is None
            and (ids is None or one)
            and not self._reads_clock
        )
        cache = lru_on_layout(self.form, "pages")
        found: _Page | None = cache.get(key) if cacheable else None
        if found is None:
            found = self._page_statements(
                filter, sort, q, ids, count, deleted, action, limit, offset, related
            )
            if cacheable and found.stable:
                cache.put(key, found)
        return PageStatements(found.page, found.count, params)

    def _page_statements(
        self,
        filter: str | None,
        sort: str | None,
        q: str | None,
        ids: Sequence[int] | None,
        count: bool,
        deleted: bool,
        action: str,
        limit: int,
        offset: int,
        related: tuple[str, int] | None = None,
    ) -> _Page:
        statement, resolver = self.base_select(deleted=deleted, action=action)
        conditions: list[ColumnElement[Any]] = []
        stable = True
        if filter:
            conditions.append(self.filter_sql(filter, resolver))
            filter_key = self._filter_key(filter)
            checked = (
                lru_on_layout(self.form, "filters").get(filter_key)
                if filter_key is not None
                else None
            )
            stable = checked is not None and checked.sql is not None
        if q:
            conditions.append(self.search_sql(q, resolver))
        if related is not None:
            conditions.append(self.related_sql(*related))
        if ids is not None and len(ids) == 1:
            conditions.append(self.form.table.c._id == bindparam("jimu_record_id"))
        elif ids is not None:
            conditions.append(self.form.table.c._id.in_(list(ids)))
        if conditions:
            statement = statement.where(and_(*conditions))
        counted = None
        if count:
            counted = (
                select(func.count())
                .select_from(self.form.table)
                .where(self.visible(resolver, deleted=deleted, action=action), *conditions)
            )
        keys = self.order_by(sort or "", resolver, filter)
        backwards = self._backwards(sort, filter) if ids is None else None
        if backwards is not None:
            where = [self.visible(resolver, deleted=deleted, action=action), *conditions]
            statement = self._blanks_apart(backwards, where, resolver, limit, offset)
        elif LATE_LOOKUP and sort and ids is None and self._late_lookup(keys):
            # Late row lookup: the sort runs over the sort keys and `_id` alone, and only the
            # page's rows are read whole (and joined to their relations' titles).
            table = self.form.table
            chosen = (
                select(table.c._id)
                .where(self.visible(resolver, deleted=deleted, action=action), *conditions)
                .order_by(*keys)
                .limit(limit)
                .offset(offset)
                .subquery("jimu_page")
            )
            shape = self.page_shape(resolver)
            statement = (
                select(*shape.columns)
                .select_from(chosen.join(shape.from_, table.c._id == chosen.c._id))
                .order_by(*keys)
            )
        else:
            statement = statement.order_by(*keys).limit(limit).offset(offset)
        return _Page(statement, counted, stable)

    def _backwards(self, sort: str | None, filter: str | None) -> FieldLayout | None:
        """The text field of a descending sort by it alone (``-name``) that its ascending sort
        index serves walked backwards (`_blanks_apart`); None for every other sort (a declared
        descending combination is walked forwards by the plain ORDER BY)."""
        if not sort or not sort.startswith("-") or "," in sort:
            return None
        field = self.form.fields.get(sort[1:].strip())
        if field is None or field.sort_column is None or field.key in self.hidden:
            return None
        forwards = [(field.sort_column, False), (field.column, False)]
        backwards = [(field.sort_column, True), (field.column, True)]
        heads = on_layout(
            self.form, "index_heads", lambda: [list(i.columns[:2]) for i in self.form.indexes]
        )
        return field if forwards in heads and backwards not in heads else None

    def _blanks_apart(
        self,
        field: FieldLayout,
        where: builtins.list[ColumnElement[Any]],
        resolver: Resolver,
        limit: int,
        offset: int,
    ) -> Select[Any]:
        """A page sorted by text field `field` descending, its blanks last, read from its
        ascending sort index walked backwards: no single index order is "descending, blanks
        last" on PostgreSQL (an ascending index walked backwards puts them first), so the
        records with a key and the blank ones are each picked apart (the first `limit +
        offset` of each: the keyed ones in the database's plain ``DESC`` order, which no
        blank disturbs, so the index is walked backwards, equal values by id as in every sort;
        the blank ones (stored as NULL: a text write makes "" blank) by id, the index's own
        order) and only those are put in order, keyed ones first, then blanks, as ``ORDER BY
        key DESC NULLS LAST, value DESC NULLS LAST, _id`` gives them."""
        table = self.form.table
        assert field.sort_column is not None
        key, value = table.c[field.sort_column], table.c[field.column]
        enough = limit + offset
        parts = []
        for number, condition, order in (
            (0, key.is_not(None), [key.desc(), value.desc(), table.c._id]),
            (1, key.is_(None), [value, table.c._id]),  # blank is NULL: by id, the index order
        ):
            part = (
                select(
                    table.c._id,
                    literal(number).label("jimu_part"),
                    key.label("jimu_key"),
                    value.label("jimu_value"),
                )
                .where(*where, condition)
                .order_by(*order)
                .limit(enough)
                .subquery(f"jimu_part{number}")
            )
            parts.append(select(part))
        chosen = union_all(*parts).subquery("jimu_backwards")
        shape = self.page_shape(resolver)
        return (
            select(*shape.columns)
            .select_from(chosen.join(shape.from_, table.c._id == chosen.c._id))
            .order_by(
                chosen.c.jimu_part,
                chosen.c.jimu_key.desc().nulls_last(),
                chosen.c.jimu_value.desc().nulls_last(),
                chosen.c._id,
            )
            .limit(limit)
            .offset(offset)
        )

    def _late_lookup(self, keys: builtins.list[ColumnElement[Any]]) -> bool:
        """Whether a page sorted by `keys` is read by a late row lookup: when every key is a
        column of the form's own table or a select's option place over one (the inner statement
        needs no join) and no index of the table holds the first key's column (then the database
        may walk that index and stop after the page; the direct statement is as fast and needs no
        second sort). No index holds an option place."""
        table = self.form.table
        first: str | None = None
        for at, key in enumerate(keys):
            element: Any = key
            while isinstance(element, UnaryExpression):  # DESC, NULLS LAST
                element = element.element
            if isinstance(element, Case):  # a select's option place: over its own column
                inner = [c for c in iterate(element) if isinstance(c, ColumnClause)]
                if not inner or any(c.table is not table for c in inner):
                    return False
                continue
            if not isinstance(element, Column) or element.table is not table:
                return False
            if at == 0:
                first = element.name
        if first is None:
            return True
        if first == "_id" or any(f.unique and f.column == first for f in self.form.fields.values()):
            return False
        return not any(
            first == column for index in self.form.indexes for column, _ in index.columns
        )

    # --- the batched statements of a page's multi-valued parts ---------------------------
    def rows_select(self, rows: RowsLayout, ids: builtins.list[int]) -> Select[Any]:
        """Subform rows of the records `ids`: ``_id``, ``_parent_id`` and every scalar value
        (`scalar_columns`), in each record's order."""
        table = rows.table
        resolver = Resolver(self.app, rows, table, ctx=self.ctx, who=self.who, access=self.access)
        return (
            select(table.c._id, table.c._parent_id, *self.scalar_columns(rows, resolver))
            .where(table.c._parent_id.in_(ids))
            .order_by(table.c._parent_id, table.c._seq, table.c._id)
        )

    def links_select(self, field: FieldLayout, ids: builtins.list[int]) -> Select[Any]:
        """The live targets of to-many relation `field` of the records `ids`, in order:
        ``_source_id``, ``_target_id``, ``title``, ``restricted`` (outside the caller's rights)."""
        assert field.link is not None and isinstance(field.spec, RelationField)
        link = field.link
        target = self.app.forms[field.spec.target]
        restricted = self.restricted_sql(target.key, link.c._target_id)
        return (
            select(
                link.c._source_id,
                link.c._target_id,
                self.title_sql(target.key, link.c._target_id).label("title"),
                (literal(False) if restricted is None else restricted).label("restricted"),
            )
            .select_from(link.join(target.table, target.table.c._id == link.c._target_id))
            .where(link.c._source_id.in_(ids), target.table.c._deleted_at.is_(None))
            .order_by(link.c._source_id, link.c._seq)
        )

    def lookups_select(
        self, container: Container, field: FieldLayout, ids: builtins.list[int]
    ) -> Select[Any]:
        """Values of many-relation lookup `field` of the records `ids` (``_source_id``, ``v``),
        read only from the targets the caller may see, in order."""
        spec = field.spec
        assert isinstance(spec, LookupField)
        via = container.fields[spec.relation]
        assert via.link is not None and isinstance(via.spec, RelationField)
        target = self.app.forms[via.spec.target]
        link = via.link
        access, hidden = target_access(self.access, target)
        value = Resolver(
            self.app,
            target,
            target.table,
            ctx=self.ctx,
            who=self.who,
            access=access,
            guarded=hidden,
        ).value(spec.field)
        conditions: list[ColumnElement[bool]] = [
            link.c._source_id.in_(ids),
            target.table.c._deleted_at.is_(None),
        ]
        if access is not None:  # only the targets the caller may see
            conditions.append(
                access.where(
                    "view",
                    target.table,
                    Resolver(self.app, target, target.table, ctx=self.ctx, who=self.who),
                )
            )
        return (
            select(link.c._source_id, value.label("v"))
            .select_from(link.join(target.table, target.table.c._id == link.c._target_id))
            .where(*conditions)
            .order_by(link.c._source_id, link.c._seq)
        )

    def titles_select(self, form_key: str, ids: builtins.list[int]) -> Select[Any]:
        """Records `ids` of form `form_key` as the caller reads them: ``_id``, ``title``,
        ``restricted`` (outside the caller's rights)."""
        table = self.app.forms[form_key].table
        restricted = self.restricted_sql(form_key, table.c._id)
        return select(
            table.c._id,
            self.title_sql(form_key, table.c._id).label("title"),
            (literal(False) if restricted is None else restricted).label("restricted"),
        ).where(table.c._id.in_(sorted(ids)))

    # --- fields -------------------------------------------------------------------------
    def value_owner(self, container: Container, field: FieldLayout) -> FieldLayout | None:
        """The field whose type writes this field's values (a lookup's target, a rollup's field)."""
        spec = field.spec
        if isinstance(spec, LookupField):
            via = container.fields[spec.relation].spec
            assert isinstance(via, RelationField)
            target = self.app.forms[via.target]
            return self.value_owner(target, target.fields[spec.field])
        if isinstance(spec, RollupField):
            if spec.aggregate in ("count", "avg"):
                return None
            via_layout = container.fields[spec.relation]
            inner: Container
            if via_layout.rows is not None:
                inner = via_layout.rows
            else:
                assert isinstance(via_layout.spec, RelationField)
                inner = self.app.forms[via_layout.spec.target]
            return self.value_owner(inner, inner.fields[spec.field])
        if isinstance(spec, FormulaField) and spec.precision is None:
            return None
        return field

    def sortable(self, container: Container, field: FieldLayout) -> bool:
        """Whether records can be ordered by `field` (not by lists, JSON values or layout)."""
        if field.source in ("rows", "links", "none") or self.many_lookup(container, field):
            return False
        owner = self.value_owner(container, field) or field
        return owner.kind.traits.sortable

    def many_lookup(self, container: Container, field: FieldLayout) -> bool:
        """Whether `field` is a lookup through a to-many relation (a list, read by its own
        query)."""
        spec = field.spec
        if not isinstance(spec, LookupField):
            return False
        via = container.fields.get(spec.relation)
        return via is not None and via.source == "links"

    # --- for report compilers -----------------------------------------------------------
    def scoped(
        self,
        *,
        filter: str | None = None,
        q: str | None = None,
        related: tuple[str, int] | None = None,
        deleted: bool = False,
        action: str = "view",
    ) -> Scoped:
        """The records the caller may `action` (live, or binned with `deleted`), filtered like
        a page (`filter`, title search `q`, `related`): what a report selects over. 422 for a
        bad or hidden filter, as for a page."""
        resolver = self.resolver()
        conditions: list[ColumnElement[Any]] = [
            self.visible(resolver, deleted=deleted, action=action)
        ]
        if filter:
            conditions.append(self.filter_sql(filter, resolver))
        if q:
            conditions.append(self.search_sql(q, resolver))
        if related is not None:
            conditions.append(self.related_sql(*related))
        return Scoped(self, resolver, and_(*conditions), filter)


def _sort_value(field: FieldLayout, column: Any) -> Any:
    """What a sort orders stored `column` of `field` by before the value itself (None: the value
    alone): a text field's pinyin key column beside it, a select's option place (its index in the
    options; a value no option has comes after them; blank stays blank, so it sorts last)."""
    if field.sort_column is not None:
        return column.table.c[field.sort_column]
    if _is_select(field):
        options = getattr(field.spec, "options", [])
        places = case(
            {option.value: index for index, option in enumerate(options)},
            value=column,
            else_=len(options),
        )
        return case((column.is_(None), None), else_=places)
    return None


def _is_select(field: FieldLayout) -> bool:
    return field.kind.name == "select" and bool(getattr(field.spec, "options", None))


def _sorted_by(field: FieldLayout, column: Any) -> Any:
    """A `Resolver.sorting` final: `_sort_value` of the column, else the column itself."""
    found = _sort_value(field, column)
    return column if found is None else found


AGGREGATES: dict[str, Callable[[Any], ColumnElement[Any]]] = {
    "count": lambda value: func.count() if value is None else func.count(value),
    "count_distinct": lambda value: func.count(value.distinct()),
    "sum": lambda value: func.sum(value),
    "avg": lambda value: func.avg(value),
    "min": lambda value: func.min(value),
    "max": lambda value: func.max(value),
}
"""What `Scoped.grouped` computes per group: `count` with no value counts records (with one, the
records where it is not blank); the others skip blanks, as SQL does."""


@dataclass(frozen=True)
class Scoped:
    """The records of one form that one caller may read, filtered (`FormSql.scoped`): a WHERE
    condition (`where`, over `table`) that holds the caller's row scope, and the values a report
    may select, group and aggregate over them. Values read through relations carry the
    caller's rights on the target form (a record outside them reads as blank); every field
    hidden from the caller, here or in a form reached through a relation, is refused (422)."""

    sql: FormSql
    resolver: Resolver
    where: ColumnElement[bool]
    filter: str | None = None  # the filter in `where` (sorts drop NULLS LAST where it can)

    @property
    def table(self) -> Any:
        """The form's record table (the FROM of every select)."""
        return self.sql.form.table

    def value(self, key: str, where: str = "field") -> ColumnElement[Any]:
        """Field `key`'s value of each record (or system column ``_id``, ``_owner``,
        ``_created_by``, ``_updated_by``, ``_created_at``, ``_updated_at``, ``_version``). 422
        at `where` for an unknown field, one hidden from the caller, and one without a single
        value per record (subforms, to-many relations and their lookups, layout)."""
        if key in READABLE_SYSTEM:
            column: ColumnElement[Any] = self.table.c[key]
            return column
        field = self.sql.form.fields.get(key)
        if field is None:
            raise ServiceError(
                422,
                "validation_failed",
                [_issue(where, "unknown_field", f"未知字段 {key}", f"Unknown field {key}")],
            )
        self.sql._refuse_hidden(frozenset({(key,)}), where, reading=True)
        if field.source in ("rows", "links", "none") or self.sql.many_lookup(self.sql.form, field):
            raise ServiceError(
                422,
                "validation_failed",
                [
                    _issue(
                        where,
                        "not_a_value",
                        f"字段 {key} 不是每条记录一个值",
                        f"Field {key} does not hold one value per record",
                    )
                ],
            )
        found: ColumnElement[Any] = self.resolver.value(key)
        return found

    def formula(self, source: str, where: str = "expr") -> ColumnElement[Any]:
        """A formula over each record (``customer.level``, ``YEAR(signed_date)``) as SQL; 422 at
        `where` when it is invalid, reads a field hidden from the caller (through relations
        too) or needs what the database cannot compute."""
        try:
            tree = expr.checked(source, self.sql.form.schema)
        except expr.ExprError as exc:
            raise ServiceError(
                422,
                "validation_failed",
                [_issue(where, exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)],
            ) from None
        self.sql._refuse_hidden(ref_paths(tree), where, reading=True)
        try:
            return self.resolver.formula(source)
        except expr.ExprError as exc:
            raise ServiceError(
                422,
                "validation_failed",
                [_issue(where, exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)],
            ) from None

    def sort_value(self, key: str) -> ColumnElement[Any] | None:
        """What a sort by lookup `key` orders by before its value (the target's pinyin key or
        option place, `FormSql.order_by`); None for any other field. The caller has already
        read the field through `value` (hidden ones are refused there)."""
        field = self.sql.form.fields.get(key)
        if field is None or not isinstance(field.spec, LookupField):
            return None
        return self.sql._sort_first(self.resolver, field)

    def rows(
        self, columns: Mapping[str, ColumnElement[Any]], *, sort: str | None = None
    ) -> Select[Any]:
        """``SELECT columns FROM form WHERE scope AND filter``: one row per record, each column
        labelled by its key; ordered like a page by `sort` (``"-amount,title"``; 422 at
        ``sort`` for a field that cannot be sorted or is hidden) when given."""
        labelled = [value.label(name) for name, value in columns.items()]
        statement = select(*labelled).select_from(self.table).where(self.where)
        if sort is not None:
            statement = statement.order_by(*self.sql.order_by(sort, self.resolver, self.filter))
        return statement

    def grouped(
        self,
        by: Mapping[str, ColumnElement[Any]],
        measures: Mapping[str, tuple[str, ColumnElement[Any] | None]],
    ) -> Select[Any]:
        """One row per distinct combination of the values `by` (columns labelled by their keys),
        with each measure ``name: (aggregate, value)`` (`AGGREGATES`; ``("count", None)``
        counts records) computed over the group's records. The values are computed once per
        record in a derived table and grouped by its columns, so any value (a lookup's
        subquery, a formula) groups alike on SQLite and PostgreSQL. Blanks form a group."""
        unknown = [aggregate for aggregate, _ in measures.values() if aggregate not in AGGREGATES]
        if unknown:
            raise ValueError(f"unknown aggregate {unknown[0]!r}")
        inner: dict[str, ColumnElement[Any]] = {
            f"g{i}": value for i, value in enumerate(by.values())
        }
        for i, (_, value) in enumerate(measures.values()):
            if value is not None:
                inner[f"m{i}"] = value
        if not inner:
            inner["g"] = self.table.c._id
        derived = self.rows(inner).subquery("jimu_rows")
        groups = [derived.c[f"g{i}"] for i in range(len(by))]
        columns: list[ColumnElement[Any]] = [
            column.label(name) for column, name in zip(groups, by, strict=True)
        ]
        for i, (name, (aggregate, value)) in enumerate(measures.items()):
            column = None if value is None else derived.c[f"m{i}"]
            columns.append(AGGREGATES[aggregate](column).label(name))
        statement = select(*columns).select_from(derived)
        return statement.group_by(*groups) if groups else statement


@dataclass(frozen=True)
class TitleJoin:
    """A to-one relation's target read through a LEFT JOIN (`FormSql.title_join`): the joined
    alias and its ON condition, the title as the caller reads it, and whether the record is
    outside the caller's rights (None: never)."""

    alias: Any
    on: ColumnElement[bool]
    title: ColumnElement[Any]
    restricted: ColumnElement[Any] | None


@dataclass(frozen=True)
class PageShape:
    """A page statement's columns (labelled, see `FormSql.page_columns`) and its FROM: the
    form's table LEFT JOINed to the targets of its to-one relations (titles)."""

    columns: builtins.list[Any]
    from_: Any


@dataclass(frozen=True)
class PageStatements:
    """A page statement (system columns and field values labelled, see `page_columns`), its
    count statement when asked for, and the parameters to run both with."""

    page: Select[Any]
    count: Select[Any] | None
    params: dict[str, Any]


@dataclass(frozen=True)
class _Page:
    """The statements of one kind of page (and its count), and whether they may be kept (not
    when the filter reads the clock)."""

    page: Select[Any]
    count: Select[Any] | None
    stable: bool


@dataclass(frozen=True)
class _Filter:
    """A checked filter: the field paths it reads, its SQL unless that depends on the clock, and
    the fields it leaves no blank in."""

    refs: frozenset[tuple[str, ...]]
    sql: ColumnElement[Any] | None
    nonblank: frozenset[str]


ORDERING = frozenset({"<", "<=", ">", ">="})


def nonblank_keys(tree: ast.Node) -> frozenset[str]:
    """Fields of the form that no record matching the filter `tree` leaves blank: those a
    top-level AND term orders against anything (an ordering with a blank side is FALSE) or
    equates with a number or non-empty text (blank equals only blank). Terms under OR, NOT or
    IF say nothing."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Binary) and node.op == "AND":
            stack += [node.left, node.right]
        elif isinstance(node, ast.Call) and node.name == "AND":
            stack.extend(node.args)
        elif isinstance(node, ast.Binary) and (node.op in ORDERING or node.op == "="):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if not isinstance(side, ast.Ref) or len(side.path or side.names) != 1:
                    continue
                if (
                    node.op in ORDERING
                    or isinstance(other, ast.NumberLit)
                    or (isinstance(other, ast.TextLit) and other.value)
                ):
                    found.add((side.path or side.names)[0])
    return frozenset(found)


def ref_paths(tree: ast.Node) -> frozenset[tuple[str, ...]]:
    """Every field path a checked formula reads (``("customer", "phone")``)."""
    found: set[tuple[str, ...]] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref):
            found.add(tuple(node.path or node.names))
        stack.extend(ast.children(node))
    return frozenset(found)


def hidden_prefix(
    app: AppLayout,
    container: Container,
    hidden: frozenset[str],
    access: Access | None,
    path: tuple[str, ...],
) -> str | None:
    """The part of field `path` of `container` up to the first field hidden from the holder of
    `access` (`hidden`: those of `container`), relations followed with their rights on the
    target form; None when every field on the way is visible."""
    for depth, key in enumerate(path):
        field = container.fields.get(key)
        if field is None:
            if isinstance(container, RowsLayout) and container.parent is not None:
                parent = container.parent  # a row formula reading its record's fields
                found = hidden_prefix(
                    app,
                    parent,
                    access.hidden() if access is not None else frozenset(),
                    access,
                    path[depth:],
                )
                return None if found is None else ".".join([*path[:depth], found])
            return None
        if key in hidden:
            return ".".join(path[: depth + 1])
        if isinstance(field.spec, RelationField):
            container = app.forms[field.spec.target]
            access, hidden = target_access(access, container)
        elif field.rows is not None:
            container, hidden = field.rows, frozenset()
        else:
            return None
    return None


def reaches_other_forms(form: FormLayout) -> bool:
    """Whether the form (or one of its subforms) has a relation, so that reading it may read
    other forms (kept per layout)."""

    def build() -> bool:
        containers: list[Container] = [
            form,
            *(f.rows for f in form.fields.values() if f.rows is not None),
        ]
        return any(isinstance(f.spec, RelationField) for c in containers for f in c.fields.values())

    return on_layout(form, "reaches_other_forms", build)


def expr_text_type() -> Any:
    from sqlalchemy import Text

    return Text()


__all__ = [
    "AGGREGATES",
    "MAX_LIMIT",
    "FormSql",
    "PageShape",
    "PageStatements",
    "Scoped",
    "TitleJoin",
    "hidden_prefix",
    "nonblank_keys",
    "reaches_other_forms",
    "ref_paths",
]
