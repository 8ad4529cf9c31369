"""Reads on PostgreSQL without a transaction (issue 12, "Reads in fewer PostgreSQL
round trips").

A records read on PostgreSQL used to send four round trips: psycopg's own ``BEGIN`` (a command
of its own before the first statement), the statement that opens the read, the page and
``ROLLBACK``. `read_engine` gives the records read routes and the report routes
(engine.api.opening) an engine of their own on the same database whose connections are in
**autocommit** mode, set once when a connection is made, with the statement time limit of one
kind of work set once per connection (``SET statement_timeout``, session-level: one engine per
limit, so it stays on connections that only ever run reads of that limit — interactive reads,
or reports — and never reaches a write or an export, which use the main pool). A read is
then its statements alone: no ``BEGIN``, and returning the connection to the pool sends nothing
(psycopg's rollback of an idle connection is a no-op). With no ``ROLLBACK``, psycopg also keeps
the statements it prepared on a connection (it prepares one the fifth time it runs there, and
a ``ROLLBACK`` clears them all), so PostgreSQL parses a read's statements once per connection
(and plans them once where it settles on a generic plan) instead of on every request.

Without a transaction every statement reads its own snapshot, so a publish can commit between
the statement that opened the read (and read the app's live revision) and the page — as it
already could between two statements of a READ COMMITTED transaction. So every SELECT on these
connections after the opening statement carries a **revision guard** (`guarded`): a condition
that reads the app's live revision in the statement's own snapshot and makes the statement fail
(`StaleRevision`) when it is no longer the revision the read loaded. The snapshot of a statement
is taken after it holds its table locks, and publishing changes a record table under an
exclusive lock, so a statement that passes the guard reads data and columns of exactly the
revision the read was opened on; one that fails is retried from the opening statement by the
caller (`engine.api.opening.read`). SQLite needs none of this: its read transaction keeps one
snapshot from the first statement on, and a ``BEGIN`` there is no round trip.

The engine shares the main engine's app cache (`engine.forms.cache.PerDatabase` follows
`CACHES_OF`), is kept on the main engine (one per time limit) and disposed with it.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    event,
    func,
    literal_column,
    select,
)
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from engine.store.limits import postgres_setting
from engine.store.models import App

AUTOCOMMIT = "jimu_autocommit"  # key in a pooled connection's info: it never opens a transaction

CACHES_OF = "jimu_caches_of"  # attribute of a read pool: the main engine's pool (its caches)
LIVE = "jimu_read_live"  # key in a read connection's info: (app id, revision) being read
STALE = "jimu_stale_revision"  # the text the guard fails to cast when the revision moved
_KEPT = "_jimu_read_engines"
GUARDED = "jimu_guarded"  # execution option: the statement went through `guard_for` already
_INVALID_TEXT = "22P02"
_FEATURE_NOT_SUPPORTED = "0A000"  # e.g. a prepared statement's plan whose result type changed  # invalid_text_representation: the guard's failed cast
_lock = threading.Lock()


class StaleRevision(Exception):
    """A statement of a read found that the app was published since the read was opened."""


def read_engine(engine: Engine, seconds: float) -> Engine | None:
    """The autocommit engine for interactive reads on `engine`'s PostgreSQL database, every
    statement under a limit of `seconds` (0: none); None on SQLite (reads stay as they are)."""
    if engine.dialect.name != "postgresql":
        return None
    kept: dict[float, Engine] | None = engine.__dict__.get(_KEPT)
    if kept is not None and seconds in kept:
        return kept[seconds]
    with _lock:
        kept = engine.__dict__.setdefault(_KEPT, {})
        if seconds not in kept:
            if not event.contains(engine, "engine_disposed", _dispose_reads):
                event.listen(engine, "engine_disposed", _dispose_reads)
            kept[seconds] = _make(engine, seconds)
        return kept[seconds]


def read_engines(engine: Engine) -> list[Engine]:
    """The read engines made for `engine` so far (tests watch their statements)."""
    kept: dict[float, Engine] = engine.__dict__.get(_KEPT, {})
    return list(kept.values())


def _dispose_reads(engine: Engine) -> None:
    with _lock:
        kept: dict[float, Engine] = engine.__dict__.pop(_KEPT, {})
    for reads in kept.values():
        reads.dispose()


def _make(engine: Engine, seconds: float) -> Engine:
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
    pool = engine.pool
    if isinstance(pool, QueuePool):
        options.update(pool_size=pool.size(), max_overflow=pool._max_overflow)
    else:
        options["poolclass"] = type(pool)
    from engine.store.session import CONNECT_ARGS

    options["connect_args"] = engine.__dict__.get(CONNECT_ARGS, {})
    reads = sa_create_engine(engine.url, **options)
    setattr(reads.pool, CACHES_OF, engine.pool)
    setting = postgres_setting(seconds) if seconds > 0 else None

    @event.listens_for(reads, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.autocommit = True  # before the SET, so that it opens no transaction
        if setting is not None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", (setting,))

    @event.listens_for(reads, "before_execute", retval=True)
    def _guard(
        conn: Connection, element: Any, multiparams: Any, params: Any, options: Any
    ) -> tuple[Any, Any, Any]:
        if not multiparams and not options.get(GUARDED):
            element, params = guard_for(conn, element, params)
        return element, multiparams, params

    @event.listens_for(reads.pool, "connect")
    def _autocommit(dbapi_connection: Any, record: Any) -> None:
        record.info[AUTOCOMMIT] = True  # engine.store.driver_exec may send to its cursors

    @event.listens_for(reads.pool, "checkin")
    def _forget(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info.pop(LIVE, None)

    return reads


_APPS = App.__table__
_REVISION_NOW = (
    select(_APPS.c.current_revision)
    .where(_APPS.c.id == bindparam("jimu_guard_app"))
    .scalar_subquery()
)
# The failing text depends on the row read (never a constant the planner could fold and so
# fail every statement): `STALE` followed by the revision found ('' when the app is gone).
_FOUND = func.coalesce(cast(_REVISION_NOW, Text), literal_column("''"))
GUARD = (
    cast(
        case(
            (bindparam("jimu_guard_revision") == _REVISION_NOW, literal_column("'1'")),
            else_=literal_column(f"'{STALE} '").op("||")(_FOUND),
        ),
        Integer,
    )
    == 1
)
"""The revision guard (built once; parameters ``jimu_guard_app`` and ``jimu_guard_revision``):
true while app ``jimu_guard_app``'s live revision is ``jimu_guard_revision`` in the
statement's own snapshot, else an invalid cast of `STALE` that fails the statement.
PostgreSQL evaluates it once per statement, before reading any row (an InitPlan)."""


# Statement -> the same with the guard. The readers keep their statements per page shape, and
# SQLAlchemy memoizes a statement's cache key on the object: a new guarded copy per execution
# would walk the whole statement again for its key each time.
_GUARDED: weakref.WeakKeyDictionary[Select[Any], Select[Any]] = weakref.WeakKeyDictionary()


def guarded(statement: Select[Any]) -> Select[Any]:
    """`statement` with `GUARD` in its WHERE (made once per statement object)."""
    found = _GUARDED.get(statement)
    if found is None:
        found = statement.where(GUARD)
        with _lock:
            _GUARDED[statement] = found
    return found


def guard_for(conn: Connection, statement: Any, params: Any) -> tuple[Any, Any]:
    """`statement` and `params` as a read connection sends them: a SELECT with the revision
    guard and its parameters once the read has been opened on a revision (`LIVE`); anything
    else unchanged."""
    live = conn.info.get(LIVE)
    if live is None or not isinstance(statement, Select):
        return statement, params
    return guarded(statement), {
        **params,
        "jimu_guard_app": live[0],
        "jimu_guard_revision": live[1],
    }


def outdated_plans(conn: Connection, exc: DBAPIError) -> bool:
    """Whether a statement failed because a plan psycopg prepared on `conn` before a publish
    no longer fits: a field's type change renames its column and adds a new one of the same
    name, so the same SQL now returns another type, which PostgreSQL refuses for a prepared
    statement ("cached plan must not change result type"). These connections never roll back
    (which is when psycopg forgets its prepared statements), so they would refuse it on every
    later read: their prepared statements are dropped here (``DEALLOCATE ALL``, which psycopg
    follows) and the caller starts the read again."""
    original = exc.orig
    if getattr(original, "sqlstate", None) != _FEATURE_NOT_SUPPORTED or (
        "cached plan must not change result type" not in str(original)
    ):
        return False
    conn.exec_driver_sql("DEALLOCATE ALL")
    return True


def is_stale(exc: DBAPIError) -> bool:
    """Whether a database error is a revision guard's (see the module)."""
    original = exc.orig
    return getattr(original, "sqlstate", None) == _INVALID_TEXT and STALE in str(original)


__all__ = [
    "AUTOCOMMIT",
    "CACHES_OF",
    "GUARD",
    "GUARDED",
    "LIVE",
    "StaleRevision",
    "guard_for",
    "guarded",
    "is_stale",
    "outdated_plans",
    "read_engine",
    "read_engines",
]
