"""Reading records: one SELECT per page, plus one batched query per multi-valued part.

A page of records is one statement over the form's table with every scalar value (columns,
read-time formulas, lookups, rollups, relation titles) as a column, filtered, sorted and paged
in the database. Subform rows, many-valued relations and many-relation lookups, people names
and file metadata are each fetched by one more query for the whole page (``WHERE ... IN``), so
the number of statements never grows with the page size.

Relations are read with the caller's rights on the target form (issue 10, `Resolver`): a
related record outside the caller's view scope reads as ``{"_id": 12, "title": null,
"restricted": true}`` (also when the target's title field is hidden from them), lookups
through it are blank, to-many relations and rollups count only the targets in scope, and
filters over a path that reaches a field hidden in the target are refused like own hidden
fields. SQL built with those rights is kept per caller fingerprint (`_scope_key`).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, exists, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import True_

from engine import expr
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.core.moments import datetime_json
from engine.expr import ast
from engine.forms.access import Access
from engine.forms.cache import calls_clock, lru_on_layout, on_layout, reads_clock
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.layout import AppLayout, Container, FieldLayout, FormLayout, RowsLayout
from engine.forms.resolve import Resolver, Who, target_access
from engine.store.models import Department, StoredFile, User
from engine.store.records import SYSTEM_FIELDS

PEOPLE = {"user": "user", "users": "user", "department": "department", "departments": "department"}
FILE_TYPES = frozenset({"attachment", "image", "signature"})
MAX_LIMIT = 1000
UNSORTABLE_TYPES = frozenset(
    {
        "multiselect",
        "users",
        "departments",
        "address",
        "location",
        "attachment",
        "image",
        "signature",
        "subform",
        "section",
    }
)
SORTABLE_SYSTEM = {"_id", "_created_at", "_updated_at", "_version"}


@dataclass(frozen=True)
class Page:
    """One page of records (record JSON) and the total count when asked for."""

    items: list[dict[str, Any]]
    total: int | None


def _issue(
    path: str, code: str, zh: str, en: str, line: int | None = None, column: int | None = None
) -> Issue:
    return Issue(path, code, zh, en, line, column)


class Reader:
    """Reads one form's records as DESIGN §12 record JSON."""

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
        if self.access is None or not _reaches_other_forms(self.form):
            return ()
        if getattr(self.access, "everything", False):
            return ()
        fingerprint = getattr(self.access, "fingerprint", None)
        return None if fingerprint is None else ("rights", fingerprint)

    # --- the page statement -------------------------------------------------------------
    def scalar_columns(
        self, container: Container, resolver: Resolver
    ) -> builtins.list[ColumnElement[Any]]:
        """Every scalar value of a container's records, labelled by field key."""
        columns: list[ColumnElement[Any]] = []
        for field in container.fields.values():
            if field.source in ("rows", "links", "none") or self._many_lookup(container, field):
                continue
            if container is self.form and field.key in self.hidden:
                continue
            value = resolver.value(field.key)
            columns.append(value.label(field.key))
            if isinstance(field.spec, RelationField):
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
        table = self.form.table
        resolver = self.resolver()
        statement = select(*self._shape(resolver).columns).select_from(table)
        return statement.where(self.visible(resolver, deleted=deleted, action=action)), resolver

    def _shape(self, resolver: Resolver) -> _Shape:
        """The page's columns and how each becomes record JSON, for this caller's hidden fields.

        Kept per layout, hidden fields, time zone and, when the form has relations, the caller's
        fingerprint (titles and lookups hold the targets' scopes): the columns depend on nothing
        else unless a read-time formula of the app reads the clock (then they are built per call)."""
        key = ("shape", self.hidden, self.tz, self._scope_key)
        if self._reads_clock or self._scope_key is None:
            return self._build_shape(resolver)
        cache = lru_on_layout(self.form, "reader")
        found: _Shape | None = cache.get(key)
        if found is None:
            found = self._build_shape(resolver)
            cache.put(key, found)
        return found

    def _build_shape(self, resolver: Resolver) -> _Shape:
        table = self.form.table
        columns: list[Any] = [table.c[name] for name in SYSTEM_FIELDS]
        slots: list[tuple[str, int, int, Any]] = []
        for field in self.form.fields.values():
            if field.source == "none" or field.key in self.hidden:
                continue
            spec = field.spec
            if field.source in ("rows", "links") or self._many_lookup(self.form, field):
                slots.append((field.key, _EXTRA, -1, None))
                continue
            value = resolver.value(field.key)
            columns.append(value.label(field.key))
            index = len(columns) - 1
            if isinstance(spec, RelationField):
                columns.append(self.title_sql(spec.target, value).label(f"{field.key}#title"))
                restricted = self.restricted_sql(spec.target, value)
                if restricted is not None:
                    columns.append(restricted.label(f"{field.key}#restricted"))
                slots.append(
                    (field.key, _RELATION, index, None if restricted is None else index + 2)
                )
            elif spec.type in PEOPLE:
                slots.append(
                    (
                        field.key,
                        _PEOPLE,
                        index,
                        (PEOPLE[spec.type], self.value_writer(self.form, field)),
                    )
                )
            elif spec.type in FILE_TYPES:
                slots.append((field.key, _FILES, index, None))
            else:
                slots.append((field.key, _VALUE, index, self.value_writer(self.form, field)))
        return _Shape(columns, slots, any(slot[1] == _EXTRA for slot in slots))

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

    def _refuse_hidden(self, paths: frozenset[tuple[str, ...]], where: str) -> None:
        """422 for the first of `paths` that reaches a field hidden from the caller."""
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
                            f"不能按无权查看的字段 {reached} 筛选",
                            f"Cannot filter by {reached}, which you may not see",
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

        Blanks sort last. Where the filter already excludes blanks of a sort field, the key is
        written without ``NULLS LAST``: the order is the same, and PostgreSQL can then walk a
        plain ascending index backwards for a descending sort (and SQLite forwards for an
        ascending one) instead of sorting every matching row."""
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
            if key in nonblank:
                keys.append(value.desc() if descending else value.asc())
            else:
                keys.append(value.desc().nulls_last() if descending else value.asc().nulls_last())
        keys.append(self.form.table.c._id)  # a stable order for paging
        return keys

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

    def list(
        self,
        conn: Connection,
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
    ) -> Page:
        """A page of the records the caller may see: filtered, searched, sorted and paged in the
        database; `related` (relation key, record id) keeps the records pointing to that record."""
        limit, offset = max(0, min(limit, MAX_LIMIT)), max(0, offset)
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
        total = None if found.count is None else int(conn.execute(found.count, params).scalar_one())
        return Page(
            self._page_json(conn, found.shape, conn.execute(found.page, params).all()), total
        )

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
        statement = (
            statement.order_by(*self.order_by(sort or "", resolver, filter))
            .limit(limit)
            .offset(offset)
        )
        return _Page(statement, counted, self._shape(resolver), stable)

    def _page_json(
        self, conn: Connection, shape: _Shape, rows: Sequence[Any]
    ) -> builtins.list[dict[str, Any]]:
        """Page rows (tuples in the shape's column order) -> record JSON, with batched extras."""
        extras = self._extras(conn, self.form, [row[0] for row in rows]) if shape.extras else {}
        people = _PeopleNames()
        files = _FileInfo()
        items = []
        slots = shape.slots
        for row in rows:
            created, updated, deleted = row[1], row[3], row[7]
            item: dict[str, Any] = {
                "_id": row[0],
                "_created_at": None if created is None else datetime_json(created),
                "_created_by": row[2],
                "_updated_at": None if updated is None else datetime_json(updated),
                "_updated_by": row[4],
                "_owner": row[5],
                "_version": row[6],
                "_deleted_at": None if deleted is None else datetime_json(deleted),
            }
            for key, kind, index, extra in slots:
                if kind == _VALUE:
                    item[key] = extra(row[index])
                elif kind == _RELATION:
                    raw = row[index]
                    if raw is None:
                        item[key] = None
                    elif extra is not None and row[extra]:
                        item[key] = {"_id": raw, "title": None, "restricted": True}
                    else:
                        item[key] = {"_id": raw, "title": _title(row[index + 1])}
                elif kind == _PEOPLE:
                    value = extra[1](row[index])
                    people.add(extra[0], value)
                    item[key] = value
                elif kind == _FILES:
                    item[key] = files.add(row[index])
                else:
                    item[key] = self._extra_json(
                        self.form.fields[key], extras[key].get(row[0], []), people, files
                    )
            items.append(item)
        people.fill(conn)
        files.fill(conn)
        return items

    def _extra_json(
        self, field: FieldLayout, value: Any, people: _PeopleNames, files: _FileInfo
    ) -> Any:
        if field.source == "rows":
            assert field.rows is not None
            return [
                {
                    "_id": sub["_id"],
                    **self._fields_json(field.rows, sub, sub.pop("#extras", {}), people, files),
                }
                for sub in value
            ]
        return value

    def get(
        self, conn: Connection, record_id: int, *, deleted: bool = False, action: str = "view"
    ) -> dict[str, Any]:
        """One record as JSON; 404 when it does not exist, is in the recycle bin or is not
        visible to the caller (the three are never told apart)."""
        page = self.list(
            conn, ids=[record_id], count=False, limit=1, deleted=deleted, action=action
        )
        if not page.items:
            raise not_found()
        return page.items[0]

    def history_json(
        self, conn: Connection, entries: builtins.list[dict[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        """A record's history entries (`engine.forms.records.history`) as the caller may read
        them. A diff holds values as they were read, with every right, when the change was
        made; so for a caller with restricted rights each related record's title is read again
        with their rights now (restricted when outside them, blank when since deleted), and
        values read through a relation (lookups, rollups and formulas over one) are left out."""
        if self.access is None or not _reaches_other_forms(self.form):
            return entries
        relations = {
            k: f.spec.target
            for k, f in self.form.fields.items()
            if isinstance(f.spec, RelationField)
        }
        through = {
            k
            for k in self.form.fields
            if k not in relations and _reads_relation(self.form, k, set())
        }
        wanted: dict[str, set[int]] = defaultdict(set)
        for entry in entries:
            for key, change in entry["changes"].items():
                if key in relations and isinstance(change, list):
                    wanted[relations[key]].update(_related_ids(change))
        titles: dict[tuple[str, int], dict[str, Any]] = {}
        for form_key, found in wanted.items():
            table = self.app.forms[form_key].table
            restricted = self.restricted_sql(form_key, table.c._id)
            statement = select(
                table.c._id,
                self.title_sql(form_key, table.c._id),
                literal(False) if restricted is None else restricted,
            ).where(table.c._id.in_(sorted(found)))
            for record_id, title, outside in conn.execute(statement):
                titles[(form_key, record_id)] = (
                    {"_id": record_id, "title": None, "restricted": True}
                    if outside
                    else {"_id": record_id, "title": _title(title)}
                )

        def retitled(form_key: str, value: Any) -> Any:
            if isinstance(value, list):
                return [retitled(form_key, item) for item in value]
            if isinstance(value, dict) and type(value.get("_id")) is int:
                return titles.get((form_key, value["_id"]), {"_id": value["_id"], "title": None})
            return value

        for entry in entries:
            changes = entry["changes"]
            entry["changes"] = {
                key: [retitled(relations[key], side) for side in change]
                if key in relations and isinstance(change, list)
                else change
                for key, change in changes.items()
                if key not in through
            }
        return entries

    # --- JSON ----------------------------------------------------------------------------
    def _fields_json(
        self,
        container: Container,
        row: dict[str, Any],
        extras: dict[str, dict[int, Any]],
        people: _PeopleNames,
        files: _FileInfo,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        record_id = row["_id"]
        for field in container.fields.values():
            spec = field.spec
            if field.source == "none" or (container is self.form and field.key in self.hidden):
                continue
            if field.key in extras:
                value = extras[field.key].get(record_id, [])
                if field.source == "rows":
                    assert field.rows is not None
                    value = [
                        {
                            "_id": sub["_id"],
                            **self._fields_json(
                                field.rows, sub, sub.pop("#extras", {}), people, files
                            ),
                        }
                        for sub in value
                    ]
                result[field.key] = value
                continue
            raw = row.get(field.key)
            if isinstance(spec, RelationField):
                if raw is None:
                    result[field.key] = None
                elif row.get(f"{field.key}#restricted"):
                    result[field.key] = {"_id": raw, "title": None, "restricted": True}
                else:
                    result[field.key] = {"_id": raw, "title": _title(row.get(f"{field.key}#title"))}
                continue
            value = self.value_json(container, field, raw)
            if spec.type in PEOPLE:
                people.add(PEOPLE[spec.type], value)
            elif spec.type in FILE_TYPES:
                value = files.add(raw)
            result[field.key] = value
        return result

    def value_json(self, container: Container, field: FieldLayout, raw: Any) -> Any:
        """A value read from SQL as record JSON, written by the field that owns the value."""
        return self.value_writer(container, field)(raw)

    def value_writer(self, container: Container, field: FieldLayout) -> Callable[[Any], Any]:
        """How `value_json` writes `field`'s values (resolved once per field layout)."""

        def build() -> Callable[[Any], Any]:
            owner = self.value_owner(container, field)
            return _encode if owner is None else owner.write_json

        return on_layout(field, "value_writer", build)

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
        if spec.type == "formula" and getattr(spec, "precision", None) is None:
            return None
        return field

    def sortable(self, container: Container, field: FieldLayout) -> bool:
        """Whether records can be ordered by `field` (not by lists, JSON values or layout)."""
        if field.source in ("rows", "links", "none") or self._many_lookup(container, field):
            return False
        owner = self.value_owner(container, field) or field
        return owner.spec.type not in UNSORTABLE_TYPES

    def _many_lookup(self, container: Container, field: FieldLayout) -> bool:
        spec = field.spec
        if not isinstance(spec, LookupField):
            return False
        via = container.fields.get(spec.relation)
        return via is not None and via.source == "links"

    def _extras(
        self, conn: Connection, container: Container, ids: builtins.list[int]
    ) -> dict[str, dict[int, Any]]:
        """Subform rows, relation lists and many-relation lookups of the records `ids`."""
        extras: dict[str, dict[int, Any]] = {}
        if not ids:
            return extras
        for field in container.fields.values():
            if container is self.form and field.key in self.hidden:
                continue
            if field.source == "rows":
                assert field.rows is not None
                extras[field.key] = self._rows(conn, field.rows, ids)
            elif field.source == "links":
                extras[field.key] = self._links(conn, field, ids)
            elif self._many_lookup(container, field):
                extras[field.key] = self._lookups(conn, container, field, ids)
        return extras

    def _rows(self, conn: Connection, rows: RowsLayout, ids: builtins.list[int]) -> dict[int, Any]:
        table = rows.table
        resolver = Resolver(self.app, rows, table, ctx=self.ctx, who=self.who, access=self.access)
        statement = (
            select(table.c._id, table.c._parent_id, *self.scalar_columns(rows, resolver))
            .where(table.c._parent_id.in_(ids))
            .order_by(table.c._parent_id, table.c._seq, table.c._id)
        )
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        result = [dict(row._mapping) for row in conn.execute(statement)]
        sub_extras = self._extras(conn, rows, [row["_id"] for row in result])
        for row in result:
            row["#extras"] = sub_extras
            found[row["_parent_id"]].append(row)
        return found

    def _links(
        self, conn: Connection, field: FieldLayout, ids: builtins.list[int]
    ) -> dict[int, Any]:
        assert field.link is not None and isinstance(field.spec, RelationField)
        link = field.link
        target = self.app.forms[field.spec.target]
        restricted = self.restricted_sql(target.key, link.c._target_id)
        statement = (
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
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for source, target_id, title, outside in conn.execute(statement):
            if outside:
                found[source].append({"_id": target_id, "title": None, "restricted": True})
            else:
                found[source].append({"_id": target_id, "title": _title(title)})
        return found

    def _lookups(
        self, conn: Connection, container: Container, field: FieldLayout, ids: builtins.list[int]
    ) -> dict[int, Any]:
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
        statement = (
            select(link.c._source_id, value.label("v"))
            .select_from(link.join(target.table, target.table.c._id == link.c._target_id))
            .where(*conditions)
            .order_by(link.c._source_id, link.c._seq)
        )
        owner = self.value_owner(target, target.fields[spec.field])
        found: dict[int, list[Any]] = defaultdict(list)
        for source, raw in conn.execute(statement):
            found[source].append(owner.kind.to_json(owner.spec, raw) if owner else expr.encode(raw))
        return found


def _encode(raw: Any) -> Any:
    return expr.encode(raw) if raw is not None else None


# What a page column becomes in record JSON (`Reader._shape`).
_VALUE, _RELATION, _PEOPLE, _FILES, _EXTRA = range(5)


@dataclass(frozen=True)
class _Shape:
    """A page statement's columns (system columns first) and, per visible field in form order,
    (key, kind, column index, writer): how its record JSON is made."""

    columns: builtins.list[Any]
    slots: builtins.list[tuple[str, int, int, Any]]
    extras: bool


@dataclass(frozen=True)
class _Page:
    """The statements of one kind of page (and its count), their shape, and whether they may be
    kept (not when the filter reads the clock)."""

    page: Select[Any]
    count: Select[Any] | None
    shape: _Shape
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


def _related_ids(change: builtins.list[Any]) -> builtins.list[int]:
    """The record ids in a history diff's [before, after] of a relation field."""
    found: list[int] = []
    for side in change:
        for item in side if isinstance(side, list) else [side]:
            if isinstance(item, dict) and type(item.get("_id")) is int:
                found.append(item["_id"])
    return found


def _reads_relation(container: Container, key: str, seen: set[tuple[int, str]]) -> bool:
    """Whether field `key` of `container` is computed from something read through a relation."""
    if (id(container), key) in seen:
        return False
    seen.add((id(container), key))
    field = container.fields.get(key)
    if field is None:
        if isinstance(container, RowsLayout) and container.parent is not None:
            return _reads_relation(container.parent, key, seen)
        return False
    spec = field.spec
    if isinstance(spec, LookupField):
        return True
    if isinstance(spec, RollupField):
        via = container.fields.get(spec.relation)
        if via is None or via.rows is None:
            return True
        return _reads_relation(via.rows, spec.field, seen)
    source = getattr(spec, "expr", None) if spec.type == "formula" else None
    if not isinstance(source, str):
        return False
    try:
        paths = ref_paths(expr.checked(source, container.schema))
    except (expr.ExprError, ValueError):
        return True
    for path in paths:
        ref = container.fields.get(path[0])
        if ref is not None and isinstance(ref.spec, RelationField) and len(path) > 1:
            return True
        if ref is not None and ref.rows is not None and len(path) > 1:
            if _reads_relation(ref.rows, path[1], seen):
                return True
        elif _reads_relation(container, path[0], seen):
            return True
    return False


def _reaches_other_forms(form: FormLayout) -> bool:
    """Whether the form (or one of its subforms) has a relation, so that reading it may read
    other forms (kept per layout)."""

    def build() -> bool:
        containers: list[Container] = [
            form,
            *(f.rows for f in form.fields.values() if f.rows is not None),
        ]
        return any(isinstance(f.spec, RelationField) for c in containers for f in c.fields.values())

    return on_layout(form, "reaches_other_forms", build)


def _title(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return expr.encode(value) if not isinstance(value, int) else str(value)


def expr_text_type() -> Any:
    from sqlalchemy import Text

    return Text()


class _PeopleNames:
    """Collects the user and department references of a page; fills in names in two queries."""

    def __init__(self) -> None:
        self.refs: dict[str, list[dict[str, Any]]] = {"user": [], "department": []}

    def add(self, kind: str, value: Any) -> None:
        items = value if isinstance(value, list) else [value] if value is not None else []
        self.refs[kind].extend(item for item in items if isinstance(item, dict))

    def fill(self, conn: Connection) -> None:
        for kind, table, column in (
            ("user", User.__table__, "display_name"),
            ("department", Department.__table__, "name"),
        ):
            refs = self.refs[kind]
            if not refs:
                continue
            # Ids are whole numbers (checked on write), written into the statement as digits: a
            # bound expanding IN list costs more to prepare than this whole query takes to run.
            wanted = sorted({ref["id"] for ref in refs if type(ref["id"]) is int})
            names: dict[Any, Any] = {}
            if wanted:
                listed = ", ".join(str(int(i)) for i in wanted)
                names = dict(
                    conn.exec_driver_sql(
                        f"SELECT id, {column} FROM {table.name} WHERE id IN ({listed})"  # type: ignore[attr-defined]
                    ).all()
                )
            for ref in refs:
                ref["name"] = names.get(ref["id"])


class _FileInfo:
    """Collects file ids of a page; fills in their metadata in one query."""

    def __init__(self) -> None:
        self.refs: list[dict[str, Any]] = []

    def add(self, raw: Any) -> list[dict[str, Any]] | None:
        if not raw:
            return None
        items = [{"file_id": file_id} for file_id in raw]
        self.refs.extend(items)
        return items

    def fill(self, conn: Connection) -> None:
        if not self.refs:
            return
        wanted = {ref["file_id"] for ref in self.refs}
        rows = conn.execute(
            select(StoredFile.id, StoredFile.name, StoredFile.size, StoredFile.mime).where(
                StoredFile.id.in_(wanted)
            )
        ).all()
        info = {row.id: row for row in rows}
        for ref in self.refs:
            row = info.get(ref["file_id"])
            ref.update(
                name=row.name if row else None,
                size=row.size if row else None,
                mime=row.mime if row else None,
            )


def id_list(values: Iterable[Any]) -> list[int]:
    return [int(v) for v in values]


__all__ = ["MAX_LIMIT", "Page", "Reader"]
