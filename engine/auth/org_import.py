"""Bulk import of departments and users from one Excel workbook (通讯录导入).

The workbook has a sheet 部门 (Departments: 部门名称, 上级部门, 负责人) and a sheet 用户 (Users:
用户名, 姓名, 部门, 上级, 手机, 邮箱, 角色, 初始密码); English headers work too, and either sheet
may be left out. `template()` writes one with an example row. `check()` reads a workbook against
the directory and answers every row error at once, each `{sheet, row, column, code, message:
{zh, en}}` with the row number the spreadsheet shows; `apply()` writes a checked workbook in the
caller's transaction: departments parent-first, then users, then managers, heads, roles.

A department is named by its name, or by its path from the top (`销售部/华东销售组`) where names
repeat; names in the 部门 sheet are unique and refer to those rows first, then to the existing
departments. A department of the sheet that already exists at the same place is kept, not
duplicated. Managers and heads are usernames, of the file or existing. Roles are `平台管理员` (a
platform administrator) or an app role by key or name, as `应用/角色` when several apps have
it. Users are only created: an existing username is a row error. A blank initial password gets
a generated one, returned once.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from engine.auth import audit
from engine.auth.credentials import hash_password, password_problem
from engine.auth.org import generate_password
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.forms.field_types.text import EMAIL, PHONE
from engine.store.models import App, Department, Role, RoleMember, User, utcnow

MAX_ROWS = 5000
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
SEPARATORS = re.compile(r"[,，、;；\s]+")
ADMIN_WORDS = frozenset({"平台管理员", "platform_admin"})
"""What makes a row a platform administrator (`管理员` alone may be an app's role, as the CRM's)."""

DEPARTMENT_SHEET = ("部门", "Departments")
USER_SHEET = ("用户", "Users")
DEPARTMENT_COLUMNS = {  # key: (Chinese header, English header)
    "name": ("部门名称", "Name"),
    "parent": ("上级部门", "Parent"),
    "head": ("负责人", "Head"),
}
USER_COLUMNS = {
    "username": ("用户名", "Username"),
    "display_name": ("姓名", "Name"),
    "department": ("部门", "Department"),
    "manager": ("上级", "Manager"),
    "phone": ("手机", "Phone"),
    "email": ("邮箱", "Email"),
    "roles": ("角色", "Roles"),
    "password": ("初始密码", "Initial password"),
}
EXAMPLE_DEPARTMENTS = [["销售部", "", ""], ["华东销售组", "销售部", "zhangsan"]]
EXAMPLE_USERS = [
    ["zhangsan", "张三", "华东销售组", "", "13800000000", "zhangsan@example.com", "", ""],
]


def template() -> bytes:
    """An empty import workbook: the two sheets with Chinese headers and an example row each."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for title, columns, examples in (
        (DEPARTMENT_SHEET[0], DEPARTMENT_COLUMNS, EXAMPLE_DEPARTMENTS),
        (USER_SHEET[0], USER_COLUMNS, EXAMPLE_USERS),
    ):
        sheet = book.create_sheet(title)
        sheet.append([zh for zh, _ in columns.values()])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for example in examples:
            sheet.append(example)
            for cell in sheet[sheet.max_row]:
                cell.number_format = "@"  # phone numbers stay text
        for index in range(len(columns)):
            sheet.column_dimensions[chr(ord("A") + index)].width = 18
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class Row:
    """One data row: its spreadsheet row number, cells by column key, headers as written."""

    number: int
    cells: dict[str, str]

    def get(self, key: str) -> str:
        return self.cells.get(key, "")


