"""Attacks on the CRM through the API, on SQLite and PostgreSQL: another person's record ids
(IDOR), tokens used beyond their scope, cookie requests without the CSRF token and guessed
passwords each get the right 4xx and leave an audit entry; passwords and tokens never show up
in logs, responses, audit entries or exports."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.auth.crm_org import ADMIN_PASSWORD, API, TOKEN, USERS, installed_crm


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One CRM installation with sample data per database for the whole module."""
    yield from installed_crm(request, tmp_path_factory)


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def audit(crm: dict[str, Any], kind: str, limit: int = 100) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (
        crm["clients"]["admin"].get(f"{API}/audit", params={"kind": kind, "limit": limit}).json()
    )
    return entries


def denials(crm: dict[str, Any], username: str) -> list[dict[str, Any]]:
    return [
        e
        for e in audit(crm, "access.denied", 500)
        if e["actor"] and e["actor"]["username"] == username
    ]


def record_of(crm: dict[str, Any], form: str, owner: str) -> dict[str, Any]:
    """A new record of `form` owned by `owner`."""
    admin = crm["clients"]["admin"]
    created = admin.post(
        url(form),
        json={"name": f"{owner} 的线索"}
        if form == "lead"
        else {"name": f"{owner} 的客户", "level": "C"},
    )
    assert created.status_code == 201, created.text
    record_id = created.json()["_id"]
    assert (
        admin.post(
            url(form, "/transfer"), json={"ids": [record_id], "owner": crm["ids"][owner]}
        ).status_code
        == 200
    )
    record: dict[str, Any] = admin.get(url(form, f"/{record_id}")).json()
    return record


def new_client(crm: dict[str, Any], bearer: str | None = None) -> TestClient:
    client = TestClient(crm["app"], raise_server_exceptions=False)
    if bearer:
        client.headers["Authorization"] = f"Bearer {bearer}"
    return client


def test_someone_elses_record_ids_are_404_and_audited(crm: dict[str, Any]) -> None:
    director = crm["clients"]["director"]  # may delete and restore, but only within the sales teams
    before = len(denials(crm, "director"))
    theirs = record_of(crm, "customer", "gm")
    target = url("customer", f"/{theirs['_id']}")
    attempts = [
        director.get(target),
        director.patch(target, json={"note": "x", "_version": theirs["_version"]}),
        director.delete(target),
        director.get(f"{target}/history"),
        director.post(
            url("customer", "/transfer"),
            json={"ids": [theirs["_id"]], "owner": crm["ids"]["director"]},
        ),
        director.get(
            url("customer", "/export"),
            params={"filter": f'name = "{theirs["name"]}"', "format": "csv"},
        ),
    ]
    assert [r.status_code for r in attempts] == [404, 404, 404, 404, 404, 200]
    assert (
        attempts[-1].content.decode("utf-8-sig").count("\n") == 1
    )  # the export holds the header only
    assert crm["clients"]["admin"].delete(target).status_code == 204
    restore = director.post(f"{target}/restore")
    assert restore.status_code == 404
    assert (
        restore.json() == director.post(url("customer", "/999999999/restore")).json()
    )  # the same as a missing id
    entries = denials(crm, "director")[: len(denials(crm, "director")) - before]
    assert (
        len(entries) == 7
    )  # five refusals, the restore and the missing id; the export was allowed
    paths = {e["subject"] for e in entries}
    assert (
        f"GET {target}" in paths
        and f"PATCH {target}" in paths
        and f"POST {target}/restore" in paths
    )
    assert all(
        e["success"] is False
        and e["detail"]["status"] == 404
        and e["detail"]["code"] == "not_found"
        for e in entries
    )
    rep = crm["clients"]["rep_a1"]
    other = record_of(crm, "lead", "rep_b1")
    assert rep.get(url("lead", f"/{other['_id']}")).status_code == 404
    assert rep.get(url("lead", f"/{other['_id']}/history")).status_code == 404
    assert (
        rep.delete(url("lead", f"/{other['_id']}")).status_code == 403
    )  # reps may delete no lead at all
    assert denials(crm, "rep_a1")[0]["detail"]["status"] == 403


def test_a_normal_request_writes_no_audit_entry(crm: dict[str, Any]) -> None:
    before = len(audit(crm, "", 500))
    rep = crm["clients"]["rep_a1"]
    mine = rep.get(url("customer"), params={"limit": 5}).json()["items"]
    assert rep.get(url("customer", f"/{mine[0]['_id']}")).status_code == 200
    assert len(audit(crm, "", 500)) == before


