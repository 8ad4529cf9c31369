"""Assignee resolution (engine.flows.assignees) on SQLite and PostgreSQL, over a small org:

    总部 HQ (head ceo)
      └ 销售部 Sales (head sales_head)      ← role `sales` is given to this department
          └ 一组 Team1 (head team_lead)
      └ 空部门 Empty (no head)

Users: ceo; sales_head (manager ceo); team_lead (manager sales_head); rep and rep2 in Team1
(manager team_lead); gone (Team1, deactivated; manager of orphan); floater (no main
department, Sales as an extra one); orphan (department Empty); boss (holds the builder role
`app_admin`); and the platform administrator `admin`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine

from engine.auth.directory import (
    add_member,
    admin_user_id,
    create_department,
    create_user,
    ensure_admin,
    update_department,
    update_user,
)
from engine.core.context import Actor
from engine.core.issues import DefinitionError
from engine.flows.assignees import ASSIGNEE_KINDS, NOBODY, Resolution, resolve, user_ids_in
from engine.flows.nodes import ManagerAssignee, RoleAssignee, UserAssignee
from engine.forms import apps
from engine.store.models import Role
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

ROLES = ["sales", "director", "empty", "ghosts", "app_admin"]


def definition() -> dict[str, Any]:
    return {
        "format": "jimu.app/1",
        "key": "deals",
        "name": {"zh": "交易", "en": "Deals"},
        "version": "1",
        "forms": [
            {
                "key": "deal",
                "name": "交易",
                "fields": [
                    {"key": "title", "type": "text"},
                    {"key": "owner", "type": "user"},
                    {"key": "watchers", "type": "users"},
                ],
            }
        ],
        "roles": [
            {"key": key, "name": key, **({"builder": True} if key == "app_admin" else {})}
            for key in ROLES
        ],
    }


class Org:
    """The installed app's id and the users' ids by username."""

    def __init__(self, engine: Engine, app_id: int, ids: dict[str, int]) -> None:
        self.engine = engine
        self.app_id = app_id
        self.ids = ids
        self.names = {v: k for k, v in ids.items()}

    def resolve(
        self,
        entries: list[Any],
        *,
        initiator: str = "rep",
        record: dict[str, Any] | None = None,
        admin: dict[str, Any] | RoleAssignee | None = None,
    ) -> Resolution:
        with self.engine.begin() as conn:
            return resolve(
                conn,
                self.app_id,
                entries,
                initiator_id=self.ids[initiator],
                record=record or {},
                flow_admin=admin,
            )

    def who(self, entries: list[Any], **options: Any) -> list[str]:
        return [self.names[u] for u in self.resolve(entries, **options).user_ids]


def _role_id(conn: Connection, app_id: int, key: str) -> int:
    return conn.execute(select(Role.id).where(Role.app_id == app_id, Role.key == key)).scalar_one()


@pytest.fixture
def org(migrated_engine: Engine) -> Iterator[Org]:
    prepare_fresh(migrated_engine)
    with migrated_engine.begin() as conn:
        ensure_admin(conn, "admin-password-1")
        app, _ = apps.create(conn, definition(), context(Actor(None, "api")))
        hq = create_department(conn, {"name": "总部"}, actor_id=None)["id"]
        sales = create_department(conn, {"name": "销售部", "parent_id": hq}, actor_id=None)["id"]
        team = create_department(conn, {"name": "一组", "parent_id": sales}, actor_id=None)["id"]
        empty = create_department(conn, {"name": "空部门", "parent_id": hq}, actor_id=None)["id"]
        ids: dict[str, int] = {"admin": admin_user_id(conn) or 0}

        def user(name: str, **values: Any) -> int:
            values = {k: ids[v] if k == "manager_id" else v for k, v in values.items()}
            extra = values.pop("extra", [])
            made = create_user(
                conn,
                {"username": name, "display_name": name, **values},
                password=None,
                department_ids=extra,
                actor_id=None,
            )
            ids[name] = made["id"]
            return int(made["id"])

        user("ceo", department_id=hq)
        user("sales_head", department_id=sales, manager_id="ceo")
        user("team_lead", department_id=team, manager_id="sales_head")
        user("rep", department_id=team, manager_id="team_lead")
        user("gone", department_id=team, manager_id="team_lead")
        user("rep2", department_id=team, manager_id="team_lead")
        user("floater", extra=[sales])
        user("orphan", department_id=empty, manager_id="gone")
        user("boss")
        for department, head in ((hq, "ceo"), (sales, "sales_head"), (team, "team_lead")):
            update_department(conn, department, {"head_user_id": ids[head]}, actor_id=None)
        update_user(conn, ids["gone"], {"is_active": False}, actor_id=None)
        roles = {key: _role_id(conn, app.id, key) for key in ROLES}
        add_member(conn, roles["sales"], user_id=None, department_id=sales, actor_id=None)
        add_member(
            conn, roles["director"], user_id=ids["sales_head"], department_id=None, actor_id=None
        )
        add_member(conn, roles["director"], user_id=ids["gone"], department_id=None, actor_id=None)
        add_member(conn, roles["ghosts"], user_id=ids["gone"], department_id=None, actor_id=None)
        add_member(conn, roles["app_admin"], user_id=ids["boss"], department_id=None, actor_id=None)
        app_id = app.id
    yield Org(migrated_engine, app_id, ids)


# --- each kind ---------------------------------------------------------------------------


def test_a_user_entry_is_that_user(org: Org) -> None:
    found = org.resolve([{"user": "rep2"}])
    assert found == Resolution((org.ids["rep2"],), None, ())


def test_a_role_holds_its_direct_members_and_everyone_in_its_departments_and_below(
    org: Org,
) -> None:
    # Sales and its child Team1, main or extra department; the deactivated `gone` is skipped,
    # `ceo` (HQ, above Sales) and `orphan` (another branch) are not members.
    expected = sorted(org.ids[n] for n in ("sales_head", "team_lead", "rep", "rep2", "floater"))
    assert list(org.resolve([{"role": "sales"}]).user_ids) == expected
    assert org.who([{"role": "director"}]) == ["sales_head"]


def test_dept_head_climbs_the_initiators_department_tree(org: Org) -> None:
    assert org.who([{"dept_head": 1}]) == ["team_lead"]
    assert org.who([{"dept_head": 2}]) == ["sales_head"]
    assert org.who([{"dept_head": 3}]) == ["ceo"]
    assert org.who([{"dept_head": 1}], initiator="sales_head") == ["sales_head"]


def test_manager_climbs_the_initiators_manager_chain(org: Org) -> None:
    assert org.who([{"manager": 1}]) == ["team_lead"]
    assert org.who([{"manager": 2}]) == ["sales_head"]
    assert org.who([ManagerAssignee(manager=3)]) == ["ceo"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": "REP", "name": "rep"}, ["rep"]),  # record JSON: {"id", "name"}
        ("REP", ["rep"]),  # a plain id
        ([{"id": "REP2"}, {"id": "CEO"}, {"id": "GONE"}, {"id": "REP2"}], ["rep2", "ceo"]),
        (["TEAM_LEAD", "REP"], ["team_lead", "rep"]),
    ],
)
def test_a_field_gives_the_users_in_it_in_order(org: Org, value: Any, expected: list[str]) -> None:
    def ids(v: Any) -> Any:
        if isinstance(v, list):
            return [ids(x) for x in v]
        if isinstance(v, dict):
            return {k: ids(x) if k == "id" else x for k, x in v.items()}
        return org.ids[v.lower()]

    record = {"owner": ids(value), "watchers": ids(value)}
    assert org.who([{"field": "owner"}], record=record) == expected
    assert org.who([{"field": "watchers"}], record=record) == expected


def test_user_ids_in_ignores_what_is_not_an_id() -> None:
    assert user_ids_in(None) == ()
    assert user_ids_in([True, "x", {"name": "a"}, 3, "4", 3]) == (3, 4)


# --- order and duplicates ----------------------------------------------------------------


def test_entry_order_then_order_inside_an_entry_and_the_first_of_a_duplicate_stays(
    org: Org,
) -> None:
    found = org.who(
        [
            {"manager": 1},
            {"user": "ceo"},
            {"role": "sales"},
            {"field": "watchers"},
            UserAssignee(user="team_lead"),
        ],
        record={"watchers": [{"id": org.ids["boss"]}, {"id": org.ids["ceo"]}]},
    )
    members = sorted(["sales_head", "rep", "rep2", "floater"], key=lambda n: org.ids[n])
    assert found == ["team_lead", "ceo", *members, "boss"]


def test_entries_that_give_nobody_are_noted_while_the_others_are_kept(org: Org) -> None:
    found = org.resolve([{"user": "gone"}, {"role": "empty"}, RoleAssignee(role="director")])
    assert found.user_ids == (org.ids["sales_head"],)
    assert found.fallback is None
    assert found.notes == ("user gone is deactivated", "role empty has no active member")


# --- fallback to the flow admin --------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "note"),
    [
        ([{"user": "gone"}], "user gone is deactivated"),
        ([{"user": "nobody_here"}], "user nobody_here does not exist"),
        ([{"role": "empty"}], "role empty has no active member"),
        ([{"role": "ghosts"}], "role ghosts has no active member"),
        ([{"role": "not_a_role"}], "role not_a_role does not exist"),
        ([{"dept_head": 4}], "dept_head 4 is beyond the top"),
        ([{"manager": 4}], "manager 4 is beyond the top"),
        ([{"field": "owner"}], "field owner is empty"),
    ],
)
def test_an_entry_with_nobody_goes_to_the_app_administrators(
    org: Org, entries: list[Any], note: str
) -> None:
    found = org.resolve(entries)
    assert found == Resolution((org.ids["boss"],), NOBODY, (note,))


def test_why_the_initiators_own_chain_gives_nobody(org: Org) -> None:
    assert org.resolve([{"dept_head": 1}], initiator="orphan").notes == (
        "department 空部门 has no head",
    )
    assert org.resolve([{"dept_head": 1}], initiator="boss").notes == (
        "the initiator has no department",
    )
    assert org.resolve([{"manager": 1}], initiator="orphan").notes == (
        "user gone (manager 1) is deactivated",
    )
    assert org.resolve([{"manager": 1}], initiator="ceo").notes == ("manager 1 is beyond the top",)
    gone_field = org.resolve([{"field": "owner"}], record={"owner": {"id": org.ids["gone"]}})
    assert gone_field.notes == ("field owner: user gone is deactivated",)
    assert gone_field.fallback == NOBODY


def test_the_flow_admin_user_or_role_comes_first(org: Org) -> None:
    assert org.resolve([{"user": "gone"}], admin={"user": "ceo"}) == Resolution(
        (org.ids["ceo"],), NOBODY, ("user gone is deactivated",)
    )
    assert org.who([{"role": "empty"}], admin={"role": "director"}) == ["sales_head"]
    assert org.who([{"role": "empty"}], admin=RoleAssignee(role="sales")) == org.who(
        [{"role": "sales"}]
    )


def test_a_flow_admin_with_nobody_falls_to_the_app_then_the_platform_administrators(
    org: Org,
) -> None:
    found = org.resolve([{"role": "empty"}], admin={"user": "gone"})
    assert found == Resolution(
        (org.ids["boss"],),
        NOBODY,
        ("role empty has no active member", "flow admin: user gone is deactivated"),
    )
    with org.engine.begin() as conn:
        update_user(conn, org.ids["boss"], {"is_active": False}, actor_id=None)
    found = org.resolve([{"role": "empty"}], admin={})
    assert found.user_ids == (org.ids["admin"],)
    assert found.notes == (
        "role empty has no active member",
        "the app's administrator roles have no active member",
    )


# --- bad entries and batching -----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "path", "code"),
    [
        ({"users": "rep"}, "assignees[1]", "unknown_assignee"),
        ({"user": "rep", "role": "sales"}, "assignees[1]", "unknown_assignee"),
        ({"manager": 0}, "assignees[1].manager", "greater_than_equal"),
        ({"dept_head": "2"}, "assignees[1].dept_head", "int_type"),
    ],
)
def test_a_bad_plain_entry_is_a_definition_error_at_its_path(
    org: Org, entry: dict[str, Any], path: str, code: str
) -> None:
    with pytest.raises(DefinitionError) as raised:
        org.resolve([{"user": "rep"}, entry])
    assert [(i.path, i.code) for i in raised.value.issues] == [(path, code)]
    assert all(i.message_zh and i.message_en for i in raised.value.issues)


def test_a_flow_admin_must_be_a_user_or_a_role(org: Org) -> None:
    with pytest.raises(DefinitionError) as raised:
        org.resolve([{"role": "empty"}], admin={"manager": 1})
    assert [(i.path, i.code) for i in raised.value.issues] == [("admin", "unknown_assignee")]


def test_statements_do_not_grow_with_entries_or_users(org: Org) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def run(entries: list[Any]) -> int:
        statements.clear()
        event.listen(org.engine, "before_cursor_execute", count)
        try:
            org.resolve(entries, record={"owner": {"id": org.ids["rep"]}, "watchers": []})
        finally:
            event.remove(org.engine, "before_cursor_execute", count)
        return len(statements)

    one_each = [{"user": "rep"}, {"role": "sales"}, {"dept_head": 1}, {"manager": 1}]
    one_each.append({"field": "owner"})
    many = [
        *({"user": n} for n in ("rep", "rep2", "ceo", "boss", "floater")),
        *({"role": r} for r in ("sales", "director", "ghosts", "empty")),
        *({"dept_head": n} for n in (1, 2, 3)),
        *({"manager": n} for n in (1, 2, 3)),
        {"field": "owner"},
        {"field": "watchers"},
    ]
    assert run(one_each) == run(many) <= 2 * len(ASSIGNEE_KINDS)
