"""The SQLite write queue (issue 12, cause 3): Jimu's writers wait their turn across threads and
processes and never rely on the busy timeout; optional writes skip a busy lock."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.settings import Settings
from engine.store import write_queue
from engine.store.session import READ_ONLY, engine_for_url, make_engine

THREADS = 4
WRITES = 15


def _impatient_engine(path: Path) -> Engine:
    """An engine whose connections give up at once on a busy lock (busy_timeout 0): without the
    queue, concurrent writers fail with `database is locked`."""
    engine = engine_for_url(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_wait(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    return engine


def _write(engine: Engine, writer: str, errors: list[str]) -> None:
    for n in range(WRITES):
        try:
            with engine.begin() as conn:
                total = conn.execute(sa.text("SELECT COUNT(*) FROM t")).scalar_one()
                conn.execute(
                    sa.text("INSERT INTO t (writer, n, seen) VALUES (:w, :n, :s)"),
                    {"w": writer, "n": n, "s": total},
                )
        except Exception as exc:  # every failure is reported, none may happen
            errors.append(f"{writer}: {exc}")


def _process(path: str, name: str) -> list[str]:
    engine = _impatient_engine(Path(path))
    errors: list[str] = []
    threads = [
        threading.Thread(target=_write, args=(engine, f"{name}.{i}", errors))
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return errors


def test_threads_and_processes_write_concurrently_without_locked_errors(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    engine = _impatient_engine(path)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (writer TEXT, n INTEGER, seen INTEGER)"))
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        pending = [pool.apply_async(_process, (str(path), f"p{i}")) for i in range(3)]
        errors = _process(str(path), "main")
        for result in pending:
            errors += result.get(timeout=300)
    assert errors == []
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT writer, n, seen FROM t ORDER BY rowid")).all()
    engine.dispose()
    assert len(rows) == 4 * THREADS * WRITES
    # each transaction saw exactly the rows committed before it: they ran one after another
    assert [row.seen for row in rows] == list(range(len(rows)))


def test_threads_are_served_in_arrival_order(tmp_path: Path) -> None:
    queue = write_queue.WriteQueue(str(tmp_path / "order.db"))
    assert queue.acquire()
    served: list[int] = []
    threads = []

    def wait_turn(n: int, ready: threading.Event) -> None:
        ready.set()
        assert queue.acquire()
        served.append(n)
        queue.release()

    for n in range(6):
        ready = threading.Event()
        thread = threading.Thread(target=wait_turn, args=(n, ready))
        thread.start()
        ready.wait()
        while len(queue._waiters) < n + 1:  # until it stands in the queue
            threading.Event().wait(0.001)
        threads.append(thread)
    queue.release()
    for thread in threads:
        thread.join()
    assert served == list(range(6))


def test_a_failed_transaction_lets_the_next_writer_in(tmp_path: Path) -> None:
    engine = _impatient_engine(tmp_path / "fail.db")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER NOT NULL)"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (NULL)"))
    conn = engine.connect()
    conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    conn.close()  # returned to the pool without commit: rolled back, queue released
    done: list[int] = []

    def other() -> None:
        with engine.begin() as c:
            done.append(c.execute(sa.text("INSERT INTO t VALUES (2)")).rowcount)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=60)
    assert done == [1]
    assert write_queue.queue_of(engine) is not None
    assert write_queue.queue_of(engine)._owner is None  # type: ignore[union-attr]
    engine.dispose()


def test_optional_writes_skip_a_busy_lock(tmp_path: Path) -> None:
    path = tmp_path / "try.db"
    engine = engine_for_url(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    outsider = sqlite3.connect(path, isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    with write_queue.try_begin(engine) as writer:
        assert writer is None
    outsider.execute("ROLLBACK")
    outsider.close()
    held = threading.Event()
    finish = threading.Event()

    def hold() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            held.set()
            finish.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(60)
    with write_queue.try_begin(engine) as writer:
        assert writer is None
    finish.set()
    holder.join()
    with write_queue.try_begin(engine) as writer:
        assert writer is not None
        writer.execute(sa.text("INSERT INTO t VALUES (2)"))
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM t")).scalar() == 2
        assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 5000
    engine.dispose()


def test_which_engines_queue(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = make_engine(Settings(data_dir=tmp_path))  # jimu serve, the CLI, jobs, migrations
    memory = engine_for_url("sqlite://")
    postgres = engine_for_url(postgres_url)
    monkeypatch.setenv("JIMU_SQLITE_WRITE_QUEUE", "0")
    switched_off = engine_for_url(f"sqlite:///{tmp_path / 'off.db'}")
    try:
        queue = write_queue.queue_of(served)
        assert queue is not None and queue.path == str((tmp_path / "jimu.db").resolve())
        assert write_queue.queue_of(memory) is None
        assert write_queue.queue_of(postgres) is None
        assert write_queue.queue_of(switched_off) is None
        with served.begin() as conn:  # a write makes the lock file beside the database
            conn.execute(sa.text("SELECT 1"))
        assert (tmp_path / "jimu.db-writequeue").exists()
    finally:
        for engine in (served, memory, postgres, switched_off):
            engine.dispose()