def test_tokens_are_held_to_their_apps_and_to_reading(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    elsewhere = rep.post(
        f"{API}/tokens", json={"name": "other app", "apps": ["inventory"], "can_write": True}
    ).json()
    reader = rep.post(
        f"{API}/tokens", json={"name": "read only", "apps": ["crm"], "can_write": False}
    ).json()
    outside = new_client(crm, elsewhere["token"])
    assert outside.get(url("customer")).status_code == 404
    assert outside.get(url("customer", "/export")).status_code == 404
    assert outside.post(url("customer"), json={"name": "x"}).status_code == 404
    read_only = new_client(crm, reader["token"])
    assert read_only.get(url("customer"), params={"limit": 1}).status_code == 200
    assert read_only.get(url("customer", "/export"), params={"format": "csv"}).status_code == 200
    assert read_only.post(url("customer"), json={"name": "x"}).status_code == 403
    mine = read_only.get(url("customer"), params={"limit": 1}).json()["items"][0]
    assert (
        read_only.patch(
            url("customer", f"/{mine['_id']}"), json={"note": "x", "_version": mine["_version"]}
        ).status_code
        == 403
    )
    imported = read_only.post(
        url("customer", "/import"), files={"file": ("c.csv", "名称\n甲\n".encode())}
    )
    assert imported.status_code == 403
    assert read_only.get(f"{API}/users").status_code == 403
    by_token = [
        e
        for e in audit(crm, "access.denied", 500)
        if e["detail"].get("token_id") in (elsewhere["id"], reader["id"])
    ]
    assert {(e["detail"]["token_id"], e["detail"]["status"]) for e in by_token} == {
        (elsewhere["id"], 404),
        (reader["id"], 403),
    }
    assert len(by_token) == 7
    assert all(
        e["detail"]["via"] == "api_token" and e["actor"]["username"] == "rep_a1" for e in by_token
    )
    assert new_client(crm, "jimu_t_not-a-real-token").get(url("customer")).status_code == 401
    assert audit(crm, "auth.bad_token")[0]["success"] is False


def test_cookie_requests_without_the_csrf_token_are_refused(crm: dict[str, Any]) -> None:
    browser = new_client(crm)
    signed_in = browser.post(
        f"{API}/auth/login", json={"username": "rep_a2", "password": USERS["password"]}
    )
    assert signed_in.status_code == 200
    csrf = signed_in.json()["csrf_token"]
    assert (
        browser.get(url("customer"), params={"limit": 1}).status_code == 200
    )  # safe methods need no CSRF token
    before = len(audit(crm, "auth.csrf_failed"))
    refused = [
        browser.post(url("customer"), json={"name": "跨站请求"}),
        browser.post(url("customer", "/import"), files={"file": ("c.csv", "名称\n甲\n".encode())}),
        browser.post(
            url("customer", "/batch"),
            json=[{"name": "跨站请求"}],
            headers={"X-CSRF-Token": "wrong"},
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert {r.json()["error"]["code"] for r in refused} == {"csrf_failed"}
    entries = audit(crm, "auth.csrf_failed")
    assert len(entries) == before + 3 and entries[0]["actor"]["username"] == "rep_a2"
    assert entries[0]["subject"] == f"POST {url('customer', '/batch')}"
    made = browser.post(
        url("customer"), json={"name": "同站请求", "level": "C"}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 201


def test_secrets_never_reach_logs_responses_audit_or_exports(
    crm: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-Password-123!"
    guess = new_client(crm).post(
        f"{API}/auth/login", json={"username": "finance", "password": wrong}
    )
    assert guess.status_code == 401
    login = new_client(crm).post(
        f"{API}/auth/login", json={"username": "finance", "password": USERS["password"]}
    )
    session, csrf = login.json()["token"], login.json()["csrf_token"]
    finance = new_client(crm, session)
    created = finance.post(f"{API}/tokens", json={"name": "finance script", "apps": ["crm"]}).json()
    api_token = created["token"]
    scripted = new_client(crm, api_token)
    assert scripted.get(url("payment", "/export")).status_code == 200
    assert scripted.post(url("payment"), json={}).status_code == 403
    secrets = [
        USERS["password"],
        wrong,
        ADMIN_PASSWORD,
        TOKEN,
        session,
        csrf,
        api_token,
        *crm["tokens"].values(),
    ]
    admin = crm["clients"]["admin"]
    seen: list[str] = [caplog.text]
    seen += [finance.get(path).text for path in (f"{API}/me", f"{API}/tokens")]
    seen += [
        admin.get(f"{API}/tokens", params={"all_users": "true"}).text,
        admin.get(f"{API}/users", params={"limit": 100}).text,
    ]
    seen.append(json.dumps(audit(crm, "", 500), ensure_ascii=False))
    with crm["engine"].connect() as conn:
        seen.append(repr(conn.execute(text("SELECT * FROM audit_log")).all()))
    for form in ("customer", "contact", "lead", "opportunity", "followup", "contract", "payment"):
        for fmt in ("csv", "xlsx"):
            response = admin.get(url(form, "/export"), params={"format": fmt})
            assert response.status_code == 200
            if fmt == "csv":
                seen.append(response.content.decode("utf-8-sig"))
            else:
                with zipfile.ZipFile(io.BytesIO(response.content)) as book:
                    seen += [book.read(name).decode("utf-8") for name in book.namelist()]
    leaked = [secret[:12] for secret in secrets if any(secret in text_ for text_ in seen)]
    assert leaked == []


def test_guessing_passwords_is_throttled_and_audited(crm: dict[str, Any]) -> None:
    """Last in the module: the failures also throttle the test client's address."""
    attacker = new_client(crm)
    answers = [
        attacker.post(
            f"{API}/auth/login", json={"username": "gm", "password": f"guess-{n}"}
        ).status_code
        for n in range(7)
    ]
    assert (
        answers[:4] == [401] * 4 and answers[-1] == 429
    )  # the failure before counts towards the address too
    correct = attacker.post(
        f"{API}/auth/login", json={"username": "gm", "password": USERS["password"]}
    )
    assert correct.status_code == 429  # even the right password waits out the window
    failures = [e for e in audit(crm, "auth.login") if not e["success"] and e["subject"] == "gm"]
    assert len(failures) >= 4 and all("guess" not in json.dumps(e) for e in failures)
    assert any(e["subject"] == "gm" for e in audit(crm, "auth.login_throttled"))
