"""Async rules under a crash (issue 14, "Tests that must exist") and under concurrency, on
SQLite and on PostgreSQL.

The crash: a real `jimu serve` (one process, which also runs the job worker) with an async rule
that books one `ledger` record per created `order`, 5,000 orders sent through the batch API,
the server killed with SIGKILL while the rule's jobs are mid-way, restarted, and then every
order has exactly one ledger record and exactly one run, logged once as succeeded. The action
is a plain `create_record` (not an upsert, which would hide a second run), so a run done twice
would show as a second ledger record; the ledger records point at their order.

Concurrency: two job workers whose runs update one record all succeed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Engine

from engine.core.registry import Registry
from engine.forms import apps
from engine.forms.service import open_form
from engine.jobs import JOB_KINDS, JobKind, Worker
from engine.jobs.queue import JOBS
from engine.rules.models import RuleRun
from engine.rules.runtime import JOB_KIND
from engine.settings import Settings
from engine.store.session import engine_for_url
from tests.rules.fixtures import rule, set_up

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "rule-crash-admin-token"
API = "/api/v1"
ORDERS = 5000
BATCH = 250  # orders per batch request (one transaction each)
KILL_AT = 1000  # ledger records written before the SIGKILL
UNFINISHED_AT_KILL = 50  # rule jobs not yet done at the SIGKILL (at least)
RUNS: Any = RuleRun.__table__
DEALS = 100  # runs of two workers changing one record

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "crash",
    "name": {"zh": "崩溃测试", "en": "Crash test"},
    "version": "1",
    "forms": [
        {
            "key": "order",
            "name": {"zh": "订单", "en": "Order"},
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "required": True},
                {"key": "n", "type": "integer"},
            ],
        },
        {
            "key": "ledger",
            "name": {"zh": "台账", "en": "Ledger"},
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "required": True},
                {"key": "order", "type": "relation", "target": "order"},
                {"key": "n", "type": "integer"},
            ],
        },
    ],
    "rules": [
        {
            "key": "book",
            "name": {"zh": "订单记账", "en": "Book each order"},
            "form": "order",
            "on": {"type": "record_created"},
            "mode": "async",
            "actions": [
                {
                    "type": "create_record",
                    "form": "ledger",
                    "values": {"title": '"账 " & title', "order": "_id", "n": "n"},
                }
            ],
        }
    ],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """`jimu serve --workers 1` on one database, started and killed at will."""

    url: str
    database_url: str
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JIMU_DATABASE_URL": self.database_url,
            "JIMU_ADMIN_TOKEN": TOKEN,
            "JIMU_ADMIN_PASSWORD": "crash-admin-password-1",
            "JIMU_JOB_LEASE_SECONDS": "3",
            "JIMU_JOB_POLL_SECONDS": "0.05",
        }
        env.pop("JIMU_WORKERS", None)
        port = self.url.rsplit(":", 1)[1]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine", "serve", "--workers", "1", "--port", port],
                cwd=ROOT,
                env={**env, "JIMU_DATA_DIR": str(self.data_dir)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.url}{API}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            assert time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM and wait; the exit status (negative: the signal that ended it)."""
        assert self.process is not None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + API, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        )


