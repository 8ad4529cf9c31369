"""What a caller may do with one form: actions, row scopes as SQL, and field access.

The app's roles (definition) say what each role may do; the platform's `roles`/`role_members`
say who holds which role (a user directly, or everyone in a department and its children).
A user's access is the union over their roles: an action is allowed when any role allows
it, a record is in scope for an action when any role allowing that action covers it, and a
field gets the most permissive access among the roles that may view the form. A role with
`create` but not `view` on a form (填报 only, issue 16) adds the create action with its scope
and nothing else; its field access counts for fields no viewing role hides (it never un-hides
one), or alone when no role views the form. Scopes become
one SQL condition (`FormAccess.where`) that every query ANDs in — nothing is filtered in
Python afterwards. Administrators, and the admin token, may do everything.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, false, literal_column, or_, select, true, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect

from engine import expr
from engine.auth.derived import derived_hidden
from engine.auth.principal import Principal
from engine.forms.cache import calls_clock
from engine.forms.layout import FormLayout
from engine.forms.resolve import Who
from engine.forms.roles import ACTIONS, ExprScope, FormPermission, RoleSpec
from engine.forms.spec import AppSpec
from engine.store.models import Department, Role, RoleMember, User, UserDepartment

CLOCK = frozenset({"TODAY", "NOW"})
RANK = {"hidden": 0, "read_only": 1, "editable": 2}
_TREES = itertools.count(1)
Scope = str | ExprScope


@dataclass(frozen=True)
class FormAccess:
    """One caller's rights on one form (see the module docstring)."""

    user_id: int | None
    department_ids: tuple[int, ...]
    everything: bool = False
    scopes: dict[str, tuple[Scope, ...]] = field(default_factory=dict)  # action -> scopes
    fields: dict[str, str] = field(default_factory=dict)  # key -> hidden | read_only | editable
    roles: tuple[str, ...] = ()
    # The same caller's rights on the app's other forms (relations are read with the target's).
    peers: Callable[[FormLayout], FormAccess] | None = field(
        default=None, compare=False, repr=False
    )
    # What SQL built with these rights (on this form and, through `on`, the others) depends on:
    # kept SQL is keyed by it; None when it must be built per call (a scope reads the clock).
    fingerprint: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)

    def on(self, form: FormLayout) -> FormAccess:
        """This caller's rights on `form` of the same app (see `Access.on`)."""
        if self.everything:
            return self
        if self.peers is None:
            return FormAccess(self.user_id, self.department_ids)
        return self.peers(form)

    def allows(self, action: str) -> bool:
        return self.everything or bool(self.scopes.get(action))

    def access(self, key: str) -> str:
        """`hidden`, `read_only` or `editable` for field `key`."""
        if self.everything:
            return "editable"
        return self.fields.get(key, "hidden")

    def hidden(self) -> frozenset[str]:
        return (
            frozenset(k for k, v in self.fields.items() if v == "hidden")
            if not self.everything
            else frozenset()
        )

    def where(self, action: str, table: Any, resolver: Any) -> ColumnElement[bool]:
        """The SQL condition of the records this caller may `action` (FALSE when none)."""
        if self.everything:
            return true()
        scopes = self.scopes.get(action, ())
        if not scopes:
            return false()
        conditions: list[ColumnElement[bool]] = []
        for scope in scopes:
            if scope == "all":
                return true()
            conditions.append(self._scope_sql(scope, table, resolver))
        return or_(*conditions)

    def _scope_sql(self, scope: Scope, table: Any, resolver: Any) -> ColumnElement[bool]:
        if isinstance(scope, ExprScope):
            # Scopes are the builders' conditions: their relation hops are read unrestricted;
            # CURRENT_USER() in one is the role's holder (`_owner = CURRENT_USER()`).
            plain = resolver.unrestricted().acting(Who(self.user_id, self.department_ids))
            condition: ColumnElement[bool] = plain.formula(scope.expr)
            return condition
        if self.user_id is None:
            return false()
        owner: ColumnElement[Any] = table.c._owner
        if scope == "own":
            return owner == self.user_id
        departments: Any
        if scope == "department":
            departments = list(self.department_ids)
        else:
            departments = select(department_ids_under_any(self.department_ids).c.id)
        if not self.department_ids:
            return owner == self.user_id
        main = select(User.id).where(User.department_id.in_(departments))
        extra = select(UserDepartment.user_id).where(UserDepartment.department_id.in_(departments))
        return or_(owner.in_(main), owner.in_(extra), owner == self.user_id)

    def summary(self) -> dict[str, Any]:
        """What `GET …/permissions/me` returns: actions, scope per action and field access."""
        return {
            "roles": list(self.roles),
            "admin": self.everything,
            "actions": [a for a in ACTIONS if self.allows(a)],
            "scopes": {
                a: _scope_json(self.scopes.get(a, ())) if not self.everything else ["all"]
                for a in ACTIONS
                if self.allows(a)
            },
            "fields": dict(self.fields) if not self.everything else {},
        }


