"""Attacks on credentials on the stock CRM, on SQLite and PostgreSQL (issue 10, findings 5, 6
and 9): credentials that survived a password change, reset or deactivation, tokens that never
expired, a targeted lockout through failed sign-ins from spoofable addresses, and passwords
of nothing but spaces."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.auth import sessions
from engine.auth.directory import import_org_chart
from engine.core.errors import ServiceError
from engine.settings import Settings
from engine.store.models import ApiToken, AuditEntry, User, utcnow
from tests.auth.crm_org import API, TOKEN, USERS, installed_crm

PASSWORD = USERS["password"]
_addresses = itertools.count(1)
_users = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One CRM installation with sample data per database for the whole module."""
    yield from installed_crm(request, tmp_path_factory)


def address() -> str:
    """A fresh documentation address (TEST-NET-2), so tests do not throttle one another."""
    number = next(_addresses)
    return f"198.51.{100 + number // 250}.{number % 250 + 1}"


def client_from(
    crm: dict[str, Any], ip: str | None = None, bearer: str | None = None
) -> TestClient:
    client = TestClient(crm["app"], raise_server_exceptions=False, client=(ip or address(), 40000))
    if bearer:
        client.headers["Authorization"] = f"Bearer {bearer}"
    return client


def login(
    crm: dict[str, Any],
    username: str,
    password: str = PASSWORD,
    ip: str | None = None,
    **headers: str,
) -> Any:
    return client_from(crm, ip).post(
        f"{API}/auth/login", json={"username": username, "password": password}, headers=headers
    )


def audit(crm: dict[str, Any], kind: str, limit: int = 200) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (
        crm["clients"]["admin"].get(f"{API}/audit", params={"kind": kind, "limit": limit}).json()
    )
    return entries


def new_rep(crm: dict[str, Any]) -> dict[str, Any]:
    """A new sales rep (the CRM's 销售代表 role) with the demo password."""
    admin = crm["clients"]["admin"]
    user = admin.post(
        f"{API}/users",
        json={"username": f"rep_new{next(_users)}", "display_name": "新销售", "password": PASSWORD},
    )
    assert user.status_code == 201, user.text
    role = next(
        r
        for r in admin.get(f"{API}/roles", params={"app": "crm"}).json()
        if r["key"] == "sales_rep"
    )
    assert (
        admin.post(
            f"{API}/roles/{role['id']}/members", json={"user_id": user.json()["id"]}
        ).status_code
        == 201
    )
    created: dict[str, Any] = user.json()
    return created


def signed_in(crm: dict[str, Any], username: str, password: str = PASSWORD) -> TestClient:
    """A client holding a new session of `username` as its Bearer token."""
    response = login(crm, username, password)
    assert response.status_code == 200, response.text
    return client_from(crm, bearer=response.json()["token"])


def token_of(crm: dict[str, Any], session: TestClient, **body: Any) -> TestClient:
    """A client holding a new API token made through `session`."""
    created = session.post(f"{API}/tokens", json={"name": "脚本", **body})
    assert created.status_code == 201, created.text
    return client_from(crm, bearer=created.json()["token"])


def writes(client: TestClient) -> int:
    """The status of creating a lead."""
    return int(
        client.post(f"{API}/apps/crm/forms/lead/records", json={"name": "探测线索"}).status_code
    )


def reads(client: TestClient) -> int:
    return int(client.get(f"{API}/me").status_code)


# --- finding 5: credentials survive a password change ----------------------------------------


def test_a_password_change_revokes_api_tokens_and_other_sessions(crm: dict[str, Any]) -> None:
    rep = new_rep(crm)
    laptop, phone = signed_in(crm, rep["username"]), signed_in(crm, rep["username"])
    script = token_of(crm, laptop, can_write=True, apps=["crm"])
    assert writes(script) == 201 and reads(laptop) == 200  # the attack: this token kept writing
    changed = phone.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": "Another-Pass-2026"},
    )
    assert changed.status_code == 204, changed.text
    assert writes(script) == 401 and reads(script) == 401
    assert reads(laptop) == 401
    assert reads(phone) == 200 and writes(phone) == 201  # the session that changed it stays
    entry = next(e for e in audit(crm, "auth.password") if e["subject"] == rep["username"])
    assert entry["success"] and entry["detail"]["revoked"] == {"sessions": 1, "tokens": 1}


def test_a_password_change_may_keep_the_api_tokens_when_asked(crm: dict[str, Any]) -> None:
    rep = new_rep(crm)
    laptop, phone = signed_in(crm, rep["username"]), signed_in(crm, rep["username"])
    script = token_of(crm, laptop, can_write=True)
    body = {
        "current_password": PASSWORD,
        "new_password": "Another-Pass-2026",
        "revoke_tokens": False,
    }
    assert phone.post(f"{API}/auth/password", json=body).status_code == 204
    assert writes(script) == 201
    assert reads(laptop) == 401


