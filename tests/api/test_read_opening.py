"""A records read authenticates inside the one statement that opens it (engine.api.opening):
every change to a caller's standing takes effect on the very next read, on SQLite and
PostgreSQL — a logout, a revoked or expired API token, a deactivated user, a role taken away
or given, a department change under a "department" scope, a new revision — and refusals are
the same as on every other route (401 without or with a bad credential, audited for unknown
Bearer tokens; 404 for an app a token may not use).

Nothing about the caller or the app is cached between requests, so what holds for the next
request in this process holds in every worker process (each reads the same rows)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from engine.store.models import ApiToken, utcnow
from tests.auth.crm_org import API, USERS, installed_crm

PASSWORD = USERS["password"]
CUSTOMERS = f"{API}/apps/crm/forms/customer"
_users = itertools.count(1)
# What a sales rep gets from list, get, history, recycle bin (it needs the delete action,
# which the role lacks: 403) and permissions/me.
REP = [200, 200, 200, 403, 200]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def client(crm: dict[str, Any], bearer: str | None = None) -> TestClient:
    made = TestClient(crm["app"], raise_server_exceptions=False)
    if bearer:
        made.headers["Authorization"] = f"Bearer {bearer}"
    return made


def admin(crm: dict[str, Any]) -> TestClient:
    found: TestClient = crm["clients"]["admin"]
    return found


def sales_role(crm: dict[str, Any]) -> int:
    roles = admin(crm).get(f"{API}/roles", params={"app": "crm"}).json()
    return int(next(r["id"] for r in roles if r["key"] == "sales_rep"))


def new_rep(crm: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A new sales rep and their membership id in the sales role."""
    user = admin(crm).post(
        f"{API}/users",
        json={"username": f"opening_rep{next(_users)}", "display_name": "读", "password": PASSWORD},
    )
    assert user.status_code == 201, user.text
    member = admin(crm).post(
        f"{API}/roles/{sales_role(crm)}/members", json={"user_id": user.json()["id"]}
    )
    assert member.status_code == 201, member.text
    return user.json(), int(member.json()["id"])


def session_of(crm: dict[str, Any], username: str) -> tuple[TestClient, str]:
    """A client with a new session of `username` (Bearer) and the session token."""
    login = client(crm).post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    made = client(crm, login.json()["token"])
    if not made.get(f"{CUSTOMERS}/records", params={"limit": 1}).json()["items"]:
        created = made.post(f"{CUSTOMERS}/records", json={"name": f"{username} 的客户"})
        assert created.status_code == 201, created.text  # a record of their own to read
    return made, login.json()["token"]


def statuses(reader: TestClient) -> list[int]:
    """The status of each records read route for `reader` (the first customer it sees)."""
    listed = reader.get(f"{CUSTOMERS}/records", params={"limit": 1})
    if listed.status_code != 200:
        return [listed.status_code]
    first = listed.json()["items"][0]["_id"]
    return [
        listed.status_code,
        reader.get(f"{CUSTOMERS}/records/{first}").status_code,
        reader.get(f"{CUSTOMERS}/records/{first}/history").status_code,
        reader.get(f"{CUSTOMERS}/recycle-bin").status_code,
        reader.get(f"{CUSTOMERS}/permissions/me").status_code,
    ]


def test_a_logout_and_a_deactivation_refuse_the_next_read(crm: dict[str, Any]) -> None:
    rep, _ = new_rep(crm)
    reader, _ = session_of(crm, rep["username"])
    assert statuses(reader) == REP
    assert reader.post(f"{API}/auth/logout").status_code == 204
    assert statuses(reader) == [401]
    again, _ = session_of(crm, rep["username"])
    assert statuses(again) == REP
    off = admin(crm).patch(f"{API}/users/{rep['id']}", json={"is_active": False})
    assert off.status_code == 200, off.text
    assert statuses(again) == [401]


