"""The organisation directory: users, the department tree, roles and their members.

"A department and its children" is one recursive CTE (`department_ids_under`), so scopes
compile into the SQL of record queries instead of being expanded in Python per row.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from engine.auth import audit
from engine.auth.credentials import hash_password, password_problem
from engine.auth.principal import Principal
from engine.auth.sessions import CredentialQuery, revoke_credentials
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.store.models import App, Department, Role, RoleMember, User, UserDepartment, utcnow

ADMIN_USERNAME = "admin"
USER_FIELDS = (
    "username",
    "display_name",
    "phone",
    "email",
    "department_id",
    "manager_id",
    "is_admin",
    "is_active",
)


@dataclass(frozen=True)
class CreatedAdmin:
    """The first administrator; `password` is set only when it was generated (print it once)."""

    user_id: int
    password: str | None


def ensure_admin(conn: Connection, password: str | None) -> CreatedAdmin | None:
    """Create the user `admin` on first start (with `password`, or a random one returned)."""
    if conn.execute(select(User.id).where(User.username == ADMIN_USERNAME)).first() is not None:
        return None
    generated = None if password else secrets.token_urlsafe(12)
    user_id = conn.execute(
        insert(User)
        .values(
            username=ADMIN_USERNAME,
            display_name="管理员",
            password_hash=hash_password(password or generated or ""),
            is_admin=True,
            is_active=True,
            created_at=utcnow(),
            password_changed_at=utcnow(),
        )
        .returning(User.id)
    ).scalar_one()
    audit.record(
        conn, "user.create", subject=ADMIN_USERNAME, detail={"id": user_id, "first_start": True}
    )
    return CreatedAdmin(user_id, generated)


_ADMIN_ID = select(User.id).where(User.username == ADMIN_USERNAME)  # every admin-token request


def admin_user_id(conn: Connection) -> int | None:
    """The id of the user `admin` (the actor of the admin token)."""
    return conn.execute(_ADMIN_ID).scalar_one_or_none()


def admin_token_query() -> CredentialQuery:
    """The admin token's caller as a credential query: the user `admin` (its id None when
    there is no such user, as :func:`admin_user_id`)."""
    return _ADMIN_TOKEN


def _admin_caller(row: Any) -> tuple[Principal, None]:
    return Principal(row.id if row is not None else None, ADMIN_USERNAME, True, "admin_token"), None


_ADMIN_TOKEN = CredentialQuery(_ADMIN_ID, {}, _admin_caller, user_column="id")


def user_json(conn: Connection, row: Any) -> dict[str, Any]:
    extra = (
        conn.execute(select(UserDepartment.department_id).where(UserDepartment.user_id == row.id))
        .scalars()
        .all()
    )
    return {
        "id": row.id,
        "username": row.username,
        "display_name": row.display_name,
        "phone": row.phone,
        "email": row.email,
        "department_id": row.department_id,
        "department_ids": sorted(extra),
        "manager_id": row.manager_id,
        "is_admin": row.is_admin,
        "is_active": row.is_active,
    }


def list_users(
    conn: Connection, q: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    query = select(User.__table__).order_by(User.id)
    if q:
        query = query.where(
            User.username.contains(q, autoescape=True)
            | User.display_name.contains(q, autoescape=True)
        )
    return [
        user_json(conn, row) for row in conn.execute(query.limit(min(limit, 1000)).offset(offset))
    ]


def pick_users(conn: Connection, q: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Active users as a member picker shows them to anyone signed in: id, name, username and
    department name only (no phone or email), searched by username or name."""
    query = (
        select(
            User.id,
            User.display_name.label("name"),
            User.username,
            Department.name.label("department"),
        )
        .outerjoin(Department, Department.id == User.department_id)
        .where(User.is_active.is_(True), User.password_hash.is_not(None))
        .order_by(User.display_name, User.id)
        .limit(limit)
    )
    if q:
        query = query.where(
            User.username.contains(q, autoescape=True)
            | User.display_name.contains(q, autoescape=True)
        )
    return [dict(row._mapping) for row in conn.execute(query)]


