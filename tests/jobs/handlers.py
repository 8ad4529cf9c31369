"""Job kinds the job tests run, registered on import (`JIMU_JOB_MODULES=tests.jobs.handlers`
makes a `jimu worker` subprocess know them too), and the tiny app their records go to."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Connection

from engine.core.context import Actor
from engine.forms import apps
from engine.forms.records import Writer
from engine.jobs import JOB_KINDS, JobKind, RunningJob, register_kind

EFFECTS_META = MetaData()
EFFECTS = Table(
    "test_job_effects",
    EFFECTS_META,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, nullable=False),
    Column("note", String(100)),
)

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "jobtest",
    "name": {"zh": "任务测试", "en": "Job test"},
    "version": "1",
    "forms": [
        {
            "key": "tick",
            "name": "记录",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "required": True},
                {"key": "n", "type": "integer"},
            ],
        }
    ],
}

# In-process bookkeeping of `call` steps, to see two workers running one job at once.
RUNNING: set[int] = set()
OVERLAPS: list[int] = []
CALLS: list[int] = []
_LOCK = threading.Lock()


def flaky(job: RunningJob, conn: Connection) -> None:
    """Fails the first `payload.fail` attempts (2 by default) until a "fixed" effect row exists,
    then records its effect."""
    fixed = conn.execute(select(EFFECTS.c.id).where(EFFECTS.c.note == "fixed")).first()
    if job.attempt <= int(job.payload.get("fail", 2)) and fixed is None:
        raise RuntimeError(f"planned failure {job.attempt}")
    conn.execute(insert(EFFECTS).values(job_id=job.id, note=f"attempt {job.attempt}"))


def effect(job: RunningJob, conn: Connection) -> None:
    """Records its effect once per run."""
    conn.execute(insert(EFFECTS).values(job_id=job.id, note=job.payload.get("note")))


def watched_call(job: RunningJob) -> None:
    """Notes that this job runs, waits `payload.sleep` seconds, and flags any overlap."""
    with _LOCK:
        if job.id in RUNNING:
            OVERLAPS.append(job.id)
        RUNNING.add(job.id)
        CALLS.append(job.id)
    try:
        time.sleep(float(job.payload.get("sleep", 0)))
    finally:
        with _LOCK:
            RUNNING.discard(job.id)


def write_record(job: RunningJob, conn: Connection) -> None:
    """Creates `payload.record` in `payload.form` of app `payload.app` through the record
    pipeline, with no access restrictions."""
    actor = Actor(None, "api")
    loaded = apps.load(conn, job.payload["app"])
    writer = Writer(loaded.layout, loaded.id, loaded.form(job.payload["form"]), job.context(actor))
    writer.create_many(conn, [job.payload["record"]], actor)


if "test.flaky" not in JOB_KINDS:
    register_kind(JobKind("test.flaky", apply=flaky, max_attempts=5, backoff_seconds=1))
    register_kind(JobKind("test.dies", apply=flaky, max_attempts=3, backoff_seconds=1))
    register_kind(JobKind("test.effect", apply=effect, call=watched_call, backoff_seconds=1))
    register_kind(JobKind("test.record", apply=write_record, backoff_seconds=0.5))
    register_kind(JobKind("test.batched", apply=flaky, max_attempts=3, backoff_seconds=1, batch=4))
