"""Long-lived API tokens: created for a user, scoped to apps and read or read/write, shown
once, stored hashed, revocable, and expiring: after `DEFAULT_DAYS` unless the creator asks
for another lifetime of at most `MAX_DAYS` (the admin token from the environment is not an
API token and does not expire). A password change, reset or deactivation revokes them
(`sessions.revoke_credentials`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from engine.auth import audit
from engine.auth.credentials import API_TOKEN_PREFIX, new_token
from engine.core.errors import not_found
from engine.core.moments import datetime_json
from engine.store.models import ApiToken, utcnow

DEFAULT_DAYS = 90
MAX_DAYS = 365


def _json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "name": row.name,
        "prefix": row.prefix,
        "apps": row.apps,
        "can_write": row.can_write,
        "created_at": datetime_json(row.created_at),
        "expires_at": datetime_json(row.expires_at) if row.expires_at else None,
        "last_used_at": datetime_json(row.last_used_at) if row.last_used_at else None,
        "revoked": row.revoked_at is not None,
    }


def create(
    conn: Connection,
    user_id: int,
    name: str,
    *,
    apps: list[str] | None,
    can_write: bool,
    days: int = DEFAULT_DAYS,
    ip: str | None,
) -> dict[str, Any]:
    """A new token for `user_id`, valid for `days` (1 to `MAX_DAYS`); the response carries the
    token itself, the only time it is shown."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a token lives 1 to {MAX_DAYS} days, not {days}")
    token, digest = new_token(API_TOKEN_PREFIX)
    expires = utcnow() + dt.timedelta(days=days)
    token_id = conn.execute(
        insert(ApiToken)
        .values(
            user_id=user_id,
            name=name,
            prefix=token[: len(API_TOKEN_PREFIX) + 4],
            token_hash=digest,
            apps=apps,
            can_write=can_write,
            created_at=utcnow(),
            expires_at=expires,
        )
        .returning(ApiToken.id)
    ).scalar_one()
    detail = {"token_id": token_id, "apps": apps, "can_write": can_write, "days": days}
    audit.record(conn, "token.create", actor_id=user_id, ip=ip, subject=name, detail=detail)
    row = conn.execute(select(ApiToken.__table__).where(ApiToken.id == token_id)).one()
    return {**_json(row), "token": token}


def list_tokens(conn: Connection, user_id: int | None) -> list[dict[str, Any]]:
    """Tokens of a user (all users' when None), without the tokens themselves."""
    query = select(ApiToken.__table__).order_by(ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [_json(row) for row in conn.execute(query)]


def revoke(
    conn: Connection, token_id: int, *, user_id: int | None, actor_id: int | None, ip: str | None
) -> None:
    """Revoke a token (of `user_id`, or anyone's when None); 404 when there is none."""
    query = update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    if conn.execute(query.values(revoked_at=utcnow())).rowcount != 1:
        raise not_found()
    audit.record(conn, "token.revoke", actor_id=actor_id, ip=ip, detail={"token_id": token_id})


__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "create", "list_tokens", "revoke"]