def _scope_json(scopes: Iterable[Scope]) -> list[Any]:
    return [s if isinstance(s, str) else {"expr": s.expr} for s in scopes]


def department_ids_under_any(roots: Iterable[int]) -> Any:
    """A CTE of the ids of departments `roots` and all their descendants."""
    # A fresh name per use: one statement may hold several scopes (view and edit, say).
    tree = (
        select(Department.id)
        .where(Department.id.in_(list(roots)))
        .cte(f"scope_tree_{next(_TREES)}", recursive=True)
    )
    return tree.union_all(select(Department.id).where(Department.parent_id == tree.c.id))


_USER_DEPARTMENTS: CompoundSelect[Any] = union_all(
    select(literal_column("0").label("extra"), User.department_id.label("department")).where(
        User.id == bindparam("user")
    ),
    select(literal_column("1"), UserDepartment.department_id).where(
        UserDepartment.user_id == bindparam("user")
    ),
)


def user_departments(conn: Connection, user_id: int) -> tuple[int, ...]:
    """The user's main department first, then the others: one statement, built once."""
    rows = sorted(conn.execute(_USER_DEPARTMENTS, {"user": user_id}).all(), key=lambda r: r[0])
    return tuple(dict.fromkeys(d for _, d in rows if d is not None))


_DEPARTMENT_PARENTS = select(Department.id, Department.parent_id)
_HELD_ROLES = (
    select(Role.key)
    .join(RoleMember, RoleMember.role_id == Role.id)
    .where(
        Role.app_id == bindparam("app"),
        or_(
            RoleMember.user_id == bindparam("user"),
            RoleMember.department_id.in_(bindparam("departments", expanding=True)),
        ),
    )
)  # both built once: every member's request runs them


def held_roles(
    conn: Connection, app_id: int, user_id: int, departments: tuple[int, ...]
) -> set[str]:
    """Keys of the app's roles the user holds, directly or through a department above theirs."""
    ancestors = set(departments)
    parents = dict(conn.execute(_DEPARTMENT_PARENTS).all())
    frontier = list(departments)
    while frontier:
        parent = parents.get(frontier.pop())
        if parent is not None and parent not in ancestors:
            ancestors.add(parent)
            frontier.append(parent)
    found = conn.execute(
        _HELD_ROLES, {"app": app_id, "user": user_id, "departments": sorted(ancestors)}
    )
    return set(found.scalars())


def form_access(
    conn: Connection,
    principal: Principal,
    app_id: int,
    spec: AppSpec,
    form: FormLayout,
    *,
    departments: tuple[int, ...] | None = None,
    held: set[str] | None = None,
) -> FormAccess:
    """The caller's rights on `form` of the app (everything for administrators).
    `departments`: the caller's (`user_departments`), and `held`: the keys of the roles they
    hold (`held_roles`), when already read."""
    if principal.is_admin:
        return FormAccess(principal.user_id, (), everything=True, fingerprint=("admin",))
    if principal.user_id is None:
        return FormAccess(None, ())
    if departments is None:
        departments = user_departments(conn, principal.user_id)
    keys = held_roles(conn, app_id, principal.user_id, departments) if held is None else held
    roles = [role for role in spec.roles if role.key in keys]
    return combine(principal.user_id, departments, roles, form, app=spec)