def pick_departments(conn: Connection) -> list[dict[str, Any]]:
    """The department tree as a picker shows it: id, name and parent, in display order."""
    query = select(Department.id, Department.name, Department.parent_id).order_by(
        Department.sort, Department.id
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def get_user(conn: Connection, user_id: int) -> dict[str, Any]:
    row = conn.execute(select(User.__table__).where(User.id == user_id)).first()
    if row is None:
        raise not_found()
    return user_json(conn, row)


def _check_refs(
    conn: Connection, values: Mapping[str, Any], department_ids: Iterable[int]
) -> list[Issue]:
    issues = []
    for key, model in (("department_id", Department), ("manager_id", User)):
        value = values.get(key)
        if (
            value is not None
            and conn.execute(select(model.id).where(model.id == value)).first() is None
        ):
            issues.append(Issue(key, "not_found", f"{value} 不存在", f"{value} does not exist"))
    for index, value in enumerate(department_ids):
        if conn.execute(select(Department.id).where(Department.id == value)).first() is None:
            issues.append(
                Issue(
                    f"department_ids[{index}]",
                    "not_found",
                    f"部门 {value} 不存在",
                    f"Department {value} does not exist",
                )
            )
    return issues


def create_user(
    conn: Connection,
    values: Mapping[str, Any],
    *,
    password: str | None,
    department_ids: Iterable[int] = (),
    actor_id: int | None,
    must_change: bool = False,
) -> dict[str, Any]:
    """A new user; 422 with field issues for a taken username, weak password or missing refs.
    `must_change`: with a password, the user must change it at their next sign-in."""
    department_ids = list(department_ids)
    issues = _check_refs(conn, values, department_ids)
    if conn.execute(select(User.id).where(User.username == values["username"])).first() is not None:
        issues.append(Issue("username", "taken", "用户名已被使用", "This username is taken"))
    if password is not None and (problem := password_problem(password)) is not None:
        issues.append(Issue("password", "weak_password", problem[0], problem[1]))
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    data = {k: values[k] for k in USER_FIELDS if k in values}
    user_id = conn.execute(
        insert(User)
        .values(
            **data,
            password_hash=hash_password(password) if password else None,
            password_changed_at=utcnow() if password else None,
            must_change_password=bool(password) and must_change,
            created_at=utcnow(),
        )
        .returning(User.id)
    ).scalar_one()
    _set_departments(conn, user_id, department_ids)
    audit.record(
        conn,
        "user.create",
        actor_id=actor_id,
        subject=values["username"],
        detail={"id": user_id, **_safe(data)},
    )
    return get_user(conn, user_id)


def update_user(
    conn: Connection,
    user_id: int,
    values: Mapping[str, Any],
    *,
    password: str | None = None,
    department_ids: Iterable[int] | None = None,
    actor_id: int | None,
    keep_session_id: int | None = None,
    must_change: bool = False,
) -> dict[str, Any]:
    """Change a user; 422 with field issues. A new password or a deactivation ends every
    session of the user (but `keep_session_id`) and revokes every API token of theirs; a new
    password must be changed at the next sign-in when `must_change` (else it need not be)."""
    from engine.auth.org import last_admin_issues  # org builds on this module

    before = get_user(conn, user_id)
    ids = list(department_ids or [])
    issues = _check_refs(conn, values, ids) + last_admin_issues(conn, user_id, values)
    renamed = "username" in values and values["username"] != before["username"]
    if (
        renamed
        and conn.execute(select(User.id).where(User.username == values["username"])).first()
        is not None
    ):
        issues.append(Issue("username", "taken", "用户名已被使用", "This username is taken"))
    if password is not None and (problem := password_problem(password)) is not None:
        issues.append(Issue("password", "weak_password", problem[0], problem[1]))
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    data = {k: values[k] for k in USER_FIELDS if k in values}
    if password is not None:
        data["password_hash"] = hash_password(password)
        data["password_changed_at"] = utcnow()
        data["must_change_password"] = must_change
    if data:
        conn.execute(update(User).where(User.id == user_id).values(**data))
    if department_ids is not None:
        _set_departments(conn, user_id, ids)
    after = get_user(conn, user_id)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if password is not None:
        diff["password"] = ["***", "***"]
    detail: dict[str, Any] = {"id": user_id, "changes": diff}
    if password is not None or values.get("is_active") is False:
        detail["revoked"] = revoke_credentials(conn, user_id, keep_session_id=keep_session_id)
    audit.record(conn, "user.update", actor_id=actor_id, subject=after["username"], detail=detail)
    return after


def _safe(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if "password" not in k}


def _set_departments(conn: Connection, user_id: int, department_ids: list[int]) -> None:
    conn.execute(delete(UserDepartment).where(UserDepartment.user_id == user_id))
    for department_id in dict.fromkeys(department_ids):
        conn.execute(insert(UserDepartment).values(user_id=user_id, department_id=department_id))


# --- departments -------------------------------------------------------------------------


def department_ids_under(root: Any) -> Select[tuple[int]]:
    """SELECT of the ids of department `root` (an id or SQL) and all its descendants."""
    tree = select(Department.id).where(Department.id == root).cte("department_tree", recursive=True)
    tree = tree.union_all(select(Department.id).where(Department.parent_id == tree.c.id))
    return select(tree.c.id)


def members_of(root: int, *, children: bool) -> Any:
    """SELECT of the ids of users in a department (and its children), main or extra."""
    departments = department_ids_under(root) if children else select(literal(root))
    main = select(User.id).where(User.department_id.in_(departments))
    extra = select(UserDepartment.user_id).where(UserDepartment.department_id.in_(departments))
    return main.union(extra)


def list_departments(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(Department.__table__).order_by(
            Department.parent_id.is_not(None), Department.sort, Department.id
        )
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "parent_id": r.parent_id,
            "head_user_id": r.head_user_id,
            "sort": r.sort,
        }
        for r in rows
    ]


