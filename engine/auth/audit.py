"""The audit log: who did what, when, from where, and whether it succeeded.

Secrets never reach it: callers pass usernames, ids and diffs, never passwords or tokens.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from engine.core.moments import datetime_json
from engine.store.models import AuditEntry, User, utcnow

MAX_PAGE = 500


def record(
    conn: Connection,
    kind: str,
    *,
    actor_id: int | None = None,
    success: bool = True,
    ip: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry (in the caller's transaction, so it commits with what it describes)."""
    conn.execute(
        insert(AuditEntry).values(
            at=utcnow(),
            actor_id=actor_id,
            kind=kind,
            success=success,
            ip=(ip or None) and ip[:64],
            subject=(subject or None) and subject[:200],
            detail=detail or {},
        )
    )


def search(
    conn: Connection,
    *,
    actor: int | None = None,
    kind: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Entries newest first, filtered by actor, kind (or a `kind.` prefix) and time."""
    query = select(AuditEntry.__table__, User.username).join(
        User, User.id == AuditEntry.actor_id, isouter=True
    )
    if actor is not None:
        query = query.where(AuditEntry.actor_id == actor)
    if kind:
        query = query.where(
            AuditEntry.kind.startswith(kind, autoescape=True)
            if kind.endswith(".")
            else AuditEntry.kind == kind
        )
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = (
        query.order_by(AuditEntry.id.desc())
        .limit(max(0, min(limit, MAX_PAGE)))
        .offset(max(0, offset))
    )
    return [
        {
            "id": row.id,
            "at": datetime_json(row.at),
            "actor": None
            if row.actor_id is None
            else {"id": row.actor_id, "username": row.username},
            "kind": row.kind,
            "success": row.success,
            "ip": row.ip,
            "subject": row.subject,
            "detail": row.detail,
        }
        for row in conn.execute(query)
    ]


__all__ = ["record", "search"]
