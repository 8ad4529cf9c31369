"""Response models of the 通讯录 routes (`engine.api.routes.org`): people by department, a
password reset and the organisation import's dry run and result."""

from __future__ import annotations

from engine.api.schemas.common import Answer, Json, Localized


class HeldRole(Answer):
    """An app role a person holds."""

    id: int
    app: str
    key: str
    name: Json


class Person(Answer):
    """A person as the 通讯录 lists them, with department and manager names."""

    id: int
    username: str
    display_name: str
    phone: str | None
    email: str | None
    department_id: int | None
    department_ids: list[int]
    department_name: str | None
    manager_id: int | None
    manager_name: str | None
    is_admin: bool
    is_active: bool
    can_sign_in: bool
    must_change_password: bool
    roles: list[HeldRole]


class People(Answer):
    """A page of people and how many match."""

    users: list[Person]
    total: int


class PasswordResetOut(Answer):
    """The generated password, shown once (null when the administrator gave one)."""

    password: str | None


class OrgImportError(Answer):
    """One error of the organisation workbook, at its sheet, row and column."""

    sheet: str
    row: int
    column: str
    code: str
    message: Localized


class InitialPassword(Answer):
    """A generated initial password of an imported user, shown once."""

    username: str
    password: str


class OrgImportOut(Answer):
    """What a dry run found (`ok`, `errors`, counts) or what an import wrote (and the
    generated initial passwords)."""

    ok: bool
    errors: list[OrgImportError]
    departments: int
    users: int
    passwords: list[InitialPassword] | None = None