@dataclass
class Sheet:
    """A sheet of the workbook as read: which sheet, its headers as written, its rows."""

    name: str
    headers: dict[str, str]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Workbook:
    """The 部门 and 用户 sheets of an uploaded workbook (either may be missing)."""

    departments: Sheet | None
    users: Sheet | None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read(data: bytes) -> Workbook:
    """The workbook's 部门 and 用户 sheets; 422 when the file is not a readable xlsx or has
    neither sheet."""
    try:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheets = {
                name: _sheet(name, book[name].iter_rows(values_only=True))
                for name in book.sheetnames
            }
        finally:
            book.close()
    except Exception:  # any malformed upload is the user's file, not a bug
        raise ServiceError(
            422,
            "unreadable_file",
            [
                Issue(
                    "file",
                    "unreadable_file",
                    "无法读取文件，请上传从模板填写的 Excel（.xlsx）文件",
                    "The file cannot be read; upload an Excel (.xlsx) file filled in from the template",
                )
            ],
        ) from None

    def pick(names: Sequence[str], columns: dict[str, tuple[str, str]]) -> Sheet | None:
        for name in names:
            if name in sheets:
                return _keyed(sheets[name], columns)
        return None

    result = Workbook(pick(DEPARTMENT_SHEET, DEPARTMENT_COLUMNS), pick(USER_SHEET, USER_COLUMNS))
    if result.departments is None and result.users is None:
        raise ServiceError(
            422,
            "validation_failed",
            [
                Issue(
                    "file",
                    "no_sheets",
                    "文件中没有「部门」或「用户」工作表，请使用导入模板",
                    "The file has no 部门 (Departments) or 用户 (Users) sheet; use the template",
                )
            ],
        )
    rows = sum(len(s.rows) for s in (result.departments, result.users) if s is not None)
    if rows > MAX_ROWS:
        raise ServiceError(
            422,
            "validation_failed",
            [
                Issue(
                    "file",
                    "too_many_rows",
                    f"一次最多导入 {MAX_ROWS} 行",
                    f"At most {MAX_ROWS} rows can be imported at once",
                )
            ],
        )
    return result


def _sheet(name: str, rows: Iterator[Sequence[Any]]) -> list[list[str]]:
    out = []
    for index, raw in enumerate(rows):
        if index > MAX_ROWS + 1:
            break
        out.append([_cell(v) for v in raw])
    return out


def _keyed(rows: list[list[str]], columns: dict[str, tuple[str, str]]) -> Sheet:
    names = {}
    for key, (zh, en) in columns.items():
        names[zh] = key
        names[en.lower()] = key
        names[key] = key
    header = rows[0] if rows else []
    keys = [names.get(cell, names.get(cell.lower(), "")) for cell in header]
    sheet = Sheet(
        "", {key: header[i] for i, key in enumerate(keys) if key and key not in header[:i]}
    )
    for number, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        sheet.rows.append(
            Row(number, {key: row[i] for i, key in enumerate(keys) if key and i < len(row)})
        )
    return sheet


