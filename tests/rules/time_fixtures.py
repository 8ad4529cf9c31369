"""What the time-trigger tests share: a worker that knows the rule job kinds, and moving time by
planning jobs' `run_at` in the past (never sleeping on the wall clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from engine.core.registry import Registry
from engine.jobs import JOB_KINDS, JobKind, Worker
from engine.jobs.queue import JOBS, utcnow
from engine.rules import timing
from engine.rules.runtime import JOB_KIND
from engine.settings import Settings

TZ = "Asia/Shanghai"


def worker(engine: Engine, name: str | None = None) -> Worker:
    """A worker for the rule jobs (runs, schedules, dates) on the wall clock."""
    kinds: Registry[JobKind] = Registry("job kind")
    for kind in (JOB_KIND, timing.SCHEDULE_KIND, timing.DATE_KIND):
        kinds.register(kind, JOB_KINDS[kind])
    return Worker(engine, Settings(timezone=TZ), kinds=kinds, name=name)


def jobs(engine: Engine, kind: str, state: str | None = "queued") -> list[Any]:
    """The jobs of `kind` (in `state`), oldest first."""
    query = select(JOBS).where(JOBS.c.kind == kind).order_by(JOBS.c.id)
    if state is not None:
        query = query.where(JOBS.c.state == state)
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def make_due(engine: Engine, job_id: int, ago: dt.timedelta = dt.timedelta(seconds=1)) -> None:
    """Time passes: the job's `run_at` moves to `ago` before the wall clock."""
    with engine.begin() as conn:
        conn.execute(update(JOBS).where(JOBS.c.id == job_id).values(run_at=utcnow() - ago))
