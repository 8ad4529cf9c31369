"""Signing in and out, password changes, throttling, and turning a credential into a Principal.

A login creates a session whose token is both the HttpOnly cookie's value and a Bearer token
for scripts; the CSRF token returned with it must accompany unsafe cookie requests.

Throttling is per (username, address) pair and per address, never per username alone: after
`MAX_FAILURES` failed logins for one username from one address within `WINDOW` (since its
last successful sign-in from there), or
`MAX_ADDRESS_FAILURES` from one address for any usernames, that pair (or address) gets 429
with the seconds to wait until the window lets it try again — counted from the audit log, so
it holds across processes, and answered at once (no worker sleeps). Failures from other
addresses never lock an account: a correct password from an address without failures always
signs in (docs/decisions.md, "Credentials, lockout and headers"). Which address a request
comes from is `security.client_ip` (X-Forwarded-For only from `JIMU_TRUSTED_PROXIES`).

`revoke_credentials` ends a user's sessions and API tokens: on a password change (sessions
other than the current one; tokens when the user asks), an administrator's password reset
and a deactivation (all of them, so a reactivation revives nothing).
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from engine.auth import audit
from engine.auth.credentials import (
    API_TOKEN_PREFIX,
    SESSION_PREFIX,
    hash_password,
    needs_rehash,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)
from engine.auth.principal import Principal
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.store.models import ApiToken, AuditEntry, AuthSession, User, utcnow

MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 30
WINDOW = dt.timedelta(minutes=15)
TOKEN_AUDIT_EVERY = dt.timedelta(hours=1)


@dataclass(frozen=True)
class LoginResult:
    """A new session: its token (cookie and Bearer), CSRF token, expiry and the user."""

    token: str
    csrf_token: str
    expires_at: dt.datetime
    user: dict[str, object]


def unauthorized() -> ServiceError:
    return ServiceError(
        401,
        "unauthorized",
        message_zh="需要登录（会话已过期，或令牌无效）",
        message_en="Authentication required (the session expired or the token is not valid)",
    )


def user_json(row: Any) -> dict[str, object]:
    return {
        "id": row.id,
        "username": row.username,
        "display_name": row.display_name,
        "is_admin": row.is_admin,
        "must_change_password": row.must_change_password,
    }


def _wait(conn: Connection, where: ColumnElement[bool], limit: int, now: dt.datetime) -> float:
    """Seconds until fewer than `limit` failed logins matching `where` lie within `WINDOW`
    (0 when there are fewer already): when the `limit`-th newest failure leaves the window."""
    query = (
        select(AuditEntry.at)
        .where(
            AuditEntry.kind == "auth.login",
            AuditEntry.success.is_(False),
            AuditEntry.at >= now - WINDOW,
            where,
        )
        .order_by(AuditEntry.at.desc())
        .limit(limit)
    )
    times = conn.execute(query).scalars().all()
    if len(times) < limit:
        return 0.0
    return max((times[-1] + WINDOW - now).total_seconds(), 0.0)


def throttled_for(conn: Connection, username: str, ip: str | None) -> int:
    """Whole seconds `username` must wait before signing in from `ip` (0: may try now).

    Only failures from this address count: per (username, address) pair — since the pair's
    last successful sign-in, so a user who finally typed it right starts afresh — and per
    address (a success does not reset that: one valid account must not clear a sprayer's
    count)."""
    now = utcnow()
    address = AuditEntry.ip.is_(None) if not ip else AuditEntry.ip == ip[:64]
    pair = address & (AuditEntry.subject == username[:200])
    last_success = conn.execute(
        select(func.max(AuditEntry.at)).where(
            AuditEntry.kind == "auth.login",
            AuditEntry.success.is_(True),
            AuditEntry.at >= now - WINDOW,
            pair,
        )
    ).scalar_one_or_none()
    if last_success is not None:
        pair = pair & (AuditEntry.at > last_success)
    wait = _wait(conn, pair, MAX_FAILURES, now)
    if ip:
        wait = max(wait, _wait(conn, address, MAX_ADDRESS_FAILURES, now))
    return math.ceil(wait)


def too_many_attempts(seconds: int) -> ServiceError:
    """429 with the time to wait (the API sends it as `Retry-After`)."""
    minutes = max(1, math.ceil(seconds / 60))
    return ServiceError(
        429,
        "too_many_attempts",
        message_zh=f"登录失败次数过多，请 {minutes} 分钟后再试",
        message_en=f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes > 1 else ''}",
        retry_after=max(1, seconds),
    )


def _one_attempt_at_a_time(conn: Connection, username: str, ip: str | None) -> None:
    """Serialise sign-ins of one username from one address until this transaction ends, so
    that concurrent attempts (threads, HTTP worker processes) each see the failures committed
    before them and throttling is exact. SQLite needs nothing: the transaction holds the
    database's write lock from its start. PostgreSQL: a transaction-scoped advisory lock on a
    hash of the pair (a collision only makes two pairs wait for each other)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:pair, 0))"),
            {"pair": f"jimu.login:{username[:200]}@{(ip or '')[:64]}"},
        )