@dataclass
class Plan:
    """What a checked workbook will write: departments in parent-first order (name, parent as
    a file name or an existing id, head username, existing id when kept), users, their roles."""

    departments: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class _Checker:
    def __init__(self, conn: Connection, book: Workbook) -> None:
        self.conn = conn
        self.book = book
        self.plan = Plan()
        existing = conn.execute(select(Department.id, Department.name, Department.parent_id)).all()
        self.existing = {d.id: (d.name, d.parent_id) for d in existing}
        self.paths: dict[str, int] = {}
        for department_id in self.existing:
            self.paths.setdefault(self._path(department_id), department_id)
        self.by_name: dict[str, list[int]] = {}
        for department_id, (name, _) in self.existing.items():
            self.by_name.setdefault(name, []).append(department_id)
        self.usernames = set(conn.execute(select(User.username)).scalars())
        self.file_departments: dict[str, Row] = {}
        self.file_users: set[str] = set()
        self.file_paths: dict[str, str] = {}  # full path -> name, of the sheet's departments

    def _path(self, department_id: int) -> str:
        parts: list[str] = []
        seen: set[int] = set()
        current: int | None = department_id
        while current is not None and current not in seen:
            seen.add(current)
            name, current = self.existing[current]
            parts.append(name)
        return "/".join(reversed(parts))

    def error(self, sheet: str, row: Row, key: str, code: str, zh: str, en: str) -> None:
        headers = self.book.departments if sheet == DEPARTMENT_SHEET[0] else self.book.users
        column = headers.headers.get(key, key) if headers is not None else key
        self.plan.errors.append(
            {
                "sheet": sheet,
                "row": row.number,
                "column": column,
                "code": code,
                "message": {"zh": zh, "en": en},
            }
        )

    def department(self, text: str) -> tuple[str, Any] | None:
        """A department reference: ("file", name) or ("id", existing id); None when unknown;
        ("ambiguous", [paths]) when the name is not unique."""
        text = "/".join(p.strip() for p in text.replace("／", "/").split("/") if p.strip())
        if text in self.file_departments:
            return ("file", text)
        if text in self.file_paths:
            return ("file", self.file_paths[text])
        if "/" in text:  # a path from the top; a bare name must be unique
            return ("id", self.paths[text]) if text in self.paths else None
        found = self.by_name.get(text, [])
        if len(found) == 1:
            return ("id", found[0])
        if len(found) > 1:
            return ("ambiguous", sorted(self._path(i) for i in found))
        return None

    def run(self) -> Plan:
        departments = self.book.departments
        users = self.book.users
        sheet_d = DEPARTMENT_SHEET[0]
        if users is not None:
            for row in users.rows:
                username = row.get("username")
                if USERNAME.fullmatch(username) and username not in self.file_users:
                    self.file_users.add(username)
        if departments is not None:
            for row in departments.rows:
                name = row.get("name")
                if not name or len(name) > 200 or "/" in name:
                    self.error(
                        sheet_d,
                        row,
                        "name",
                        "required",
                        "部门名称必填，最多 200 个字，不能含 /",
                        "A department name is required (at most 200 characters, no /)",
                    )
                elif name in self.file_departments:
                    self.error(
                        sheet_d,
                        row,
                        "name",
                        "duplicate",
                        f"部门名称「{name}」在本表中重复（第 {self.file_departments[name].number} 行）",
                        f"Department “{name}” appears twice in this sheet "
                        f"(row {self.file_departments[name].number})",
                    )
                else:
                    self.file_departments[name] = row
            self._departments(departments)
        if users is not None:
            self._users(users)
        return self.plan

    def _departments(self, sheet: Sheet) -> None:
        sheet_d = DEPARTMENT_SHEET[0]
        parents: dict[str, tuple[str, Any] | None] = {}
        for name, row in self.file_departments.items():
            parent_text = row.get("parent")
            parent: tuple[str, Any] | None = None
            if parent_text:
                parent = self.department(parent_text)
                if parent is None:
                    self.error(
                        sheet_d,
                        row,
                        "parent",
                        "unknown_department",
                        f"上级部门「{parent_text}」不存在（既不在本表中，也不是已有部门）",
                        f"Parent department “{parent_text}” does not exist "
                        "(neither in this sheet nor already)",
                    )
                    parent = ("bad", None)
                elif parent[0] == "ambiguous":
                    self._ambiguous(sheet_d, row, "parent", parent_text, parent[1])
                    parent = ("bad", None)
            parents[name] = parent
            head = row.get("head")
            if head and head not in self.usernames and head not in self.file_users:
                self.error(
                    sheet_d,
                    row,
                    "head",
                    "unknown_user",
                    f"负责人「{head}」不存在（填用户名）",
                    f"Head “{head}” does not exist (give a username)",
                )
        # parent-first order; a chain of file departments that loops is a row error
        ordered: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str) -> bool:
            if state.get(name) == "done":
                return True
            if state.get(name) == "visiting":
                return False
            state[name] = "visiting"
            parent = parents[name]
            ok = True
            if parent is not None and parent[0] == "file":
                ok = visit(parent[1])
            state[name] = "done"
            if ok:
                ordered.append(name)
            else:
                row = self.file_departments[name]
                self.error(
                    sheet_d,
                    row,
                    "parent",
                    "cycle",
                    f"部门「{name}」的上级部门链回到了它自己",
                    f"The parent chain of department “{name}” leads back to itself",
                )
            return ok

        for name in self.file_departments:
            visit(name)
        kept: dict[str, int | None] = {}  # file name -> the existing department it is
        full: dict[str, str] = {}
        for name in ordered:
            parent = parents[name]
            if parent is None:
                full[name] = name
            elif parent[0] == "file":
                full[name] = f"{full[parent[1]]}/{name}"
            elif parent[0] == "id":
                full[name] = f"{self._path(parent[1])}/{name}"
            if name in full:
                self.file_paths[full[name]] = name
            place: int | None = None
            known = True
            if parent is not None:
                place = kept[parent[1]] if parent[0] == "file" else parent[1]
                known = place is not None
            kept[name] = (
                next(
                    (i for i, (n, p) in self.existing.items() if n == name and p == place),
                    None,
                )
                if known
                else None
            )
            self.plan.departments.append(
                {
                    "name": name,
                    "parent": parent,
                    "head": self.file_departments[name].get("head") or None,
                    "existing": kept[name],
                }
            )

    def _ambiguous(self, sheet: str, row: Row, key: str, text: str, paths: list[str]) -> None:
        self.error(
            sheet,
            row,
            key,
            "ambiguous_department",
            f"有多个部门叫「{text}」，请写完整路径：{'、'.join(paths)}",
            f"Several departments are named “{text}”; give the full path: {', '.join(paths)}",
        )

    def _roles(self) -> dict[str, list[tuple[int, str]]]:
        """App roles by every name they answer to (key, zh, en; with and without the app)."""
        names: dict[str, list[tuple[int, str]]] = {}
        rows = self.conn.execute(
            select(Role.id, Role.key, Role.name, App.key.label("app"), App.name.label("app_name"))
            .join(App, App.id == Role.app_id)
            .order_by(App.key, Role.id)
        ).all()
        for role in rows:
            role_names = {role.key, *_label_texts(role.name)}
            app_names = {role.app, *_label_texts(role.app_name)}
            for role_name in role_names:
                names.setdefault(role_name, []).append((role.id, role.app))
                for app_name in app_names:
                    for glue in ("/", ":", "："):
                        names.setdefault(f"{app_name}{glue}{role_name}", []).append(
                            (role.id, role.app)
                        )
        return names

    def _users(self, sheet: Sheet) -> None:
        sheet_u = USER_SHEET[0]
        roles = self._roles()
        seen: dict[str, int] = {}
        for row in sheet.rows:
            username = row.get("username")
            entry: dict[str, Any] = {"row": row.number, "username": username}
            if not USERNAME.fullmatch(username):
                self.error(
                    sheet_u,
                    row,
                    "username",
                    "bad_username",
                    "用户名必填：1–64 个英文字母、数字或 _ . @ -",
                    "A username is required: 1–64 letters, digits or _ . @ -",
                )
            elif username in seen:
                self.error(
                    sheet_u,
                    row,
                    "username",
                    "duplicate_username",
                    f"用户名「{username}」在本表中重复（第 {seen[username]} 行）",
                    f"Username “{username}” appears twice in this sheet (row {seen[username]})",
                )
            elif username in self.usernames:
                self.error(
                    sheet_u,
                    row,
                    "username",
                    "username_taken",
                    f"用户名「{username}」已被使用",
                    f"Username “{username}” is already taken",
                )
            else:
                seen[username] = row.number
            name = row.get("display_name")
            if not name or len(name) > 200:
                self.error(
                    sheet_u,
                    row,
                    "display_name",
                    "required",
                    "姓名必填（最多 200 个字）",
                    "A name is required (at most 200 characters)",
                )
            entry["display_name"] = name
            department_text = row.get("department")
            entry["department"] = None
            if department_text:
                department = self.department(department_text)
                if department is None:
                    self.error(
                        sheet_u,
                        row,
                        "department",
                        "unknown_department",
                        f"部门「{department_text}」不存在",
                        f"Department “{department_text}” does not exist",
                    )
                elif department[0] == "ambiguous":
                    self._ambiguous(sheet_u, row, "department", department_text, department[1])
                else:
                    entry["department"] = department
            manager = row.get("manager")
            if manager and manager == username:
                self.error(
                    sheet_u,
                    row,
                    "manager",
                    "self_manager",
                    "上级不能是自己",
                    "A user cannot be their own manager",
                )
            elif manager and manager not in self.usernames and manager not in self.file_users:
                self.error(
                    sheet_u,
                    row,
                    "manager",
                    "unknown_user",
                    f"上级「{manager}」不存在（填用户名）",
                    f"Manager “{manager}” does not exist (give a username)",
                )
            entry["manager"] = manager or None
            phone = row.get("phone")
            if phone and PHONE.fullmatch(phone) is None:
                self.error(
                    sheet_u,
                    row,
                    "phone",
                    "bad_phone",
                    f"手机号「{phone}」格式不正确（11 位手机号或带区号的座机号）",
                    f"“{phone}” is not a valid phone number (a mobile or a landline with area code)",
                )
            entry["phone"] = phone or None
            email = row.get("email")
            if email and (len(email) > 254 or EMAIL.fullmatch(email) is None):
                self.error(
                    sheet_u,
                    row,
                    "email",
                    "bad_email",
                    f"邮箱「{email}」格式不正确",
                    f"“{email}” is not a valid email address",
                )
            entry["email"] = email or None
            entry["is_admin"] = False
            entry["roles"] = []
            for word in [w for w in SEPARATORS.split(row.get("roles")) if w]:
                if word.lower() in ADMIN_WORDS:
                    entry["is_admin"] = True
                    continue
                found = {role_id: app for role_id, app in roles.get(word, [])}
                if not found:
                    self.error(
                        sheet_u,
                        row,
                        "roles",
                        "unknown_role",
                        f"角色「{word}」不存在（写「平台管理员」，或应用的角色名，如「客户管理/销售代表」）",
                        f"Role “{word}” does not exist (write 平台管理员, or an app's role such "
                        "as “crm/sales_rep”)",
                    )
                elif len(found) > 1:
                    apps = sorted(set(found.values()))
                    self.error(
                        sheet_u,
                        row,
                        "roles",
                        "ambiguous_role",
                        f"多个应用都有角色「{word}」，请写成「应用/角色」：{'、'.join(apps)}",
                        f"Several apps have a role “{word}”; write it as app/role: "
                        f"{', '.join(apps)}",
                    )
                else:
                    entry["roles"].append(next(iter(found)))
            password = row.get("password")
            if password and (problem := password_problem(password)) is not None:
                self.error(sheet_u, row, "password", "weak_password", problem[0], problem[1])
            entry["password"] = password or None
            self.plan.users.append(entry)