def create_department(
    conn: Connection, values: Mapping[str, Any], *, actor_id: int | None
) -> dict[str, Any]:
    issues = _department_issues(conn, None, values)
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    department_id = conn.execute(
        insert(Department).values(**values).returning(Department.id)
    ).scalar_one()
    audit.record(
        conn,
        "department.create",
        actor_id=actor_id,
        subject=values.get("name"),
        detail={"id": department_id, **values},
    )
    return next(d for d in list_departments(conn) if d["id"] == department_id)


def update_department(
    conn: Connection, department_id: int, values: Mapping[str, Any], *, actor_id: int | None
) -> dict[str, Any]:
    if conn.execute(select(Department.id).where(Department.id == department_id)).first() is None:
        raise not_found()
    issues = _department_issues(conn, department_id, values)
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    if values:
        conn.execute(update(Department).where(Department.id == department_id).values(**values))
    audit.record(
        conn,
        "department.update",
        actor_id=actor_id,
        subject=str(department_id),
        detail=dict(values),
    )
    return next(d for d in list_departments(conn) if d["id"] == department_id)


def _department_issues(
    conn: Connection, department_id: int | None, values: Mapping[str, Any]
) -> list[Issue]:
    issues = []
    parent = values.get("parent_id")
    if parent is not None:
        if conn.execute(select(Department.id).where(Department.id == parent)).first() is None:
            issues.append(
                Issue(
                    "parent_id",
                    "not_found",
                    f"部门 {parent} 不存在",
                    f"Department {parent} does not exist",
                )
            )
        elif department_id is not None and parent in set(
            conn.execute(department_ids_under(department_id)).scalars()
        ):
            issues.append(
                Issue(
                    "parent_id",
                    "cycle",
                    "上级部门不能是自己或下级部门",
                    "A department cannot be under itself or its children",
                )
            )
    head = values.get("head_user_id")
    if head is not None and conn.execute(select(User.id).where(User.id == head)).first() is None:
        issues.append(
            Issue("head_user_id", "not_found", f"成员 {head} 不存在", f"User {head} does not exist")
        )
    return issues


# --- roles --------------------------------------------------------------------------------


def _app_id(conn: Connection, app: str | None) -> int | None:
    if app is None:
        return None
    found = conn.execute(select(App.id).where(App.key == app)).scalar_one_or_none()
    if found is None:
        raise not_found()
    return found


def list_roles(conn: Connection, app: str | None) -> list[dict[str, Any]]:
    app_id = _app_id(conn, app)
    rows = conn.execute(
        select(Role.__table__)
        .where(Role.app_id.is_(None) if app_id is None else Role.app_id == app_id)
        .order_by(Role.id)
    ).all()
    result = []
    for row in rows:
        members = conn.execute(
            select(RoleMember.__table__).where(RoleMember.role_id == row.id).order_by(RoleMember.id)
        ).all()
        result.append(
            {
                "id": row.id,
                "app": app,
                "key": row.key,
                "name": row.name,
                "members": [
                    {"id": m.id, "user_id": m.user_id, "department_id": m.department_id}
                    for m in members
                ],
            }
        )
    return result


