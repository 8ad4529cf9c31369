"""Sign-in, sessions, CSRF, throttling, API tokens, the directory and the audit log, through
the HTTP API on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from engine.auth.directory import ensure_admin
from tests.api.records_client import API, TOKEN, api_client

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(migrated_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """A client with the admin token, and the user `admin` with a known password."""
    with api_client(migrated_engine, tmp_path) as client:
        with migrated_engine.begin() as conn:
            ensure_admin(conn, PASSWORD)
        yield client


def anonymous(client: TestClient) -> TestClient:
    fresh = TestClient(client.app, raise_server_exceptions=False)
    return fresh


def login(client: TestClient, username: str = "admin", password: str = PASSWORD) -> Any:
    return anonymous(client).post(
        f"{API}/auth/login", json={"username": username, "password": password}
    )


def audit(admin: TestClient, kind: str) -> list[dict[str, Any]]:
    response = admin.get(f"{API}/audit", params={"kind": kind})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def test_login_sets_an_httponly_cookie_and_returns_a_bearer_token(admin: TestClient) -> None:
    response = login(admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == "admin" and body["user"]["is_admin"] is True
    assert body["token"].startswith("jimu_s_") and body["csrf_token"]
    cookie = response.headers["set-cookie"]
    assert "jimu_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    bearer = anonymous(admin).get(f"{API}/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert bearer.json()["username"] == "admin" and bearer.json()["via"] == "session"
    assert audit(admin, "auth.login")[0]["success"] is True


def test_cookie_requests_need_the_csrf_token_on_unsafe_methods(admin: TestClient) -> None:
    browser = anonymous(admin)
    body = browser.post(
        f"{API}/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()
    assert browser.get(f"{API}/me").json()["via"] == "cookie"
    refused = browser.post(f"{API}/tokens", json={"name": "脚本"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    wrong = browser.post(f"{API}/tokens", json={"name": "脚本"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    allowed = browser.post(
        f"{API}/tokens", json={"name": "脚本"}, headers={"X-CSRF-Token": body["csrf_token"]}
    )
    assert allowed.status_code == 201, allowed.text
    entries = audit(admin, "auth.csrf_failed")
    assert len(entries) == 2 and all(e["success"] is False for e in entries)


def test_wrong_passwords_are_401_then_throttled_with_429(admin: TestClient) -> None:
    for _ in range(5):
        response = login(admin, password="wrong password")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_credentials"
    throttled = login(admin)
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert len([e for e in audit(admin, "auth.login") if not e["success"]]) == 5
    assert audit(admin, "auth.login_throttled")


def test_unknown_users_and_inactive_users_cannot_sign_in(admin: TestClient) -> None:
    assert login(admin, "nobody").status_code == 401
    user = admin.post(
        f"{API}/users", json={"username": "li", "display_name": "李四", "password": "password-1"}
    ).json()
    assert login(admin, "li", "password-1").status_code == 200
    admin.patch(f"{API}/users/{user['id']}", json={"is_active": False})
    assert login(admin, "li", "password-1").status_code == 401


def test_logout_ends_the_session(admin: TestClient) -> None:
    token = login(admin).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous(admin).post(f"{API}/auth/logout", headers=headers).status_code == 204
    assert anonymous(admin).get(f"{API}/me", headers=headers).status_code == 401


def test_password_change(admin: TestClient) -> None:
    first = login(admin).json()["token"]
    second = login(admin).json()["token"]
    headers = {"Authorization": f"Bearer {second}"}
    bad = anonymous(admin).post(
        f"{API}/auth/password",
        json={"current_password": "x", "new_password": "short"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert {i["path"] for i in bad.json()["error"]["issues"]} == {
        "current_password",
        "new_password",
    }
    ok = anonymous(admin).post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": "a much better one"},
        headers=headers,
    )
    assert ok.status_code == 204
    assert (
        anonymous(admin).get(f"{API}/me", headers={"Authorization": f"Bearer {first}"}).status_code
        == 401
    )
    assert anonymous(admin).get(f"{API}/me", headers=headers).status_code == 200
    assert login(admin, password=PASSWORD).status_code == 401
    assert login(admin, password="a much better one").status_code == 200


def test_api_tokens_are_scoped_read_only_and_revocable(admin: TestClient) -> None:
    session = {"Authorization": f"Bearer {login(admin).json()['token']}"}
    created = (
        anonymous(admin)
        .post(f"{API}/tokens", json={"name": "报表脚本", "apps": ["crm"]}, headers=session)
        .json()
    )
    token = created["token"]
    assert token.startswith("jimu_t_") and created["can_write"] is False
    listed = anonymous(admin).get(f"{API}/tokens", headers=session).json()
    assert "token" not in listed[0] and listed[0]["prefix"] == token[:11]
    scoped = {"Authorization": f"Bearer {token}"}
    assert anonymous(admin).get(f"{API}/me", headers=scoped).json()["token_apps"] == ["crm"]
    assert anonymous(admin).get(f"{API}/users", headers=scoped).status_code == 403
    assert (
        anonymous(admin).post(f"{API}/tokens", json={"name": "x"}, headers=scoped).status_code
        == 403
    )
    writer = (
        anonymous(admin)
        .post(f"{API}/tokens", json={"name": "写", "can_write": True}, headers=session)
        .json()
    )
    assert (
        anonymous(admin)
        .get(f"{API}/users", headers={"Authorization": f"Bearer {writer['token']}"})
        .status_code
        == 200
    )
    reader = anonymous(admin).post(f"{API}/tokens", json={"name": "读"}, headers=session).json()
    read_only = {"Authorization": f"Bearer {reader['token']}"}
    assert anonymous(admin).get(f"{API}/users", headers=read_only).status_code == 200
    refused = anonymous(admin).post(
        f"{API}/users", json={"username": "x", "display_name": "X"}, headers=read_only
    )
    assert refused.status_code == 403
    assert (
        anonymous(admin).delete(f"{API}/tokens/{created['id']}", headers=session).status_code == 204
    )
    assert anonymous(admin).get(f"{API}/me", headers=scoped).status_code == 401
    assert (
        anonymous(admin)
        .get(f"{API}/me", headers={"Authorization": "Bearer jimu_t_made-up"})
        .status_code
        == 401
    )
    assert audit(admin, "auth.bad_token")


def test_the_admin_token_still_works_and_anonymous_callers_get_401(admin: TestClient) -> None:
    assert admin.get(f"{API}/me").json()["via"] == "admin_token"
    assert anonymous(admin).get(f"{API}/users").status_code == 401
    assert anonymous(admin).get(f"{API}/apps").status_code == 401


def test_members_cannot_administer(admin: TestClient) -> None:
    admin.post(
        f"{API}/users", json={"username": "zhang", "display_name": "张三", "password": "password-2"}
    )
    member = {"Authorization": f"Bearer {login(admin, 'zhang', 'password-2').json()['token']}"}
    assert anonymous(admin).get(f"{API}/me", headers=member).json()["is_admin"] is False
    assert anonymous(admin).get(f"{API}/users", headers=member).status_code == 403
    assert anonymous(admin).get(f"{API}/audit", headers=member).status_code == 403


def test_members_pick_colleagues_from_the_directory_without_their_contact_details(
    admin: TestClient,
) -> None:
    sales = admin.post(f"{API}/departments", json={"name": "销售部"}).json()["id"]
    admin.post(
        f"{API}/users",
        json={
            "username": "zhang",
            "display_name": "张三",
            "password": "password-2",
            "phone": "13800000000",
            "department_id": sales,
        },
    )
    admin.post(
        f"{API}/users",
        json={
            "username": "zhangwei",
            "display_name": "张伟",
            "password": "password-3",
            "email": "w@example.com",
        },
    )
    admin.post(
        f"{API}/users",
        json={
            "username": "zhao",
            "display_name": "赵六",
            "password": "password-4",
            "is_active": False,
        },
    )
    admin.post(
        f"{API}/users", json={"username": "zhuang", "display_name": "庄七"}
    )  # no password: cannot sign in
    member = {"Authorization": f"Bearer {login(admin, 'zhang', 'password-2').json()['token']}"}
    found = anonymous(admin).get(f"{API}/directory/users", params={"q": "张"}, headers=member)
    assert found.status_code == 200
    assert [(u["username"], u["name"], u["department"]) for u in found.json()] == [
        ("zhang", "张三", "销售部"),
        ("zhangwei", "张伟", None),
    ]
    assert all(set(u) == {"id", "name", "username", "department"} for u in found.json())
    assert "zhao" not in {
        u["username"]
        for u in anonymous(admin)
        .get(f"{API}/directory/users", params={"q": "zh"}, headers=member)
        .json()
    }
    assert "zhuang" not in {
        u["username"]
        for u in anonymous(admin)
        .get(f"{API}/directory/users", params={"q": "zh"}, headers=member)
        .json()
    }
    tree = anonymous(admin).get(f"{API}/directory/departments", headers=member).json()
    assert {"id": sales, "name": "销售部", "parent_id": None} in tree
    assert anonymous(admin).get(f"{API}/directory/users").status_code == 401
    assert (
        anonymous(admin)
        .get(f"{API}/directory/users", params={"limit": 0}, headers=member)
        .status_code
        == 400
    )


def test_department_tree_members_and_cycles(admin: TestClient) -> None:
    sales = admin.post(f"{API}/departments", json={"name": "销售部"}).json()
    team1 = admin.post(
        f"{API}/departments", json={"name": "销售一组", "parent_id": sales["id"]}
    ).json()
    team2 = admin.post(
        f"{API}/departments", json={"name": "销售二组", "parent_id": sales["id"]}
    ).json()
    a = admin.post(
        f"{API}/users", json={"username": "a", "display_name": "甲", "department_id": team1["id"]}
    ).json()
    b = admin.post(
        f"{API}/users", json={"username": "b", "display_name": "乙", "department_id": team2["id"]}
    ).json()
    c = admin.post(
        f"{API}/users",
        json={"username": "c", "display_name": "丙", "department_ids": [sales["id"]]},
    ).json()
    everyone = admin.get(f"{API}/departments/{sales['id']}/members").json()
    assert {u["id"] for u in everyone} == {a["id"], b["id"], c["id"]}
    own = admin.get(f"{API}/departments/{sales['id']}/members", params={"children": "false"}).json()
    assert [u["id"] for u in own] == [c["id"]]
    cycle = admin.patch(f"{API}/departments/{sales['id']}", json={"parent_id": team1["id"]})
    assert cycle.status_code == 422 and cycle.json()["error"]["issues"][0]["code"] == "cycle"
    head = admin.patch(f"{API}/departments/{sales['id']}", json={"head_user_id": c["id"]}).json()
    assert head["head_user_id"] == c["id"]


def test_user_validation_is_field_level(admin: TestClient) -> None:
    admin.post(f"{API}/users", json={"username": "wang", "display_name": "王五"})
    response = admin.post(
        f"{API}/users",
        json={"username": "wang", "display_name": "王五", "password": "123", "department_id": 999},
    )
    assert response.status_code == 422
    assert {i["path"] for i in response.json()["error"]["issues"]} == {
        "username",
        "password",
        "department_id",
    }


def test_roles_and_members(admin: TestClient) -> None:
    role = admin.post(
        f"{API}/roles", json={"key": "auditors", "name": {"zh": "审计", "en": "Auditors"}}
    ).json()
    user = admin.post(f"{API}/users", json={"username": "zhao", "display_name": "赵六"}).json()
    member = admin.post(f"{API}/roles/{role['id']}/members", json={"user_id": user["id"]})
    assert member.status_code == 201
    assert admin.post(f"{API}/roles/{role['id']}/members", json={}).status_code == 422
    assert admin.get(f"{API}/roles").json()[0]["members"][0]["user_id"] == user["id"]
    assert admin.post(f"{API}/roles", json={"key": "auditors"}).status_code == 422
    assert (
        admin.delete(f"{API}/roles/{role['id']}/members/{member.json()['id']}").status_code == 204
    )


def test_secrets_never_reach_responses_or_the_audit_log(
    admin: TestClient, migrated_engine: Engine
) -> None:
    session = login(admin).json()["token"]
    created = (
        anonymous(admin)
        .post(f"{API}/tokens", json={"name": "t"}, headers={"Authorization": f"Bearer {session}"})
        .json()
    )
    admin.post(
        f"{API}/users",
        json={"username": "sun", "display_name": "孙七", "password": "s3cret-password"},
    )
    admin.patch(f"{API}/users/2", json={"password": "another-s3cret"})
    login(admin, "admin", "typo-password")
    with migrated_engine.connect() as conn:
        dumped = json.dumps(
            [
                list(row)
                for table in ("audit_log", "auth_sessions", "api_tokens")
                for row in conn.execute(text(f"SELECT * FROM {table}"))
            ],
            default=str,
            ensure_ascii=False,
        )
    for secret in (
        PASSWORD,
        "s3cret-password",
        "another-s3cret",
        "typo-password",
        session,
        created["token"],
        TOKEN,
    ):
        assert secret not in dumped
    users = json.dumps(admin.get(f"{API}/users").json())
    assert "password" not in users and "argon2" not in users


def test_first_start_creates_admin_with_a_printed_password(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    with api_client(migrated_engine, tmp_path) as client:
        with migrated_engine.begin() as conn:
            created = ensure_admin(conn, None)
            assert ensure_admin(conn, None) is None
        assert created is not None and created.password
        assert login(client, "admin", created.password).status_code == 200


def test_definition_changes_and_exports_are_audited(admin: TestClient) -> None:
    app = {
        "format": "jimu.app/1",
        "key": "tiny",
        "name": "T",
        "version": "1",
        "forms": [{"key": "f", "name": "F", "fields": [{"key": "a", "type": "text"}]}],
    }
    assert admin.post(f"{API}/apps", json=app).status_code == 201
    current = admin.get(f"{API}/apps/tiny").json()
    current["forms"][0]["fields"].append({"key": "b", "type": "number"})
    assert admin.put(f"{API}/apps/tiny", json=current).status_code == 200
    assert admin.get(f"{API}/apps/tiny/export", params={"data": "true"}).status_code == 200
    [created] = audit(admin, "app.create")
    [published] = audit(admin, "app.publish")
    [exported] = audit(admin, "app.export")
    assert created["subject"] == published["subject"] == "tiny"
    assert published["detail"]["steps"] == [{"op": "add_field", "form": "f", "field": "b"}]
    assert exported["detail"] == {"data": True, "records": 0}
    assert len(audit(admin, "app.")) == 3
