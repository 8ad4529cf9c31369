"""The SQLite write queue: Jimu's writers wait their turn instead of spinning (issue 12).

SQLite lets one connection write at a time. Left to itself, a writer that finds the lock taken
sleeps and retries (``busy_timeout``), so under load the waiters race each other and the tail
latency explodes. Instead, every write transaction of a file database first takes this queue,
held until the transaction commits, rolls back or its connection closes:

* inside a process, a FIFO hand-over lock: threads are served strictly in arrival order;
* across processes, ``flock`` on ``<database>-writequeue`` beside the database file: the one
  thread per process at the head of its queue blocks in the kernel until the holder of the
  other process releases it (no polling). A crashed process releases it with its file.

Only then is ``BEGIN IMMEDIATE`` sent, which therefore finds the lock free among Jimu's own
writers; ``busy_timeout`` stays as the backstop for outside writers (the ``sqlite3`` shell, a
backup tool). The queue is re-entrant per thread (a thread that opens a second write
transaction while holding one behaves as before: it meets the busy timeout), and a thread that
has waited ``QUEUE_WAIT`` seconds in the process queue goes ahead without it, so a thread
waiting on another thread of its own never deadlocks. In-memory databases and PostgreSQL do not
use it. ``JIMU_SQLITE_WRITE_QUEUE=0`` turns it off (benchmarks measure the difference).

:func:`try_begin` is for optional bookkeeping (an API token's "last used"): a write transaction
only when the lock is free right now, else nothing.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

QUEUE_WAIT = 30.0  # seconds a thread waits in its process's queue before going ahead without it
SUFFIX = "-writequeue"


class WriteQueue:
    """One database file's write queue, shared by every engine of this process on that file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._waiters: deque[tuple[int, threading.Event]] = deque()
        self._owner: int | None = None
        self._depth = 0
        self._fd: int | None = None
        self._held: dict[int, int] = {}  # id(DB-API connection) -> times it holds the queue
        self._pid = os.getpid()

    def _forget(self) -> None:
        """In a forked child: start afresh (the parent's holds and file are the parent's)."""
        self._mutex = threading.Lock()
        self._waiters.clear()
        self._owner, self._depth, self._held = None, 0, {}
        if self._fd is not None and self._pid != os.getpid():
            os.close(self._fd)  # our copy only; unlocking it would unlock the parent's
        self._fd, self._pid = None, os.getpid()

    def acquire(self, timeout: float = QUEUE_WAIT) -> bool:
        """Wait for this thread's turn (FIFO), then for the other processes; false when the
        process queue did not come within `timeout` seconds (0: only if free now)."""
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                turn = None
            else:
                if timeout <= 0:
                    return False
                turn = threading.Event()
                self._waiters.append((me, turn))
        if turn is not None and not turn.wait(timeout):
            with self._mutex:
                if not turn.is_set():
                    self._waiters.remove((me, turn))
                    return False
        try:
            self._lock_file(blocking=timeout > 0)
        except BlockingIOError:
            self._hand_over()
            return False
        except BaseException:
            self._hand_over()
            raise
        return True

    def _lock_file(self, *, blocking: bool) -> None:
        if self._fd is None:
            self._fd = os.open(self.path + SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        fcntl.flock(self._fd, flags)  # BlockingIOError when not blocking and taken

    def release(self) -> None:
        """End this thread's hold (the outermost release lets the next writer in)."""
        with self._mutex:
            self._depth -= 1
            if self._depth > 0:
                return
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._hand_over()

    def _hand_over(self) -> None:
        with self._mutex:
            self._depth = 0
            if self._waiters:
                owner, turn = self._waiters.popleft()
                self._owner, self._depth = owner, 1
                turn.set()
            else:
                self._owner = None

    def hold(self, dbapi_connection: Any, *, timeout: float = QUEUE_WAIT) -> bool:
        """Acquire for `dbapi_connection`'s transaction (see :meth:`acquire`)."""
        got = self.acquire(timeout)
        if got:
            key = id(dbapi_connection)
            self._held[key] = self._held.get(key, 0) + 1
        return got

    def let_go(self, dbapi_connection: Any) -> None:
        """Release what `dbapi_connection` holds, if anything (after its commit or rollback)."""
        key = id(dbapi_connection)
        count = self._held.pop(key, 0)
        for _ in range(count):
            self.release()


_queues: dict[str, WriteQueue] = {}
_queues_mutex = threading.Lock()


def _after_fork() -> None:
    for queue in _queues.values():
        queue._forget()


os.register_at_fork(after_in_child=_after_fork)


def queue_for(path: str) -> WriteQueue:
    """The process-wide queue of the database file at `path`."""
    key = os.path.realpath(path)
    with _queues_mutex:
        queue = _queues.get(key)
        if queue is None:
            queue = _queues[key] = WriteQueue(key)
        return queue


def enabled() -> bool:
    """Whether the queue is on (``JIMU_SQLITE_WRITE_QUEUE``, default 1)."""
    return os.environ.get("JIMU_SQLITE_WRITE_QUEUE", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


def file_path(engine: Engine) -> str | None:
    """The database file of a SQLite engine (None in memory or for another database)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _raw(dbapi_connection: Any) -> Any:
    return getattr(dbapi_connection, "dbapi_connection", dbapi_connection)


def install(engine: Engine) -> WriteQueue | None:
    """Make `engine`'s write transactions (``BEGIN IMMEDIATE``) take the queue of its file and
    release it when the DB-API connection commits, rolls back or closes. None when the engine
    is not on a SQLite file or the queue is turned off."""
    path = file_path(engine)
    if path is None or not enabled():
        return None
    queue = queue_for(path)
    dialect: Any = engine.dialect
    commit, rollback, close = dialect.do_commit, dialect.do_rollback, dialect.do_close

    def do_commit(dbapi_connection: Any) -> None:
        commit(dbapi_connection)
        queue.let_go(_raw(dbapi_connection))

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            queue.let_go(_raw(dbapi_connection))

    def do_close(dbapi_connection: Any) -> None:
        try:
            close(dbapi_connection)
        finally:
            queue.let_go(_raw(dbapi_connection))

    dialect.do_commit, dialect.do_rollback, dialect.do_close = do_commit, do_rollback, do_close
    dialect.jimu_write_queue = queue
    return queue


def queue_of(engine: Engine | Connection) -> WriteQueue | None:
    """The write queue `engine` (or a connection's engine) takes, if any."""
    queue: WriteQueue | None = getattr(engine.dialect, "jimu_write_queue", None)
    return queue


def begin_write(connection: Connection) -> None:
    """``BEGIN IMMEDIATE`` on `connection`, after taking its file's queue when it has one."""
    queue = queue_of(connection)
    if queue is None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    raw = _raw(connection.connection.dbapi_connection)
    queue.hold(raw)
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        queue.let_go(raw)
        raise


@contextmanager
def try_begin(engine: Engine) -> Iterator[Connection | None]:
    """A write transaction if one can start at once, else None (never waits for a writer).

    On SQLite the queue is tried without waiting and ``BEGIN IMMEDIATE`` runs without a busy
    timeout; on PostgreSQL this is ``engine.begin()``."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    queue = queue_of(engine)
    if queue is not None and not queue.acquire(timeout=0):
        yield None
        return
    try:
        with engine.connect() as conn:
            raw = _raw(conn.connection.dbapi_connection)
            (previous,) = raw.execute("PRAGMA busy_timeout").fetchone()
            raw.execute("PRAGMA busy_timeout=0")
            try:
                try:
                    transaction = conn.begin()
                except OperationalError:
                    transaction = None
                if transaction is None:
                    yield None
                else:
                    with transaction:
                        yield conn
            finally:
                raw.execute(f"PRAGMA busy_timeout={int(previous)}")
    finally:
        if queue is not None:
            queue.release()