def source_access(
    principal: Principal, app_id: int, spec: AppSpec
) -> Callable[[Connection, FormLayout], FormAccess | None]:
    """How data linkage reads a source form as `principal` (None: unrestricted, for administrators)."""

    def access(conn: Connection, form: FormLayout) -> FormAccess | None:
        return None if principal.is_admin else form_access(conn, principal, app_id, spec, form)

    return access


def combine(
    user_id: int | None,
    departments: tuple[int, ...],
    roles: list[RoleSpec],
    form: FormLayout,
    known: dict[str, FormAccess] | None = None,
    *,
    app: AppSpec | None = None,
) -> FormAccess:
    """The union of `roles`' permissions on `form` (and, through `on`, on the app's other
    forms; `known` shares those between the forms of one caller). With the `app`, a lookup,
    rollup or formula computed from a field hidden from the caller is hidden too
    (`engine.auth.derived`)."""
    known = {} if known is None else known

    def peers(other: FormLayout) -> FormAccess:
        if other.key not in known:
            known[other.key] = combine(user_id, departments, roles, other, known, app=app)
        return known[other.key]

    scopes: dict[str, list[Scope]] = {}
    fields: dict[str, str] = {}
    filling: list[FormPermission] = []
    for role in roles:
        permission = role.forms.get(form.key)
        if permission is None:
            continue
        if "view" not in permission.actions:
            # A 填报-only role (create without view, issue 16) lets its holder submit records
            # and nothing else: every other action needs records found first.
            if "create" in permission.actions:
                scopes.setdefault("create", []).append(permission.scope)
                filling.append(permission)
            continue
        for action in permission.actions:
            scopes.setdefault(action, []).append(permission.scope)
        writes = bool({"edit", "create"} & set(permission.actions))
        for key in form.fields:
            given = permission.fields.get(key, "editable" if writes else "read_only")
            if given == "editable" and not writes:
                given = "read_only"
            current = fields.get(key)
            if current is None or RANK[given] > RANK[current]:
                fields[key] = given
    for permission in filling:
        # A field a create-only role may fill in is editable, but such a role never shows a
        # field that the roles viewing the form hide: it reads nothing.
        for key in form.fields:
            given = permission.fields.get(key, "editable")
            current = fields.get(key)
            if current is None or (current != "hidden" and RANK[given] > RANK[current]):
                fields[key] = given
    if app is not None and fields:
        for key in derived_hidden(app, roles, form):
            fields[key] = "hidden"
    access = FormAccess(
        user_id,
        departments,
        scopes={action: tuple(values) for action, values in scopes.items()},
        fields=fields,
        roles=tuple(role.key for role in roles),
        peers=peers,
        fingerprint=_fingerprint(user_id, departments, roles),
    )
    return known.setdefault(form.key, access)


def _reads_clock(source: str) -> bool:
    """Whether a scope formula calls TODAY() or NOW() (the member's own functions are covered
    by the fingerprint, which holds the member)."""
    try:
        return calls_clock(expr.parse(source), CLOCK)
    except expr.ExprError:
        return True  # never kept; the request reports the formula


def _fingerprint(
    user_id: int | None, departments: tuple[int, ...], roles: list[RoleSpec]
) -> tuple[Any, ...] | None:
    """What a caller's rights on every form of the app follow from; None when a role's scope
    formula may read the clock (SQL holding it must not be kept)."""
    for role in roles:
        for permission in role.forms.values():
            scope = permission.scope
            if isinstance(scope, ExprScope) and _reads_clock(scope.expr):
                return None
    return (user_id, departments, tuple(sorted(role.key for role in roles)))


__all__ = [
    "FormAccess",
    "combine",
    "form_access",
    "held_roles",
    "source_access",
    "user_departments",
]
