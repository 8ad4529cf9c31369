"""The one change path of records (DESIGN §15, issue 11 item 3): history rows and `RecordChanged`
events for every record write.

Every write of the record pipeline (`Writer.create_many/update/delete/restore/transfer`, single
or batched, whatever the door: UI, API, import, public link, CLI, jobs, rules, flows) ends in
`ChangePath.record`, inside the saving transaction, after the rows are written and checked:

1. one history row per changed record (`{event, fields: {key: [old, new]}}`, actor, channel);
2. unless the context says the work is nobody's change (`ExecutionContext.record_events` is
   False: pack installs and imports with data), one `RecordChanged` per record, handed to the
   registered listeners in registration order, **once per write call with the list of its
   events** (a batch of 500 creates is one call with 500 events; an import chunk is one call).

Listeners are registered by the engines that listen (rules, flows, notifications) in
`LISTENERS`; `forms` never imports them. A synchronous listener runs in the saving transaction
with its connection and context: it may read the saved rows, write its own, or refuse the save
by raising `ServiceError` (422 with field-level issues; `RecordChanged.path` is where each
record sits in the request, for `Issue.under`) — the caller's transaction then rolls back, so
neither the record nor its history is written. An asynchronous listener gets no connection: it
returns `JobRequest`s, which are enqueued (engine.jobs) in the same transaction, so a job exists
exactly when the save committed. Any other exception of a listener is logged with the listener's
name and becomes `ListenerFailed` (500 `listener_failed`), which rolls the whole save back:
there is never a half-written save.

Not record events (they do not come through here): publish-time recomputes and type
conversions (`engine.forms.migrate`), purges, the orphan sweep, and pack loads (whose writes go
through the pipeline with `record_events=False`). `tests/forms/test_change_path.py` walks the
source so that no other module writes history or record tables unnoticed.

Event kinds are an open registry (`EVENT_KINDS`): the five of the record pipeline are built in,
and the flow engine registers its own (e.g. `flow.approved`) and records them through the same
path with `ChangePath.record`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from engine.core.context import Actor, ExecutionContext
from engine.core.errors import ServiceError
from engine.core.registry import Registry
from engine.core.sqltypes import to_epoch_ms
from engine.forms.layout import AppLayout, FormLayout
from engine.store.models import RecordHistory

logger = logging.getLogger(__name__)

# Event kind -> the event name its history rows store (`create`, … as history always had).
EVENT_KINDS: Registry[str] = Registry("record event kind")
EVENT_KINDS.register("created", "create")
EVENT_KINDS.register("updated", "update")
EVENT_KINDS.register("deleted", "delete")
EVENT_KINDS.register("restored", "restore")
EVENT_KINDS.register("transferred", "transfer")


@dataclass(frozen=True)
class RecordChanged:
    """One committed-to-be change of one record, as listeners see it.

    `changes` is `{key: [old, new]}` in record JSON: for `created` every value the record was
    created with (`[None, value]`), for `updated` every field whose value differs between the
    record read before and after the save — including read-time fields of the record itself
    (formulas, lookups, rollups over its own subform or relations), so a rule on a rollup sees
    it change when a save changes it —, for `transferred` `{"_owner": [old, new]}`, empty for
    `deleted` and `restored`. `actor` is the user id (None: anonymous or the system), `channel`
    the door (ui, api, import, public_link, rule, flow), `depth` the cascade depth of the
    context. `path` is where the record sits in the request (`""`, `"[3]"`, `"rows[5]"`);
    `layout` the live app layout the write used (when known)."""

    kind: str
    app: str
    app_id: int
    form: str
    form_id: int
    record_id: int
    version: int
    changes: Mapping[str, Any]
    actor: int | None
    channel: str
    depth: int
    at: dt.datetime
    path: str = ""
    # The app layout (live revision) the write used, when the writer knows it: listeners read
    # the definition from it instead of loading the app again (None: load it by `app`).
    layout: AppLayout | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class JobRequest:
    """A job an asynchronous listener wants queued with the save (see `engine.jobs.enqueue`)."""

    kind: str
    payload: dict[str, Any]
    run_at: dt.datetime | None = None
    key: str | None = None


class SyncListener(Protocol):
    """Runs in the saving transaction; raises `ServiceError` to refuse the save."""

    def __call__(
        self, conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]
    ) -> None: ...


class AsyncListener(Protocol):
    """Says which jobs the changes start; they are queued in the saving transaction."""

    def __call__(self, events: Sequence[RecordChanged]) -> Iterable[JobRequest]: ...


Interest = Callable[[AppLayout, str, str], bool]
"""Whether a listener wants events of a kind on a form of an app: `(layout, form, kind)`."""


@dataclass(frozen=True)
class Listener:
    """A registered listener: its name (in logs and errors), mode and handler, and what it
    says it wants (`wants`; None: every event). Emitters whose events cost statements to build
    (the flow engine reads the record's version for its events) ask first and build none
    nobody wants; `emit` itself still hands every listener every event."""

    name: str
    mode: Literal["sync", "async"]
    handle: Callable[..., Any]
    wants: Interest | None = None

    def interested(self, layout: AppLayout, form: str, kind: str) -> bool:
        return self.wants is None or self.wants(layout, form, kind)


class Listeners:
    """The record listeners of this process, by unique name, called in registration order."""

    def __init__(self) -> None:
        self._items: dict[str, Listener] = {}

    def sync(self, name: str, handle: SyncListener, wants: Interest | None = None) -> None:
        """Register a synchronous listener (in the transaction, may refuse the save)."""
        self._add(Listener(name, "sync", handle, wants))

    def asynchronous(self, name: str, handle: AsyncListener, wants: Interest | None = None) -> None:
        """Register an asynchronous listener (its jobs are queued with the save)."""
        self._add(Listener(name, "async", handle, wants))

    def _add(self, listener: Listener) -> None:
        if not listener.name or listener.name in self._items:
            raise ValueError(f"record listener {listener.name!r} is empty or already registered")
        self._items[listener.name] = listener

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    @contextmanager
    def listening(
        self, name: str, handle: Callable[..., Any], mode: Literal["sync", "async"] = "sync"
    ) -> Iterator[None]:
        """`handle` registered for the duration of a `with` block (tests, one-off tools)."""
        self._add(Listener(name, mode, handle))
        try:
            yield
        finally:
            self.remove(name)

    def __iter__(self) -> Iterator[Listener]:
        return iter(list(self._items.values()))

    def wanted(
        self, layout: AppLayout, form: str, kinds: Iterable[str], *, besides: str = ""
    ) -> bool:
        """Whether any listener but `besides` wants events of one of `kinds` on `form`."""
        wanted_kinds = tuple(kinds)
        return any(
            item.interested(layout, form, kind)
            for item in self
            if item.name != besides
            for kind in wanted_kinds
        )

    def __bool__(self) -> bool:
        return bool(self._items)


LISTENERS = Listeners()


class ListenerFailed(ServiceError):
    """A listener crashed (not a refusal): the save is rolled back and the cause logged."""

    def __init__(self, name: str) -> None:
        super().__init__(
            500,
            "listener_failed",
            message_zh=f"保存时处理程序 {name} 出错，未保存任何内容",
            message_en=f"The change handler {name} failed while saving; nothing was saved",
        )
        self.listener = name


@dataclass(frozen=True)
class Change:
    """One record change for `ChangePath.record`: its event kind, the version it now has, the
    field diff, who made it and where it sits in the request."""

    kind: str
    record_id: int
    version: int
    fields: Mapping[str, Any]
    actor: Actor
    path: str = ""


class ChangePath:
    """Records the changes of one form's writes: history, then events (module docstring)."""

    def __init__(
        self, app: AppLayout, app_id: int, form: FormLayout, ctx: ExecutionContext
    ) -> None:
        self.app = app
        self.app_id = app_id
        self.form = form
        self.ctx = ctx

    def record(self, conn: Connection, changes: Sequence[Change]) -> None:
        """Write the history of `changes` and hand their events to the listeners, in `conn`'s
        transaction (raises what a refusing listener raises, or `ListenerFailed`)."""
        if not changes:
            return
        rows = [self._history(change) for change in changes]
        deferred = _deferred(conn)
        if deferred is not None:
            deferred.extend(rows)
        else:
            insert_history(conn, rows)
        if self.ctx.record_events and LISTENERS:
            emit(conn, self.ctx, [self._event(change) for change in changes])

    def _history(self, change: Change) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "form_id": self.form.id,
            "record_id": change.record_id,
            "version": change.version,
            "actor_id": change.actor.user_id,
            "channel": change.actor.channel,
            "diff": {"event": EVENT_KINDS[change.kind], "fields": change.fields},
            "created_at": self.ctx.now,
        }

    def _event(self, change: Change) -> RecordChanged:
        return RecordChanged(
            kind=change.kind,
            app=self.app.spec.key,
            app_id=self.app_id,
            form=self.form.key,
            form_id=self.form.id,
            record_id=change.record_id,
            version=change.version,
            changes={key: list(pair) for key, pair in change.fields.items()},
            actor=change.actor.user_id,
            channel=change.actor.channel,
            depth=self.ctx.depth,
            at=self.ctx.now,
            path=change.path.rstrip("."),
            layout=self.app,
        )


