"""`/auth` and `/me`: sign in (cookie + Bearer session token + CSRF token), sign out, change
the password, and who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from engine.api.deps import DbEngine, read_only
from engine.api.schemas.admin import LoginResult, Me
from engine.api.security import SESSION_COOKIE, CurrentUser, client_ip
from engine.auth import sessions
from engine.auth.directory import get_user

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    """A username and password."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class PasswordChange(BaseModel):
    """The current password, the new one (at least 8 characters besides leading and trailing
    spaces) and whether my API tokens are revoked too (yes unless `revoke_tokens: false`)."""

    current_password: Annotated[str, Field(max_length=256)]
    new_password: Annotated[str, Field(max_length=256)]
    revoke_tokens: bool = True


@router.post("/auth/login", response_model=LoginResult)
def login(
    body: LoginRequest, request: Request, response: Response, engine: DbEngine
) -> dict[str, Any]:
    """Sign in: sets the HttpOnly session cookie and returns `{token, csrf_token, user, expires_at}`.
    Send `token` as `Authorization: Bearer` from scripts, or rely on the cookie plus
    `X-CSRF-Token: <csrf_token>` on unsafe requests from a browser."""
    hours = request.app.state.settings.session_hours
    result = sessions.login(
        engine, body.username, body.password, ip=client_ip(request), hours=hours
    )
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return {
        "token": result.token,
        "csrf_token": result.csrf_token,
        "expires_at": result.expires_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user": result.user,
    }


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, principal: CurrentUser, engine: DbEngine) -> None:
    """End this session and clear the cookie."""
    with engine.begin() as conn:
        sessions.logout(conn, principal, ip=client_ip(request))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post("/auth/password", status_code=204)
def change_password(
    body: PasswordChange, request: Request, principal: CurrentUser, engine: DbEngine
) -> None:
    """Change my password; my other sessions end, and my API tokens are revoked unless
    `revoke_tokens` is false."""
    sessions.change_password(
        engine,
        principal,
        body.current_password,
        body.new_password,
        revoke_tokens=body.revoke_tokens,
        ip=client_ip(request),
    )


@router.get("/me", response_model=Me, response_model_exclude_unset=True)
def me(principal: CurrentUser, engine: DbEngine) -> dict[str, Any]:
    """The signed-in user and how they signed in; `must_change_password`: this session may do
    nothing else but change the password (or sign out) until it is changed."""
    with read_only(engine) as conn:
        user = (
            get_user(conn, principal.user_id)
            if principal.user_id is not None
            else {"username": principal.username}
        )
    return {
        **user,
        "via": principal.via,
        "token_apps": principal.apps,
        "can_write": principal.can_write,
        "must_change_password": principal.must_change_password,
    }
