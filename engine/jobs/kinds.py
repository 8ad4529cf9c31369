"""The job kinds and cron schedules a worker knows, each registered by name (`JOB_KINDS`,
`SCHEDULES`, the registry pattern of `engine.core.registry`).

A kind has up to two steps, run in this order:

- `call(job)`: external effects (HTTP, SMTP, files on disk), run with **no transaction open**,
  so on SQLite no write lock is held across a slow server. At least once: a worker that dies
  after the call and before the job is marked done calls again, with the same
  `job.delivery_id`, so receivers can drop repeats. Its return value is `job.outcome`.
- `apply(job, conn)`: database effects, run in the one transaction that also marks the job
  done. Exactly once: that transaction first checks that this worker still holds the claim,
  and a crash before its commit leaves neither the effects nor the completion behind.

A kind with only an `apply` step may set `batch` above 1: a worker then applies up to that many
of its claimed jobs (consecutive in the claim's order) in **one** transaction and one commit
(`engine.jobs.worker`), each as exactly once as alone. Its optional `finish_batch(conn)` runs
in that transaction after the batch's applies, before the jobs are marked done: an apply in a
batch may leave writes for it to send together (one statement for the batch instead of one per
job); alone, an apply writes everything itself.

A failing step raises; the job is retried after `backoff_seconds * 2 ** (attempt - 1)` (at
most `max_backoff_seconds`) and parked as dead after `max_attempts` tries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine

from engine.core.context import Actor, ExecutionContext
from engine.core.registry import Registry
from engine.settings import Settings


@dataclass
class RunningJob:
    """One claimed job as its handler sees it: payload, which attempt this is (1 on the first
    try), when it was planned, the stable id external receivers see, and the worker's engine
    and settings (for a `call` step that needs its own transactions)."""

    id: int
    kind: str
    key: str | None
    payload: dict[str, Any]
    attempt: int
    run_at: dt.datetime
    engine: Engine
    settings: Settings
    outcome: Any = None
    # The ids of the jobs applied in the same transaction (a batch, in claim order; empty: this
    # job alone). In a batch an `apply` may raise where it would otherwise roll back a
    # savepoint of its own: the whole batch then rolls back and each job runs again alone.
    batch: tuple[int, ...] = ()

    def context(self, actor: Actor) -> ExecutionContext:
        """An execution context for work this job does as `actor`: now, in the organisation's
        time zone (`JIMU_TIMEZONE`)."""
        return ExecutionContext.create(actor, self.settings.timezone)

    @property
    def delivery_id(self) -> str:
        """The same for every attempt of this job: `X-Jimu-Delivery` of webhooks, Message-ID."""
        return f"jimu-job-{self.id}"


@dataclass(frozen=True)
class JobKind:
    """What a worker does with jobs of one kind (see the module docstring)."""

    name: str
    apply: Callable[[RunningJob, Connection], None] | None = None
    call: Callable[[RunningJob], Any] | None = None
    max_attempts: int = 5
    backoff_seconds: float = 10.0
    max_backoff_seconds: float = 3600.0
    lease_seconds: float | None = None  # None: the worker's lease (JIMU_JOB_LEASE_SECONDS)
    batch: int = 1  # apply-only kinds: claimed jobs applied in one transaction (worker docs)
    finish_batch: Callable[[Connection], None] | None = None  # after a batch's applies

    def __post_init__(self) -> None:
        if self.apply is None and self.call is None:
            raise ValueError(f"job kind {self.name!r} needs an apply or a call step")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.batch < 1 or (self.batch > 1 and self.call is not None):
            raise ValueError("batch is at least 1, and above 1 only for a kind without a call step")
        if self.finish_batch is not None and self.batch < 2:
            raise ValueError("finish_batch is for a kind with batch above 1")

    def backoff(self, attempt: int) -> dt.timedelta:
        """How long to wait after failed attempt number `attempt` (1, 2, ...)."""
        seconds = self.backoff_seconds * 2 ** min(max(attempt - 1, 0), 40)
        return dt.timedelta(seconds=min(seconds, self.max_backoff_seconds))


@dataclass(frozen=True)
class Schedule:
    """A cron schedule: a job of `kind` with `payload` at every moment `cron` names, in the
    organisation's time zone (JIMU_TIMEZONE). The next moment's job is always queued ahead,
    with a key naming that moment, so a moment missed while no worker ran fires once, late."""

    name: str
    cron: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


JOB_KINDS: Registry[JobKind] = Registry("job kind")
SCHEDULES: Registry[Schedule] = Registry("schedule")


def register_kind(kind: JobKind) -> JobKind:
    """Add `kind` to `JOB_KINDS` under its name (a name taken twice raises)."""
    return JOB_KINDS.register(kind.name, kind)


def register_schedule(schedule: Schedule) -> Schedule:
    """Add `schedule` to `SCHEDULES` under its name, after checking its cron expression."""
    from croniter import croniter

    if not croniter.is_valid(schedule.cron):
        raise ValueError(f"schedule {schedule.name!r}: not a cron expression: {schedule.cron!r}")
    return SCHEDULES.register(schedule.name, schedule)
