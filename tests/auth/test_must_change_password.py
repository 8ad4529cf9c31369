"""A password an administrator gives someone must be changed at their next sign-in, through the
HTTP API on SQLite and PostgreSQL: which paths set `must_change_password` (a new user with
the flag, a reset given or generated, the Excel import) and which do not (scripts' default,
an administrator's own password), the 403 `password_change_required` on everything but `/me`,
the password change and signing out, and the change that clears it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from engine.auth.directory import ensure_admin
from engine.store.models import User
from tests.api.records_client import API, api_client
from tests.auth.test_org_admin import upload, workbook

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(migrated_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """A client with the admin token and the user `admin`."""
    with api_client(migrated_engine, tmp_path) as client:
        with migrated_engine.begin() as conn:
            ensure_admin(conn, PASSWORD)
        yield client


def sign_in(admin: TestClient, username: str, password: str) -> tuple[TestClient, Any]:
    """A client signed in as `username` through the cookie (as the browser is), and the answer."""
    client = TestClient(admin.app, raise_server_exceptions=False)
    answer = client.post(f"{API}/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client, answer.json()


def flag(engine: Engine, username: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                select(User.must_change_password).where(User.username == username)
            ).scalar_one()
        )


def _listed(admin: TestClient, username: str) -> bool:
    """The flag as the 通讯录's user list (`GET /org/users`) answers it."""
    answer = admin.get(f"{API}/org/users", params={"q": username})
    assert answer.status_code == 200, answer.text
    [person] = [u for u in answer.json()["users"] if u["username"] == username]
    return bool(person["must_change_password"])


