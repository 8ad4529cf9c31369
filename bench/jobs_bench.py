"""Jobs throughput: jobs per second claimed and completed by `engine.jobs.Worker`, with one and
with four workers (threads, each its own worker and connection), on SQLite and PostgreSQL,
against a baseline in the same run: a bare loop of the same statements written by hand (claim
a batch with one `UPDATE … WHERE id IN (SELECT … LIMIT 10 [FOR UPDATE SKIP LOCKED]) RETURNING`,
then per job one transaction that checks the claim and marks it done), through the driver.

The jobs are of a kind with an empty `apply` step, so what is measured is the queue itself.
Each round queues `--jobs` jobs (one transaction, timed as enqueue rate) and drains them; the
contenders alternate round by round and the median is reported.

Usage: ``python bench/jobs_bench.py [--jobs 2000] [--rounds 3] [--db sqlite|postgresql|both]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.jobs import JOB_KINDS, JobKind, RunningJob, Worker, enqueue, register_kind
from engine.jobs.queue import utcnow
from engine.settings import Settings
from engine.store import engine_for_url, prepare_database

KIND = "bench.noop"
BATCH = 10


def _noop(job: RunningJob, conn: Any) -> None:
    """Nothing: the queue's own cost is what is measured."""


if KIND not in JOB_KINDS:
    register_kind(JobKind(KIND, apply=_noop))


def queue(engine: Engine, count: int) -> float:
    """Queue `count` jobs in one transaction; seconds taken."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM jobs"))
    started = time.perf_counter()
    with engine.begin() as conn:
        for i in range(count):
            enqueue(conn, KIND, {"i": i})
    return time.perf_counter() - started


def jimu(engine: Engine, settings: Settings, workers: int) -> None:
    loops = [Worker(engine, settings, batch=BATCH, name=f"bench-{i}") for i in range(workers)]
    threads = [threading.Thread(target=one.drain, args=(10**6,)) for one in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def baseline(engine: Engine, workers: int) -> None:
    postgres = engine.dialect.name == "postgresql"
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""

    def now() -> Any:  # the same representation the store uses
        moment = utcnow()
        if postgres:
            return moment
        return int(moment.timestamp() * 1000)

    def loop(name: str) -> None:
        while True:
            with engine.begin() as conn:
                claimed = conn.exec_driver_sql(
                    "UPDATE jobs SET state = 'running', claimed_by = %(name)s, "
                    "lease_until = %(until)s, attempts = attempts + 1, updated_at = %(now)s "
                    "WHERE id IN (SELECT id FROM jobs WHERE kind = %(kind)s AND state = 'queued' "
                    f"AND run_at <= %(now)s ORDER BY run_at, id LIMIT {BATCH}{lock}) "
                    "RETURNING id, attempts, payload"
                    if postgres
                    else "UPDATE jobs SET state = 'running', claimed_by = :name, "
                    "lease_until = :until, attempts = attempts + 1, updated_at = :now "
                    "WHERE id IN (SELECT id FROM jobs WHERE kind = :kind AND state = 'queued' "
                    f"AND run_at <= :now ORDER BY run_at, id LIMIT {BATCH}) "
                    "RETURNING id, attempts, payload",
                    {"name": name, "until": now(), "now": now(), "kind": KIND},
                ).fetchall()
            if not claimed:
                return
            for job_id, attempts, _payload in claimed:
                with engine.begin() as conn:
                    check = (
                        "SELECT id FROM jobs WHERE id = %(id)s AND claimed_by = %(name)s "
                        "AND attempts = %(a)s FOR UPDATE"
                        if postgres
                        else "SELECT id FROM jobs WHERE id = :id AND claimed_by = :name "
                        "AND attempts = :a"
                    )
                    conn.exec_driver_sql(check, {"id": job_id, "name": name, "a": attempts})
                    done = (
                        "UPDATE jobs SET state = 'done', lease_until = NULL, "
                        "updated_at = %(now)s WHERE id = %(id)s"
                        if postgres
                        else "UPDATE jobs SET state = 'done', lease_until = NULL, "
                        "updated_at = :now WHERE id = :id"
                    )
                    conn.exec_driver_sql(done, {"now": now(), "id": job_id})

    threads = [threading.Thread(target=loop, args=(f"base-{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def done(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM jobs WHERE state = 'done'")).scalar())


def bench(engine: Engine, settings: Settings, jobs: int, rounds: int) -> None:
    prepare_database(engine)
    results: dict[str, list[float]] = {}
    enqueue_rates: list[float] = []
    for _ in range(rounds):
        for workers in (1, 4):
            for name, run in (
                ("jimu", lambda w=workers: jimu(engine, settings, w)),
                ("baseline", lambda w=workers: baseline(engine, w)),
            ):
                enqueue_rates.append(jobs / queue(engine, jobs))
                seconds = timed(run)
                assert done(engine) == jobs, f"{name} left jobs undone"
                results.setdefault(f"{name} {workers}", []).append(jobs / seconds)
    print(f"\n{engine.dialect.name}: {jobs} jobs per round, median of {rounds} rounds")
    print(f"  enqueue (one transaction): {statistics.median(enqueue_rates):,.0f} jobs/s")
    for workers in (1, 4):
        ours = statistics.median(results[f"jimu {workers}"])
        base = statistics.median(results[f"baseline {workers}"])
        print(
            f"  {workers} worker(s): Worker {ours:,.0f} jobs/s, bare statements {base:,.0f} "
            f"jobs/s, ratio {base / ours:.2f}x"
        )


@contextmanager
def database(kind: str, directory: Path) -> Iterator[Engine]:
    if kind == "sqlite":
        engine = engine_for_url(f"sqlite:///{directory / 'jobs.db'}")
        yield engine
        engine.dispose()
        return
    from tests.postgres_server import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        engine = engine_for_url(server.url, pool_size=8)
        yield engine
        engine.dispose()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as engine:
            settings = Settings(data_dir=Path(tmp), job_lease_seconds=300)
            bench(engine, settings, args.jobs, args.rounds)


if __name__ == "__main__":
    main()