def test_an_admin_reset_ends_every_session_and_token_of_the_user(crm: dict[str, Any]) -> None:
    rep = new_rep(crm)
    session = signed_in(crm, rep["username"])
    script = token_of(crm, session, can_write=True)
    reset = crm["clients"]["admin"].patch(
        f"{API}/users/{rep['id']}", json={"password": "Reset-By-Admin-1"}
    )
    assert reset.status_code == 200, reset.text
    assert reads(session) == 401 and writes(script) == 401
    assert login(crm, rep["username"]).status_code == 401
    assert login(crm, rep["username"], "Reset-By-Admin-1").status_code == 200
    entry = next(e for e in audit(crm, "user.update") if e["detail"]["id"] == rep["id"])
    assert entry["detail"]["revoked"] == {"sessions": 1, "tokens": 1}


def test_an_administrator_resetting_their_own_password_keeps_this_session(
    crm: dict[str, Any],
) -> None:
    admin = crm["clients"]["admin"]
    boss = admin.post(
        f"{API}/users",
        json={
            "username": f"boss{next(_users)}",
            "display_name": "老板",
            "password": PASSWORD,
            "is_admin": True,
        },
    )
    here, elsewhere = (
        signed_in(crm, boss.json()["username"]),
        signed_in(crm, boss.json()["username"]),
    )
    assert (
        here.patch(
            f"{API}/users/{boss.json()['id']}", json={"password": "Boss-New-Pass-1"}
        ).status_code
        == 200
    )
    assert reads(here) == 200 and reads(elsewhere) == 401