def test_a_cookie_session_reads_and_its_end_is_seen_at_once(crm: dict[str, Any]) -> None:
    rep, _ = new_rep(crm)
    _, token = session_of(crm, rep["username"])
    browser = client(crm)
    browser.cookies.set("jimu_session", token)
    assert statuses(browser) == REP
    with crm["engine"].begin() as conn:  # the session expires
        from engine.store.models import AuthSession

        conn.execute(
            update(AuthSession)
            .where(AuthSession.user_id == rep["id"])
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert statuses(browser) == [401]


def test_api_tokens_revoked_expired_or_limited_to_other_apps(crm: dict[str, Any]) -> None:
    rep, _ = new_rep(crm)
    session, _ = session_of(crm, rep["username"])
    made = session.post(f"{API}/tokens", json={"name": "读脚本", "can_write": False})
    assert made.status_code == 201, made.text
    script = client(crm, made.json()["token"])
    assert statuses(script) == REP  # a read-only token reads
    assert session.delete(f"{API}/tokens/{made.json()['id']}").status_code == 204
    assert statuses(script) == [401]

    other = session.post(f"{API}/tokens", json={"name": "别的应用", "apps": ["hr"]})
    assert other.status_code == 201, other.text
    assert statuses(client(crm, other.json()["token"])) == [404]  # no existence leak

    expiring = session.post(f"{API}/tokens", json={"name": "到期"})
    assert expiring.status_code == 201, expiring.text
    late = client(crm, expiring.json()["token"])
    assert statuses(late) == REP
    with crm["engine"].begin() as conn:
        conn.execute(
            update(ApiToken)
            .where(ApiToken.id == expiring.json()["id"])
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert statuses(late) == [401]


def test_a_role_taken_away_or_given_counts_on_the_next_read(crm: dict[str, Any]) -> None:
    rep, membership = new_rep(crm)
    reader, _ = session_of(crm, rep["username"])
    assert statuses(reader) == REP
    role = sales_role(crm)
    assert admin(crm).delete(f"{API}/roles/{role}/members/{membership}").status_code == 204
    assert statuses(reader) == [404]  # the form is no longer theirs to see
    given = admin(crm).post(f"{API}/roles/{role}/members", json={"user_id": rep["id"]})
    assert given.status_code == 201, given.text
    assert statuses(reader) == REP


def test_the_caller_s_departments_are_read_on_every_request(crm: dict[str, Any]) -> None:
    """An administrator's CURRENT_DEPARTMENTS() in a filter follows a department change."""
    departments = admin(crm).get(f"{API}/departments").json()
    first, second = departments[0]["id"], departments[1]["id"]
    me = admin(crm).get(f"{API}/me").json()
    condition = {"filter": f"CONTAINS(CURRENT_DEPARTMENTS(), {second})", "limit": 1}
    moved = admin(crm).patch(f"{API}/users/{me['id']}", json={"department_id": first})
    assert moved.status_code == 200, moved.text
    assert admin(crm).get(f"{CUSTOMERS}/records", params=condition).json()["items"] == []
    moved = admin(crm).patch(f"{API}/users/{me['id']}", json={"department_id": second})
    assert moved.status_code == 200, moved.text
    assert len(admin(crm).get(f"{CUSTOMERS}/records", params=condition).json()["items"]) == 1


def test_a_new_revision_is_read_by_the_next_request(crm: dict[str, Any]) -> None:
    definition = admin(crm).get(f"{API}/apps/crm").json()
    customer = next(f for f in definition["forms"] if f["key"] == "customer")
    customer["fields"].append({"key": "opening_probe", "type": "text", "label": "探针"})
    published = admin(crm).put(f"{API}/apps/crm", json=definition)
    assert published.status_code == 200, published.text
    item = admin(crm).get(f"{CUSTOMERS}/records", params={"limit": 1}).json()["items"][0]
    assert "opening_probe" in item
    got = admin(crm).get(f"{CUSTOMERS}/records/{item['_id']}").json()
    assert "opening_probe" in got


def test_refusals_without_or_with_a_bad_credential(crm: dict[str, Any]) -> None:
    anonymous = client(crm)
    # No credential: 401 before the parameters are checked (limit=-1 is out of range).
    for path in ("/records", "/records/1", "/records/1/history", "/recycle-bin"):
        refused = anonymous.get(f"{CUSTOMERS}{path}", params={"limit": -1})
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json()["error"]["code"] == "unauthorized"
    unknown = client(crm, "jimu_s_not-a-real-session-token")
    before = len(audited(crm))
    assert statuses(unknown) == [401]
    assert len(audited(crm)) == before + 1  # an unknown Bearer token is written down
    assert statuses(client(crm, "garbage")) == [401]
    # A credential that is there but not valid: its 401 too comes before the parameters'
    # refusal, so a stranger never learns which parameters are wrong.
    for bad in (client(crm, "jimu_s_not-a-real-session-token"), client(crm, "garbage")):
        for path in ("/records", "/records/1/history", "/recycle-bin"):
            refused = bad.get(f"{CUSTOMERS}{path}", params={"limit": -1})
            assert refused.status_code == 401, (path, refused.text)
    valid = admin(crm).get(f"{CUSTOMERS}/records", params={"limit": -1})
    assert valid.status_code == 400, valid.text  # a valid caller still hears about it


def audited(crm: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (
        admin(crm).get(f"{API}/audit", params={"kind": "auth.bad_token", "limit": 500}).json()
    )
    return entries
