"""Administration: `/users`, `/departments`, `/roles`, `/tokens` and `/audit` (thin router).

Users manage their own API tokens; everything else needs an administrator.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from engine.api.deps import DbEngine, read_only
from engine.api.schemas.admin import (
    AuditEntry,
    DepartmentOut,
    NewTokenOut,
    RoleMemberOut,
    RoleOut,
    TokenOut,
    UserOut,
)
from engine.api.security import AdminUser, CurrentUser, client_ip
from engine.auth import audit, directory, tokens
from engine.forms.common import KEY_PATTERN

router = APIRouter(tags=["admin"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]
NOT_NULL = frozenset({"username", "display_name", "is_admin", "is_active", "name", "sort"})
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class UserFields(BaseModel):
    """Editable user properties."""

    model_config = ConfigDict(extra="forbid")

    display_name: Name | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = (
        None
    )
    department_id: DbId | None = None
    department_ids: list[DbId] | None = None
    manager_id: DbId | None = None
    is_admin: bool | None = None
    is_active: bool | None = None
    password: Annotated[str, Field(max_length=256)] | None = None
    # with `password`: the person must change it at their next sign-in (the 通讯录 page sends
    # true; left out or false keeps the contract scripts rely on)
    must_change_password: bool | None = None


class NewUser(UserFields):
    """A new user: username and display name are required; without a password they cannot sign in yet."""

    username: Username
    display_name: Name


class UserChange(UserFields):
    """Changed properties only."""

    username: Username | None = None


class DepartmentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    parent_id: DbId | None = None
    head_user_id: DbId | None = None
    sort: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


class NewDepartment(DepartmentFields):
    name: Name


class NewRole(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(pattern=KEY_PATTERN)]
    name: dict[str, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict)
    app: Annotated[str, Field(pattern=KEY_PATTERN)] | None = None


class NewMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    department_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class NewToken(BaseModel):
    """A token for me: its name, the apps it may use (all when omitted), write access, and its
    lifetime in days (90 by default, at most 365: every API token expires)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    apps: list[Annotated[str, Field(pattern=KEY_PATTERN)]] | None = None
    can_write: bool = False
    expires_in_days: Annotated[int, Field(ge=1, le=tokens.MAX_DAYS)] = tokens.DEFAULT_DAYS


def _user_values(body: UserFields) -> dict[str, Any]:
    return _checked(
        body.model_dump(
            exclude_unset=True, exclude={"password", "department_ids", "must_change_password"}
        )
    )


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """`values` without explicit nulls where a value is required (422 for those)."""
    from engine.core.errors import ServiceError
    from engine.core.issues import Issue

    issues = [
        Issue(key, "required", "不能为空", "This value cannot be null")
        for key, value in values.items()
        if value is None and key in NOT_NULL
    ]
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    return values


@router.get("/users", response_model=list[UserOut])
def list_users(
    engine: DbEngine,
    principal: AdminUser,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> list[dict[str, Any]]:
    """Users, optionally searched by username or name."""
    with read_only(engine) as conn:
        return directory.list_users(conn, q, limit, offset)


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: NewUser, engine: DbEngine, principal: AdminUser) -> dict[str, Any]:
    """Create a user."""
    with engine.begin() as conn:
        return directory.create_user(
            conn,
            _user_values(body),
            password=body.password,
            department_ids=body.department_ids or [],
            actor_id=principal.user_id,
            must_change=bool(body.must_change_password),
        )


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: Id, engine: DbEngine, principal: AdminUser) -> dict[str, Any]:
    with read_only(engine) as conn:
        return directory.get_user(conn, user_id)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(
    user_id: Id, body: UserChange, engine: DbEngine, principal: AdminUser
) -> dict[str, Any]:
    """Change a user (deactivate with `is_active: false`; users are never deleted). Setting a
    password ends all the user's sessions and revokes their API tokens, and so does a
    deactivation (a later reactivation revives none of them); an administrator resetting
    their own password keeps the session making the request."""
    with engine.begin() as conn:
        return directory.update_user(
            conn,
            user_id,
            _user_values(body),
            password=body.password,
            department_ids=body.department_ids,
            actor_id=principal.user_id,
            keep_session_id=principal.session_id if principal.user_id == user_id else None,
            must_change=bool(body.must_change_password) and principal.user_id != user_id,
        )


@router.get("/departments", response_model=list[DepartmentOut])
def list_departments(engine: DbEngine, principal: AdminUser) -> list[dict[str, Any]]:
    """The department tree as a flat list (roots first) with parents and heads."""
    with read_only(engine) as conn:
        return directory.list_departments(conn)


