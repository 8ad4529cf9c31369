"""Who gets a flow node's tasks: a node's assignee entries resolved to active users (issue 13).

An entry is one of the shapes typed in `engine.flows.nodes` (`{"user"}`, `{"role"}`,
`{"dept_head": N}`, `{"manager": N}`, `{"field"}`), and each shape is one registered
`AssigneeKind` (`ASSIGNEE_KINDS`, keyed by the entry's property) that resolves every entry of
its shape in a node at once, with one or two statements whatever the number of entries or
users:

- `user`: the user of that username;
- `role`: the members of the app's role — users given it directly, and every user whose main
  or extra department is a department given the role or one below it (as `held_roles` reads
  membership) — in user id order;
- `dept_head` N: the head of the initiator's main department (1), of its parent (2), …;
- `manager` N: the initiator's manager (1), the manager's manager (2), …;
- `field`: the user(s) in the record's `user`/`users` field (record JSON gives `{"id", ...}`
  or a list of them; plain ids are accepted too).

Only active users count; a missing or deactivated user is skipped. The result keeps entry
order, then the order inside an entry, and drops repeated users (the first stays). An entry
that gives nobody adds a note saying why. If no entry gives anyone, the task goes to the
flow's admin (`fallback="nobody"`): the flow's `admin` entry (`{"user"}` or `{"role"}`); else,
or if that gives nobody either, the app's administrators — the members of the app's builder
roles (`"builder": true`, such as the CRM's `crm_admin`) in its live revision —; else the
platform's administrators (`users.is_admin`). So the result is empty only when there is no
active administrator at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.engine import Connection

from engine.core.errors import ServiceError
from engine.core.issues import DefinitionError, Issue
from engine.core.registry import Registry
from engine.forms.common import Spec
from engine.store.models import App, Department, Role, RoleMember, User, UserDepartment

from .nodes import (
    Assignee,
    DeptHeadAssignee,
    FieldAssignee,
    ManagerAssignee,
    RoleAssignee,
    UserAssignee,
)

AssigneeEntry = Assignee
"""A typed assignee entry (one of the models of `engine.flows.nodes`)."""

NOBODY = "nobody"
"""`Resolution.fallback` when the entries gave no active user and the flow admin got it."""


@dataclass(frozen=True)
class Resolution:
    """The users a node's tasks go to.

    `user_ids`: ordered, de-duplicated, active users only. `fallback`: None, or why the flow's
    admin got them (`"nobody"`: the entries resolved to no active user). `notes`: one line per
    entry that gave nobody (and per admin step that did), saying why.
    """

    user_ids: tuple[int, ...]
    fallback: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    """What entries are resolved against: the app, the initiator and the record."""

    app_id: int
    initiator_id: int
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Found:
    """One entry resolved: its active users in order, or (when there are none) why."""

    user_ids: tuple[int, ...]
    note: str | None = None


class AssigneeKind:
    """One shape of assignee entry: its model and how a node's entries of it are resolved."""

    name: ClassVar[str]
    model: ClassVar[type[Spec]]

    def resolve_all(self, conn: Connection, scope: Scope, entries: Sequence[Any]) -> list[Found]:
        """Every entry (instances of `model`) resolved, in order (one `Found` each)."""
        raise NotImplementedError


ASSIGNEE_KINDS: Registry[AssigneeKind] = Registry("assignee kind")


@dataclass
class _Users:
    """Active flags and usernames of users, read once per kind."""

    rows: dict[int, tuple[str, bool]] = field(default_factory=dict)

    @classmethod
    def of(cls, conn: Connection, ids: set[int]) -> _Users:
        if not ids:
            return cls()
        query = select(User.id, User.username, User.is_active).where(User.id.in_(sorted(ids)))
        return cls({row.id: (row.username, bool(row.is_active)) for row in conn.execute(query)})

    def why_not(self, user_id: int) -> str | None:
        """None when the user is active, else why they are skipped."""
        found = self.rows.get(user_id)
        if found is None:
            return f"user #{user_id} does not exist"
        return None if found[1] else f"user {found[0]} is deactivated"


class UserKind(AssigneeKind):
    """`{"user": username}`: that user."""

    name, model = "user", UserAssignee

    def resolve_all(self, conn: Connection, scope: Scope, entries: Sequence[Any]) -> list[Found]:
        names = sorted({entry.user for entry in entries})
        query = select(User.id, User.username, User.is_active).where(User.username.in_(names))
        rows = {row.username: (row.id, bool(row.is_active)) for row in conn.execute(query)}
        found: list[Found] = []
        for entry in entries:
            row = rows.get(entry.user)
            if row is None:
                found.append(Found((), f"user {entry.user} does not exist"))
            elif not row[1]:
                found.append(Found((), f"user {entry.user} is deactivated"))
            else:
                found.append(Found((row[0],)))
        return found