def create_role(
    conn: Connection, app: str | None, key: str, name: dict[str, Any], *, actor_id: int | None
) -> dict[str, Any]:
    app_id = _app_id(conn, app)
    taken = conn.execute(
        select(Role.id).where(
            Role.key == key, Role.app_id.is_(None) if app_id is None else Role.app_id == app_id
        )
    ).first()
    if taken is not None:
        raise ServiceError(
            422,
            "validation_failed",
            [Issue("key", "taken", "角色标识已存在", "This role key exists")],
        )
    role_id = conn.execute(
        insert(Role)
        .values(app_id=app_id, key=key, name=name, created_at=utcnow())
        .returning(Role.id)
    ).scalar_one()
    audit.record(
        conn,
        "role.create",
        actor_id=actor_id,
        subject=f"{app or '*'}:{key}",
        detail={"id": role_id},
    )
    return next(r for r in list_roles(conn, app) if r["id"] == role_id)


def add_member(
    conn: Connection,
    role_id: int,
    *,
    user_id: int | None,
    department_id: int | None,
    actor_id: int | None,
) -> dict[str, Any]:
    if conn.execute(select(Role.id).where(Role.id == role_id)).first() is None:
        raise not_found()
    if (user_id is None) == (department_id is None):
        raise ServiceError(
            422,
            "validation_failed",
            [
                Issue(
                    "",
                    "one_of",
                    "请指定 user_id 或 department_id 之一",
                    "Give exactly one of user_id and department_id",
                )
            ],
        )
    issues = _check_refs(conn, {"manager_id": user_id, "department_id": department_id}, [])
    if issues:
        raise ServiceError(
            422,
            "validation_failed",
            [
                Issue(
                    "user_id" if i.path == "manager_id" else i.path,
                    i.code,
                    i.message_zh,
                    i.message_en,
                )
                for i in issues
            ],
        )
    member_id = conn.execute(
        insert(RoleMember)
        .values(role_id=role_id, user_id=user_id, department_id=department_id)
        .returning(RoleMember.id)
    ).scalar_one()
    audit.record(
        conn,
        "role.member_add",
        actor_id=actor_id,
        subject=str(role_id),
        detail={"user_id": user_id, "department_id": department_id},
    )
    return {"id": member_id, "user_id": user_id, "department_id": department_id}


def remove_member(conn: Connection, role_id: int, member_id: int, *, actor_id: int | None) -> None:
    result = conn.execute(
        delete(RoleMember).where(RoleMember.id == member_id, RoleMember.role_id == role_id)
    )
    if result.rowcount != 1:
        raise not_found()
    audit.record(
        conn,
        "role.member_remove",
        actor_id=actor_id,
        subject=str(role_id),
        detail={"member_id": member_id},
    )


__all__ = [
    "ADMIN_USERNAME",
    "CreatedAdmin",
    "add_member",
    "admin_token_query",
    "admin_user_id",
    "create_department",
    "create_role",
    "create_user",
    "department_ids_under",
    "ensure_admin",
    "get_user",
    "list_departments",
    "list_roles",
    "list_users",
    "members_of",
    "remove_member",
    "update_department",
    "update_user",
]


ORG_CHART_COLUMNS = (
    "username",
    "display_name",
    "department",
    "manager",
    "phone",
    "email",
    "is_head",
    "password",
)


ORG_CHART_HEADERS_ZH = {
    "用户名": "username",
    "账号": "username",
    "姓名": "display_name",
    "部门": "department",
    "上级": "manager",
    "手机": "phone",
    "电话": "phone",
    "邮箱": "email",
    "是否负责人": "is_head",
    "负责人": "is_head",
    "密码": "password",
}
MAX_ORG_CHART_ROWS = 20_000


