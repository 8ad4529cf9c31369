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

`Reader` is the façade that composes the two halves: `engine.forms.sql.FormSql` builds the
SQL (scope, filters, sorts, search, relations, page statements; what a report compiler uses)
and `engine.forms.record_json.RecordJson` turns rows into record JSON.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from engine.core.context import ExecutionContext
from engine.core.errors import not_found
from engine.forms.access import Access
from engine.forms.count_cache import COUNTS
from engine.forms.layout import AppLayout, Container, FieldLayout, FormLayout
from engine.forms.record_json import RecordJson
from engine.forms.resolve import Resolver, Who
from engine.forms.sql import MAX_LIMIT, FormSql, Scoped, nonblank_keys, ref_paths


@dataclass(frozen=True)
class Page:
    """One page of records (record JSON) and the total count when asked for."""

    items: list[dict[str, Any]]
    total: int | None


class Reader:
    """Reads one form's records as DESIGN §12 record JSON, as one caller: the SQL of
    `FormSql` (`sql`) run and turned into JSON by `RecordJson` (`json`)."""

    def __init__(
        self,
        app: AppLayout,
        form: FormLayout,
        ctx: ExecutionContext,
        *,
        access: Access | None = None,
        who: Who | None = None,
    ):
        self.sql = FormSql(app, form, ctx, access=access, who=who)
        self.json = RecordJson(self.sql)
        self.app = app
        self.form = form
        self.ctx = ctx
        self.now = ctx.now
        self.tz = ctx.tz
        self.access = access
        self.who = self.sql.who
        self.hidden = self.sql.hidden
        self._scope_key = self.sql._scope_key

    # --- reading ------------------------------------------------------------------------
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
        found = self.sql.page_statements(
            filter=filter,
            sort=sort,
            q=q,
            limit=limit,
            offset=offset,
            count=count,
            deleted=deleted,
            ids=ids,
            action=action,
            related=related,
        )
        params = found.params
        total = (
            None
            if found.count is None
            else COUNTS.count(conn, found.count, params, cache=ids is None)
        )
        if limit == 0:  # the count alone: no page statement
            return Page([], total)
        return Page(self.json.read_page(conn, found.page, params), total)

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
        """A record's history entries as the caller may read them (`RecordJson.history_json`)."""
        return self.json.history_json(conn, entries)

    def value_json(self, container: Container, field: FieldLayout, raw: Any) -> Any:
        """A value read from SQL as record JSON, written by the field that owns the value."""
        return self.json.value_json(container, field, raw)

    def value_writer(self, container: Container, field: FieldLayout) -> Callable[[Any], Any]:
        """How `value_json` writes `field`'s values (resolved once per field layout)."""
        return self.json.value_writer(container, field)

    # --- the SQL half (see `FormSql`) ---------------------------------------------------
    def resolver(self, container: Container | None = None, table: Any = None) -> Resolver:
        """Reads this form's fields (and, through relations, other forms' with the caller's
        rights on them)."""
        return self.sql.resolver(container, table)

    def visible(
        self, resolver: Resolver, *, deleted: bool = False, action: str = "view"
    ) -> ColumnElement[bool]:
        """Live (or binned) records the caller may `action`: the WHERE every query starts from."""
        return self.sql.visible(resolver, deleted=deleted, action=action)

    def base_select(
        self, *, deleted: bool = False, action: str = "view"
    ) -> tuple[Select[Any], Resolver]:
        """The page statement before filter, search, order and paging, and its resolver."""
        return self.sql.base_select(deleted=deleted, action=action)

    def scalar_columns(
        self, container: Container, resolver: Resolver
    ) -> builtins.list[ColumnElement[Any]]:
        """Every scalar value of a container's records, labelled by field key."""
        return self.sql.scalar_columns(container, resolver)

    def title_sql(self, form_key: str, record_id: Any) -> ColumnElement[Any]:
        """The title of record `record_id` of form `form_key` as the caller may read it."""
        return self.sql.title_sql(form_key, record_id)

    def restricted_sql(self, form_key: str, record_id: Any) -> ColumnElement[Any] | None:
        """Whether record `record_id` of form `form_key` is outside the caller's rights."""
        return self.sql.restricted_sql(form_key, record_id)

    def check_visible_refs(self, source: str, where: str) -> None:
        """422 when a filter reads a field hidden from the caller."""
        self.sql.check_visible_refs(source, where)

    def filter_sql(self, source: str, resolver: Resolver) -> ColumnElement[Any]:
        """A filter as SQL, checked (boolean, no hidden field)."""
        return self.sql.filter_sql(source, resolver)

    def order_by(
        self, sort: str, resolver: Resolver, filter: str | None = None
    ) -> builtins.list[ColumnElement[Any]]:
        """ORDER BY keys of `sort` ("-amount,title") for a page filtered by `filter`."""
        return self.sql.order_by(sort, resolver, filter)

    def search_sql(self, q: str, resolver: Resolver) -> ColumnElement[bool]:
        """Records whose title contains `q` (case-insensitive)."""
        return self.sql.search_sql(q, resolver)

    def related_sql(self, key: str, record_id: int) -> ColumnElement[bool]:
        """Records whose relation field `key` points to record `record_id`."""
        return self.sql.related_sql(key, record_id)

    def scoped(
        self,
        *,
        filter: str | None = None,
        q: str | None = None,
        related: tuple[str, int] | None = None,
        deleted: bool = False,
        action: str = "view",
    ) -> Scoped:
        """The records the caller may `action`, filtered, to select over (`FormSql.scoped`)."""
        return self.sql.scoped(filter=filter, q=q, related=related, deleted=deleted, action=action)

    def value_owner(self, container: Container, field: FieldLayout) -> FieldLayout | None:
        """The field whose type writes this field's values (a lookup's target, a rollup's field)."""
        return self.sql.value_owner(container, field)

    def sortable(self, container: Container, field: FieldLayout) -> bool:
        """Whether records can be ordered by `field` (not by lists, JSON values or layout)."""
        return self.sql.sortable(container, field)


__all__ = [
    "MAX_LIMIT",
    "Page",
    "Reader",
    "nonblank_keys",
    "ref_paths",
]
