"""The 通讯录 (organisation admin) services the browser needs beyond the directory's basics:
the users of a department with their names resolved, password resets, deleting a department,
and the refusal to leave the platform without an active administrator.

The directory (`engine.auth.directory`) owns creating and changing users, departments and
role members; this module adds the administrator's daily operations on top, each one a
field-level 422 (Chinese and English) when refused, nothing written. Bulk import from Excel
lives in `engine.auth.org_import`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from engine.auth import audit, directory
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.store.models import App, Department, Role, RoleMember, User, UserDepartment

MAX_USERS = 1000


def last_admin_issues(conn: Connection, user_id: int, values: Mapping[str, Any]) -> list[Issue]:
    """The refusal when `values` would deactivate or demote the only active administrator."""
    demote = values.get("is_admin") is False
    deactivate = values.get("is_active") is False
    if not (demote or deactivate):
        return []
    row = conn.execute(select(User.is_admin, User.is_active).where(User.id == user_id)).first()
    if row is None or not (row.is_admin and row.is_active):
        return []
    others = conn.execute(
        select(func.count())
        .select_from(User)
        .where(User.is_admin.is_(True), User.is_active.is_(True), User.id != user_id)
    ).scalar_one()
    if others:
        return []
    path = "is_active" if deactivate else "is_admin"
    return [
        Issue(
            path,
            "last_admin",
            "这是唯一一位在用的管理员，不能停用或取消其管理员身份；请先指定另一位管理员",
            "This is the only active administrator and cannot be deactivated or demoted; "
            "make someone else an administrator first",
        )
    ]


def list_people(
    conn: Connection,
    *,
    department_id: int | None = None,
    children: bool = True,
    q: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """Users (all, or those of a department and by default its sub-departments, main or
    further department), searched by username, name, phone or email, with their department's
    and manager's names, the app roles they hold themselves and whether they must change their
    password at the next sign-in; `total` counts every match."""
    manager = aliased(User)
    query = select(
        User.__table__,
        Department.name.label("department_name"),
        manager.display_name.label("manager_name"),
    ).select_from(
        User.__table__.outerjoin(Department, Department.id == User.department_id).outerjoin(
            manager, manager.id == User.manager_id
        )
    )
    conditions: list[ColumnElement[bool]] = []
    if department_id is not None:
        if (
            conn.execute(select(Department.id).where(Department.id == department_id)).first()
            is None
        ):
            raise not_found()
        conditions.append(
            User.id.in_(directory.members_of(department_id, children=children).subquery().select())
        )
    if q:
        conditions.append(
            or_(
                *(
                    column.contains(q, autoescape=True)
                    for column in (User.username, User.display_name, User.phone, User.email)
                )
            )
        )
    total = conn.execute(select(func.count()).select_from(User).where(*conditions)).scalar_one()
    rows = conn.execute(
        query.where(*conditions).order_by(User.id).limit(min(limit, MAX_USERS)).offset(offset)
    ).all()
    ids = [row.id for row in rows]
    roles: dict[int, list[dict[str, Any]]] = {user_id: [] for user_id in ids}
    extra: dict[int, list[int]] = {user_id: [] for user_id in ids}
    if ids:
        held = conn.execute(
            select(RoleMember.user_id, Role.id, Role.key, Role.name, App.key.label("app"))
            .join(Role, Role.id == RoleMember.role_id)
            .join(App, App.id == Role.app_id)
            .where(RoleMember.user_id.in_(ids))
            .order_by(App.key, Role.id)
        )
        for member in held:
            roles[member.user_id].append(
                {"id": member.id, "app": member.app, "key": member.key, "name": member.name}
            )
        for link in conn.execute(
            select(UserDepartment.user_id, UserDepartment.department_id).where(
                UserDepartment.user_id.in_(ids)
            )
        ):
            extra[link.user_id].append(link.department_id)
    users = [
        {
            "id": row.id,
            "username": row.username,
            "display_name": row.display_name,
            "phone": row.phone,
            "email": row.email,
            "department_id": row.department_id,
            "department_ids": sorted(extra[row.id]),
            "department_name": row.department_name,
            "manager_id": row.manager_id,
            "manager_name": row.manager_name,
            "is_admin": row.is_admin,
            "is_active": row.is_active,
            "can_sign_in": row.password_hash is not None,
            "must_change_password": row.must_change_password,
            "roles": roles[row.id],
        }
        for row in rows
    ]
    return {"users": users, "total": total}


def reset_password(
    conn: Connection,
    user_id: int,
    password: str | None,
    *,
    actor_id: int | None,
    keep_session_id: int | None = None,
) -> str | None:
    """Set a user's password (or a generated one, returned to be shown once); every session and
    API token of theirs ends, as with any password change by an administrator, and they must
    change it at their next sign-in unless they set it for themselves (`actor_id`)."""
    generated = None if password else generate_password()
    directory.update_user(
        conn,
        user_id,
        {},
        password=password or generated,
        actor_id=actor_id,
        keep_session_id=keep_session_id,
        must_change=actor_id != user_id,
    )
    return generated


def generate_password() -> str:
    """A random password people can type: 12 letters and digits without look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def delete_department(conn: Connection, department_id: int, *, actor_id: int | None) -> None:
    """Delete an empty department: refused (422, naming how many) while users belong to it or it
    has sub-departments. Roles given to the department go with it."""
    row = conn.execute(
        select(Department.id, Department.name).where(Department.id == department_id)
    ).first()
    if row is None:
        raise not_found()
    members = conn.execute(
        select(func.count()).select_from(
            directory.members_of(department_id, children=False).subquery()
        )
    ).scalar_one()
    children = conn.execute(
        select(func.count()).select_from(Department).where(Department.parent_id == department_id)
    ).scalar_one()
    issues = []
    if members:
        issues.append(
            Issue(
                "members",
                "has_members",
                f"部门「{row.name}」还有 {members} 名成员，请先把他们调到其他部门",
                f"Department “{row.name}” still has {members} member(s); "
                "move them to another department first",
            )
        )
    if children:
        issues.append(
            Issue(
                "children",
                "has_children",
                f"部门「{row.name}」还有 {children} 个下级部门，请先删除或移走它们",
                f"Department “{row.name}” still has {children} sub-department(s); "
                "delete or move them first",
            )
        )
    if issues:
        raise ServiceError(
            422,
            "department_not_empty",
            issues,
            message_zh="部门不是空的，不能删除",
            message_en="The department is not empty and cannot be deleted",
        )
    roles = conn.execute(
        delete(RoleMember).where(RoleMember.department_id == department_id)
    ).rowcount
    conn.execute(delete(Department).where(Department.id == department_id))
    audit.record(
        conn,
        "department.delete",
        actor_id=actor_id,
        subject=row.name,
        detail={"id": department_id, "role_members_removed": roles},
    )


__all__ = [
    "delete_department",
    "generate_password",
    "last_admin_issues",
    "list_people",
    "reset_password",
]