@pytest.fixture
def crash_database(db_url: str) -> Iterator[str]:
    """A URL a subprocess can use (PostgreSQL: a schema of its own)."""
    if not db_url.startswith("postgresql"):
        yield db_url
        return
    schema = f"rulecrash_{uuid.uuid4().hex[:10]}"
    admin = engine_for_url(db_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{db_url}?options={quote(f'-c search_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@dataclass
class Tables:
    """The app's record tables and their columns, read from the published app."""

    order: Table
    order_n: str
    ledger: Table
    ledger_order: str

    @classmethod
    def of(cls, engine: Engine) -> Tables:
        with engine.connect() as conn:
            loaded = apps.load(conn, "crash")
        order, ledger = loaded.form("order"), loaded.form("ledger")
        return cls(
            order.table,
            order.fields["n"].column,
            ledger.table,
            ledger.fields["order"].column,
        )


def _progress(engine: Engine, tables: Tables) -> tuple[int, int, int]:
    """(ledger records, rule jobs claimed right now, rule jobs not done), read without the
    write lock."""
    with engine.execution_options(jimu_read_only=True).connect() as conn:
        booked = conn.execute(select(func.count()).select_from(tables.ledger)).scalar_one()
        states = dict(
            conn.execute(
                select(JOBS.c.state, func.count())
                .where(JOBS.c.kind == JOB_KIND, JOBS.c.state != "done")
                .group_by(JOBS.c.state)
            ).all()
        )
    return int(booked), int(states.get("running", 0)), sum(int(n) for n in states.values())


def _sent(engine: Engine, tables: Tables) -> list[int]:
    """The `n` of every order stored."""
    with engine.connect() as conn:
        return [int(n) for n in conn.execute(select(tables.order.c[tables.order_n])).scalars()]


def _send(
    server: Server,
    numbers: list[int],
    kill: Callable[[], bool] | None = None,
    sent: list[int] | None = None,
) -> bool:
    """Create an order for each of `numbers` in batches (counted in `sent[0]`); with `kill`,
    call it after each batch until it has killed the server (True) or every order is sent
    (False)."""
    with server.client() as client:
        for start in range(0, len(numbers), BATCH):
            chunk = numbers[start : start + BATCH]
            body = [{"title": f"订单 {n}", "n": n} for n in chunk]
            answer = client.post("/apps/crash/forms/order/records/batch", json=body)
            assert answer.status_code == 200, answer.text
            assert all(row["ok"] for row in answer.json()["results"])
            if sent is not None:
                sent[0] += len(chunk)
            if kill is not None and kill():
                return True
    return False


@pytest.mark.slow
def test_sigkill_in_the_middle_of_5000_async_rule_runs_books_each_order_exactly_once(
    crash_database: str, tmp_path: Path
) -> None:
    server = Server(
        f"http://127.0.0.1:{_free_port()}", crash_database, tmp_path, tmp_path / "server.log"
    )
    engine = engine_for_url(crash_database)
    started = time.monotonic()
    try:
        server.start()
        with server.client() as client:
            made = client.post("/apps", json=APP)
            assert made.status_code == 201, made.text
        tables = Tables.of(engine)

        def kill_mid_way() -> bool:
            """Kill once the worker has booked KILL_AT orders and holds claimed jobs with
            plenty left to run (watching for half a second after a batch: a worker that keeps
            up with the batches claims the next ones within its quick poll)."""
            deadline = time.monotonic() + 0.5
            while True:
                booked, running, unfinished = _progress(engine, tables)
                if booked >= KILL_AT and running and unfinished >= UNFINISHED_AT_KILL:
                    server.kill()
                    return True
                if booked >= KILL_AT and unfinished == 0 and sent[0] == ORDERS:
                    raise AssertionError("the worker ran every job before it could be killed")
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)

        sent = [0]
        killed = _send(server, list(range(ORDERS)), kill_mid_way, sent)
        while not killed:  # every order sent before the worker got that far: wait for it
            assert server.alive(), server.log.read_text(errors="replace")
            killed = kill_mid_way()
        booked_at_kill, _, _ = _progress(engine, tables)
        with engine.connect() as conn:
            unfinished = dict(
                conn.execute(
                    select(JOBS.c.id, JOBS.c.state).where(
                        JOBS.c.kind == JOB_KIND, JOBS.c.state != "done"
                    )
                ).all()
            )
        claimed = {job for job, state in unfinished.items() if state == "running"}
        # killed mid-way: some orders booked, not all of them, rule jobs left unfinished
        assert 0 < booked_at_kill < ORDERS
        assert unfinished

        server.start()  # the same database; the dead worker's claims run out and are taken over
        missing = sorted(set(range(ORDERS)) - set(_sent(engine, tables)))
        _send(server, missing)
        deadline = time.monotonic() + 120
        while True:
            with engine.execution_options(jimu_read_only=True).connect() as conn:
                open_runs = conn.execute(
                    select(func.count()).select_from(RUNS).where(RUNS.c.state == "queued")
                ).scalar_one()
            if not open_runs:
                break
            assert server.alive(), server.log.read_text(errors="replace")
            assert time.monotonic() < deadline, f"runs still queued: {open_runs}"
            time.sleep(0.1)
        # uvicorn ends on SIGTERM by raising it again once shut down
        assert server.stop() in (0, -signal.SIGTERM), server.log.read_text(errors="replace")

        numbers = Counter(_sent(engine, tables))
        assert sorted(numbers) == list(range(ORDERS)) and set(numbers.values()) == {1}
        with engine.connect() as conn:
            orders = set(conn.execute(select(tables.order.c["_id"])).scalars())
            booked = Counter(conn.execute(select(tables.ledger.c[tables.ledger_order])).scalars())
            runs = list(conn.execute(select(RUNS.c.record_id, RUNS.c.state, RUNS.c.attempt)))
            jobs = list(
                conn.execute(
                    select(JOBS.c.id, JOBS.c.state, JOBS.c.attempts).where(JOBS.c.kind == JOB_KIND)
                )
            )
        # every effect exactly once: one ledger record per order, none missing, none doubled
        assert set(booked) == orders, "an order has no ledger record"
        assert set(booked.values()) == {1}, "an order was booked twice"
        # every run logged once, as succeeded, on its first counted attempt: a run killed
        # half-way left nothing behind, not even its attempt
        assert Counter(r.record_id for r in runs) == Counter(dict.fromkeys(orders, 1))
        assert {(r.state, r.attempt) for r in runs} == {("succeeded", 1)}
        assert len(jobs) == ORDERS and {j.state for j in jobs} == {"done"}
        # the claims the killed worker held were taken over after the restart and counted
        assert {j.attempts for j in jobs if j.id in claimed} <= {2}
        assert {j.attempts for j in jobs if j.id not in claimed} == {1}
        print(
            f"\n[{engine.dialect.name}] SIGKILL at {booked_at_kill} of {ORDERS} booked, "
            f"{len(unfinished)} rule jobs unfinished, {len(claimed)} of them claimed; "
            f"{time.monotonic() - started:.1f} s"
        )
    finally:
        if server.alive():
            server.kill()
        engine.dispose()


def test_runs_of_two_workers_changing_one_record_take_turns(store_engine: Engine) -> None:
    """Two job workers (threads; on PostgreSQL they run at once) each running async runs that
    update the same customer: every run succeeds — the target's row is locked while a run
    changes it — instead of half of them failing with stale_version."""
    touch = rule(
        "touch",
        {"type": "record_created"},
        [
            {
                "type": "update_records",
                "target": {"relation": "customer"},
                "values": {"touched": "bounce"},
            }
        ],
    )
    rules = set_up(store_engine, touch)
    customer = rules.create("customer", name="ACME")
    with store_engine.begin() as conn:
        deals = [{"name": f"单 {i}", "customer": customer, "bounce": i} for i in range(DEALS)]
        open_form(rules.ctx(), conn, "sales", "deal").create_many(deals)
    kinds: Registry[JobKind] = Registry("job kind")
    kinds.register(JOB_KIND, JOB_KINDS[JOB_KIND])
    settings = Settings(timezone="Asia/Shanghai")
    workers = [Worker(store_engine, settings, kinds=kinds, name=f"w{i}", batch=5) for i in (1, 2)]
    threads = [threading.Thread(target=worker.drain) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = rules.runs("touch")
    assert len(runs) == DEALS
    assert {(run.state, run.error) for run in runs} == {("succeeded", None)}
    updates = [e for e in rules.history("customer", customer) if e["event"] == "update"]
    assert len(updates) == DEALS  # each run's write applied, none lost
    assert {run.record_id for run in runs} == {r["_id"] for r in rules.records("deal")}
