"""`jimu serve --workers 2` as real processes, on SQLite (WAL) and PostgreSQL: both HTTP workers
see a publish made through either, jobs run exactly once by the one job worker (a thread of the
supervising process, never of an HTTP worker), and sign-in throttling counts failures answered
by any worker. Workers are told apart by the `X-Jimu-Worker` header (their process id); requests
go on fresh connections, repeated until both workers have answered."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from engine.jobs import enqueue, load_kinds
from engine.jobs.queue import JOBS
from engine.jobs.worker import LEASES
from engine.store.session import engine_for_url
from tests.hook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "workers-test-admin-token"
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "wk",
    "name": "多进程 / workers",
    "version": "1",
    "forms": [
        {
            "key": "item",
            "name": "条目",
            "title_field": "title",
            "fields": [{"key": "title", "type": "text", "required": True}],
        }
    ],
}
RECORDS = "/api/v1/apps/wk/forms/item/records"
SERVE = [sys.executable, "-m", "engine", "serve", "--workers", "2"]
TRIES = 400  # fresh connections until both workers have answered (the kernel spreads them)


@dataclass
class Served:
    """A `jimu serve --workers 2` process and an engine on its database."""

    url: str
    process: subprocess.Popen[bytes]
    engine: Engine
    log: Path

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a fresh connection (so either worker may take it)."""
        headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
        response = httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)
        assert "x-jimu-worker" in response.headers
        return response

    def from_each_worker(
        self, method: str, path: str, check: Callable[[httpx.Response], None], **kwargs: Any
    ) -> set[int]:
        """Repeat a request until both workers answered it, checking every answer."""
        seen: set[int] = set()
        for _ in range(TRIES):
            response = self.call(method, path, **kwargs)
            check(response)
            seen.add(int(response.headers["x-jimu-worker"]))
            if len(seen) == 2:
                return seen
        raise AssertionError(f"only workers {seen} answered {TRIES} requests")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spawn(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`jimu serve --workers 2` on `data_dir` and `port`, its output in `server.log` there."""
    with (data_dir / "server.log").open("wb") as out:
        return subprocess.Popen(
            [*SERVE, "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("workers")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JIMU_ADMIN_TOKEN": TOKEN,
        "JIMU_ADMIN_PASSWORD": "workers-admin-password-1",
        "JIMU_JOB_POLL_SECONDS": "0.1",
    }
    env.pop("JIMU_WORKERS", None)
    schema = None
    admin: Engine | None = None
    if request.param == "postgres":
        base: str = request.getfixturevalue("postgres_url")
        schema = f"workers_{uuid.uuid4().hex[:10]}"
        admin = engine_for_url(base)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{base}?options={quote(f'-c search_path={schema}')}"
        env["JIMU_DATABASE_URL"] = url
    else:
        url = f"sqlite:///{data_dir / 'jimu.db'}"
        env.pop("JIMU_DATABASE_URL", None)
    port = _free_port()
    log = data_dir / "server.log"
    process = _spawn(data_dir, port, env)
    engine = engine_for_url(url)
    served = Served(f"http://127.0.0.1:{port}", process, engine, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{served.url}/api/v1/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            assert process.wait(timeout=30) == 0, log.read_text(errors="replace")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            engine.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def test_two_http_workers_that_are_children_of_the_serve_process(served: Served) -> None:
    workers = served.from_each_worker(
        "GET", "/api/v1/health", lambda r: r.raise_for_status() if r.status_code != 200 else None
    )
    assert served.process.pid not in workers
    assert workers <= _children(served.process.pid)
    assert "HTTP workers / 工作进程: 2" in served.log.read_text()


def test_a_publish_through_one_worker_is_seen_by_both(served: Served) -> None:
    assert served.call("POST", "/api/v1/apps", json=APP).status_code == 201
    created = served.call("POST", RECORDS, json={"title": "一"})
    assert created.status_code == 201, created.text

    def before(response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        assert set(response.json()["items"][0]) >= {"title"}
        assert "note" not in response.json()["items"][0]

    served.from_each_worker("GET", RECORDS, before)  # both have revision 1 loaded

    live = served.call("GET", "/api/v1/apps/wk").json()
    changed = {**APP, "_revision": live["_revision"]}
    changed["forms"] = [
        {**APP["forms"][0], "fields": [*APP["forms"][0]["fields"], {"key": "note", "type": "text"}]}
    ]
    published = served.call("PUT", "/api/v1/apps/wk", json=changed)
    assert published.status_code == 200, published.text
    by = int(published.headers["x-jimu-worker"])

    def after(response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        assert response.json()["items"][0]["note"] is None

    seen = served.from_each_worker("GET", RECORDS, after)
    assert by in seen  # the other one had revision 1 cached and read the new one

    def writes_the_new_field(response: httpx.Response) -> None:
        assert response.status_code == 201, response.text
        assert response.json()["note"] == "新字段"

    served.from_each_worker(
        "POST", RECORDS, writes_the_new_field, json={"title": "二", "note": "新字段"}
    )


def test_jobs_run_once_by_the_one_job_worker_in_the_supervisor(served: Served) -> None:
    load_kinds()
    receiver = Receiver()
    try:
        with served.engine.begin() as conn:
            ids = [
                enqueue(conn, "http.post", {"url": receiver.url, "json": {"i": i}})
                for i in range(30)
            ]
        deadline = time.monotonic() + 60
        while True:
            with served.engine.execution_options(jimu_read_only=True).connect() as conn:
                rows = conn.execute(
                    select(JOBS.c.state, JOBS.c.attempts, JOBS.c.claimed_by).where(
                        JOBS.c.id.in_(ids)
                    )
                ).all()
            if all(row.state == "done" for row in rows):
                break
            assert time.monotonic() < deadline, f"jobs not done: {rows}"
            time.sleep(0.1)
        with served.engine.execution_options(jimu_read_only=True).connect() as conn:
            leases = conn.execute(select(LEASES.c.name, LEASES.c.holder)).all()
    finally:
        receiver.close()
    assert {(row.attempts) for row in rows} == {1}
    assert sorted(receiver.seen.values()) == [1] * len(ids)  # each delivered exactly once
    claimers = {row.claimed_by for row in rows}
    assert len(claimers) == 1
    [claimer] = claimers
    [lease] = leases  # one serve-worker lease, held by that worker
    assert (lease.name, lease.holder) == ("serve-worker", claimer)
    pid = int(claimer.split(":")[-2])  # host:pid:suffix
    assert pid == served.process.pid  # the supervisor, not an HTTP worker
    workers = _children(served.process.pid)
    assert pid not in workers


def test_sign_in_throttling_counts_failures_answered_by_any_worker(served: Served) -> None:
    def login(password: str) -> httpx.Response:
        return httpx.post(
            served.url + "/api/v1/auth/login",
            json={"username": "admin", "password": password},
            timeout=60,
        )

    answered_by: set[int] = set()
    for i in range(5):  # the limit of failures for one username from one address
        response = login(f"wrong-password-{i}")
        assert response.status_code == 401, response.text
        answered_by.add(int(response.headers["x-jimu-worker"]))
    seen: set[int] = set()
    for _ in range(TRIES):
        response = login("wrong-password-again")
        assert response.status_code == 429, response.text
        assert response.json()["error"]["code"] == "too_many_attempts"
        seen.add(int(response.headers["x-jimu-worker"]))
        if len(seen) == 2:
            break
    assert len(seen) == 2, f"only workers {seen} answered"
    print("failures answered by", answered_by, "refusals by", seen)


def test_a_count_either_worker_keeps_is_exact_after_a_write_through_the_other(
    served: Served,
) -> None:
    """Both workers count the same list (on SQLite each then serves it from its count cache),
    a write goes through one of them, and every answer of both is the new total."""
    app = {**APP, "key": "wkc"}
    assert served.call("POST", "/api/v1/apps", json=app).status_code == 201
    records = "/api/v1/apps/wkc/forms/item/records"
    first = served.call("POST", records, json={"title": "甲"}).json()["_id"]
    assert served.call("POST", records, json={"title": "乙"}).status_code == 201
    count = {"filter": 'title != "丙"', "limit": 0}

    def totals(expected: int) -> Callable[[httpx.Response], None]:
        def check(response: httpx.Response) -> None:
            assert response.status_code == 200, response.text
            assert response.json()["total"] == expected

        return check

    for _ in range(2):  # each worker has counted, then served it again
        served.from_each_worker("GET", records, totals(2), params=count)
    made = served.call("POST", records, json={"title": "丁"})
    assert made.status_code == 201, made.text
    for _ in range(2):
        served.from_each_worker("GET", records, totals(3), params=count)
    assert served.call("DELETE", f"{records}/{first}").status_code == 204
    for _ in range(2):
        served.from_each_worker("GET", records, totals(2), params=count)


def test_http_workers_end_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no chance to stop its workers: each notices it is orphaned
    and exits by itself instead of serving on without a job worker."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JIMU_ADMIN_TOKEN": TOKEN}
    env.pop("JIMU_DATABASE_URL", None)
    env.pop("JIMU_WORKERS", None)
    port = _free_port()
    log = tmp_path / "server.log"
    process = _spawn(tmp_path, port, env)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while len(workers) < 2:
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
                workers.add(int(answer.headers["x-jimu-worker"]))
            except httpx.TransportError:
                time.sleep(0.2)
        assert workers <= _children(process.pid)
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 60
    alive = workers
    while alive:
        assert time.monotonic() < deadline, f"workers {alive} still run after their supervisor"
        time.sleep(0.1)
        alive = {pid for pid in alive if _running(pid)}


def _running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
