"""The record service: one form opened for one caller (issue 11, item 2).

`open_form(ctx, conn, app, form, caller)` returns a `RecordService` that lists, gets, creates,
updates, deletes, restores, transfers, batches, imports and exports the form's records, with
every permission check inside it: the role's actions (`require`), row scopes and hidden fields
(through the caller's `Access`, which the `Reader` and `Writer` apply in SQL), read-only tokens,
and the special rules of public-link callers. Routers, public links, the command line and pack
loads all come through here, so none of them repeats "open this form as this caller".

Who the caller is comes from two places: the `ExecutionContext` (actor, clock, zone, channel)
and a `Caller` that the auth layer builds (`engine.auth.callers`): the caller's `Access` on the
form (None: unrestricted — administrators and the system), the member CURRENT_USER() reads, how
data linkage reads source forms, whether the credential may write, and where audit entries go.
This module never imports `engine.auth` or `engine.api`: the auth layer builds on the forms
engine, not the other way round.

The service runs inside the connection and transaction its caller chose (`conn`) and commits
nothing itself; a refused batch or import is rolled back to a savepoint, so it writes nothing
even when the caller's transaction goes on (with `partial`, per row or chunk).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from sqlalchemy import true
from sqlalchemy.engine import Connection

from engine.core.context import Actor, ExecutionContext
from engine.core.errors import ServiceError, forbidden, invalid, not_found
from engine.core.issues import Issue
from engine.core.sqltypes import INT64_MAX
from engine.forms.access import Access
from engine.forms.grants import granted
from engine.forms.layout import FormLayout
from engine.forms.linkage import SourceAccess, preview
from engine.forms.messages import issue
from engine.forms.query import Page, Reader
from engine.forms.records import Writer, history
from engine.forms.records_io import Importer, ImportResult, export_count, export_file
from engine.forms.resolve import Who
from engine.forms.spreadsheet import Format, Language

if TYPE_CHECKING:
    from engine.forms.apps import LoadedApp

_T = TypeVar("_T")
CallerKind = Literal["system", "member", "public_link"]


class Auditor(Protocol):
    """Writes one audit entry for the caller (actor and address bound by the auth layer)."""

    def __call__(
        self, conn: Connection, kind: str, *, success: bool, subject: str, detail: dict[str, Any]
    ) -> None: ...


@dataclass(frozen=True)
class Caller:
    """Who opens a form, as the auth layer resolved it (see the module docstring).

    `kind`: `member` (a signed-in user or token; administrators too, with `access` None),
    `public_link` (an anonymous person through a link: `access` is the link's) or `system`
    (the command line, pack loads, engines acting on their own: unrestricted).
    `who`: the member CURRENT_USER() and CURRENT_DEPARTMENTS() read (None: the holder of
    `access`, else the context's actor). `via`: how the caller authenticated, for audit entries.
    """

    kind: CallerKind
    access: Access | None = None
    who: Who | None = None
    source_access: SourceAccess | None = None
    may_write: bool = True
    via: str = "system"
    audit: Auditor | None = None


def system_caller(*, via: str = "system", audit: Auditor | None = None) -> Caller:
    """An unrestricted caller: the command line, pack loads, engines acting on their own."""
    return Caller("system", via=via, audit=audit)


def open_form(
    ctx: ExecutionContext,
    conn: Connection,
    app: LoadedApp | str,
    form: str,
    caller: Caller | None = None,
    *,
    record: int | None = None,
) -> RecordService:
    """`form` of `app` (a loaded app or its key) opened for `caller` (default: the system).

    A member who may not view the form gets 404, like an unknown form (no existence leak) —
    unless `record` is given (a read of that one record by id) and a record grant lets them
    read it (`engine.forms.grants`, e.g. a flow task): the service then holds the granted
    rights, which view that record only. A member whose own rights view the form but not that
    record gets the grant when `get(record)` finds nothing through their own rights.
    A member who may create records but not view them (a 填报-only role, issue 16) gets a
    `fill_only` service: it creates (and previews data linkage) and answers 404 to every read,
    as an unviewable form does."""
    from engine.forms import apps

    loaded = apps.load(conn, app) if isinstance(app, str) else app
    layout = loaded.form(form)
    caller = caller if caller is not None else system_caller()
    service = RecordService(ctx, conn, loaded, layout, caller, grant_record=record)
    access = caller.access
    refused = caller.kind == "member" and access is not None and not access.allows("view")
    if refused and not service.take_grant():
        if access is None or not access.allows("create"):
            raise not_found()
        service.fill_only = True
    return service


NEWEST_FIRST = "-_created_at,-_id"
"""A list's order when the caller names none: the newest record first (issue 16)."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the row count (the file is the caller's path)."""

    rows: int
    detail: dict[str, Any]


class RecordService:
    """One form opened for one caller in one connection (see the module docstring)."""

    def __init__(
        self,
        ctx: ExecutionContext,
        conn: Connection,
        app: LoadedApp,
        form: FormLayout,
        caller: Caller,
        *,
        grant_record: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.conn = conn
        self.app = app
        self.form = form
        self.caller = caller
        self._reader: Reader | None = None
        self._writer: Writer | None = None
        self._grant_record = grant_record  # the one record a grant may let a member read
        self.by_grant = False  # whether the caller's rights are now a grant's
        # A member who may create records but view none (see `open_form`): reads are a 404.
        self.fill_only = False

    def take_grant(self) -> bool:
        """Switch to a record grant's rights on `grant_record` when one lets this member read
        it (`engine.forms.grants`); whether it did. At most once per service."""
        caller, record = self.caller, self._grant_record
        own = caller.access
        user = caller.who.user if caller.who is not None else None
        if self.by_grant or record is None or caller.kind != "member" or own is None:
            return False
        if user is None:
            return False
        access = granted(self.conn, self.app, self.form, record, user, own)
        if access is None:
            return False
        self.caller = replace(caller, access=access)
        self._reader = self._writer = None
        self.by_grant = True
        return True

    # --- who --------------------------------------------------------------------------------
    @property
    def access(self) -> Access | None:
        """The caller's rights on the form (None: unrestricted)."""
        return self.caller.access

    @property
    def who(self) -> Who:
        """The member CURRENT_USER() reads for this caller."""
        return self.reader().who

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    def reader(self) -> Reader:
        """The caller's reader (their row scope and hidden fields in SQL)."""
        if self._reader is None:
            self._reader = Reader(
                self.app.layout, self.form, self.ctx, access=self.access, who=self.caller.who
            )
        return self._reader

    def writer(self, ctx: ExecutionContext | None = None) -> Writer:
        """The caller's record pipeline, in `ctx` (default: the service's context)."""
        if ctx is None and self._writer is not None:
            return self._writer
        writer = Writer(
            self.app.layout,
            self.app.id,
            self.form,
            ctx or self.ctx,
            access=self.access,
            source_access=self.caller.source_access,
            who=self.caller.who,
        )
        if ctx is None:
            self._writer = writer
        return writer

    def require(self, action: str) -> None:
        """403 unless the caller may `action` records of this form at all."""
        if self.access is not None and not self.access.allows(action):
            raise forbidden()

    def _writing(self) -> None:
        if not self.caller.may_write:
            raise forbidden()

    def _reading(self) -> None:
        """404 for a fill-only caller (they may create records, not view any): as an
        unviewable form answers, so nothing tells them whether records exist."""
        if self.fill_only:
            raise not_found()

    # --- reads ------------------------------------------------------------------------------
    def list(
        self,
        *,
        filter: str | None = None,
        sort: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
        count: bool = True,
        related: tuple[str, int] | None = None,
    ) -> Page:
        """A page of live records the caller may see, filtered, searched and sorted in SQL;
        newest first (`NEWEST_FIRST`) when no sort is given."""
        self._reading()
        return self.reader().list(
            self.conn,
            filter=filter,
            sort=sort or NEWEST_FIRST,
            q=q,
            limit=limit,
            offset=offset,
            count=count,
            related=related,
        )

    def recycle_bin(self, *, limit: int = 50, offset: int = 0) -> Page:
        """Deleted records the caller may restore (the `delete` action), last deleted first."""
        self._reading()
        self.require("delete")
        return self.reader().list(
            self.conn, sort="", limit=limit, offset=offset, deleted=True, action="delete"
        )

    def get(self, record_id: int) -> dict[str, Any]:
        """One live record (404 when missing, deleted or outside the caller's scope and no
        record grant lets them read it, see `open_form`)."""
        self._reading()
        try:
            return self.reader().get(self.conn, record_id)
        except ServiceError as exc:
            if exc.status != 404 or record_id != self._grant_record or not self.take_grant():
                raise
        return self.reader().get(self.conn, record_id)

    def history(self, record_id: int) -> builtins.list[dict[str, Any]]:
        """Every change of a record the caller may see, oldest first, hidden fields left out."""
        self._reading()
        reader = self.reader()
        if self.access is not None:
            reader.get(self.conn, record_id)  # 404 unless the caller may see the record
        entries = reader.history_json(
            self.conn, history(self.conn, self.form, record_id, hidden=reader.hidden)
        )
        if not entries:
            raise not_found()
        return entries

    def linkage_preview(self, values: Any) -> dict[str, Any]:
        """The values data linkage defaults would copy into a record with `values`, read as the
        caller (403 without the right to create records)."""
        self.require("create")
        return preview(self.conn, self.writer().linker, values)

    # --- writes -----------------------------------------------------------------------------
    def create_many(
        self, records: Sequence[Any], *, paths: Sequence[str] | None = None
    ) -> builtins.list[int]:
        """Create records (all or nothing); their ids. Public-link callers may not set system
        values (`_owner`, `_id`, ...): those keys are unknown fields to them."""
        self._writing()
        if self.caller.kind == "public_link":
            system = [
                issue(k, "unknown_field", key=k)
                for record in records
                if isinstance(record, dict)
                for k in record
                if isinstance(k, str) and k.startswith("_")
            ]
            if system:
                raise invalid(system)
        writer = self.writer()
        if paths is None:
            return writer.create_many(self.conn, builtins.list(records), self.actor)
        return writer.create_many(self.conn, builtins.list(records), self.actor, paths=paths)

    def create(self, record: Any) -> dict[str, Any]:
        """Create one record; it as the caller reads it back, computed fields filled."""
        [record_id] = self.create_many([record])
        return self.read_back(record_id)

    def sees_every_record(self) -> bool:
        """Whether the caller may view every live record of the form (no row scope), so a
        record they just created needs no read inside its transaction to be known visible."""
        access = self.access
        if access is None:
            return True
        return access.where("view", self.form.table, self.writer().reader.resolver()) is true()

    def read_back(self, record_id: int) -> dict[str, Any]:
        """A record this service just wrote, as the caller reads it, computed fields filled
        (404 when the caller may not see it). Runs in whatever transaction `conn` is in: the
        create route reads after the commit when `sees_every_record` (SQLite: outside the
        write lock)."""
        return self.writer().reader.get(self.conn, record_id)

    def created_answer(self, record_id: int, submitted: Any) -> dict[str, Any]:
        """What a fill-only caller (see `open_form`) is answered for a record they created:
        its `_id` and the values they sent for the form's fields, as sent — never the stored
        record, whose computed fields, defaults and linked titles they may not view."""
        keys = self.form.fields
        sent = submitted if isinstance(submitted, dict) else {}
        return {"_id": record_id, **{k: v for k, v in sent.items() if k in keys}}

    def update(self, record_id: int, data: Any) -> dict[str, Any]:
        """Change some fields (`_version` must be the version read); the record as read back."""
        self._writing()
        writer = self.writer()
        writer.update(self.conn, record_id, data, self.actor)
        return writer.reader.get(self.conn, record_id)

    def delete(self, record_id: int) -> None:
        """Move a record to the recycle bin."""
        self._writing()
        self.writer().delete(self.conn, record_id, self.actor)

    def restore(self, record_id: int) -> dict[str, Any]:
        """Bring a record back from the recycle bin; it as read back."""
        self._writing()
        writer = self.writer()
        writer.restore(self.conn, record_id, self.actor)
        return writer.reader.get(self.conn, record_id)

    def transfer(self, record_ids: Sequence[int], owner: int) -> int:
        """Give records to `owner` (all or nothing; edit rights on each); how many changed."""
        self._writing()
        return self.writer().transfer(self.conn, record_ids, owner, self.actor)

    def batch(
        self, records: Sequence[Any], *, partial: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Create (no `_id`) or change (`_id` + `_version`) many records: all or nothing (one 422
        with `[i].field` issues), or with `partial` each row on its own in a savepoint, with a
        result per row."""
        self._writing()
        if not partial:
            return self._all_or_nothing(lambda: self._batch_all(builtins.list(records)))
        results = []
        for index, record in enumerate(records):
            savepoint = self.conn.begin_nested()
            try:
                [result] = self._batch_all([record], offset=index)
            except ServiceError as exc:
                savepoint.rollback()
                results.append(
                    {
                        "index": index,
                        "ok": False,
                        "error": {"code": exc.code, "issues": [i.to_dict() for i in exc.issues]},
                    }
                )
            else:
                savepoint.commit()
                results.append(result)
        return results

    def _all_or_nothing(self, work: Callable[[], _T]) -> _T:
        """`work` in a savepoint, rolled back when it raises: a refused batch or import writes
        nothing even when the caller's transaction goes on."""
        savepoint = self.conn.begin_nested()
        try:
            done = work()
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        return done

    def _batch_all(
        self, records: builtins.list[Any], offset: int = 0
    ) -> builtins.list[dict[str, Any]]:
        writer, conn, actor = self.writer(), self.conn, self.actor
        creates = [
            (i, r)
            for i, r in enumerate(records)
            if not (isinstance(r, dict) and r.get("_id") is not None)
        ]
        updates = [
            (i, r)
            for i, r in enumerate(records)
            if isinstance(r, dict) and r.get("_id") is not None
        ]
        results: dict[int, dict[str, Any]] = {}
        issues: builtins.list[Issue] = []
        if creates:
            try:
                ids = writer.create_many(
                    conn,
                    [r for _, r in creates],
                    actor,
                    paths=[f"[{offset + i}]." for i, _ in creates],
                )
            except ServiceError as exc:
                if exc.status != 422:
                    raise
                issues.extend(exc.issues)
            else:
                for (i, _), record_id in zip(creates, ids, strict=True):
                    results[i] = {"index": offset + i, "ok": True, "_id": record_id, "_version": 1}
        for i, record in updates:
            record_id = record["_id"]
            if (
                not isinstance(record_id, int)
                or isinstance(record_id, bool)
                or not 1 <= record_id <= INT64_MAX
            ):
                issues.append(
                    Issue(
                        f"[{offset + i}]._id",
                        "expected_id",
                        "应为编号（正整数）",
                        "Expected an id (a positive whole number)",
                    )
                )
                continue
            try:
                version = writer.update(conn, record_id, record, actor)
            except ServiceError as exc:
                if exc.status != 422:
                    raise
                issues.extend(found.under(f"[{offset + i}]") for found in exc.issues)
            else:
                results[i] = {
                    "index": offset + i,
                    "ok": True,
                    "_id": record_id,
                    "_version": version,
                }
        if issues:
            raise ServiceError(422, "validation_failed", issues)
        return [results[i] for i in sorted(results)]

    # --- files ------------------------------------------------------------------------------
    def export_count(self, filter: str | None = None) -> int:
        """How many records an export with `filter` would hold (403 without `export`)."""
        self._reading()
        self.require("export")
        return export_count(self.conn, self.reader(), filter)

    def export(
        self,
        path: Path,
        *,
        fmt: Format,
        lang: Language,
        filter: str | None = None,
        sort: str | None = None,
        fields: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ExportResult:
        """Write the records the caller may export (the role's `export` action and scope) to
        `path`; 403 without the action. The audit entry is written by `audit_export`, in a
        writing transaction (an export reads in a read-only one)."""
        self._reading()
        self.require("export")
        rows = export_file(
            self.conn,
            self.reader(),
            path,
            fmt=fmt,
            lang=lang,
            filter=filter,
            sort=sort,
            fields=fields,
            progress=progress,
        )
        detail = {
            "format": fmt,
            "filter": filter,
            "sort": sort,
            "fields": builtins.list(fields) if fields is not None else None,
            "rows": rows,
            "via": self.caller.via,
        }
        return ExportResult(rows, detail)

    def audit_export(self, conn: Connection, result: ExportResult) -> None:
        """Record an export in the audit log (`records.export`), in `conn`'s transaction."""
        self._audit(conn, "records.export", True, result.detail)

    def import_rows(
        self,
        rows: Sequence[Sequence[Any]],
        *,
        partial: bool = False,
        detail: dict[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
        start_flows: bool = False,
    ) -> ImportResult:
        """Create records from spreadsheet rows (the first is the header) on the `import`
        channel, through the record pipeline; 403 without the `import` action. All or nothing
        (422 with `rows[N].field` issues), or with `partial` the good rows written. The audit
        entry (`records.import`, `detail` plus what happened) is written in the same
        transaction; a refused import is audited by `audit_failed_import`. With `start_flows` the
        records created start the form's approval flow as other doors do (off by default)."""
        self._writing()
        self.require("import")
        ctx = self.ctx.with_actor(Actor(self.ctx.actor.user_id, "import"))
        if start_flows:
            ctx = dataclasses.replace(ctx, start_flows=True)
        forms = self.app.layout.forms
        source = self.caller.source_access
        conn = self.conn

        def target(key: str) -> Access | None:
            # related records are found by title only among those the caller may see
            return source(conn, forms[key]) if source is not None else None

        importer = Importer(self.writer(ctx), target)
        result = self._all_or_nothing(
            lambda: importer.run(conn, rows, ctx.actor, partial=partial, progress=progress)
        )
        done = {
            **(detail or {}),
            "via": self.caller.via,
            "created": len(result.created),
            "failed": len(result.failed),
        }
        self._audit(conn, "records.import", True, done)
        return result

    def audit_failed_import(
        self, conn: Connection, exc: ServiceError, detail: dict[str, Any]
    ) -> None:
        """Record a refused import (a 422; other refusals are not audited) in the audit log,
        in `conn`'s transaction (the import's own was rolled back)."""
        if exc.status == 422:
            done = {**detail, "via": self.caller.via, "created": 0, "issues": len(exc.issues)}
            self._audit(conn, "records.import", False, done)

    def _audit(self, conn: Connection, kind: str, success: bool, detail: dict[str, Any]) -> None:
        if self.caller.audit is not None:
            subject = f"{self.app.key}/{self.form.key}"
            self.caller.audit(conn, kind, success=success, subject=subject, detail=detail)

    # --- system loads -----------------------------------------------------------------------
    def load(
        self, records: Sequence[Any], *, paths: Sequence[str]
    ) -> builtins.list[tuple[str, int, str]]:
        """Insert pack records keeping their ids and file references (a system load: no
        caller's rights, not a change anyone reacts to); relation values are not checked here
        but returned as `(target form, id, path)` for the pack loader to check once every form
        is loaded."""
        if self.caller.kind != "system":
            raise forbidden()
        writer = self.writer()
        writer.defer_links = True
        writer.trust_files = True
        writer.create_many(
            self.conn, builtins.list(records), self.actor, preserve=True, paths=paths
        )
        return builtins.list(writer.deferred)


__all__ = [
    "Auditor",
    "Caller",
    "CallerKind",
    "ExportResult",
    "RecordService",
    "open_form",
    "system_caller",
]