class RoleKind(AssigneeKind):
    """`{"role": key}`: the role's members, direct or through a department (and the
    departments below it), active only, by user id."""

    name, model = "role", RoleAssignee

    def resolve_all(self, conn: Connection, scope: Scope, entries: Sequence[Any]) -> list[Found]:
        members = role_members(conn, scope.app_id, {entry.role for entry in entries})
        found: list[Found] = []
        for entry in entries:
            held = members.get(entry.role)
            if held is None:
                found.append(Found((), f"role {entry.role} does not exist"))
            elif not held:
                found.append(Found((), f"role {entry.role} has no active member"))
            else:
                found.append(Found(held))
        return found


# Built once: a statement built per call costs more than its execution (bench/flow_bench.py).
# The roles' member rows with each direct member's active flag: direct members only (the usual
# case) resolve in this one statement.
_ROLE_ROWS = (
    select(Role.key, RoleMember.user_id, RoleMember.department_id, User.is_active)
    .outerjoin(RoleMember, RoleMember.role_id == Role.id)
    .outerjoin(User, User.id == RoleMember.user_id)
    .where(Role.app_id == bindparam("app"), Role.key.in_(bindparam("keys", expanding=True)))
)


def role_members(conn: Connection, app_id: int, keys: set[str]) -> dict[str, tuple[int, ...]]:
    """The active members of each of the app's roles `keys` (missing roles are left out), by
    user id: the roles' member rows with the direct members' active flags in one statement,
    then, only when a role is given to departments, the users of those departments (and of
    the departments below them) in a second."""
    if not keys:
        return {}
    rows = conn.execute(_ROLE_ROWS, {"app": app_id, "keys": sorted(keys)}).all()
    direct: dict[str, set[int]] = {row.key: set() for row in rows}
    roots: dict[int, set[str]] = {}
    for row in rows:
        if row.user_id is not None:
            direct[row.key].add(row.user_id)
        if row.department_id is not None:
            roots.setdefault(row.department_id, set()).add(row.key)
    users = {u for ids in direct.values() for u in ids}
    if not users and not roots:
        return {key: () for key in direct}
    if not roots:  # direct members only (the usual case): the one statement said it all
        active: dict[str, set[int]] = {key: set() for key in direct}
        for row in rows:
            if row.user_id is not None and row.is_active:
                active[row.key].add(row.user_id)
        return {key: tuple(sorted(ids)) for key, ids in active.items()}
    parts = []
    if users:
        parts.append(
            select(literal(None).label("root"), User.id.label("user_id")).where(
                User.id.in_(sorted(users)), User.is_active.is_(True)
            )
        )
    if roots:
        tree = (
            select(Department.id.label("root"), Department.id.label("id"))
            .where(Department.id.in_(sorted(roots)))
            .cte("role_department_tree", recursive=True)
        )
        tree = tree.union_all(
            select(tree.c.root, Department.id).join(tree, Department.parent_id == tree.c.id)
        )
        parts.append(
            select(tree.c.root, User.id)
            .join(User, User.department_id == tree.c.id)
            .where(User.is_active.is_(True))
        )
        parts.append(
            select(tree.c.root, User.id)
            .join(UserDepartment, UserDepartment.department_id == tree.c.id)
            .join(User, User.id == UserDepartment.user_id)
            .where(User.is_active.is_(True))
        )
    held: dict[str, set[int]] = {key: set() for key in direct}
    for root, user_id in conn.execute(union_all(*parts)).all():
        if root is None:
            for key, ids in direct.items():
                if user_id in ids:
                    held[key].add(user_id)
        else:
            for key in roots.get(root, ()):
                held[key].add(user_id)
    return {key: tuple(sorted(ids)) for key, ids in held.items()}


