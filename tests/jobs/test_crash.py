"""Jobs under concurrency and crashes: two workers on PostgreSQL never run one job at once, and
a real `jimu worker` killed with SIGKILL in the middle of 2,000 jobs loses and doubles nothing
(records written exactly once, every HTTP delivery id received at least once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from engine.core.context import Actor, ExecutionContext
from engine.forms import apps
from engine.jobs import Worker, enqueue, load_kinds
from engine.jobs.queue import JOBS
from engine.settings import Settings
from engine.store import prepare_database
from engine.store.session import engine_for_url
from tests.hook_receiver import Receiver
from tests.jobs import handlers

ROOT = Path(__file__).resolve().parents[2]
RECORD_JOBS = 1000
HTTP_JOBS = RECORD_JOBS


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_workers_on_postgres_never_run_one_job_at_once(
    jobs_engine: Engine, settings: Settings
) -> None:
    with jobs_engine.begin() as conn:
        ids = [enqueue(conn, "test.effect", {"sleep": 0.002, "note": str(i)}) for i in range(300)]
    workers = [Worker(jobs_engine, settings, name=f"w{i}", batch=5) for i in range(2)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert handlers.OVERLAPS == []
    assert sorted(handlers.CALLS) == ids  # each job called once: never claimed twice
    with jobs_engine.connect() as conn:
        effects = Counter(conn.execute(select(handlers.EFFECTS.c.job_id)).scalars())
        rows = list(conn.execute(select(JOBS.c.state, JOBS.c.attempts, JOBS.c.claimed_by)))
    assert sorted(effects) == ids and set(effects.values()) == {1}
    assert {(r.state, r.attempts) for r in rows} == {("done", 1)}
    print("jobs per worker:", Counter(r.claimed_by for r in rows))


@pytest.fixture
def crash_database(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path
) -> Iterator[tuple[str, Engine]]:
    """A URL a subprocess can use (PostgreSQL: a schema of its own) and an engine on it."""
    load_kinds()
    if not db_url.startswith("postgresql"):
        engine = engine_for_url(db_url)
        yield db_url, engine
        engine.dispose()
        return
    schema = f"crash_{uuid.uuid4().hex[:10]}"
    admin = engine_for_url(db_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{db_url}?options={quote(f'-c search_path={schema}')}"
    engine = engine_for_url(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _worker(url: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JIMU_DATABASE_URL": url,
        "JIMU_DATA_DIR": str(data_dir),
        "JIMU_JOB_MODULES": "tests.jobs.handlers",
        "JIMU_JOB_LEASE_SECONDS": "2",
        "JIMU_JOB_POLL_SECONDS": "0.1",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "engine", "worker", "--threads", "2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _states(engine: Engine) -> dict[str, int]:
    with engine.execution_options(jimu_read_only=True).connect() as conn:  # no write lock
        return {
            state: int(count)
            for state, count in conn.execute(
                select(JOBS.c.state, func.count()).group_by(JOBS.c.state)
            )
        }


def _wait(engine: Engine, until: Any, seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if until(_states(engine)):
            return
        assert process.poll() is None, "the worker exited"
        time.sleep(0.05)
    raise AssertionError(f"timed out; jobs by state: {_states(engine)}")


@pytest.mark.slow
def test_sigkill_in_the_middle_of_2000_jobs_loses_and_doubles_nothing(
    crash_database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = crash_database
    prepare_database(engine)
    receiver = Receiver()
    try:
        with engine.begin() as conn:
            apps.create(conn, handlers.APP, ExecutionContext.create(Actor(None, "api"), "UTC"))
            record_ids, http_ids = [], []
            for i in range(RECORD_JOBS):  # interleaved, so a killed batch holds both kinds
                record = {"title": f"job {i}", "n": i}
                record_ids.append(
                    enqueue(
                        conn, "test.record", {"app": "jobtest", "form": "tick", "record": record}
                    )
                )
                http_ids.append(enqueue(conn, "http.post", {"url": receiver.url, "json": {"i": i}}))
        log = tmp_path / "worker.log"
        first = _worker(url, tmp_path, log)
        try:
            # killed while it holds claims: jobs running, some perhaps half done
            _wait(engine, lambda s: s.get("done", 0) >= 400 and s.get("running"), 60, first)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        at_kill = _states(engine)
        assert at_kill.get("running", 0) > 0
        second = _worker(url, tmp_path, log)
        try:
            _wait(engine, lambda s: s.get("done", 0) == RECORD_JOBS + HTTP_JOBS, 90, second)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log.read_text()
    finally:
        receiver.close()

    with engine.connect() as conn:
        loaded = apps.load(conn, "jobtest")
        table = loaded.form("tick").table
        numbers = Counter(conn.execute(select(table.c[loaded.form("tick").fields["n"].column])))
        attempts = Counter(
            conn.execute(select(JOBS.c.attempts).where(JOBS.c.id.in_(record_ids))).scalars()
        )
    assert sorted(n for (n,) in numbers) == list(range(RECORD_JOBS))
    assert set(numbers.values()) == {1}, "a record effect happened twice"
    expected = {f"jimu-job-{i}" for i in http_ids}
    assert set(receiver.seen) == expected
    repeats = sum(count - 1 for count in receiver.seen.values())
    print(
        f"\n[{engine.dialect.name}] at SIGKILL: {at_kill}; record jobs by attempts: "
        f"{dict(attempts)}; HTTP deliveries repeated: {repeats} of {HTTP_JOBS}"
    )