def login(
    engine: Engine, username: str, password: str, *, ip: str | None, hours: float
) -> LoginResult:
    """Check the password and open a session; 401 on a bad pair, 429 when throttled.

    Failures are audited in their own committed transaction before the error is raised, so
    they count towards throttling. A throttled attempt is answered at once, without checking
    the password, and is audited as `auth.login_throttled` (it does not extend the wait).
    """
    failure: ServiceError | None = None
    with engine.begin() as conn:
        _one_attempt_at_a_time(conn, username, ip)
        wait = throttled_for(conn, username, ip)
        if wait > 0:
            audit.record(
                conn,
                "auth.login_throttled",
                success=False,
                ip=ip,
                subject=username,
                detail={"retry_after": wait},
            )
            failure = too_many_attempts(wait)
        else:
            user = conn.execute(select(User.__table__).where(User.username == username)).first()
            ok = verify_password(user.password_hash if user else None, password)
            if user is None or not ok or not user.is_active:
                audit.record(
                    conn,
                    "auth.login",
                    actor_id=user.id if user else None,
                    success=False,
                    ip=ip,
                    subject=username,
                )
                failure = ServiceError(
                    401,
                    "bad_credentials",
                    message_zh="用户名或密码错误",
                    message_en="Wrong username or password",
                )
            else:
                return _open_session(conn, user, password, ip=ip, hours=hours)
    raise failure


def _open_session(
    conn: Connection, user: Any, password: str, *, ip: str | None, hours: float
) -> LoginResult:
    if needs_rehash(user.password_hash):
        conn.execute(
            update(User).where(User.id == user.id).values(password_hash=hash_password(password))
        )
    token, digest = new_token(SESSION_PREFIX)
    csrf = secrets.token_urlsafe(24)
    expires = utcnow() + dt.timedelta(hours=hours)
    conn.execute(
        insert(AuthSession).values(
            token_hash=digest,
            csrf_hash=token_hash(csrf),
            user_id=user.id,
            ip=ip,
            created_at=utcnow(),
            expires_at=expires,
        )
    )
    audit.record(conn, "auth.login", actor_id=user.id, ip=ip, subject=user.username)
    return LoginResult(token, csrf, expires, user_json(user))


def logout(conn: Connection, principal: Principal, *, ip: str | None) -> None:
    """End the caller's session (API tokens are revoked through /tokens instead)."""
    if principal.session_id is not None:
        conn.execute(
            update(AuthSession)
            .where(AuthSession.id == principal.session_id)
            .values(revoked_at=utcnow())
        )
    audit.record(conn, "auth.logout", actor_id=principal.user_id, ip=ip, subject=principal.username)


