"""Response models of the administration, sign-in, directory, catalog and jobs routes
(`engine.api.routes.admin`, `auth`, `directory`, `catalog`, `jobs`, `health`)."""

from __future__ import annotations

from pydantic import Field

from engine.api.schemas.common import Answer, Json, Label


class UserOut(Answer):
    """A user as administrators see them (`engine.auth.directory.user_json`)."""

    id: int
    username: str
    display_name: str
    phone: str | None
    email: str | None
    department_id: int | None
    department_ids: list[int]
    manager_id: int | None
    is_admin: bool
    is_active: bool


class Me(Answer):
    """The signed-in user and how they signed in; the built-in admin token has no user row,
    so only `username` of the user's keys is present then."""

    id: int | None = None
    username: str
    display_name: str | None = None
    phone: str | None = None
    email: str | None = None
    department_id: int | None = None
    department_ids: list[int] | None = None
    manager_id: int | None = None
    is_admin: bool | None = None
    is_active: bool | None = None
    via: str
    token_apps: list[str] | None
    can_write: bool
    must_change_password: bool


class SessionUser(Answer):
    """The user a session was opened for."""

    id: int
    username: str
    display_name: str
    is_admin: bool
    must_change_password: bool


class LoginResult(Answer):
    """A new session: the Bearer token, the CSRF token for unsafe cookie requests, its end."""

    token: str
    csrf_token: str
    expires_at: str
    user: SessionUser


class PickedUser(Answer):
    """A colleague as the member picker shows them."""

    id: int
    name: str
    username: str
    department: str | None


class PickedDepartment(Answer):
    """A department as the department picker shows it."""

    id: int
    name: str
    parent_id: int | None


class DepartmentOut(Answer):
    """A department with its parent, head and place among its siblings."""

    id: int
    name: str
    parent_id: int | None
    head_user_id: int | None
    sort: int


class RoleMemberOut(Answer):
    """A user or a department holding a role."""

    id: int
    user_id: int | None
    department_id: int | None


class RoleOut(Answer):
    """A global role, or one of an app's roles, with its members."""

    id: int
    app: str | None
    key: str
    name: dict[str, str]
    members: list[RoleMemberOut]


class TokenOut(Answer):
    """An API token (never its secret, except `token` right after creation)."""

    id: int
    user_id: int
    name: str
    prefix: str
    apps: list[str] | None
    can_write: bool
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked: bool


class NewTokenOut(TokenOut):
    """A token just created: `token` is shown only in this answer."""

    token: str


class AuditActor(Answer):
    """Who did what an audit entry records."""

    id: int
    username: str | None


class AuditEntry(Answer):
    """One audit entry."""

    id: int
    at: str
    actor: AuditActor | None
    kind: str
    success: bool
    ip: str | None
    subject: str | None
    detail: Json


class PackOut(Answer):
    """A pack of the catalog."""

    key: str
    name: Label
    version: str | None
    description: Label
    sample_data: bool


class Installed(Answer):
    """The app a pack was installed as."""

    key: str
    revision: int = Field(alias="_revision")


class JobOut(Answer):
    """A background job."""

    id: int
    kind: str
    key: str | None
    state: str
    payload: Json
    run_at: str | None
    attempts: int
    last_error: str | None
    claimed_by: str | None
    lease_until: str | None
    created_at: str | None
    updated_at: str | None


class JobList(Answer):
    """Jobs of one page and how many jobs are in each state."""

    counts: dict[str, int]
    jobs: list[JobOut]


class Health(Answer):
    """The liveness answer."""

    status: str