def emit(conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]) -> None:
    """Hand `events` to every listener, in `conn`'s transaction (see the module docstring)."""
    from engine.jobs.queue import enqueue

    for listener in LISTENERS:
        try:
            if listener.mode == "sync":
                listener.handle(conn, ctx, events)
            else:
                for job in listener.handle(events):
                    enqueue(conn, job.kind, job.payload, job.run_at, job.key)
        except ServiceError as exc:
            if exc.status >= 500:
                raise
            logger.info(
                "record listener %s refused %d change(s) of %s/%s: %s",
                listener.name,
                len(events),
                events[0].app,
                events[0].form,
                exc,
            )
            raise
        except Exception as exc:
            first = events[0]
            logger.exception(
                "record listener %s failed on %d change(s) of %s/%s (first: %s #%d); "
                "the save is rolled back",
                listener.name,
                len(events),
                first.app,
                first.form,
                first.kind,
                first.record_id,
            )
            raise ListenerFailed(listener.name) from exc


HISTORY_COLUMNS = (
    "app_id",
    "form_id",
    "record_id",
    "version",
    "actor_id",
    "channel",
    "diff",
    "created_at",
)


_DEFERRED = "jimu.forms.deferred_history"  # conn.info: (transaction, [history rows])


def defer_history(conn: Connection) -> None:
    """From now on the history rows `ChangePath.record` writes in the transaction of `conn` wait
    for `flush_history` — in that transaction, written together in one statement — unless a
    savepoint is open when they are recorded (those are written at once, so a savepoint rolled
    back takes its rows with it). For a caller that writes many records one call at a time and
    reads no history meanwhile (a job worker's batch of rule runs); it must flush before its
    commit."""
    conn.info[_DEFERRED] = (conn.get_transaction(), [])


