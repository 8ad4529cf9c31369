"""Jobs (DESIGN §15): the jobs table as a queue, job kinds and cron schedules by name, and the
worker that runs them — database effects exactly once, external effects at least once with a
stable delivery id.

- `enqueue(conn, kind, payload, run_at=None, key=None)` inside the caller's transaction.
- `register_kind(JobKind(...))`, `register_schedule(Schedule(...))` (`engine.jobs.kinds`).
- `Worker(engine, settings).run(stop)` (`engine.jobs.worker`); `jimu serve` runs one,
  `jimu worker` more (`load_kinds` imports the modules that register kinds).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from engine.jobs.kinds import (
    JOB_KINDS,
    SCHEDULES,
    JobKind,
    RunningJob,
    Schedule,
    register_kind,
    register_schedule,
)
from engine.jobs.queue import enqueue, get_job, list_jobs, moment_key, retry_job
from engine.jobs.worker import SERVE_LEASE, PermanentJobError, Worker

BUILTIN_MODULES = ("engine.jobs.builtin",)


def load_kinds(modules: Iterable[str] = ()) -> None:
    """Import the modules that register job kinds and schedules: the built-in ones and
    `modules` (e.g. `JIMU_JOB_MODULES`). Importing twice registers nothing twice."""
    for name in (*BUILTIN_MODULES, *modules):
        importlib.import_module(name)


__all__ = [
    "JOB_KINDS",
    "SCHEDULES",
    "SERVE_LEASE",
    "JobKind",
    "PermanentJobError",
    "RunningJob",
    "Schedule",
    "Worker",
    "enqueue",
    "get_job",
    "list_jobs",
    "load_kinds",
    "moment_key",
    "register_kind",
    "register_schedule",
    "retry_job",
]
