"""The worker: claims due jobs, runs their kinds' steps, completes, retries or parks them.

One pass (`Worker.run_once`):

1. **Poll** without the write lock (a read-only connection: on SQLite a deferred `BEGIN`) for a
   due job of a kind this worker knows — queued with `run_at` passed, or running with an
   expired lease (its worker died).
2. **Claim** up to `batch` of them in one short write transaction (by default the largest
   `batch` of the worker's kinds, at least 10): state running,
   `claimed_by` this worker, `lease_until`, attempts + 1 (PostgreSQL: `FOR UPDATE SKIP LOCKED`,
   so concurrent workers never claim the same row; SQLite: one `UPDATE … RETURNING` under
   `BEGIN IMMEDIATE`). The claim commits before any handler runs.
3. For each claimed job: the kind's `call` step with no transaction open, then one
   transaction that locks the job row, checks the claim is still this worker's (same attempt),
   runs the `apply` step and marks the job done. A claim lost to a lease takeover rolls all of
   it back. A job whose lease has run half out before its turn is handed back unrun.
   **Batches**: consecutive claimed jobs of a kind with `batch` > 1 (apply only, e.g. the
   rules' `rules.run`) are applied up to `batch` at a time in **one** transaction: one
   statement checks (and on PostgreSQL locks) which of them are still this worker's, each
   one's `apply` runs in claim order, one statement marks them done, one commit. A crash
   before that commit leaves all of them claimed and unapplied (the lease hands them to the
   next worker), after it all of them done: exactly once, as alone. A kind's `finish_batch`
   step runs after the applies and before they are marked done, in the same transaction (the
   rules write their batch's run-log rows there in one statement). If any apply (or the
   finish, or the commit) raises, the whole transaction rolls back and the batch's jobs run
   again one by one as in step 3, so the failing one fails alone and the others complete.
4. A failure commits `last_error` and either a new `run_at` (exponential backoff) or, after
   the kind's `max_attempts`, state dead. `PermanentJobError` goes to dead at once.

A pass that claimed a full batch skips the next pass's poll (more is likely due; the claim
finds what there is). `run(stop)` loops passes until `stop` is set, waiting while idle (`QUICK_POLL` after a pass that
ran jobs, doubling each idle pass up to `JIMU_JOB_POLL_SECONDS`: `idle_wait`), keeps
the cron schedules' next jobs queued, and with `singleton` set works only while it holds the
named lease row in `job_leases` (renewed every third of a lease): that is how exactly one
worker runs inside `jimu serve` however many serve processes share the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Table, and_, bindparam, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from engine.core.registry import Registry
from engine.jobs.kinds import JOB_KINDS, SCHEDULES, JobKind, RunningJob, Schedule
from engine.jobs.queue import JOBS, enqueue, moment_key, utcnow
from engine.settings import Settings
from engine.store.models import JobLease

logger = logging.getLogger("jimu.jobs")

LEASES: Table = JobLease.__table__  # type: ignore[assignment]
SERVE_LEASE = "serve-worker"
QUICK_POLL = 0.02  # seconds: the first idle wait after a pass that ran jobs (see idle_wait)
MAX_ERROR = 2000


class PermanentJobError(Exception):
    """Raised by a step when trying again cannot help (a bad URL): the job goes dead at once."""


class _LostClaim(Exception):
    """The job's lease was taken over by another worker before this one completed it."""