@router.post("/departments", status_code=201, response_model=DepartmentOut)
def create_department(
    body: NewDepartment, engine: DbEngine, principal: AdminUser
) -> dict[str, Any]:
    with engine.begin() as conn:
        return directory.create_department(
            conn, _checked(body.model_dump(exclude_unset=True)), actor_id=principal.user_id
        )


@router.patch("/departments/{department_id}", response_model=DepartmentOut)
def update_department(
    department_id: Id, body: DepartmentFields, engine: DbEngine, principal: AdminUser
) -> dict[str, Any]:
    with engine.begin() as conn:
        return directory.update_department(
            conn,
            department_id,
            _checked(body.model_dump(exclude_unset=True)),
            actor_id=principal.user_id,
        )


@router.get("/departments/{department_id}/members", response_model=list[UserOut])
def department_members(
    department_id: Id, engine: DbEngine, principal: AdminUser, children: bool = True
) -> list[dict[str, Any]]:
    """Users in a department (and, by default, its children)."""
    with read_only(engine) as conn:
        ids: list[int] = list(
            conn.execute(directory.members_of(department_id, children=children)).scalars()
        )
        return [directory.get_user(conn, user_id) for user_id in sorted(ids)]


@router.get("/roles", response_model=list[RoleOut])
def list_roles(
    engine: DbEngine,
    principal: AdminUser,
    app: Annotated[str | None, Query(pattern=KEY_PATTERN)] = None,
) -> list[dict[str, Any]]:
    """Global roles, or an app's roles with `app=`."""
    with read_only(engine) as conn:
        return directory.list_roles(conn, app)


@router.post("/roles", status_code=201, response_model=RoleOut)
def create_role(body: NewRole, engine: DbEngine, principal: AdminUser) -> dict[str, Any]:
    with engine.begin() as conn:
        return directory.create_role(
            conn, body.app, body.key, body.name, actor_id=principal.user_id
        )


@router.post("/roles/{role_id}/members", status_code=201, response_model=RoleMemberOut)
def add_role_member(
    role_id: Id, body: NewMember, engine: DbEngine, principal: AdminUser
) -> dict[str, Any]:
    """Give a role to a user or to a department (everyone in it and its children)."""
    with engine.begin() as conn:
        return directory.add_member(
            conn,
            role_id,
            user_id=body.user_id,
            department_id=body.department_id,
            actor_id=principal.user_id,
        )


@router.delete("/roles/{role_id}/members/{member_id}", status_code=204)
def remove_role_member(role_id: Id, member_id: Id, engine: DbEngine, principal: AdminUser) -> None:
    with engine.begin() as conn:
        directory.remove_member(conn, role_id, member_id, actor_id=principal.user_id)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(
    engine: DbEngine, principal: CurrentUser, all_users: bool = False
) -> list[dict[str, Any]]:
    """My API tokens (administrators may list everyone's with `all_users=true`)."""
    with read_only(engine) as conn:
        return tokens.list_tokens(
            conn, None if all_users and principal.is_admin else principal.user_id
        )


@router.post("/tokens", status_code=201, response_model=NewTokenOut)
def create_token(
    body: NewToken, request: Request, engine: DbEngine, principal: CurrentUser
) -> dict[str, Any]:
    """A new API token for me; `token` is shown only in this response."""
    _no_token_from_token(principal)
    with engine.begin() as conn:
        return tokens.create(
            conn,
            principal.user_id or 0,
            body.name,
            apps=body.apps,
            can_write=body.can_write,
            days=body.expires_in_days,
            ip=client_ip(request),
        )


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: Id, request: Request, engine: DbEngine, principal: CurrentUser) -> None:
    """Revoke one of my tokens (administrators: anyone's)."""
    with engine.begin() as conn:
        tokens.revoke(
            conn,
            token_id,
            user_id=None if principal.is_admin else principal.user_id,
            actor_id=principal.user_id,
            ip=client_ip(request),
        )


def _no_token_from_token(principal: Any) -> None:
    from engine.core.errors import ServiceError

    if principal.via == "api_token" or principal.user_id is None:
        raise ServiceError(
            403,
            "forbidden",
            message_zh="API 令牌不能再创建令牌，请先登录",
            message_en="An API token cannot create tokens; sign in first",
        )


@router.get("/audit", response_model=list[AuditEntry])
def search_audit(
    engine: DbEngine,
    principal: AdminUser,
    actor: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    since: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=0, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> list[dict[str, Any]]:
    """Audit entries, newest first (`kind=auth.` matches every kind starting with `auth.`)."""
    with read_only(engine) as conn:
        return audit.search(conn, actor=actor, kind=kind, since=since, limit=limit, offset=offset)