def test_deactivating_then_reactivating_revives_no_session_or_token(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    rep = new_rep(crm)
    session = signed_in(crm, rep["username"])
    script = token_of(crm, session, can_write=True)
    assert admin.patch(f"{API}/users/{rep['id']}", json={"is_active": False}).status_code == 200
    assert reads(session) == 401 and writes(script) == 401
    assert admin.patch(f"{API}/users/{rep['id']}", json={"is_active": True}).status_code == 200
    assert reads(session) == 401 and writes(script) == 401  # the attack: both worked again here
    fresh = signed_in(crm, rep["username"])
    assert reads(fresh) == 200 and writes(fresh) == 201


def test_api_tokens_expire_after_90_days_by_default_and_at_most_after_a_year(
    crm: dict[str, Any],
) -> None:
    session = signed_in(crm, new_rep(crm)["username"])
    created = session.post(f"{API}/tokens", json={"name": "默认"}).json()
    expires = dt.datetime.fromisoformat(created["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=89) < expires - utcnow() <= dt.timedelta(days=90)
    week = session.post(f"{API}/tokens", json={"name": "一周", "expires_in_days": 7}).json()
    assert (
        dt.timedelta(days=6)
        < dt.datetime.fromisoformat(week["expires_at"].replace("Z", "+00:00")) - utcnow()
        <= dt.timedelta(days=7)
    )
    for days in (366, 0, None):
        refused = session.post(f"{API}/tokens", json={"name": "永久", "expires_in_days": days})
        assert (
            refused.status_code == 400
            and refused.json()["error"]["issues"][0]["path"] == "expires_in_days"
        )
    script = client_from(crm, bearer=created["token"])
    assert reads(script) == 200
    with crm["engine"].begin() as conn:
        conn.execute(
            update(ApiToken)
            .where(ApiToken.id == created["id"])
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert reads(script) == 401
    assert (
        reads(crm["clients"]["admin"]) == 200
    )  # the admin token from the environment never expires


def test_an_import_that_sets_a_password_ends_the_old_credentials(crm: dict[str, Any]) -> None:
    rep = new_rep(crm)
    session = signed_in(crm, rep["username"])
    script = token_of(crm, session)
    row = {"username": rep["username"], "display_name": "新销售", "password": "Imported-Pass-1"}
    with crm["engine"].begin() as conn:
        import_org_chart(conn, [row], actor_id=None)
    assert reads(session) == 401 and reads(script) == 401
    assert login(crm, rep["username"], "Imported-Pass-1").status_code == 200


# --- finding 9: passwords of nothing but spaces -----------------------------------------------


@pytest.mark.parametrize("weak", [" " * 8, "\u3000" * 12, "\u200b" * 9 + "\t", "  abc123  "])
def test_whitespace_and_trimmed_short_passwords_are_refused_everywhere(
    crm: dict[str, Any], weak: str
) -> None:
    admin = crm["clients"]["admin"]
    created = admin.post(
        f"{API}/users",
        json={"username": f"weak{next(_users)}", "display_name": "弱", "password": weak},
    )
    assert created.status_code == 422
    [issue] = created.json()["error"]["issues"]
    assert (
        issue["path"] == "password"
        and issue["code"] == "weak_password"
        and "密码" in issue["message"]
    )
    english = admin.post(
        f"{API}/users",
        json={"username": "weak_en", "display_name": "弱", "password": weak},
        headers={"Accept-Language": "en"},
    )
    assert "password" in english.json()["error"]["issues"][0]["message"].lower()
    rep = new_rep(crm)
    reset = admin.patch(f"{API}/users/{rep['id']}", json={"password": weak})
    assert reset.status_code == 422 and reset.json()["error"]["issues"][0]["path"] == "password"
    change = signed_in(crm, rep["username"]).post(
        f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": weak}
    )
    assert change.status_code == 422 and [i["path"] for i in change.json()["error"]["issues"]] == [
        "new_password"
    ]
    with crm["engine"].connect() as conn, pytest.raises(ServiceError) as raised:
        import_org_chart(
            conn,
            [{"username": "weak_import", "display_name": "弱", "password": weak}],
            actor_id=None,
        )
    assert [(i.path, i.code) for i in raised.value.issues] == [("[2].password", "weak_password")]
    assert login(crm, rep["username"]).status_code == 200  # nothing was written


def test_spaces_around_a_long_enough_password_are_kept(crm: dict[str, Any]) -> None:
    rep = new_rep(crm)
    session = signed_in(crm, rep["username"])
    body = {"current_password": PASSWORD, "new_password": "  padded password  "}
    assert session.post(f"{API}/auth/password", json=body).status_code == 204
    assert login(crm, rep["username"], "padded password").status_code == 401
    assert login(crm, rep["username"], "  padded password  ").status_code == 200


# --- finding 6: targeted lockout --------------------------------------------------------------


def test_failures_from_elsewhere_never_lock_out_the_right_password(crm: dict[str, Any]) -> None:
    attacker = address()
    answers = [
        login(crm, "director", f"guess-{n}", ip=attacker, **{"X-Forwarded-For": f"203.0.113.{n}"})
        for n in range(7)
    ]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 2
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(limited.headers["Retry-After"]) <= 15 * 60
    assert (
        login(crm, "director", ip=attacker).status_code == 429
    )  # this address waits, even with the password
    assert (
        login(crm, "director").status_code == 200
    )  # the attack: every address was locked out here
    failures = [
        e for e in audit(crm, "auth.login") if not e["success"] and e["subject"] == "director"
    ]
    assert {e["ip"] for e in failures} == {
        attacker
    }  # X-Forwarded-For from an untrusted peer is ignored
    throttled = [e for e in audit(crm, "auth.login_throttled") if e["subject"] == "director"]
    assert len(throttled) == 3 and all(
        e["ip"] == attacker and e["detail"]["retry_after"] >= 1 for e in throttled
    )


def test_one_address_trying_many_accounts_is_throttled_as_an_address(crm: dict[str, Any]) -> None:
    sprayer = address()
    answers = [
        login(crm, f"nobody{n}", "Jimu@2025", ip=sprayer).status_code
        for n in range(sessions.MAX_ADDRESS_FAILURES + 1)
    ]
    assert answers == [401] * sessions.MAX_ADDRESS_FAILURES + [429]
    refused = login(crm, "gm", ip=sprayer)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert login(crm, "gm").status_code == 200  # from an address without failures


def test_retry_after_counts_down_to_when_the_oldest_counted_failure_leaves_the_window(
    crm: dict[str, Any],
) -> None:
    ip = address()
    for n in range(sessions.MAX_FAILURES):
        assert login(crm, "finance", f"guess-{n}", ip=ip).status_code == 401
    with crm["engine"].begin() as conn:  # the failures happened 14 minutes ago
        failed = (AuditEntry.ip == ip) & (AuditEntry.kind == "auth.login")
        conn.execute(
            update(AuditEntry).where(failed).values(at=utcnow() - dt.timedelta(minutes=14))
        )
    limited = login(crm, "finance", ip=ip)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "1 分钟" in limited.json()["error"]["message"]
    with crm["engine"].begin() as conn:  # and now 15 minutes ago: out of the window
        failed = (AuditEntry.ip == ip) & (AuditEntry.kind == "auth.login")
        conn.execute(
            update(AuditEntry)
            .where(failed)
            .values(at=utcnow() - dt.timedelta(minutes=15, seconds=1))
        )
    assert login(crm, "finance", ip=ip).status_code == 200


def test_a_successful_sign_in_starts_the_count_afresh_for_its_address_only(
    crm: dict[str, Any],
) -> None:
    ip = address()
    for _round in range(2):
        for n in range(sessions.MAX_FAILURES - 1):
            assert login(crm, "rep_a1", f"typo-{n}", ip=ip).status_code == 401
        assert login(crm, "rep_a1", ip=ip).status_code == 200
    for n in range(sessions.MAX_FAILURES):
        assert login(crm, "rep_a1", f"typo-{n}", ip=ip).status_code == 401
    assert login(crm, "rep_a1", ip=ip).status_code == 429


@pytest.fixture
def behind_proxy(crm: dict[str, Any], tmp_path: Path) -> Iterator[TestClient]:
    """The same installation served behind a reverse proxy in 10.0.0.0/8 (the peer every
    request of the returned client comes from is 10.1.2.3)."""
    settings = Settings(
        data_dir=tmp_path, admin_token=SecretStr(TOKEN), trusted_proxies=("10.0.0.0/8",)
    )
    app = create_app(settings)
    app.state.engine = crm["engine"]
    yield TestClient(app, raise_server_exceptions=False, client=("10.1.2.3", 40000))


def test_x_forwarded_for_is_honoured_only_from_trusted_proxies(
    crm: dict[str, Any], behind_proxy: TestClient
) -> None:
    attacker, victim = address(), address()

    def through_proxy(forwarded: str, password: str) -> int:
        body = {"username": "rep_b2", "password": password}
        return int(
            behind_proxy.post(
                f"{API}/auth/login", json=body, headers={"X-Forwarded-For": forwarded}
            ).status_code
        )

    # a client may prepend whatever it likes: the proxy appends the real address, which counts
    answers = [through_proxy(f"{victim}, {attacker}", f"guess-{n}") for n in range(6)]
    assert answers == [401] * 5 + [429]
    assert through_proxy(attacker, PASSWORD) == 429
    assert through_proxy(victim, PASSWORD) == 200
    assert through_proxy(f"{attacker}, 10.9.9.9", PASSWORD) == 429  # trusted hops are skipped
    failures = [
        e for e in audit(crm, "auth.login") if not e["success"] and e["subject"] == "rep_b2"
    ]
    assert {e["ip"] for e in failures} == {attacker}
    # the same header from a peer that is not a trusted proxy is ignored
    direct = address()
    response = login(crm, "rep_b2", "guess-direct", ip=direct, **{"X-Forwarded-For": victim})
    assert response.status_code == 401
    assert audit(crm, "auth.login")[0]["ip"] == direct


def test_trusted_proxies_must_be_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMU_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ,::1")
    assert Settings().trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    monkeypatch.setenv("JIMU_TRUSTED_PROXIES", "127.0.0.1,proxy.example.com")
    with pytest.raises(ValueError, match=r"proxy\.example\.com"):
        Settings()
    monkeypatch.delenv("JIMU_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == ()


# --- the migration: tokens made before expiry became the default ------------------------------


def test_the_migration_gives_tokens_without_expiry_90_days(store_engine: Engine) -> None:
    from alembic import command

    from engine.store.session import alembic_config

    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0005")
    with store_engine.begin() as conn:
        user = conn.execute(
            insert(User)
            .values(
                username="old",
                display_name="旧",
                is_active=True,
                is_admin=False,
                created_at=utcnow(),
            )
            .returning(User.id)
        ).scalar_one()
        common = {
            "user_id": user,
            "prefix": "jimu_t_x",
            "can_write": True,
            "created_at": utcnow() - dt.timedelta(days=400),
        }
        soon = utcnow() + dt.timedelta(days=3)
        conn.execute(insert(ApiToken).values(name="forever", token_hash="a" * 64, **common))
        conn.execute(
            insert(ApiToken).values(name="soon", token_hash="b" * 64, expires_at=soon, **common)
        )
        conn.execute(
            insert(ApiToken).values(name="gone", token_hash="c" * 64, revoked_at=utcnow(), **common)
        )
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with store_engine.connect() as conn:
        expiry = {
            row.name: row.expires_at
            for row in conn.execute(select(ApiToken.name, ApiToken.expires_at))
        }
    forever = expiry["forever"]
    assert forever is not None and dt.timedelta(days=89) < forever - utcnow() <= dt.timedelta(
        days=90
    )
    assert expiry["soon"] is not None and abs(expiry["soon"] - soon) < dt.timedelta(seconds=1)
    assert expiry["gone"] is None