def revoke_credentials(
    conn: Connection,
    user_id: int,
    *,
    sessions: bool = True,
    tokens: bool = True,
    keep_session_id: int | None = None,
) -> dict[str, int]:
    """End the user's sessions (all but `keep_session_id`) and/or revoke their API tokens;
    how many of each were still live. Revoked credentials never come back."""
    now = utcnow()
    counts = {"sessions": 0, "tokens": 0}
    if sessions:
        which = (AuthSession.user_id == user_id) & AuthSession.revoked_at.is_(None)
        if keep_session_id is not None:
            which = which & (AuthSession.id != keep_session_id)
        counts["sessions"] = conn.execute(
            update(AuthSession).where(which).values(revoked_at=now)
        ).rowcount
    if tokens:
        which = (ApiToken.user_id == user_id) & ApiToken.revoked_at.is_(None)
        counts["tokens"] = conn.execute(
            update(ApiToken).where(which).values(revoked_at=now)
        ).rowcount
    return counts


def change_password(
    engine: Engine,
    principal: Principal,
    current: str,
    new: str,
    *,
    revoke_tokens: bool = True,
    ip: str | None,
) -> None:
    """Change the caller's password (the current one is required). Their other sessions end,
    and so do their API tokens unless `revoke_tokens` is false (the session or token making
    the change stays valid when it is a session). A refused change is audited (and
    committed) before the 422."""
    if principal.user_id is None:
        raise unauthorized()
    with engine.begin() as conn:
        user = conn.execute(select(User.__table__).where(User.id == principal.user_id)).one()
        issues = []
        if not verify_password(user.password_hash, current):
            issues.append(
                Issue(
                    "current_password",
                    "bad_credentials",
                    "当前密码不正确",
                    "The current password is wrong",
                )
            )
        problem = password_problem(new)
        if problem is not None:
            issues.append(Issue("new_password", "weak_password", problem[0], problem[1]))
        if issues:
            audit.record(
                conn, "auth.password", actor_id=user.id, success=False, ip=ip, subject=user.username
            )
        else:
            conn.execute(
                update(User)
                .where(User.id == user.id)
                .values(
                    password_hash=hash_password(new),
                    password_changed_at=utcnow(),
                    must_change_password=False,
                )
            )
            revoked = revoke_credentials(
                conn, user.id, tokens=revoke_tokens, keep_session_id=principal.session_id
            )
            audit.record(
                conn,
                "auth.password",
                actor_id=user.id,
                ip=ip,
                subject=user.username,
                detail={"revoked": revoked},
            )
    if issues:
        raise ServiceError(422, "validation_failed", issues)


def from_bearer(conn: Connection, token: str, *, ip: str | None) -> Principal:
    """The caller behind a session or API token (401 when it is unknown, expired or revoked),
    noting an API token's use on `conn` when due (see :func:`read_bearer` to read only)."""
    principal, use = read_bearer(conn, token)
    if use is not None:
        note_token_use(conn, use, ip=ip)
    return principal


@dataclass(frozen=True)
class TokenUse:
    """An API token's use that is due to be noted (last noted `TOKEN_AUDIT_EVERY` ago)."""

    token_id: int
    user_id: int
    name: str


def read_bearer(conn: Connection, token: str) -> tuple[Principal, TokenUse | None]:
    """The caller behind a session or API token, reading only (401 when it is not valid), and
    the token use to note, if due: the caller writes it when the write lock is free."""
    return bearer_query(token).read(conn)


@dataclass(frozen=True)
class CredentialQuery:
    """A credential as one SELECT of at most one row (the caller's, with a `user_id` column)
    and how that row becomes the caller: `caller(row)` is the Principal and the token use to
    note, or a 401 when there is no row or the credential is not valid (expired, deactivated).

    The records read routes fold `statement` into the statement that opens the read
    (engine.api.opening), so the credential costs no statement of its own."""

    statement: Select[*tuple[Any, ...]]
    params: dict[str, Any]
    caller: Callable[[Any], tuple[Principal, TokenUse | None]]
    user_column: str = "user_id"  # the statement's column holding the caller's user id

    def read(self, conn: Connection) -> tuple[Principal, TokenUse | None]:
        """The caller, in one statement of its own."""
        return self.caller(conn.execute(self.statement, self.params).first())


