"""The worker on SQLite and PostgreSQL: retries with backoff, dead jobs retried through the API,
dedupe keys, lease takeover without a second effect, missed cron moments, the serve lease."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.auth.directory import ensure_admin
from engine.core.registry import Registry
from engine.jobs import (
    JOB_KINDS,
    SCHEDULES,
    SERVE_LEASE,
    JobKind,
    Schedule,
    Worker,
    enqueue,
    get_job,
    load_kinds,
    moment_key,
)
from engine.jobs.queue import JOBS
from engine.jobs.worker import LEASES, QUICK_POLL
from engine.settings import Settings
from tests.jobs.conftest import Clock
from tests.jobs.handlers import EFFECTS

TOKEN = "jobs-admin-token"


def job(engine: Engine, job_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        found = get_job(conn, job_id)
    assert found is not None
    return found


def effects(engine: Engine) -> list[tuple[int, str | None]]:
    with engine.connect() as conn:
        return [(r.job_id, r.note) for r in conn.execute(select(EFFECTS).order_by(EFFECTS.c.id))]


def test_a_handler_that_fails_twice_then_succeeds(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    with jobs_engine.begin() as conn:
        job_id = enqueue(conn, "test.flaky", {"fail": 2})
    worker = Worker(jobs_engine, settings, clock=clock)

    assert worker.run_once() == 1
    first = job(jobs_engine, job_id)
    assert first["state"] == "queued" and first["attempts"] == 1
    assert first["last_error"] == "RuntimeError: planned failure 1"
    assert first["run_at"] == "2030-01-01T02:30:01.000Z"  # backoff 1 s after attempt 1
    assert worker.run_once() == 0  # not due yet

    clock.advance(1)
    assert worker.run_once() == 1
    second = job(jobs_engine, job_id)
    assert second["attempts"] == 2 and second["run_at"] == "2030-01-01T02:30:03.000Z"  # 2 s
    clock.advance(1.5)
    assert worker.run_once() == 0
    clock.advance(0.5)
    assert worker.run_once() == 1

    done = job(jobs_engine, job_id)
    assert done["state"] == "done" and done["attempts"] == 3 and done["lease_until"] is None
    assert effects(jobs_engine) == [(job_id, "attempt 3")]


def test_a_dead_job_is_listed_and_retried_through_the_api(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    with jobs_engine.begin() as conn:
        ensure_admin(conn, "admin-password-1")
        job_id = enqueue(conn, "test.dies", {"fail": 99})
        other = enqueue(conn, "test.effect", {"note": "fine"})
    worker = Worker(jobs_engine, settings, clock=clock)
    for _ in range(3):
        worker.run_once()
        clock.advance(10)
    dead = job(jobs_engine, job_id)
    assert dead["state"] == "dead" and dead["attempts"] == 3
    assert dead["last_error"] == "RuntimeError: planned failure 3"

    app = create_app(settings.model_copy(update={"admin_token": SecretStr(TOKEN)}))
    app.state.engine = jobs_engine
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/api/v1/jobs").status_code == 401
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    listed = client.get("/api/v1/jobs", params={"state": "dead"}).json()
    assert [j["id"] for j in listed["jobs"]] == [job_id]
    assert listed["counts"] == {"queued": 0, "running": 0, "done": 1, "dead": 1}
    assert [j["id"] for j in client.get("/api/v1/jobs").json()["jobs"]] == [other, job_id]
    bad = client.get("/api/v1/jobs", params={"state": "broken"})
    assert bad.status_code == 400 and bad.json()["error"]["issues"][0]["path"] == "state"

    refused = client.post(f"/api/v1/jobs/{other}/retry")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "job_not_dead"
    assert client.post("/api/v1/jobs/999999/retry").status_code == 404

    with jobs_engine.begin() as conn:  # the operator fixed what made it fail
        conn.execute(insert(EFFECTS).values(job_id=0, note="fixed"))
    retried = client.post(f"/api/v1/jobs/{job_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "queued" and retried.json()["attempts"] == 0
    assert worker.run_once() == 1
    assert job(jobs_engine, job_id)["state"] == "done"
    assert (job_id, "attempt 1") in effects(jobs_engine)


def test_the_same_key_twice_makes_one_job(jobs_engine: Engine) -> None:
    moment = dt.datetime(2026, 12, 24, 9, 0, tzinfo=dt.UTC)
    key = moment_key("remind:order:12", moment)
    assert key == "remind:order:12@2026-12-24T09:00:00Z"
    with jobs_engine.begin() as conn:
        first = enqueue(conn, "test.effect", {"n": 1}, moment, key)
        again = enqueue(conn, "test.effect", {"n": 2}, moment, key)
    with jobs_engine.begin() as conn:  # a later transaction too
        later = enqueue(conn, "test.effect", {"n": 3}, key=key)
        other_kind = enqueue(conn, "test.flaky", {}, key=key)
        unkeyed = [enqueue(conn, "test.effect", {}), enqueue(conn, "test.effect", {})]
        next_moment = enqueue(
            conn, "test.effect", {}, key=moment_key("remind:order:12", moment.replace(day=25))
        )
    assert first == again == later
    assert len({first, other_kind, *unkeyed, next_moment}) == 5
    assert job(jobs_engine, first)["payload"] == {"n": 1}


def test_a_rolled_back_enqueue_leaves_no_job(jobs_engine: Engine) -> None:
    with jobs_engine.connect() as conn:
        transaction = conn.begin()
        enqueue(conn, "test.effect", {})
        transaction.rollback()
    with jobs_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EFFECTS)).scalar() == 0
        assert get_job(conn, 1) is None


def test_an_expired_lease_is_taken_over_and_the_effect_happens_once(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    with jobs_engine.begin() as conn:
        job_id = enqueue(conn, "test.effect", {"note": "once"})
    stuck = Worker(jobs_engine, settings, name="stuck", clock=clock)
    claimed = stuck._claim(JOB_KINDS.names(), clock())  # claims, then hangs
    assert [row.id for row in claimed] == [job_id]

    rescuer = Worker(jobs_engine, settings, name="rescuer", clock=clock)
    assert rescuer.run_once() == 0  # the lease still holds
    clock.advance(61)
    assert rescuer.run_once() == 1
    assert job(jobs_engine, job_id)["attempts"] == 2

    stuck._run(claimed[0], JOB_KINDS["test.effect"])  # wakes up: its claim is gone
    assert effects(jobs_engine) == [(job_id, "once")]
    assert job(jobs_engine, job_id)["state"] == "done"


def test_a_claim_whose_lease_ran_half_out_is_handed_back(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    with jobs_engine.begin() as conn:
        ids = [enqueue(conn, "test.effect", {}) for _ in range(3)]

    def slow_clock() -> dt.datetime:  # each job seems to take 20 s of the 60 s lease
        clock.advance(20)
        return clock.now

    worker = Worker(jobs_engine, settings, clock=slow_clock)
    assert worker.run_once() == 1
    states = [job(jobs_engine, i) for i in ids]
    assert [s["state"] for s in states] == ["done", "queued", "queued"]
    assert [s["attempts"] for s in states] == [1, 0, 0]
    assert Worker(jobs_engine, settings, clock=clock).drain() == 2


def test_a_batch_kind_applies_its_jobs_in_one_commit_and_a_failing_one_fails_alone(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    commits: list[int] = []

    def count(conn: Any) -> None:
        commits.append(1)

    event.listen(jobs_engine, "commit", count)
    try:
        with jobs_engine.begin() as conn:
            clean = [enqueue(conn, "test.batched", {"fail": 0}) for _ in range(4)]
        commits.clear()
        assert Worker(jobs_engine, settings, clock=clock).run_once() == 4
        assert len(commits) == 2  # the claim, then the four applies and their completion
        assert effects(jobs_engine) == [(i, "attempt 1") for i in clean]

        with jobs_engine.begin() as conn:
            mixed = [enqueue(conn, "test.batched", {"fail": int(i == 1)}) for i in range(6)]
        assert Worker(jobs_engine, settings, clock=clock).run_once() == 6
    finally:
        event.remove(jobs_engine, "commit", count)
    states = [job(jobs_engine, i) for i in mixed]
    assert [(s["state"], s["attempts"]) for s in states] == [("done", 1), ("queued", 1)] + [
        ("done", 1)
    ] * 4
    assert states[1]["last_error"] == "RuntimeError: planned failure 1"
    done = [i for i in mixed if i != mixed[1]]
    assert effects(jobs_engine)[4:] == [(i, "attempt 1") for i in done]  # each once
    clock.advance(2)
    assert Worker(jobs_engine, settings, clock=clock).drain() == 1
    assert effects(jobs_engine)[-1] == (mixed[1], "attempt 2")
    assert job(jobs_engine, mixed[1])["state"] == "done"


def test_a_cron_moment_missed_while_down_fires_once(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    schedules: Registry[Schedule] = Registry("schedule")
    schedules.register("hourly", Schedule("hourly", "0 * * * *", "test.effect", {"note": "tick"}))
    clock.now = dt.datetime(2026, 12, 5, 10, 30, tzinfo=dt.UTC)
    Worker(jobs_engine, settings, schedules=schedules, clock=clock).schedule()

    clock.now = dt.datetime(2026, 12, 5, 15, 45, tzinfo=dt.UTC)  # down from 10:30 to 15:45
    restarted = Worker(jobs_engine, settings, schedules=schedules, clock=clock)
    restarted.schedule()
    assert restarted.drain() == 1
    assert effects(jobs_engine) == [(1, "tick")]
    with jobs_engine.connect() as conn:
        rows = list(conn.execute(select(EFFECTS.c.id)))
        assert len(rows) == 1
        keys = {r.key: r.state for r in conn.execute(select(JOBS.c.key, JOBS.c.state))}
    assert keys == {
        "cron:hourly@2026-12-05T11:00:00Z": "done",
        "cron:hourly@2026-12-05T16:00:00Z": "queued",
    }
    restarted.schedule()  # nothing new before 16:00
    clock.now = dt.datetime(2026, 12, 5, 16, 0, 1, tzinfo=dt.UTC)
    restarted.schedule()
    assert restarted.drain() == 1
    with jobs_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(JOBS)).scalar() == 3


def test_cron_reads_the_organisation_time_zone(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    schedules: Registry[Schedule] = Registry("schedule")
    schedules.register("daily", Schedule("daily", "0 9 * * *", "test.effect"))
    kiritimati = settings.model_copy(update={"timezone": "Pacific/Kiritimati"})  # UTC+14
    Worker(jobs_engine, kiritimati, schedules=schedules, clock=clock).schedule()
    with jobs_engine.connect() as conn:
        assert conn.execute(select(JOBS.c.key)).scalar() == "cron:daily@2030-01-01T19:00:00Z"


def test_one_worker_holds_the_serve_lease(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    first = Worker(jobs_engine, settings, name="first", singleton=SERVE_LEASE, clock=clock)
    second = Worker(jobs_engine, settings, name="second", singleton=SERVE_LEASE, clock=clock)
    assert first._lead() and not second._lead()
    clock.advance(50)
    assert first._lead() and not second._lead()  # renewed after a third of the lease
    clock.advance(61)  # the first process died without giving the lease up
    assert second._lead() and not first._lead()
    second._resign()
    assert first._lead()


def test_a_url_that_is_not_http_is_dead_at_once(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    with jobs_engine.begin() as conn:
        job_id = enqueue(conn, "http.post", {"url": "file:///etc/passwd", "json": {}})
    Worker(jobs_engine, settings, clock=clock).run_once()
    dead = job(jobs_engine, job_id)
    assert dead["state"] == "dead" and dead["attempts"] == 1
    assert "not an http(s) URL" in dead["last_error"]


def test_a_kind_with_its_own_lease_is_claimed_for_that_long(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    kinds: Registry[JobKind] = Registry("job kind")
    kinds.register("test.effect", JOB_KINDS["test.effect"])
    kinds.register("test.long", JobKind("test.long", apply=effect_of_long, lease_seconds=3600))
    with jobs_engine.begin() as conn:
        short = enqueue(conn, "test.effect", {})
        long = enqueue(conn, "test.effect", {})
    with jobs_engine.begin() as conn:
        conn.execute(update(JOBS).where(JOBS.c.id == long).values(kind="test.long"))
    claimed = Worker(jobs_engine, settings, kinds=kinds, clock=clock)._claim(kinds.names(), clock())
    leases = {row.id: row.lease_until for row in claimed}
    assert leases == {
        short: clock.now + dt.timedelta(seconds=60),
        long: clock.now + dt.timedelta(seconds=3600),
    }


def effect_of_long(job: Any, conn: Any) -> None:
    """A step that is never run here."""


def test_of_two_serve_processes_one_worker_works(jobs_engine: Engine, settings: Settings) -> None:
    import time
    from contextlib import ExitStack

    from engine.cli import _job_worker

    url = jobs_engine.url.render_as_string(hide_password=False)
    if jobs_engine.dialect.name == "postgresql":  # its schema (a copy database: public)
        with jobs_engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
        url += f"?options=-c%20search_path%3D{schema}"
    options = {"database_url": url, "job_modules": ("tests.jobs.handlers",)}
    shared = settings.model_copy(update=options)
    with jobs_engine.begin() as conn:
        ids = [enqueue(conn, "test.effect", {"note": str(i)}) for i in range(40)]
    with ExitStack() as stack:
        stack.enter_context(_job_worker(shared, singleton=True))
        stack.enter_context(_job_worker(shared, singleton=True))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with jobs_engine.connect() as conn:
                left = conn.execute(
                    select(func.count())
                    .select_from(JOBS)
                    .where(JOBS.c.id.in_(ids), JOBS.c.state != "done")
                ).scalar()
            if left == 0:
                break
            time.sleep(0.05)
    with jobs_engine.connect() as conn:
        runners = set(conn.execute(select(JOBS.c.claimed_by).where(JOBS.c.id.in_(ids))).scalars())
        lease = conn.execute(select(func.count()).select_from(LEASES)).scalar()
    assert left == 0 and len(runners) == 1 and None not in runners
    assert lease == 0  # given up on the way out


def test_the_orphan_sweep_is_a_daily_job(
    jobs_engine: Engine, settings: Settings, clock: Clock
) -> None:
    load_kinds(["engine.forms.jobs"])
    assert "files.sweep.daily" in SCHEDULES
    with jobs_engine.begin() as conn:
        job_id = enqueue(conn, "files.sweep", {})
    Worker(jobs_engine, settings, clock=clock).run_once()
    assert job(jobs_engine, job_id)["state"] == "done"


class _Waits(threading.Event):
    """A stop event that notes every idle wait of `Worker.run` instead of sleeping: at the
    `enqueue_at`-th wait it queues a job, at the `stop_at`-th it stops the worker."""

    def __init__(self, engine: Engine, enqueue_at: int, stop_at: int) -> None:
        super().__init__()
        self.engine, self.enqueue_at, self.stop_at = engine, enqueue_at, stop_at
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        if len(self.waits) == self.enqueue_at:
            with self.engine.begin() as conn:
                enqueue(conn, "test.effect", {"note": "while idle"})
        if len(self.waits) == self.stop_at:
            self.set()
        return self.is_set()


def test_a_worker_that_ran_jobs_polls_again_soon_and_backs_off_while_idle(
    jobs_engine: Engine, settings: Settings
) -> None:
    quick = QUICK_POLL
    idle = settings.model_copy(update={"job_poll_seconds": quick * 8})
    with jobs_engine.begin() as conn:
        enqueue(conn, "test.effect", {"note": "first"})
    stop = _Waits(jobs_engine, enqueue_at=5, stop_at=7)
    Worker(jobs_engine, idle).run(stop)
    # the first job ran on the first pass; idle passes wait twice as long each time, up to
    # JIMU_JOB_POLL_SECONDS; the job queued during the 5th wait ran on the next pass, after
    # which the worker polled soon again
    assert stop.waits == [quick, quick * 2, quick * 4, quick * 8, quick * 8, quick, quick * 2]
    assert [note for _, note in effects(jobs_engine)] == ["first", "while idle"]
    slow = Worker(jobs_engine, settings.model_copy(update={"job_poll_seconds": quick / 2}))
    assert slow.idle_wait(None) == slow.idle_wait(quick / 2) == quick / 2