def org_chart_rows(name: str, data: bytes) -> list[dict[str, str]]:
    """The rows of an org chart file (xlsx, or CSV in UTF-8 or GBK) keyed by column name;
    Chinese headers map to the English ones, and cells become text (a phone number typed into
    Excel arrives as a number)."""
    from engine.forms.spreadsheet import detect_format, read_rows

    header, *body = read_rows(data, detect_format(name, data), MAX_ORG_CHART_ROWS)
    keys = [
        ORG_CHART_HEADERS_ZH.get(str(cell).strip(), str(cell).strip().lower())
        if cell is not None
        else ""
        for cell in header
    ]
    return [
        {key: _cell_text(value) for key, value in zip(keys, row, strict=False) if key}
        for row in body
    ]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def import_org_chart(
    conn: Connection, rows: list[dict[str, str]], *, actor_id: int | None
) -> dict[str, int]:
    """Create departments (paths such as `销售部/销售一组`) and users from an org chart.

    Existing users (by username) are updated; managers and department heads are set once every
    row exists. A row with a password hands that person a password they did not choose: they
    must change it at their next sign-in. All or nothing: any bad row is a 422 listing every problem with its row number.
    """
    issues: list[Issue] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        username = (row.get("username") or "").strip()
        if not username or len(username) > 64:
            issues.append(
                Issue(
                    f"[{number}].username",
                    "required",
                    "用户名必填（最多 64 个字符）",
                    "A username is required (at most 64 characters)",
                )
            )
        elif username in seen:
            issues.append(
                Issue(
                    f"[{number}].username",
                    "duplicate_value",
                    f"用户名 {username} 重复",
                    f"Duplicate username {username}",
                )
            )
        seen.add(username)
        if not (row.get("display_name") or "").strip():
            issues.append(
                Issue(
                    f"[{number}].display_name", "required", "姓名必填", "A display name is required"
                )
            )
        password = row.get("password") or ""
        if password and (problem := password_problem(password)) is not None:
            issues.append(Issue(f"[{number}].password", "weak_password", problem[0], problem[1]))
    known = set(conn.execute(select(User.username)).scalars()) | seen
    for number, row in enumerate(rows, start=2):
        manager = (row.get("manager") or "").strip()
        if manager and manager not in known:
            issues.append(
                Issue(
                    f"[{number}].manager",
                    "not_found",
                    f"上级 {manager} 不存在",
                    f"Manager {manager} does not exist",
                )
            )
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    counts = {"departments": 0, "created": 0, "updated": 0}
    paths: dict[str, int] = {}

    def department(path: str) -> int | None:
        parent: int | None = None
        walked: list[str] = []
        for part in [p.strip() for p in path.replace("／", "/").split("/") if p.strip()]:
            walked.append(part)
            key = "/".join(walked)
            if key not in paths:
                found = conn.execute(
                    select(Department.id).where(
                        Department.name == part,
                        Department.parent_id.is_(None)
                        if parent is None
                        else Department.parent_id == parent,
                    )
                ).scalar_one_or_none()
                if found is None:
                    found = conn.execute(
                        insert(Department)
                        .values(name=part, parent_id=parent, sort=0)
                        .returning(Department.id)
                    ).scalar_one()
                    counts["departments"] += 1
                paths[key] = found
            parent = paths[key]
        return parent

    ids: dict[str, int] = {}
    for row in rows:
        username = row["username"].strip()
        values: dict[str, Any] = {
            "display_name": row["display_name"].strip(),
            "department_id": department(row.get("department") or ""),
            "phone": (row.get("phone") or "").strip() or None,
            "email": (row.get("email") or "").strip() or None,
        }
        password = row.get("password") or ""
        if password:
            values["password_hash"] = hash_password(password)
            values["password_changed_at"] = utcnow()
            # A password someone else chose is changed at the next sign-in, as the 通讯录
            # import's (engine/auth/org_import.py) and an administrator's reset are.
            values["must_change_password"] = True
        existing = conn.execute(
            select(User.id).where(User.username == username)
        ).scalar_one_or_none()
        if existing is None:
            ids[username] = conn.execute(
                insert(User)
                .values(
                    username=username, is_active=True, is_admin=False, created_at=utcnow(), **values
                )
                .returning(User.id)
            ).scalar_one()
            counts["created"] += 1
        else:
            conn.execute(update(User).where(User.id == existing).values(**values))
            if password:  # a password set by import is a reset: the old credentials end
                revoke_credentials(conn, existing)
            ids[username] = existing
            counts["updated"] += 1
    for row in rows:
        username = row["username"].strip()
        manager = (row.get("manager") or "").strip()
        if manager:
            manager_id = (
                ids.get(manager)
                or conn.execute(select(User.id).where(User.username == manager)).scalar_one()
            )
            conn.execute(update(User).where(User.id == ids[username]).values(manager_id=manager_id))
        if (row.get("is_head") or "").strip().lower() in ("1", "true", "yes", "y", "是"):
            department_id = conn.execute(
                select(User.department_id).where(User.id == ids[username])
            ).scalar_one()
            if department_id is not None:
                conn.execute(
                    update(Department)
                    .where(Department.id == department_id)
                    .values(head_user_id=ids[username])
                )
    audit.record(conn, "user.import", actor_id=actor_id, detail=counts)
    return counts