def bearer_query(token: str) -> CredentialQuery:
    """The query of a session or API token (a 401 at once for any other token)."""
    if token.startswith(SESSION_PREFIX):
        return session_query(token, via="session")
    if token.startswith(API_TOKEN_PREFIX):
        return _api_token_query(token)
    raise unauthorized()


def note_token_use(conn: Connection, use: TokenUse, *, ip: str | None) -> None:
    """Set the token's `last_used_at` and audit `token.used`, unless another request did so
    within `TOKEN_AUDIT_EVERY` (at most one entry per token and hour)."""
    now = utcnow()
    stale = ApiToken.last_used_at.is_(None) | (ApiToken.last_used_at <= now - TOKEN_AUDIT_EVERY)
    updated = conn.execute(
        update(ApiToken).where(ApiToken.id == use.token_id, stale).values(last_used_at=now)
    ).rowcount
    if updated:
        audit.record(
            conn,
            "token.used",
            actor_id=use.user_id,
            ip=ip,
            subject=use.name,
            detail={"token_id": use.token_id},
        )


_LIVE_SESSION = (
    select(
        AuthSession.id.label("session_id"),
        User.id.label("user_id"),
        User.username,
        User.is_admin,
        User.is_active,
        User.must_change_password,
    )
    .join(User, User.id == AuthSession.user_id)
    .where(
        AuthSession.token_hash == bindparam("token_hash"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
)  # built once: every signed-in request runs it


def from_session(conn: Connection, token: str, *, via: str) -> Principal:
    principal, _ = session_query(token, via=via).read(conn)
    return principal


def session_query(token: str, *, via: str) -> CredentialQuery:
    """The query of a session token (Bearer or cookie): a live session of an active user."""

    def caller(row: Any) -> tuple[Principal, TokenUse | None]:
        if row is None or not row.is_active:
            raise unauthorized()
        principal = Principal(
            row.user_id,
            row.username,
            row.is_admin,
            "cookie" if via == "cookie" else "session",
            session_id=row.session_id,
            must_change_password=row.must_change_password,
        )
        return principal, None

    return CredentialQuery(
        _LIVE_SESSION, {"token_hash": token_hash(token), "now": utcnow()}, caller
    )


def csrf_matches(conn: Connection, principal: Principal, csrf: str | None) -> bool:
    """Whether `csrf` is the token issued with the caller's session."""
    if principal.session_id is None or not csrf:
        return False
    stored = conn.execute(
        select(AuthSession.csrf_hash).where(AuthSession.id == principal.session_id)
    ).scalar_one_or_none()
    return stored is not None and secrets.compare_digest(stored, token_hash(csrf))


_API_TOKEN = (
    select(ApiToken.__table__, User.username, User.is_admin, User.is_active)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)  # built once: every API-token request runs it


def _api_token_query(token: str) -> CredentialQuery:
    now = utcnow()
    return CredentialQuery(
        _API_TOKEN, {"token_hash": token_hash(token)}, lambda row: _api_token_caller(row, now)
    )


def _api_token_caller(row: Any, now: dt.datetime) -> tuple[Principal, TokenUse | None]:
    if row is None or not row.is_active or (row.expires_at is not None and row.expires_at <= now):
        raise unauthorized()
    use = None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_AUDIT_EVERY:
        use = TokenUse(row.id, row.user_id, row.name)
    apps = tuple(row.apps) if row.apps is not None else None
    principal = Principal(
        row.user_id,
        row.username,
        row.is_admin,
        "api_token",
        apps=apps,
        can_write=row.can_write,
        token_id=row.id,
    )
    return principal, use


__all__ = [
    "CredentialQuery",
    "LoginResult",
    "TokenUse",
    "bearer_query",
    "change_password",
    "csrf_matches",
    "from_bearer",
    "from_session",
    "login",
    "logout",
    "note_token_use",
    "read_bearer",
    "revoke_credentials",
    "session_query",
    "throttled_for",
    "too_many_attempts",
    "unauthorized",
    "user_json",
]