class DeptHeadKind(AssigneeKind):
    """`{"dept_head": N}`: the head of the initiator's main department (N = 1), of its
    parent (2), … — one recursive statement up the tree for every entry."""

    name, model = "dept_head", DeptHeadAssignee

    def resolve_all(self, conn: Connection, scope: Scope, entries: Sequence[Any]) -> list[Found]:
        top = max(entry.dept_head for entry in entries)
        start = select(User.department_id).where(User.id == scope.initiator_id).scalar_subquery()
        up = (
            select(
                Department.id,
                Department.name,
                Department.parent_id,
                Department.head_user_id,
                literal(1).label("level"),
            )
            .where(Department.id == start)
            .cte("department_chain", recursive=True)
        )
        up = up.union_all(
            select(
                Department.id,
                Department.name,
                Department.parent_id,
                Department.head_user_id,
                up.c.level + 1,
            )
            .join(up, Department.id == up.c.parent_id)
            .where(up.c.level < top)
        )
        chain = (
            select(up.c.level, up.c.name, up.c.head_user_id, User.username, User.is_active)
            .select_from(up)
            .outerjoin(User, User.id == up.c.head_user_id)
        )
        levels = {row.level: row for row in conn.execute(chain)}
        found: list[Found] = []
        for entry in entries:
            row = levels.get(entry.dept_head)
            if not levels:
                found.append(Found((), "the initiator has no department"))
            elif row is None:
                found.append(Found((), f"dept_head {entry.dept_head} is beyond the top"))
            elif row.head_user_id is None:
                found.append(Found((), f"department {row.name} has no head"))
            elif not row.is_active:
                found.append(Found((), f"user {row.username} (head of {row.name}) is deactivated"))
            else:
                found.append(Found((row.head_user_id,)))
        return found


class ManagerKind(AssigneeKind):
    """`{"manager": N}`: the initiator's manager (N = 1), the manager's manager (2), … — one
    recursive statement up the chain for every entry."""

    name, model = "manager", ManagerAssignee

    def resolve_all(self, conn: Connection, scope: Scope, entries: Sequence[Any]) -> list[Found]:
        top = max(entry.manager for entry in entries)
        up = (
            select(User.id, User.manager_id, literal(0).label("level"))
            .where(User.id == scope.initiator_id)
            .cte("manager_chain", recursive=True)
        )
        up = up.union_all(
            select(User.id, User.manager_id, up.c.level + 1)
            .join(up, User.id == up.c.manager_id)
            .where(up.c.level < top)
        )
        chain = (
            select(up.c.level, User.id, User.username, User.is_active)
            .select_from(up)
            .join(User, User.id == up.c.id)
        )
        levels = {row.level: row for row in conn.execute(chain)}
        found: list[Found] = []
        for entry in entries:
            row = levels.get(entry.manager)
            if row is None:
                found.append(Found((), f"manager {entry.manager} is beyond the top"))
            elif not row.is_active:
                found.append(
                    Found((), f"user {row.username} (manager {entry.manager}) is deactivated")
                )
            else:
                found.append(Found((row.id,)))
        return found


class FieldKind(AssigneeKind):
    """`{"field": key}`: the user(s) in that member field of the record, in the field's order."""

    name, model = "field", FieldAssignee

    def resolve_all(self, conn: Connection, scope: Scope, entries: Sequence[Any]) -> list[Found]:
        wanted = {entry.field: user_ids_in(scope.record.get(entry.field)) for entry in entries}
        users = _Users.of(conn, {u for ids in wanted.values() for u in ids})
        found: list[Found] = []
        for entry in entries:
            ids = wanted[entry.field]
            active = tuple(u for u in ids if users.why_not(u) is None)
            if active:
                found.append(Found(active))
            elif not ids:
                found.append(Found((), f"field {entry.field} is empty"))
            else:
                why = "; ".join(w for u in ids if (w := users.why_not(u)) is not None)
                found.append(Found((), f"field {entry.field}: {why}"))
        return found


for _kind in (UserKind(), RoleKind(), DeptHeadKind(), ManagerKind(), FieldKind()):
    ASSIGNEE_KINDS.register(_kind.name, _kind)


def user_ids_in(value: Any) -> tuple[int, ...]:
    """The user ids in a `user`/`users` value as record JSON has it (`{"id", "name"}` or a
    list of those) or as stored (an id or a list of ids); anything else is no one."""
    items = value if isinstance(value, (list, tuple)) else [value]
    ids: list[int] = []
    for item in items:
        raw = item.get("id") if isinstance(item, Mapping) else item
        if isinstance(raw, int) and not isinstance(raw, bool):
            ids.append(raw)
        elif isinstance(raw, str) and raw.isdigit():
            ids.append(int(raw))
    return tuple(dict.fromkeys(ids))


