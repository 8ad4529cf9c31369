"""Time limits for database statements, named per kind of work (issue 10, finding 3).

A records filter is a formula compiled to SQL; a hostile one can keep the database busy for
minutes, even after the client has gone. Every statement of a request therefore runs under the
limit of that request's *kind of work*, so an interactive list is never held to an export's
limit, nor an import or a publish migration to a list's:

=============  =========================  ===============================================
work           default (seconds, 0=none)  setting (environment)
=============  =========================  ===============================================
interactive    5                          ``JIMU_STATEMENT_TIMEOUT_INTERACTIVE`` — lists,
                                          records, recycle bin, history, public links
report         30                         ``JIMU_STATEMENT_TIMEOUT_REPORT`` (reports, later)
export         120                        ``JIMU_STATEMENT_TIMEOUT_EXPORT``
import         0                          ``JIMU_STATEMENT_TIMEOUT_IMPORT``
publish        0                          ``JIMU_STATEMENT_TIMEOUT_PUBLISH`` (migrations)
=============  =========================  ===============================================

PostgreSQL enforces the limit itself (``statement_timeout``, set transaction-locally with
``set_config(..., true)`` and restored afterwards); SQLite through a progress handler on the
connection whose deadline restarts with every statement (``before_cursor_execute``) and which
is removed afterwards. A statement past its limit raises :class:`QueryTimeout` (the API answers
422 ``query_timeout``); its transaction is rolled back and the connection stays usable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

SQLITE_LIMIT = "jimu_statement_limit"  # key in the DB-API connection's info: [seconds, deadline]
_PROGRESS_STEPS = 1000  # SQLite VM instructions between two looks at the clock
_PG_CANCELED = "57014"  # query_canceled: statement_timeout (or a cancel request)


class Work(StrEnum):
    """The kinds of work that have a statement time limit of their own."""

    INTERACTIVE = "interactive"
    REPORT = "report"
    EXPORT = "export"
    IMPORT = "import"
    PUBLISH = "publish"


class _HasLimits(Protocol):
    statement_timeout_interactive: float
    statement_timeout_report: float
    statement_timeout_export: float
    statement_timeout_import: float
    statement_timeout_publish: float


def seconds_for(settings: _HasLimits, work: Work) -> float:
    """The statement limit of ``work`` in seconds (0: none), from the settings."""
    value: float = getattr(settings, f"statement_timeout_{work.value}")
    return value


class QueryTimeout(Exception):
    """A statement ran past the time limit of its kind of work."""

    code = "query_timeout"

    def __init__(self, work: Work, seconds: float) -> None:
        self.work = work
        self.seconds = seconds
        shown = f"{seconds:g}"
        self.message_zh = f"查询超过 {shown} 秒仍未完成，已停止：请缩小筛选范围或简化筛选条件"
        self.message_en = f"The query did not finish within {shown} s and was stopped: narrow or simplify the filter"
        super().__init__(f"{work.value}: {self.message_en}")


def is_timeout(exc: DBAPIError) -> bool:
    """Whether a database error is a statement stopped by its time limit."""
    original = exc.orig
    if getattr(original, "sqlstate", None) == _PG_CANCELED:
        return True
    return type(original).__name__ == "OperationalError" and "interrupted" in str(original)


def postgres_setting(seconds: float) -> str:
    """The ``statement_timeout`` value of a limit of ``seconds`` (> 0)."""
    return f"{max(1, round(seconds * 1000))}ms"


@contextmanager
def statement_limit(
    conn: Connection,
    work: Work,
    seconds: float,
    *,
    transaction_ends: bool = False,
    preset: bool = False,
) -> Iterator[None]:
    """Run the block's statements under ``seconds`` each (0 or less: no limit); a statement
    past it raises :class:`QueryTimeout`. ``transaction_ends``: the transaction ends with the
    block, so on PostgreSQL the previous limit is neither read nor put back (the setting is
    local to the transaction): one statement instead of three. ``preset`` (PostgreSQL, with
    ``transaction_ends``): the block's first statement sets the limit itself, as a column
    ``set_config('statement_timeout', postgres_setting(seconds), true)`` (engine.api.opening),
    so no statement of its own is sent."""
    if seconds <= 0:
        yield
        return
    postgres = conn.dialect.name == "postgresql"
    if postgres and preset and not transaction_ends:
        raise ValueError("a preset limit is only for a transaction that ends with the block")
    limit = (
        (nullcontext() if preset else _postgres_limit(conn, seconds, restore=not transaction_ends))
        if postgres
        else _sqlite_limit(conn, seconds)
    )
    with limit:
        try:
            yield
        except DBAPIError as exc:
            if is_timeout(exc):
                raise QueryTimeout(work, seconds) from exc
            raise


@contextmanager
def _postgres_limit(conn: Connection, seconds: float, *, restore: bool = True) -> Iterator[None]:
    previous = (
        conn.execute(text("SELECT current_setting('statement_timeout')")).scalar_one()
        if restore
        else None
    )
    conn.execute(
        text("SELECT set_config('statement_timeout', :value, true)"),
        {"value": postgres_setting(seconds)},
    )
    yield
    # Reached only when the block succeeded: after an error the transaction rolls back, and
    # with it the transaction-local setting.
    if previous is not None and conn.in_transaction():
        conn.execute(
            text("SELECT set_config('statement_timeout', :value, true)"), {"value": previous}
        )


@contextmanager
def _sqlite_limit(conn: Connection, seconds: float) -> Iterator[None]:
    raw: Any = conn.connection.dbapi_connection
    info = conn.connection.info
    state = [seconds, time.monotonic() + seconds]
    info[SQLITE_LIMIT] = state
    raw.set_progress_handler(lambda: 1 if time.monotonic() > state[1] else 0, _PROGRESS_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, _PROGRESS_STEPS)
        info.pop(SQLITE_LIMIT, None)


def restart_deadlines(engine: Engine) -> None:
    """On SQLite: every statement under :func:`statement_limit` gets its own full time."""
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _restart(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        state = conn.connection.info.get(SQLITE_LIMIT)
        if state is not None:
            state[1] = time.monotonic() + state[0]
