"""Who is calling, for every request: a Bearer token (session, API token or the admin token)
or the session cookie, which needs `X-CSRF-Token` on unsafe methods.

A session of a user whose password an administrator set (`users.must_change_password`) may
only read `/me`, change the password and sign out until the password is changed: every other
call is a 403 `password_change_required` (API tokens are not held to it: see docs/decisions.md).

The admin token (`JIMU_ADMIN_TOKEN`, else the random one in the data directory) acts as the
user `admin`, for automation. API tokens are limited to their apps and, when read-only, to
safe methods. Every refusal is a 401/403 in the one error shape; CSRF failures and unknown
tokens are audited, and so is every request an authenticated caller is refused (403, or 404
when the caller's view is limited): `access.denied`, written only on refusals.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.auth import audit, sessions
from engine.auth.directory import admin_token_query
from engine.auth.principal import Principal
from engine.core.errors import ServiceError
from engine.store import write_queue

SESSION_COOKIE = "jimu_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
logger = logging.getLogger(__name__)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _engine(request: Request) -> Engine:
    from engine.api.deps import engine_of

    return engine_of(request)


def _admin_token(request: Request) -> str:
    from engine.api.deps import admin_token

    expected = getattr(request.app.state, "admin_token", None)
    if expected is None:
        expected = request.app.state.admin_token = admin_token(request.app.state.settings)
    return str(expected)


def current_principal(request: Request) -> Principal:
    """The authenticated caller (401 without a valid credential, 403 for a failed CSRF check)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal = _authenticate(request)
    request.state.principal = principal
    return principal


@dataclass(frozen=True)
class Credential:
    """The credential a request presents, as a query (engine.auth.sessions.CredentialQuery):
    `kind` is ``admin`` (the admin token), ``bearer`` (a session or API token) or ``cookie``."""

    query: sessions.CredentialQuery
    kind: str
    token: str


def credential_of(request: Request) -> Credential:
    """The request's credential, read from its headers only (no database): 401 without one,
    and an audited 401 for a Bearer token of no known kind."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        if secrets.compare_digest(
            token.encode("utf-8", "surrogatepass"), _admin_token(request).encode()
        ):
            return Credential(admin_token_query(), "admin", token)
        try:
            return Credential(sessions.bearer_query(token), "bearer", token)
        except ServiceError:
            _refuse_token(request, token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise sessions.unauthorized()
    return Credential(sessions.session_query(cookie, via="cookie"), "cookie", cookie)


async def credential_present(request: Request) -> None:
    """A dependency for routes that authenticate inside their own statement
    (engine.api.opening): a 401 up front, before the request's parameters are checked, when
    the request carries no credential at all. On the event loop: it reads only headers."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not (scheme.lower() == "bearer" and token.strip()) and not request.cookies.get(
        SESSION_COOKIE
    ):
        raise sessions.unauthorized()
    # The credential itself is checked by the route's opening statement; should the request's
    # parameters be refused before it runs, the refusal handler checks it first, so a bad
    # credential still gets its 401 and never learns which parameters are wrong.
    request.state.credential_unchecked = True


def check_credential(request: Request) -> None:
    """Authenticate `request` (raises the 401/403 `ServiceError` of a bad credential), for
    refusals that happen before a route could check it (see `credential_present`)."""
    _authenticate(request)


def _refuse_token(request: Request, token: str) -> NoReturn:
    with _engine(request).begin() as conn:
        audit.record(
            conn, "auth.bad_token", success=False, ip=client_ip(request), subject=token[:11]
        )
    raise sessions.unauthorized() from None


def settle(request: Request, credential: Credential, row: Any) -> Principal:
    """The caller from the row of `credential`'s query (None: no row): a 401 when it is not
    valid (audited for Bearer tokens), and an API token's hourly "last used" note, written
    only when the write lock is free at once (else a later request notes it)."""
    try:
        principal, use = credential.query.caller(row)
    except ServiceError:
        if credential.kind == "bearer":
            _refuse_token(request, credential.token)
        raise
    if use is not None:
        with write_queue.try_begin(_engine(request)) as writer:
            if writer is not None:
                sessions.note_token_use(writer, use, ip=client_ip(request))
    if principal.must_change_password and (request.method, request.url.path) not in _WHILE_CHANGING:
        raise password_change_required()
    return principal