def typed_entry(entry: Any, path: str) -> Any:
    """`entry` as one of the assignee models (a plain dict is validated), or a
    `DefinitionError` at `path` naming what is wrong."""
    if isinstance(entry, tuple(kind.model for kind in ASSIGNEE_KINDS)):
        return entry
    if isinstance(entry, Mapping) and len(entry) == 1:
        kind = ASSIGNEE_KINDS.get(next(iter(entry)))
        if kind is not None:
            try:
                return kind.model.model_validate(dict(entry))
            except ValidationError as exc:
                from engine.forms.compile import issue_of_error

                issues = [issue_of_error(e, dict(entry)).under(path) for e in exc.errors()]
                raise DefinitionError(issues) from None
    expected = ", ".join(ASSIGNEE_KINDS.names())
    raise DefinitionError(
        [
            Issue(
                path,
                "unknown_assignee",
                f"无法识别的处理人设置（可用：{expected}）",
                f"Unrecognised assignee entry (expected one of: {expected})",
            )
        ]
    )


def _kind_of(entry: Any) -> AssigneeKind:
    return next(kind for kind in ASSIGNEE_KINDS if isinstance(entry, kind.model))


def _resolve_entries(
    conn: Connection, scope: Scope, entries: Sequence[Any]
) -> tuple[list[int], list[str]]:
    """The active users of `entries` (ordered, de-duplicated) and a note per empty entry."""
    by_kind: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        by_kind.setdefault(_kind_of(entry).name, []).append(index)
    results: dict[int, Found] = {}
    for name, indexes in by_kind.items():
        found = ASSIGNEE_KINDS[name].resolve_all(conn, scope, [entries[i] for i in indexes])
        results.update(zip(indexes, found, strict=True))
    user_ids: dict[int, None] = {}
    notes: list[str] = []
    for index in range(len(entries)):
        one = results[index]
        user_ids.update(dict.fromkeys(one.user_ids))
        if not one.user_ids and one.note is not None:
            notes.append(one.note)
    return list(user_ids), notes


def resolve(
    conn: Connection,
    app_id: int,
    entries: Sequence[AssigneeEntry | Mapping[str, Any]],
    *,
    initiator_id: int,
    record: Mapping[str, Any],
    flow_admin: Mapping[str, Any] | UserAssignee | RoleAssignee | None,
) -> Resolution:
    """The active users `entries` give for an instance started by `initiator_id` on `record`
    (record JSON), else the flow admin's (see the module docstring). `flow_admin` is the
    flow's `admin` as a dict or as the parsed model (`FlowSpec.admin`)."""
    typed = [typed_entry(entry, f"assignees[{i}]") for i, entry in enumerate(entries)]
    scope = Scope(app_id, initiator_id, record)
    user_ids, notes = _resolve_entries(conn, scope, typed)
    if user_ids:
        return Resolution(tuple(user_ids), None, tuple(notes))
    admins, admin_notes = _admins(conn, scope, flow_admin)
    return Resolution(tuple(admins), NOBODY, tuple(notes + admin_notes))


def _admins(
    conn: Connection,
    scope: Scope,
    flow_admin: Mapping[str, Any] | UserAssignee | RoleAssignee | None,
) -> tuple[list[int], list[str]]:
    """The flow admin's users, else the app's administrators, else the platform's."""
    notes: list[str] = []
    if flow_admin:
        entry = typed_entry(flow_admin, "admin")
        if not isinstance(entry, (UserAssignee, RoleAssignee)):
            raise DefinitionError(
                [
                    Issue(
                        "admin",
                        "unknown_assignee",
                        "流程管理员只能是用户或角色",
                        "A flow admin is a user or a role",
                    )
                ]
            )
        found, why = _resolve_entries(conn, scope, [entry])
        if found:
            return found, notes
        notes.extend(f"flow admin: {line}" for line in why)
    builder_roles = app_admin_roles(conn, scope.app_id)
    if builder_roles:
        members = role_members(conn, scope.app_id, set(builder_roles))
        found = list(dict.fromkeys(u for key in builder_roles for u in members.get(key, ())))
        if found:
            return found, notes
    notes.append("the app's administrator roles have no active member")
    platform = conn.execute(
        select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True)).order_by(User.id)
    ).scalars()
    return list(platform), notes


def app_admin_roles(conn: Connection, app_id: int) -> list[str]:
    """The keys of the app's builder roles (`"builder": true`) in its live revision, in
    definition order; none when the app has no live revision."""
    from engine.forms import apps as forms_apps

    key = conn.execute(select(App.key).where(App.id == app_id)).scalar_one_or_none()
    if key is None:
        return []
    try:
        loaded = forms_apps.load(conn, key)
    except ServiceError:
        return []
    return [role.key for role in loaded.layout.spec.roles if role.builder]


__all__ = [
    "ASSIGNEE_KINDS",
    "NOBODY",
    "AssigneeEntry",
    "AssigneeKind",
    "Found",
    "Resolution",
    "Scope",
    "app_admin_roles",
    "resolve",
    "role_members",
    "typed_entry",
    "user_ids_in",
]