def flush_history(conn: Connection) -> None:
    """Write the history rows deferred in `conn`'s transaction (`defer_history`) and stop
    deferring."""
    kept: tuple[Any, list[dict[str, Any]]] | None = conn.info.pop(_DEFERRED, None)
    if kept is not None and kept[0] is conn.get_transaction():
        insert_history(conn, kept[1])


def _deferred(conn: Connection) -> list[dict[str, Any]] | None:
    """Where history rows recorded now wait (`defer_history`), or None: write them at once."""
    kept: tuple[Any, list[dict[str, Any]]] | None = conn.info.get(_DEFERRED)
    if kept is None or kept[0] is not conn.get_transaction():
        return None
    if conn.get_nested_transaction() is not None:
        return None
    return kept[1]


def insert_history(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write history rows. On PostgreSQL with psycopg a batch goes through COPY: a multi-row
    INSERT of a batch is one statement too long for psycopg's statement cache, so it would be
    parsed again for every batch (see docs/benchmarks.md)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) > 1:
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if hasattr(cursor, "copy"):
            with (
                cursor,
                cursor.copy(
                    f"COPY {RecordHistory.__tablename__} ({', '.join(HISTORY_COLUMNS)}) FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(
                        (
                            row["app_id"],
                            row["form_id"],
                            row["record_id"],
                            row["version"],
                            row["actor_id"],
                            row["channel"],
                            json.dumps(row["diff"]),
                            row["created_at"].astimezone(dt.UTC),
                        )
                    )
            return
        cursor.close()
    if conn.dialect.name == "sqlite" and len(rows) > 1:
        # The driver's executemany on ready values: SQLAlchemy's per-row parameter processing
        # (JSON, moments) cost more than the insert itself.
        placeholders = ", ".join("?" for _ in HISTORY_COLUMNS)
        conn.exec_driver_sql(
            f"INSERT INTO {RecordHistory.__tablename__} ({', '.join(HISTORY_COLUMNS)}) VALUES ({placeholders})",
            [
                (
                    row["app_id"],
                    row["form_id"],
                    row["record_id"],
                    row["version"],
                    row["actor_id"],
                    row["channel"],
                    json.dumps(row["diff"]),
                    to_epoch_ms(row["created_at"]),
                )
                for row in rows
            ],
        )
        return
    conn.execute(insert(RecordHistory), list(rows))


__all__ = [
    "EVENT_KINDS",
    "LISTENERS",
    "AsyncListener",
    "Change",
    "ChangePath",
    "JobRequest",
    "Listener",
    "ListenerFailed",
    "Listeners",
    "RecordChanged",
    "SyncListener",
    "emit",
    "insert_history",
]