def worker_name() -> str:
    """A name unique to this worker: host, process and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Runs due jobs of the kinds in `kinds` on `engine` (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        kinds: Registry[JobKind] = JOB_KINDS,
        schedules: Registry[Schedule] = SCHEDULES,
        name: str | None = None,
        batch: int | None = None,
        singleton: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.reader = engine.execution_options(jimu_read_only=True)
        self.settings = settings
        self.kinds = kinds
        self.schedules = schedules
        self.name = name or worker_name()
        # Claimed per pass: what a batch kind applies in one transaction, so a full claim of
        # its jobs is one batch (and one commit), not several.
        self.batch = batch or max([10, *(kind.batch for kind in kinds)])
        self._full = False  # the last pass claimed a full batch: the next one skips its poll
        self.singleton = singleton
        self.clock = clock
        self.lease = dt.timedelta(seconds=settings.job_lease_seconds)
        self.postgres = engine.dialect.name == "postgresql"
        self._held_until: dt.datetime | None = None
        self._next_schedule: dt.datetime | None = None
        self._stop = threading.Event()
        self._built: dict[tuple[str, ...], tuple[Any, Any, list[str]]] = {}

    # -- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Work until `stop` is set (never, without one), then hand back unrun claims."""
        self._stop = stop or threading.Event()
        logger.info("job worker %s started", self.name)
        try:
            wait: float | None = None  # None: the last pass ran jobs
            while not self._stop.is_set():
                ran = 0
                try:
                    if self.singleton is None or self._lead():
                        self.schedule()
                        ran = self.run_once()
                except Exception:  # the database went away, a bug: log, wait, try again
                    logger.exception("job worker %s: pass failed", self.name)
                if ran:
                    wait = None
                else:
                    wait = self.idle_wait(wait)
                    self._stop.wait(wait)
        finally:
            self._resign()
            logger.info("job worker %s stopped", self.name)

    def idle_wait(self, last: float | None) -> float:
        """How long to wait before the next poll that finds nothing due, after waiting `last`
        seconds before this one (None: the last pass ran jobs). A worker that just ran jobs
        polls again after `QUICK_POLL` seconds, then twice as long each time it finds
        nothing, up to `JIMU_JOB_POLL_SECONDS`: jobs queued while it is busy or just idle wait
        for it briefly, an idle one polls rarely."""
        poll = self.settings.job_poll_seconds
        if last is None:
            return min(QUICK_POLL, poll)
        return min(last * 2, poll)

    def drain(self, passes: int = 1000) -> int:
        """Run passes until nothing is due (tests, benchmarks); how many jobs were run."""
        total = 0
        for _ in range(passes):
            ran = self.run_once()
            if not ran:
                break
            total += ran
        return total

    def run_once(self) -> int:
        """One poll, claim and run; the number of jobs run to success or failure."""
        names = tuple(self.kinds.names())
        if not names:
            return 0
        poll = self._statements(names)[0]
        now = self.clock()
        if not self._full:
            with self.reader.connect() as conn:
                if conn.execute(poll, {"b_kinds": list(names), "b_now": now}).first() is None:
                    return 0
        claimed = self._claim(names, now)
        self._full = len(claimed) >= self.batch
        index = 0
        while index < len(claimed):
            row = claimed[index]
            kind = self.kinds[row.kind]
            if not self._may_start(row, kind):
                self._release(claimed[index:])
                return index
            group = [row]
            while (
                len(group) < kind.batch
                and index + len(group) < len(claimed)
                and claimed[index + len(group)].kind == row.kind
            ):
                group.append(claimed[index + len(group)])
            if len(group) == 1:
                self._run(row, kind)
                self._completed([row])
                index += 1
                continue
            ran = self._run_batch(group, kind)
            index += ran
            if ran < len(group):  # stopped or out of lease half-way: the rest goes back
                self._release(claimed[index:])
                return index
        return len(claimed)

    def _may_start(self, row: Any, kind: JobKind) -> bool:
        """Whether to start claimed job `row` now: not stopping, and at least half its lease
        left (else it is handed back unrun)."""
        left = row.lease_until - self.clock()
        return not self._stop.is_set() and left >= self._lease_of(kind) / 2

    def _completed(self, rows: Sequence[Any]) -> None:
        """Called after the jobs `rows` ran (their transaction committed or failed); a hook
        for benchmarks, nothing here."""

    # -- claiming ---------------------------------------------------------------------------

    def _lease_of(self, kind: JobKind) -> dt.timedelta:
        return dt.timedelta(seconds=kind.lease_seconds) if kind.lease_seconds else self.lease

    def _statements(self, names: tuple[str, ...]) -> tuple[Any, Any, list[str]]:
        """The poll and claim statements for these kinds, built once (parameters `b_kinds`,
        `b_now`, `b_worker`, `b_until` and `b_until_<i>` for the kinds in the returned list,
        which have a lease of their own)."""
        cached = self._built.get(names)
        if cached is not None:
            return cached
        moment = JOBS.c.lease_until.type
        now = bindparam("b_now", type_=moment)
        due = and_(
            JOBS.c.kind.in_(bindparam("b_kinds", expanding=True)),
            or_(
                and_(JOBS.c.state == "queued", JOBS.c.run_at <= now),
                and_(JOBS.c.state == "running", JOBS.c.lease_until < now),
            ),
        )
        poll = select(JOBS.c.id).where(due).limit(1)
        ids = select(JOBS.c.id).where(due).order_by(JOBS.c.run_at, JOBS.c.id).limit(self.batch)
        if self.postgres:
            ids = ids.with_for_update(skip_locked=True)
        longer = [name for name in names if self.kinds[name].lease_seconds]
        until: Any = bindparam("b_until", type_=moment)
        if longer:
            whens = {name: bindparam(f"b_until_{i}", type_=moment) for i, name in enumerate(longer)}
            until = case(whens, value=JOBS.c.kind, else_=until)
        claim = (
            update(JOBS)
            .where(JOBS.c.id.in_(ids))
            .values(
                state="running",
                claimed_by=bindparam("b_worker"),
                lease_until=until,
                attempts=JOBS.c.attempts + 1,
                updated_at=now,
            )
            .returning(
                JOBS.c.id,
                JOBS.c.kind,
                JOBS.c.key,
                JOBS.c.payload,
                JOBS.c.attempts,
                JOBS.c.run_at,
                JOBS.c.lease_until,
            )
        )
        self._built[names] = (poll, claim, longer)
        return poll, claim, longer

    def _claim(self, names: Sequence[str], now: dt.datetime) -> list[Any]:
        """Claim up to `batch` jobs of `names` due at `now` (one committed write), oldest first."""
        _, claim, longer = self._statements(tuple(names))
        params: dict[str, Any] = {
            "b_kinds": list(names),
            "b_now": now,
            "b_worker": self.name,
            "b_until": now + self.lease,
        }
        for index, name in enumerate(longer):
            params[f"b_until_{index}"] = now + self._lease_of(self.kinds[name])
        with self.engine.begin() as conn:
            return sorted(conn.execute(claim, params), key=lambda row: (row.run_at, row.id))

    def _mine(self, row: Any) -> dict[str, Any]:
        """The parameters of `_MINE`: this job, still claimed by this worker for this attempt."""
        return {"b_id": row.id, "b_worker": self.name, "b_attempt": row.attempts}

    def _release(self, rows: Sequence[Any]) -> None:
        """Hand claimed, unrun jobs back to the queue (their attempt does not count)."""
        if not rows:
            return
        with self.engine.begin() as conn:
            for row in rows:
                conn.execute(_RELEASE, {**self._mine(row), "b_now": self.clock()})

    # -- running ----------------------------------------------------------------------------

    def _job(self, row: Any, batch: tuple[int, ...] = ()) -> RunningJob:
        return RunningJob(
            id=row.id,
            kind=row.kind,
            key=row.key,
            payload=dict(row.payload or {}),
            attempt=row.attempts,
            run_at=row.run_at,
            engine=self.engine,
            settings=self.settings,
            batch=batch,
        )

    def _run_batch(self, rows: Sequence[Any], kind: JobKind) -> int:
        """Apply claimed jobs `rows` (one kind, apply only) in one transaction (see the module
        docstring); how many of them were run — fewer than all when the worker is stopping or
        the lease ran half out before one's turn (those are left for the caller to hand back)."""
        assert kind.apply is not None
        ran: list[Any] = []
        try:
            with self.engine.begin() as conn:
                held = self._held(conn, rows)
                batch = tuple(row.id for row in rows if row.id in held)
                for row in rows:
                    if ran and not self._may_start(row, kind):
                        break
                    ran.append(row)
                    if row.id not in held:
                        logger.warning(
                            "job %s (%s): claim taken over, not completed here", row.id, row.kind
                        )
                        continue
                    kind.apply(self._job(row, batch), conn)
                ids = [row.id for row in ran if row.id in held]
                if ids and kind.finish_batch is not None:
                    kind.finish_batch(conn)
                if ids:
                    done = {"b_ids": ids, "b_worker": self.name, "b_now": self.clock()}
                    conn.execute(_DONE_MANY, done)
        except Exception:
            logger.info(
                "job batch of %d (%s) rolled back; running its jobs one by one",
                len(ran),
                kind.name,
                exc_info=True,
            )
            for index, row in enumerate(rows):
                if index and not self._may_start(row, kind):
                    return index
                self._run(row, kind)
                self._completed([row])
            return len(rows)
        self._completed(ran)
        return len(ran)

    def _held(self, conn: Connection, rows: Sequence[Any]) -> set[int]:
        """The ids of `rows` still claimed by this worker for the attempt of their claim (one
        statement; on PostgreSQL their rows locked until the transaction ends)."""
        statement = _HELD_MANY_LOCKED if self.postgres else _HELD_MANY
        found = conn.execute(statement, {"b_ids": [row.id for row in rows], "b_worker": self.name})
        attempts = {int(item.id): int(item.attempts) for item in found}
        return {row.id for row in rows if attempts.get(row.id) == row.attempts}

    def _run(self, row: Any, kind: JobKind) -> None:
        job = self._job(row)
        try:
            if kind.call is not None:
                job.outcome = kind.call(job)  # no transaction open: external effects
            with self.engine.begin() as conn:
                held = _HELD_LOCKED if self.postgres else _HELD
                if conn.execute(held, self._mine(row)).first() is None:
                    raise _LostClaim
                if kind.apply is not None:
                    kind.apply(job, conn)
                conn.execute(_DONE, {**self._mine(row), "b_now": self.clock()})
        except _LostClaim:
            logger.warning("job %s (%s): claim taken over, not completed here", row.id, row.kind)
        except Exception as exc:
            self._fail(row, kind, exc)

    def _fail(self, row: Any, kind: JobKind, exc: Exception) -> None:
        now = self.clock()
        dead = isinstance(exc, PermanentJobError) or row.attempts >= kind.max_attempts
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        (logger.error if dead else logger.warning)(
            "job %s (%s) attempt %s failed%s: %s",
            row.id,
            row.kind,
            row.attempts,
            ", parked as dead" if dead else "",
            error,
        )
        values: dict[str, Any] = {
            "state": "dead" if dead else "queued",
            "claimed_by": None,
            "lease_until": None,
            "last_error": error,
            "updated_at": now,
        }
        if not dead:
            values["run_at"] = now + kind.backoff(row.attempts)
        with self.engine.begin() as conn:
            conn.execute(update(JOBS).where(_MINE).values(values), self._mine(row))

    # -- schedules ----------------------------------------------------------------------------

    def schedule(self) -> None:
        """Queue each schedule's next moment (once per moment: the key names it). Writes only
        when a planned moment has passed since the last time, or on the first call."""
        now = self.clock()
        if self._next_schedule is not None and now < self._next_schedule:
            return
        wanted = [s for s in self.schedules if s.kind in self.kinds]
        if not wanted:
            self._next_schedule = now + dt.timedelta(days=1)
            return
        zone = ZoneInfo(self.settings.timezone)
        earliest: dt.datetime | None = None
        with self.engine.begin() as conn:
            for item in wanted:
                moment = next_moment(item.cron, now, zone)
                payload = {**item.payload, "schedule": item.name, "planned": moment.isoformat()}
                enqueue(conn, item.kind, payload, moment, moment_key(f"cron:{item.name}", moment))
                earliest = moment if earliest is None else min(earliest, moment)
        self._next_schedule = earliest

    # -- the singleton lease -----------------------------------------------------------------

    def _lead(self) -> bool:
        """Whether this worker holds (or just took, or renewed) its singleton lease."""
        assert self.singleton is not None
        now = self.clock()
        if self._held_until is not None and now < self._held_until - self.lease * 2 / 3:
            return True
        until = now + self.lease
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(LEASES)
                .where(
                    LEASES.c.name == self.singleton,
                    or_(LEASES.c.holder == self.name, LEASES.c.lease_until < now),
                )
                .values(holder=self.name, lease_until=until)
            ).rowcount
            if not taken:
                dialect = postgresql if self.postgres else sqlite
                inserted = conn.execute(
                    dialect.insert(LEASES)
                    .values(name=self.singleton, holder=self.name, lease_until=until)
                    .on_conflict_do_nothing(index_elements=["name"])
                    .returning(LEASES.c.name)
                ).first()
                taken = int(inserted is not None)
        if taken and self._held_until is None:
            logger.info("job worker %s holds the %s lease", self.name, self.singleton)
        self._held_until = until if taken else None
        return bool(taken)

    def _resign(self) -> None:
        """Give the singleton lease up, so a successor need not wait for it to run out."""
        if self.singleton is None or self._held_until is None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(LEASES).where(
                        LEASES.c.name == self.singleton, LEASES.c.holder == self.name
                    )
                )
        except Exception:
            logger.exception("job worker %s: could not give up its lease", self.name)
        self._held_until = None