# What a session whose password must be changed may still call (everything else is a 403).
_WHILE_CHANGING = frozenset(
    {
        ("GET", "/api/v1/me"),
        ("HEAD", "/api/v1/me"),
        ("POST", "/api/v1/auth/password"),
        ("POST", "/api/v1/auth/logout"),
    }
)


def password_change_required() -> ServiceError:
    """403 for a session whose user must change the password an administrator set first."""
    return ServiceError(
        403,
        "password_change_required",
        message_zh="管理员设置的密码需要先修改：请修改密码后再继续",
        message_en="The password an administrator set must be changed first: change it to continue",
    )


def _authenticate(request: Request) -> Principal:
    """Reads on a read-only connection, so on SQLite it never takes (nor waits for) the write
    lock; only refusals are written down (their own transaction), and an API token's hourly
    "last used" note only when the write lock is free at once (else a later request notes
    it)."""
    from engine.api.deps import read_only

    credential = credential_of(request)
    query = credential.query
    csrf_failed = False
    with read_only(_engine(request)) as conn:
        principal = settle(request, credential, conn.execute(query.statement, query.params).first())
        if credential.kind == "cookie" and request.method not in SAFE_METHODS:
            csrf_failed = not sessions.csrf_matches(
                conn, principal, request.headers.get(CSRF_HEADER)
            )
    if csrf_failed:
        raise csrf_refused(request, principal)
    return principal


def csrf_refused(request: Request, principal: Principal) -> ServiceError:
    """A session cookie's unsafe request without the right X-CSRF-Token: written down (in a
    transaction of its own) and answered 403 ``csrf_failed``."""
    with _engine(request).begin() as conn:
        audit.record(
            conn,
            "auth.csrf_failed",
            actor_id=principal.user_id,
            success=False,
            ip=client_ip(request),
            subject=f"{request.method} {request.url.path}"[:200],
        )
    return ServiceError(
        403,
        "csrf_failed",
        message_zh="缺少或错误的 X-CSRF-Token 请求头（使用登录时返回的 csrf_token）",
        message_en="Missing or wrong X-CSRF-Token header (send the csrf_token returned at login)",
    )


def require_admin(request: Request) -> Principal:
    """The caller, who must be an administrator (403 otherwise)."""
    principal = current_principal(request)
    if not principal.is_admin:
        raise ServiceError(
            403,
            "forbidden",
            message_zh="需要管理员权限",
            message_en="This needs administrator rights",
        )
    if not principal.can_write and request.method not in SAFE_METHODS:
        raise ServiceError(
            403, "forbidden", message_zh="该令牌只读", message_en="This token is read-only"
        )
    app = request.path_params.get("app")
    if principal.apps is not None and not (isinstance(app, str) and principal.may_use_app(app)):
        raise ServiceError(
            403,
            "forbidden",
            message_zh="该令牌无权访问此应用",
            message_en="This token may not use this app",
        )
    return principal


def audit_denial(request: Request, status: int, code: str) -> None:
    """Audit a refused request of an authenticated caller as `access.denied` (actor, route,
    reason). A 404 is a denial unless the caller sees everything (an administrator without an
    app-limited token), for whom it only means "missing"."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal) or status not in (403, 404):
        return
    if status == 404 and principal.is_admin and principal.apps is None:
        return
    detail: dict[str, object] = {"status": status, "code": code, "via": principal.via}
    if principal.token_id is not None:
        detail["token_id"] = principal.token_id
    try:
        with _engine(request).begin() as conn:
            audit.record(
                conn,
                "access.denied",
                actor_id=principal.user_id,
                success=False,
                ip=client_ip(request),
                subject=f"{request.method} {request.url.path}",
                detail=detail,
            )
    except SQLAlchemyError:  # the refusal stands even when it cannot be written down
        logger.warning("could not audit a denied %s %s", request.method, request.url.path)


CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(require_admin)]