def _label_texts(label: Any) -> list[str]:
    if isinstance(label, str):
        return [label]
    if isinstance(label, dict):
        return [v for v in label.values() if isinstance(v, str) and v]
    return []


def check(conn: Connection, book: Workbook) -> Plan:
    """Every row error of `book` against the directory (the plan's `errors`, sheet and row
    order), and what it would write."""
    plan = _Checker(conn, book).run()
    order = {DEPARTMENT_SHEET[0]: 0, USER_SHEET[0]: 1}
    plan.errors.sort(key=lambda e: (order[e["sheet"]], e["row"]))
    return plan


def summary(plan: Plan) -> dict[str, Any]:
    """`{ok, errors, departments, users}`: what a dry run answers."""
    return {
        "ok": not plan.errors,
        "errors": plan.errors,
        "departments": sum(1 for d in plan.departments if d.get("existing") is None),
        "users": len(plan.users),
    }


def apply(conn: Connection, plan: Plan, *, actor_id: int | None) -> dict[str, Any]:
    """Write a plan without errors (the caller's transaction): departments parent-first (one
    already at its place is kept), users, then managers, heads and roles. Answers the summary
    and `passwords`: the generated initial passwords, shown once."""
    if plan.errors:
        raise ServiceError(
            422,
            "validation_failed",
            [
                Issue(
                    f"{e['sheet']}[{e['row']}].{e['column']}",
                    e["code"],
                    e["message"]["zh"],
                    e["message"]["en"],
                )
                for e in plan.errors
            ],
        )
    ids: dict[str, int] = {}
    created = 0
    for department in plan.departments:
        parent = department["parent"]
        parent_id = None if parent is None else ids[parent[1]] if parent[0] == "file" else parent[1]
        found = conn.execute(
            select(Department.id).where(
                Department.name == department["name"],
                Department.parent_id.is_(None)
                if parent_id is None
                else Department.parent_id == parent_id,
            )
        ).scalar_one_or_none()
        if found is None:
            found = conn.execute(
                insert(Department)
                .values(name=department["name"], parent_id=parent_id, sort=0)
                .returning(Department.id)
            ).scalar_one()
            created += 1
        ids[department["name"]] = found

    def department_id(reference: tuple[str, Any] | None) -> int | None:
        if reference is None:
            return None
        return ids[reference[1]] if reference[0] == "file" else int(reference[1])

    users: dict[str, int] = {}
    passwords = []
    for entry in plan.users:
        password = entry["password"]
        if password is None:
            password = generate_password()
            passwords.append({"username": entry["username"], "password": password})
        users[entry["username"]] = conn.execute(
            insert(User)
            .values(
                username=entry["username"],
                display_name=entry["display_name"],
                phone=entry["phone"],
                email=entry["email"],
                department_id=department_id(entry["department"]),
                is_admin=entry["is_admin"],
                is_active=True,
                password_hash=hash_password(password),
                password_changed_at=utcnow(),
                must_change_password=True,  # initial passwords are changed at first sign-in
                created_at=utcnow(),
            )
            .returning(User.id)
        ).scalar_one()

    def user_id(username: str) -> int:
        return (
            users.get(username)
            or conn.execute(select(User.id).where(User.username == username)).scalar_one()
        )

    for entry in plan.users:
        if entry["manager"]:
            conn.execute(
                update(User)
                .where(User.id == users[entry["username"]])
                .values(manager_id=user_id(entry["manager"]))
            )
        for role_id in dict.fromkeys(entry["roles"]):
            conn.execute(
                insert(RoleMember).values(role_id=role_id, user_id=users[entry["username"]])
            )
    for department in plan.departments:
        if department["head"]:
            conn.execute(
                update(Department)
                .where(Department.id == ids[department["name"]])
                .values(head_user_id=user_id(department["head"]))
            )
    result = {
        "ok": True,
        "errors": [],
        "departments": created,
        "users": len(users),
        "passwords": passwords,
    }
    audit.record(
        conn,
        "org.import",
        actor_id=actor_id,
        detail={"departments": created, "users": sorted(users)},
    )
    return result


__all__ = ["Plan", "Workbook", "apply", "check", "read", "summary", "template"]