def held(client: TestClient) -> None:
    """Every call but /me, the password change and signing out is refused."""
    for method, path in (
        ("GET", "/apps"),
        ("GET", "/tasks"),
        ("GET", "/org/users"),
        ("POST", "/tokens"),
        ("GET", "/notifications"),
    ):
        answer = client.request(method, f"{API}{path}", json={"name": "t"})
        assert answer.status_code == 403, (method, path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "password_change_required"
    english = client.get(f"{API}/apps", headers={"Accept-Language": "en"}).json()["error"]
    assert "changed first" in english["message"]
    chinese = client.get(f"{API}/apps").json()["error"]
    assert "修改密码" in chinese["message"]


def test_a_new_user_with_the_flag_must_change_before_anything_else(
    admin: TestClient, migrated_engine: Engine
) -> None:
    created = admin.post(
        f"{API}/users",
        json={
            "username": "li",
            "display_name": "李四",
            "password": "initial-pass-1",
            "must_change_password": True,
        },
    )
    assert created.status_code == 201, created.text
    assert "must_change_password" not in created.json()  # the user model keeps its shape
    assert _listed(admin, "li") is True  # the 通讯录 shows the flag (its 需改密 tag)
    client, login = sign_in(admin, "li", "initial-pass-1")
    assert login["user"]["must_change_password"] is True
    me = client.get(f"{API}/me")
    assert me.status_code == 200 and me.json()["must_change_password"] is True
    held(client)
    # a wrong current password or a weak new one is refused and changes nothing
    wrong = client.post(
        f"{API}/auth/password",
        json={"current_password": "nope", "new_password": "initial-pass-2"},
    )
    assert wrong.status_code == 422
    assert [i["path"] for i in wrong.json()["error"]["issues"]] == ["current_password"]
    assert flag(migrated_engine, "li")
    changed = client.post(
        f"{API}/auth/password",
        json={"current_password": "initial-pass-1", "new_password": "my-own-pass-1"},
    )
    assert changed.status_code == 204, changed.text
    assert not flag(migrated_engine, "li")
    assert _listed(admin, "li") is False
    assert client.get(f"{API}/me").json()["must_change_password"] is False
    assert client.get(f"{API}/apps").status_code == 200  # the same session goes on
    _, again = sign_in(admin, "li", "my-own-pass-1")
    assert again["user"]["must_change_password"] is False


def test_signing_out_is_allowed_while_held(admin: TestClient) -> None:
    admin.post(
        f"{API}/users",
        json={
            "username": "wu",
            "display_name": "吴",
            "password": "initial-pass-1",
            "must_change_password": True,
        },
    )
    client, login = sign_in(admin, "wu", "initial-pass-1")
    bearer = {"Authorization": f"Bearer {login['token']}"}
    anonymous = TestClient(admin.app, raise_server_exceptions=False)
    assert anonymous.get(f"{API}/apps", headers=bearer).status_code == 403  # Bearer sessions too
    assert client.post(f"{API}/auth/logout").status_code == 204
    assert client.get(f"{API}/me").status_code == 401


def test_scripts_default_and_own_passwords_do_not_set_it(
    admin: TestClient, migrated_engine: Engine
) -> None:
    plain = admin.post(
        f"{API}/users", json={"username": "bot", "display_name": "Bot", "password": "bot-pass-12"}
    )
    assert plain.status_code == 201
    assert not flag(migrated_engine, "bot")
    client, login = sign_in(admin, "bot", "bot-pass-12")
    assert login["user"]["must_change_password"] is False
    assert client.get(f"{API}/apps").status_code == 200
    # an administrator setting their own password (PATCH or the reset route) is not held
    boss, _ = sign_in(admin, "admin", PASSWORD)
    admin_id = boss.get(f"{API}/me").json()["id"]
    own = boss.patch(
        f"{API}/users/{admin_id}",
        json={"password": "admin-pass-22", "must_change_password": True},
    )
    assert own.status_code == 200, own.text
    assert not flag(migrated_engine, "admin")
    reset = boss.post(f"{API}/users/{admin_id}/password", json={"password": "admin-pass-33"})
    assert reset.status_code == 200
    assert not flag(migrated_engine, "admin")
    assert boss.get(f"{API}/apps").status_code == 200
    # PATCH of someone else with the flag sets it; a bad flag value is refused at its path
    bot_id = plain.json()["id"]
    bad = boss.patch(f"{API}/users/{bot_id}", json={"must_change_password": "soon"})
    assert bad.status_code == 400
    assert [i["path"] for i in bad.json()["error"]["issues"]] == ["must_change_password"]
    assert not flag(migrated_engine, "bot")
    patched = boss.patch(
        f"{API}/users/{bot_id}", json={"password": "bot-pass-13", "must_change_password": True}
    )
    assert patched.status_code == 200
    assert flag(migrated_engine, "bot")


def test_a_reset_given_or_generated_sets_it_and_tokens_do_not_hold_it(
    admin: TestClient, migrated_engine: Engine
) -> None:
    li = admin.post(
        f"{API}/users", json={"username": "li", "display_name": "李四", "password": "li-pass-123"}
    ).json()
    client, _ = sign_in(admin, "li", "li-pass-123")
    token = client.post(f"{API}/tokens", json={"name": "mine", "can_write": True})
    assert token.status_code == 201, token.text
    generated = admin.post(f"{API}/users/{li['id']}/password", json={}).json()["password"]
    assert flag(migrated_engine, "li")
    anonymous = TestClient(admin.app, raise_server_exceptions=False)
    old = {"Authorization": f"Bearer {token.json()['token']}"}
    assert anonymous.get(f"{API}/apps", headers=old).status_code == 401  # revoked by the reset
    client, login = sign_in(admin, "li", generated)
    assert login["user"]["must_change_password"] is True
    held(client)
    assert (
        client.post(
            f"{API}/auth/password",
            json={"current_password": generated, "new_password": "li-pass-456"},
        ).status_code
        == 204
    )
    assert not flag(migrated_engine, "li")
    given = admin.post(f"{API}/users/{li['id']}/password", json={"password": "li-pass-789"})
    assert given.status_code == 200
    assert flag(migrated_engine, "li")
    client, _ = sign_in(admin, "li", "li-pass-789")
    held(client)
    # a weak given password is refused and leaves the flag as it was
    with migrated_engine.begin() as conn:
        conn.execute(User.__table__.update().values(must_change_password=False))
    weak = admin.post(f"{API}/users/{li['id']}/password", json={"password": "123"})
    assert weak.status_code == 422
    assert not flag(migrated_engine, "li")


def test_imported_users_must_change_their_initial_passwords(
    admin: TestClient, migrated_engine: Engine
) -> None:
    data = workbook(
        [["总部", "", ""]],
        [
            ["lei", "李雷", "总部", "", "", "", "", "password-1"],
            ["mei", "韩梅梅", "总部", "", "", "", "", ""],
        ],
    )
    dry = upload(admin, data, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert not any(admin.get(f"{API}/users", params={"q": name}).json() for name in ("lei", "mei"))
    done = upload(admin, data, dry_run=False)
    assert done.status_code == 200, done.text
    assert flag(migrated_engine, "lei") and flag(migrated_engine, "mei")
    generated = {p["username"]: p["password"] for p in done.json()["passwords"]}
    client, login = sign_in(admin, "mei", generated["mei"])
    assert login["user"]["must_change_password"] is True
    held(client)
    client, _ = sign_in(admin, "lei", "password-1")
    held(client)
