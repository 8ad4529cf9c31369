"""The jobs table as a queue: enqueue in the caller's transaction (transactional outbox), list
jobs by state, put a dead job back in the queue, and the dedupe keys of dated work.

`enqueue` writes one row with the caller's connection and commits nothing: a job enqueued by a
record save exists exactly when the save committed. With a `key`, enqueueing the same kind and
key again returns the existing job instead of making a second one (`INSERT … ON CONFLICT DO
NOTHING` on the unique (kind, key), so concurrent enqueuers agree without an error).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from engine.jobs.kinds import JOB_KINDS
from engine.store.models import Job

JOBS: Table = Job.__table__  # type: ignore[assignment]
STATES = ("queued", "running", "done", "dead")
State = Literal["queued", "running", "done", "dead"]
MAX_KEY = 200


def utcnow() -> dt.datetime:
    """Now in UTC, to the millisecond (what the store keeps)."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def moment_key(prefix: str, moment: dt.datetime) -> str:
    """A dedupe key for work planned at `moment` (a cron tick, a date trigger): the prefix and
    the moment in UTC to the second, so each planned moment makes one job."""
    utc = moment.astimezone(dt.UTC)
    return f"{prefix}@{utc.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def enqueue(
    conn: Connection,
    kind: str,
    payload: dict[str, Any] | None = None,
    run_at: dt.datetime | None = None,
    key: str | None = None,
) -> int:
    """Queue a job of the registered `kind` in `conn`'s transaction; its id (with a `key`
    already queued for this kind: that job's id, and nothing new is written).

    `run_at` (aware) makes it a timer; by default the job is due at once."""
    JOB_KINDS[kind]  # an unknown kind is a programming error: raises UnknownNameError
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise ValueError(f"a job key has 1 to {MAX_KEY} characters, got {len(key)}")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be an aware datetime")
    now = utcnow()
    values = {
        "kind": kind,
        "key": key,
        "payload": payload or {},
        "state": "queued",
        "run_at": run_at or now,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    if key is None:
        return int(conn.execute(_INSERT, values).scalar_one())
    statement = _INSERT_KEYED_PG if conn.dialect.name == "postgresql" else _INSERT_KEYED_SQLITE
    new = conn.execute(statement, values).scalar_one_or_none()
    if new is not None:
        return int(new)
    existing = conn.execute(
        select(JOBS.c.id).where(JOBS.c.kind == kind, JOBS.c.key == key)
    ).scalar_one()
    return int(existing)


# Built once: parameters go with each execution, so enqueueing compiles nothing.
_INSERT = JOBS.insert().returning(JOBS.c.id)
_INSERT_KEYED_PG = (
    postgresql.insert(JOBS)
    .on_conflict_do_nothing(index_elements=["kind", "key"])
    .returning(JOBS.c.id)
)
_INSERT_KEYED_SQLITE = (
    sqlite.insert(JOBS).on_conflict_do_nothing(index_elements=["kind", "key"]).returning(JOBS.c.id)
)


def job_json(row: Any) -> dict[str, Any]:
    """A jobs row as the API shows it (moments as ISO text in UTC)."""

    def moment(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {
        "id": row.id,
        "kind": row.kind,
        "key": row.key,
        "state": row.state,
        "payload": row.payload,
        "run_at": moment(row.run_at),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "claimed_by": row.claimed_by,
        "lease_until": moment(row.lease_until),
        "created_at": moment(row.created_at),
        "updated_at": moment(row.updated_at),
    }


def get_job(conn: Connection, job_id: int) -> dict[str, Any] | None:
    """One job, or None."""
    row = conn.execute(select(JOBS).where(JOBS.c.id == job_id)).first()
    return job_json(row) if row is not None else None


def list_jobs(
    conn: Connection,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Jobs, newest first, optionally of one state and kind, with the count per state."""
    query = select(JOBS).order_by(JOBS.c.id.desc()).limit(limit).offset(offset)
    if state is not None:
        query = query.where(JOBS.c.state == state)
    if kind is not None:
        query = query.where(JOBS.c.kind == kind)
    counts = dict.fromkeys(STATES, 0)
    for name, count in conn.execute(select(JOBS.c.state, func.count()).group_by(JOBS.c.state)):
        counts[name] = int(count)
    return {"counts": counts, "jobs": [job_json(row) for row in conn.execute(query)]}


def retry_job(conn: Connection, job_id: int, now: dt.datetime | None = None) -> str:
    """Put dead job `job_id` back in the queue, due now, with its attempts reset (its last
    error stays until it runs again). Returns "retried", or "missing" / "not_dead" and changes
    nothing."""
    now = now or utcnow()
    changed = conn.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.state == "dead")
        .values(
            state="queued",
            attempts=0,
            run_at=now,
            claimed_by=None,
            lease_until=None,
            updated_at=now,
        )
    ).rowcount
    if changed:
        return "retried"
    exists = conn.execute(select(JOBS.c.id).where(JOBS.c.id == job_id)).first()
    return "not_dead" if exists is not None else "missing"
