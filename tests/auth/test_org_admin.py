"""通讯录 through the HTTP API on SQLite and PostgreSQL: users by department, password resets,
deleting departments, the last administrator, moves under oneself, and the Excel import
(template, dry run with every row error, the import in one transaction)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from engine.auth.directory import ensure_admin
from engine.store.models import App, Department, Role, User, utcnow
from tests.api.records_client import API, api_client

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(migrated_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """A client with the admin token, the user `admin`, and an app `crm` with two roles."""
    with api_client(migrated_engine, tmp_path) as client:
        with migrated_engine.begin() as conn:
            ensure_admin(conn, PASSWORD)
            app_id = conn.execute(
                insert(App)
                .values(key="crm", name={"zh": "客户管理", "en": "CRM"})
                .returning(App.id)
            ).scalar_one()
            for key, zh in (("sales_rep", "销售代表"), ("director", "销售总监")):
                conn.execute(
                    insert(Role).values(
                        app_id=app_id, key=key, name={"zh": zh, "en": key}, created_at=utcnow()
                    )
                )
        yield client


def anonymous(client: TestClient) -> TestClient:
    return TestClient(client.app, raise_server_exceptions=False)


def login(client: TestClient, username: str, password: str) -> Any:
    return anonymous(client).post(
        f"{API}/auth/login", json={"username": username, "password": password}
    )


def issues(response: Any) -> list[tuple[str, str]]:
    return [(i["path"], i["code"]) for i in response.json()["error"]["issues"]]


def user(client: TestClient, username: str, **values: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/users", json={"username": username, "display_name": username, **values}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def department(client: TestClient, name: str, parent: int | None = None) -> int:
    response = client.post(f"{API}/departments", json={"name": name, "parent_id": parent})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_users_of_a_department_with_names_search_and_roles(admin: TestClient) -> None:
    sales = department(admin, "销售部")
    east = department(admin, "华东销售组", sales)
    boss = user(admin, "boss", department_id=sales, phone="13800000001")
    rep = user(admin, "rep", department_id=east, manager_id=boss["id"], email="r@example.com")
    roles = admin.get(f"{API}/roles", params={"app": "crm"}).json()
    admin.post(f"{API}/roles/{roles[0]['id']}/members", json={"user_id": rep["id"]})
    tree = admin.get(f"{API}/org/users", params={"department": sales}).json()
    assert tree["total"] == 2 and [u["username"] for u in tree["users"]] == ["boss", "rep"]
    found = tree["users"][1]
    assert found["department_name"] == "华东销售组" and found["manager_name"] == "boss"
    assert found["roles"] == [
        {
            "id": roles[0]["id"],
            "app": "crm",
            "key": "sales_rep",
            "name": {"zh": "销售代表", "en": "sales_rep"},
        }
    ]
    assert found["can_sign_in"] is False
    own = admin.get(f"{API}/org/users", params={"department": sales, "children": "false"})
    assert [u["username"] for u in own.json()["users"]] == ["boss"]
    by_phone = admin.get(f"{API}/org/users", params={"q": "13800000001"}).json()
    assert [u["username"] for u in by_phone["users"]] == ["boss"]
    assert admin.get(f"{API}/org/users", params={"department": 9999}).status_code == 404


def test_members_get_403_for_every_org_route(admin: TestClient) -> None:
    user(admin, "zhang", password="password-2")
    member = {"Authorization": f"Bearer {login(admin, 'zhang', 'password-2').json()['token']}"}
    client = anonymous(admin)
    sales = department(admin, "销售部")
    assert client.get(f"{API}/org/users", headers=member).status_code == 403
    assert client.get(f"{API}/org/import/template", headers=member).status_code == 403
    assert client.delete(f"{API}/departments/{sales}", headers=member).status_code == 403
    assert client.post(f"{API}/users/1/password", json={}, headers=member).status_code == 403
    assert (
        client.post(
            f"{API}/org/import", files={"file": ("a.xlsx", b"x")}, headers=member
        ).status_code
        == 403
    )


def test_password_reset_generated_or_given_ends_old_sessions(admin: TestClient) -> None:
    li = user(admin, "li", password="password-1")
    token = login(admin, "li", "password-1").json()["token"]
    reset = admin.post(f"{API}/users/{li['id']}/password", json={})
    assert reset.status_code == 200, reset.text
    generated = reset.json()["password"]
    assert isinstance(generated, str) and len(generated) == 12
    me = anonymous(admin).get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert login(admin, "li", "password-1").status_code == 401
    assert login(admin, "li", generated).status_code == 200
    given = admin.post(f"{API}/users/{li['id']}/password", json={"password": "new-password-9"})
    assert given.json() == {"password": None}
    assert login(admin, "li", "new-password-9").status_code == 200
    weak = admin.post(f"{API}/users/{li['id']}/password", json={"password": "123"})
    assert weak.status_code == 422 and issues(weak) == [("password", "weak_password")]
    assert admin.post(f"{API}/users/9999/password", json={}).status_code == 404


def test_the_last_active_administrator_stays(admin: TestClient, migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        admin_id = conn.execute(select(User.id).where(User.username == "admin")).scalar_one()
    for change, path in (({"is_active": False}, "is_active"), ({"is_admin": False}, "is_admin")):
        refused = admin.patch(f"{API}/users/{admin_id}", json=change)
        assert refused.status_code == 422, refused.text
        assert issues(refused) == [(path, "last_admin")]
    english = admin.patch(
        f"{API}/users/{admin_id}", json={"is_active": False}, headers={"Accept-Language": "en"}
    )
    assert "only active administrator" in english.json()["error"]["issues"][0]["message"]
    with migrated_engine.connect() as conn:
        row = conn.execute(select(User.is_admin, User.is_active).where(User.id == admin_id)).one()
    assert row.is_admin and row.is_active
    second = user(admin, "wang", is_admin=True)
    inactive_admin = user(admin, "gone", is_admin=True, is_active=False)
    assert admin.patch(f"{API}/users/{admin_id}", json={"is_admin": False}).status_code == 200
    refused = admin.patch(f"{API}/users/{second['id']}", json={"is_active": False})
    assert issues(refused) == [("is_active", "last_admin")]
    # changing an inactive administrator, or anyone else, is no problem
    assert (
        admin.patch(f"{API}/users/{inactive_admin['id']}", json={"is_admin": False}).status_code
        == 200
    )


def test_moving_a_department_under_itself_or_its_child_is_refused(admin: TestClient) -> None:
    sales = department(admin, "销售部")
    east = department(admin, "华东销售组", sales)
    for parent in (sales, east):
        refused = admin.patch(f"{API}/departments/{sales}", json={"parent_id": parent})
        assert refused.status_code == 422 and issues(refused) == [("parent_id", "cycle")]
    other = department(admin, "市场部")
    moved = admin.patch(f"{API}/departments/{east}", json={"parent_id": other})
    assert moved.status_code == 200 and moved.json()["parent_id"] == other


def test_deleting_a_department_with_members_or_children_is_refused(admin: TestClient) -> None:
    sales = department(admin, "销售部")
    east = department(admin, "华东销售组", sales)
    user(admin, "a", department_id=east)
    user(admin, "b", department_ids=[east])
    refused = admin.delete(f"{API}/departments/{sales}")
    assert refused.status_code == 422 and issues(refused) == [("children", "has_children")]
    assert "1 个下级部门" in refused.json()["error"]["issues"][0]["message"]
    busy = admin.delete(f"{API}/departments/{east}", headers={"Accept-Language": "en"})
    assert busy.status_code == 422 and issues(busy) == [("members", "has_members")]
    assert "2 member(s)" in busy.json()["error"]["issues"][0]["message"]
    assert len(admin.get(f"{API}/departments").json()) == 2
    empty = department(admin, "空部门", sales)
    roles = admin.get(f"{API}/roles", params={"app": "crm"}).json()
    admin.post(f"{API}/roles/{roles[0]['id']}/members", json={"department_id": empty})
    assert admin.delete(f"{API}/departments/{empty}").status_code == 204
    assert admin.delete(f"{API}/departments/{empty}").status_code == 404
    assert admin.get(f"{API}/roles", params={"app": "crm"}).json()[0]["members"] == []


# --- import ---------------------------------------------------------------------------------


def workbook(departments: list[list[Any]], users: list[list[Any]]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    sheet = book.create_sheet("部门")
    sheet.append(["部门名称", "上级部门", "负责人"])
    for row in departments:
        sheet.append(row)
    sheet = book.create_sheet("用户")
    sheet.append(["用户名", "姓名", "部门", "上级", "手机", "邮箱", "角色", "初始密码"])
    for row in users:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: TestClient, data: bytes, *, dry_run: bool) -> Any:
    return client.post(
        f"{API}/org/import",
        params={"dry_run": str(dry_run).lower()},
        files={"file": ("org.xlsx", data)},
    )


def test_the_template_has_both_sheets_with_chinese_headers_and_an_example(
    admin: TestClient,
) -> None:
    response = admin.get(f"{API}/org/import/template")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["部门", "用户"]
    assert [c.value for c in book["部门"][1]] == ["部门名称", "上级部门", "负责人"]
    assert [c.value for c in book["用户"][1]][:4] == ["用户名", "姓名", "部门", "上级"]
    assert book["用户"].max_row == 2 and book["部门"].max_row == 3
    # the template itself imports cleanly
    dry = upload(admin, response.content, dry_run=True).json()
    assert dry == {"ok": True, "errors": [], "departments": 2, "users": 1}


def test_a_dry_run_lists_every_row_error_and_writes_nothing(
    admin: TestClient, migrated_engine: Engine
) -> None:
    department(admin, "北京")
    bj2 = department(admin, "总部")
    department(admin, "北京", bj2)
    user(admin, "taken")
    data = workbook(
        [
            ["销售部", "", "nobody"],
            ["华东销售组", "销售部", "li"],
            ["华北组", "不存在的部门", ""],
            ["华东销售组", "", ""],
            ["环甲", "环乙", ""],
            ["环乙", "环甲", ""],
            ["西区", "北京", ""],
        ],
        [
            ["li", "李雷", "华东销售组", "", "13800000000", "li@example.com", "销售代表", ""],
            ["li", "李雷二", "华东销售组", "", "", "", "", ""],
            ["taken", "已有", "", "", "", "", "", ""],
            ["han", "", "火星部", "ghost", "12345", "not-an-email", "厨师", "123"],
            ["wei", "韩梅梅", "北京", "wei", "", "", "客户管理/销售总监 平台管理员", ""],
            ["bad name!", "某人", "", "", "", "", "", ""],
        ],
    )
    before = (
        admin.get(f"{API}/departments").json(),
        admin.get(f"{API}/users").json(),
    )
    response = upload(admin, data, dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    found = {(e["sheet"], e["row"], e["column"], e["code"]) for e in body["errors"]}
    assert found == {
        ("部门", 2, "负责人", "unknown_user"),
        ("部门", 4, "上级部门", "unknown_department"),
        ("部门", 5, "部门名称", "duplicate"),
        ("部门", 6, "上级部门", "cycle"),
        ("部门", 7, "上级部门", "cycle"),
        ("部门", 8, "上级部门", "ambiguous_department"),
        ("用户", 3, "用户名", "duplicate_username"),
        ("用户", 4, "用户名", "username_taken"),
        ("用户", 5, "姓名", "required"),
        ("用户", 5, "部门", "unknown_department"),
        ("用户", 5, "上级", "unknown_user"),
        ("用户", 5, "手机", "bad_phone"),
        ("用户", 5, "邮箱", "bad_email"),
        ("用户", 5, "角色", "unknown_role"),
        ("用户", 5, "初始密码", "weak_password"),
        ("用户", 6, "部门", "ambiguous_department"),
        ("用户", 6, "上级", "self_manager"),
        ("用户", 7, "用户名", "bad_username"),
    }
    ambiguous = next(e for e in body["errors"] if e["code"] == "ambiguous_department")
    assert "北京、总部/北京" in ambiguous["message"]["zh"]
    assert "give the full path" in ambiguous["message"]["en"]
    assert [e["sheet"] for e in body["errors"]][:6] == ["部门"] * 6
    # the real import refuses the same workbook whole, with the errors as issues
    refused = upload(admin, data, dry_run=False)
    assert refused.status_code == 422
    assert ("用户[5].手机", "bad_phone") in issues(refused)
    after = (admin.get(f"{API}/departments").json(), admin.get(f"{API}/users").json())
    assert after == before


def test_the_import_creates_departments_parent_first_users_managers_heads_and_roles(
    admin: TestClient, migrated_engine: Engine
) -> None:
    existing = department(admin, "总部")
    user(admin, "ceo")
    data = workbook(
        [
            ["华东销售组", "销售部", "lei"],  # its parent comes later in the sheet
            ["销售部", "总部", "mei"],
            ["总部", "", ""],  # already there: kept, not duplicated
        ],
        [
            ["lei", "李雷", "华东销售组", "mei", "13800000000", "", "销售代表", "password-1"],
            [
                "mei",
                "韩梅梅",
                "销售部",
                "ceo",
                "021-12345678",
                "mei@example.com",
                "crm/销售总监",
                "",
            ],
            ["root", "管理员二", "总部/销售部", "", "", "", "平台管理员", ""],
        ],
    )
    dry = upload(admin, data, dry_run=True).json()
    assert dry == {"ok": True, "errors": [], "departments": 2, "users": 3}
    done = upload(admin, data, dry_run=False)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["departments"] == 2 and body["users"] == 3
    generated = {p["username"]: p["password"] for p in body["passwords"]}
    assert set(generated) == {"mei", "root"}
    tree = {d["name"]: d for d in admin.get(f"{API}/departments").json()}
    assert len(tree) == 3 and tree["总部"]["id"] == existing
    assert tree["销售部"]["parent_id"] == existing
    assert tree["华东销售组"]["parent_id"] == tree["销售部"]["id"]
    people = {u["username"]: u for u in admin.get(f"{API}/org/users").json()["users"]}
    assert people["lei"]["manager_name"] == "韩梅梅" and people["mei"]["manager_name"] == "ceo"
    assert people["lei"]["department_name"] == "华东销售组"
    assert tree["华东销售组"]["head_user_id"] == people["lei"]["id"]
    assert tree["销售部"]["head_user_id"] == people["mei"]["id"]
    assert [r["key"] for r in people["lei"]["roles"]] == ["sales_rep"]
    assert [r["key"] for r in people["mei"]["roles"]] == ["director"]
    assert people["root"]["is_admin"] is True and people["lei"]["is_admin"] is False
    assert login(admin, "lei", "password-1").status_code == 200
    assert login(admin, "mei", generated["mei"]).status_code == 200
    # importing again: every username is taken now, nothing more is written
    again = upload(admin, data, dry_run=True).json()
    assert {e["code"] for e in again["errors"]} == {"username_taken"}
    with migrated_engine.connect() as conn:
        assert len(conn.execute(select(Department.id)).all()) == 3


def test_unreadable_files_and_workbooks_without_the_sheets_are_refused(admin: TestClient) -> None:
    bad = upload(admin, b"not a workbook", dry_run=True)
    assert bad.status_code == 422 and issues(bad) == [("file", "unreadable_file")]
    book = Workbook()
    out = io.BytesIO()
    book.save(out)
    none = upload(admin, out.getvalue(), dry_run=True)
    assert none.status_code == 422 and issues(none) == [("file", "no_sheets")]