# Statements built once (parameters per execution): a claimed job is "mine" while it is still
# running under this worker's name and the attempt number of the claim.
_MINE = and_(
    JOBS.c.id == bindparam("b_id"),
    JOBS.c.state == "running",
    JOBS.c.claimed_by == bindparam("b_worker"),
    JOBS.c.attempts == bindparam("b_attempt"),
)
_HELD = select(JOBS.c.id).where(_MINE)
_HELD_LOCKED = _HELD.with_for_update()
_NOW = bindparam("b_now", type_=JOBS.c.updated_at.type)
_DONE = update(JOBS).where(_MINE).values(state="done", lease_until=None, updated_at=_NOW)
# A batch (`Worker._run_batch`): the claims still this worker's, and all of them done at once
# (the attempts were checked by `_HELD_MANY` in the same transaction, which holds the rows:
# SQLite's write lock from BEGIN IMMEDIATE, PostgreSQL's FOR UPDATE).
_OURS = and_(
    JOBS.c.id.in_(bindparam("b_ids", expanding=True)),
    JOBS.c.state == "running",
    JOBS.c.claimed_by == bindparam("b_worker"),
)
_HELD_MANY = select(JOBS.c.id, JOBS.c.attempts).where(_OURS)
_HELD_MANY_LOCKED = _HELD_MANY.with_for_update()
_DONE_MANY = update(JOBS).where(_OURS).values(state="done", lease_until=None, updated_at=_NOW)
_RELEASE = (
    update(JOBS)
    .where(_MINE)
    .values(
        state="queued",
        claimed_by=None,
        lease_until=None,
        attempts=JOBS.c.attempts - 1,
        updated_at=_NOW,
    )
)


def next_moment(cron: str, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The first moment `cron` names after `after`, read in `zone`; in UTC, whole seconds."""
    moment: dt.datetime = croniter(cron, after.astimezone(zone)).get_next(dt.datetime)
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def prune_done(conn: Connection, older_than: dt.datetime) -> int:
    """Delete done jobs last changed before `older_than`; how many."""
    return int(
        conn.execute(
            delete(JOBS).where(JOBS.c.state == "done", JOBS.c.updated_at < older_than)
        ).rowcount
    )
