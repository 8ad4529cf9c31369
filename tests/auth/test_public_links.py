"""Public links (外链) through the API, on SQLite and PostgreSQL, with the CRM and its sample
users: builders manage links, anonymous people fill a form (only its chosen fields, records
owned by the link's owner) or query their own records by exact key fields; passwords, expiry,
disabling and rate limits refuse with the right 4xx, and every step is in the audit log."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.auth.directory import ensure_admin
from engine.settings import Settings
from engine.store import prepare_database
from tests.store_fixtures import DatabaseTemplates

API = "/api/v1"
TOKEN = "links-admin-token"
PACK = Path(__file__).resolve().parents[2] / "apps_catalog" / "crm"
USERS = json.loads((PACK / "sample_users.json").read_text(encoding="utf-8"))
LEAD_FIELDS = ["name", "company", "phone", "note"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with sample data and users; signed-in clients per user and an anonymous one."""
    tmp = tmp_path_factory.mktemp("links")
    templates: DatabaseTemplates = request.getfixturevalue("database_templates")
    with templates.copy(request, "crm_links", _install, tmp) as (connect, tokens):
        yield from _installed(connect, tmp, tokens)


def _install(engine: Engine, tmp: Path) -> dict[str, Any]:
    """The template build (once per session): the CRM with sample data, its users signed in."""
    prepare_database(engine)
    with engine.begin() as conn:
        ensure_admin(conn, "admin-password-1")
    app = create_app(Settings(data_dir=tmp, admin_token=SecretStr(TOKEN)))
    app.state.engine = engine
    admin = TestClient(app, raise_server_exceptions=False)
    admin.headers["Authorization"] = f"Bearer {TOKEN}"
    assert admin.post(f"{API}/catalog/crm/install", json={"sample_data": True}).status_code == 201
    tokens = {}
    for user in USERS["users"]:
        client = TestClient(app, raise_server_exceptions=False)
        login = client.post(
            f"{API}/auth/login", json={"username": user["username"], "password": USERS["password"]}
        )
        assert login.status_code == 200, login.text
        tokens[user["username"]] = login.json()["token"]
    return tokens


def _installed(
    connect: Callable[[], Engine], tmp: Path, tokens: dict[str, str]
) -> Iterator[dict[str, Any]]:
    engine = connect()
    app = create_app(Settings(data_dir=tmp, admin_token=SecretStr(TOKEN)))
    app.state.engine = engine
    admin = TestClient(app, raise_server_exceptions=False)
    admin.headers["Authorization"] = f"Bearer {TOKEN}"
    clients = {"admin": admin, "anonymous": TestClient(app, raise_server_exceptions=False)}
    for username, token in tokens.items():
        client = TestClient(app, raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {token}"
        clients[username] = client
    ids = {u["username"]: u["id"] for u in admin.get(f"{API}/users", params={"limit": 100}).json()}
    try:
        yield {"clients": clients, "ids": ids, "app": app, "connect": connect, "tmp": tmp}
    finally:
        engine.dispose()


def links_url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/links{suffix}"


def public_url(link: dict[str, Any]) -> str:
    return f"{API}/public/{link['token']}"


def new_link(crm: dict[str, Any], form: str, body: dict[str, Any]) -> dict[str, Any]:
    response = crm["clients"]["admin"].post(links_url(form), json=body)
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def fill_link(crm: dict[str, Any], **more: Any) -> dict[str, Any]:
    return new_link(
        crm,
        "lead",
        {"kind": "fill", "fields": LEAD_FIELDS, "owner_id": crm["ids"]["rep_a1"], **more},
    )


def anonymous(crm: dict[str, Any], host: str = "testclient") -> TestClient:
    if host == "testclient":
        client: TestClient = crm["clients"]["anonymous"]
        return client
    return TestClient(crm["app"], raise_server_exceptions=False, client=(host, 50000))


def audit(crm: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    response = crm["clients"]["admin"].get(f"{API}/audit", params={"kind": kind, "limit": 500})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def for_link(entries: list[dict[str, Any]], link: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in entries if e["detail"].get("link_id") == link["id"]]


def leads_named(client: TestClient, name: str) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/apps/crm/forms/lead/records", params={"filter": f'name = "{name}"'}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def issue_codes(response: Any) -> set[tuple[str, str]]:
    return {(i["path"], i["code"]) for i in response.json()["error"]["issues"]}


# --- managing links ------------------------------------------------------------------------


def test_a_builder_creates_lists_and_reads_links(crm: dict[str, Any]) -> None:
    link = fill_link(crm, name="官网留资")
    assert link["kind"] == "fill" and link["fields"] == LEAD_FIELDS and link["key_fields"] == []
    assert (
        link["owner"]["id"] == crm["ids"]["rep_a1"]
        and link["enabled"] is True
        and link["has_password"] is False
    )
    assert link["url"] == f"{API}/public/{link['token']}" and len(link["token"]) >= 20
    assert link["rate_limit"] == 20 and link["expires_at"] is None and link["name"] == "官网留资"
    admin = crm["clients"]["admin"]
    assert link["id"] in [item["id"] for item in admin.get(links_url("lead")).json()]
    assert admin.get(links_url("lead", f"/{link['id']}")).json() == link
    assert (
        admin.get(links_url("customer", f"/{link['id']}")).status_code == 404
    )  # another form's id
    created = for_link(audit(crm, "link.create"), link)
    assert len(created) == 1 and created[0]["actor"]["username"] == "admin"
    assert link["token"] not in json.dumps(created)


def test_the_crm_builder_manages_links_and_other_members_cannot(crm: dict[str, Any]) -> None:
    clients = crm["clients"]
    body = {"kind": "fill", "fields": LEAD_FIELDS, "owner_id": crm["ids"]["rep_b1"]}
    made = clients["crm_admin"].post(links_url("lead"), json=body)  # holds the builder role 管理员
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == crm["ids"]["crm_admin"]
    for username in ("rep_a1", "director", "finance", "gm"):
        client = clients[username]
        assert client.get(links_url("lead")).status_code == 403
        refused = client.post(links_url("lead"), json=body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert (
            client.patch(
                links_url("lead", f"/{made.json()['id']}"), json={"enabled": False}
            ).status_code
            == 403
        )
        assert client.delete(links_url("lead", f"/{made.json()['id']}")).status_code == 403
    assert clients["anonymous"].get(links_url("lead")).status_code == 401
    assert clients["anonymous"].post(links_url("lead"), json=body).status_code == 401
    assert (
        clients["admin"].get(links_url("lead", f"/{made.json()['id']}")).json()["enabled"] is True
    )


def test_a_user_without_a_role_in_the_app_does_not_see_it(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    username = f"outsider_{uuid.uuid4().hex[:6]}"
    assert (
        admin.post(
            f"{API}/users",
            json={"username": username, "display_name": "外人", "password": "Outsider@2026"},
        ).status_code
        == 201
    )
    outsider = TestClient(crm["app"], raise_server_exceptions=False)
    token = outsider.post(
        f"{API}/auth/login", json={"username": username, "password": "Outsider@2026"}
    ).json()["token"]
    outsider.headers["Authorization"] = f"Bearer {token}"
    assert outsider.get(links_url("lead")).status_code == 404
    assert (
        outsider.post(links_url("lead"), json={"kind": "fill", "fields": ["name"]}).status_code
        == 404
    )


BAD_LINKS = [
    ("lead", {"kind": "fill", "fields": ["name", "nope"]}, {"fields[1]": "unknown_field"}),
    ("lead", {"kind": "fill", "fields": []}, {"fields": "required"}),
    ("lead", {"kind": "fill", "fields": ["company"]}, {"fields": "required_field_missing"}),
    ("lead", {"kind": "fill", "fields": ["name", "owner"]}, {"fields[1]": "not_public_fillable"}),
    (
        "lead",
        {"kind": "fill", "fields": ["name"], "key_fields": ["phone"]},
        {"key_fields": "not_allowed"},
    ),
    (
        "lead",
        {"kind": "fill", "fields": ["name"], "owner_id": 999_999},
        {"owner_id": "user_not_found"},
    ),
    ("lead", {"kind": "fill", "fields": ["name"], "owner_id": None}, {"owner_id": "required"}),
    ("lead", {"kind": "fill", "fields": ["name"], "password": "12"}, {"password": "weak_password"}),
    (
        "contract",
        {"kind": "fill", "fields": ["title", "number", "customer", "start_date", "end_date"]},
        {"fields[1]": "computed_field", "fields[2]": "not_public_fillable"},
    ),
    (
        "contract",
        {"kind": "fill", "fields": ["title", "amount", "customer", "start_date", "end_date"]},
        {"fields[1]": "computed_field", "fields[2]": "not_public_fillable"},
    ),
    ("lead", {"kind": "query", "fields": ["name"]}, {"key_fields": "required"}),
    ("lead", {"kind": "query", "fields": ["name"], "key_fields": []}, {"key_fields": "required"}),
    (
        "lead",
        {"kind": "query", "fields": ["name"], "key_fields": ["phone", "ghost"]},
        {"key_fields[1]": "unknown_field"},
    ),
    (
        "customer",
        {"kind": "query", "fields": ["name"], "key_fields": ["region"]},
        {"key_fields[0]": "not_a_key_field"},
    ),
    (
        "contract",
        {"kind": "query", "fields": ["title"], "key_fields": ["customer"]},
        {"key_fields[0]": "not_a_key_field"},
    ),
    (
        "lead",
        {"kind": "fill", "fields": ["name"], "expires_at": "9999-12-31T23:59:59-14:00"},
        {"expires_at": "out_of_range"},
    ),
]
MALFORMED_LINKS = [
    ({"kind": "both", "fields": ["name"]}, {"kind": "literal_error"}),
    ({"kind": "fill", "fields": ["name"], "rate_limit": 0}, {"rate_limit": "greater_than_equal"}),
    ({"kind": "fill", "fields": ["name"], "token": "mine"}, {"token": "extra_forbidden"}),
    ({"fields": ["name"]}, {"kind": "missing"}),
]


@pytest.mark.parametrize(
    ("form", "body", "expected"), BAD_LINKS, ids=[str(i) for i in range(len(BAD_LINKS))]
)
def test_bad_links_are_refused_field_by_field_and_write_nothing(
    crm: dict[str, Any], form: str, body: dict[str, Any], expected: dict[str, str]
) -> None:
    admin = crm["clients"]["admin"]
    before = admin.get(links_url(form)).json()
    response = admin.post(links_url(form), json=body, headers={"Accept-Language": "en"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert set(expected.items()) <= {(i["path"], i["code"]) for i in error["issues"]}
    assert all(i["message"] for i in error["issues"])
    assert admin.get(links_url(form)).json() == before


@pytest.mark.parametrize(
    ("body", "expected"), MALFORMED_LINKS, ids=[str(i) for i in range(len(MALFORMED_LINKS))]
)
def test_malformed_link_requests_are_400(
    crm: dict[str, Any], body: dict[str, Any], expected: dict[str, str]
) -> None:
    response = crm["clients"]["admin"].post(links_url("lead"), json=body)
    assert response.status_code == 400, response.text
    assert set(expected.items()) <= issue_codes(response)


def test_messages_follow_the_language(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    body = {"kind": "query", "fields": ["name"]}
    zh = admin.post(links_url("lead"), json=body).json()["error"]["issues"][0]["message"]
    en = admin.post(links_url("lead"), json=body, headers={"Accept-Language": "en"}).json()[
        "error"
    ]["issues"][0]["message"]
    assert "查询条件" in zh and "key field" in en


def test_changing_a_link_is_validated_and_audited(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    link = fill_link(crm)
    bad = admin.patch(links_url("lead", f"/{link['id']}"), json={"fields": ["name", "_owner"]})
    assert bad.status_code == 422 and issue_codes(bad) == {("fields[1]", "unknown_field")}
    changed = admin.patch(
        links_url("lead", f"/{link['id']}"),
        json={
            "fields": ["name", "phone"],
            "owner_id": crm["ids"]["rep_b2"],
            "password": "暗号1234",
        },
    )
    assert changed.status_code == 200, changed.text
    assert (
        changed.json()["fields"] == ["name", "phone"]
        and changed.json()["owner"]["id"] == crm["ids"]["rep_b2"]
    )
    assert changed.json()["has_password"] is True and "password" not in changed.json()
    assert admin.patch(links_url("lead", "/999999"), json={"enabled": False}).status_code == 404
    [entry] = for_link(audit(crm, "link.update"), link)
    assert entry["detail"]["password"] == "set" and "暗号1234" not in json.dumps(entry)


# --- filling -------------------------------------------------------------------------------


def test_an_anonymous_lead_lands_owned_by_the_links_owner(crm: dict[str, Any]) -> None:
    """The issue's "Done when": the public 线索 form, submitted anonymously, belongs to the right rep."""
    link = fill_link(crm)
    page = anonymous(crm).get(public_url(link))
    assert page.status_code == 200, page.text
    shown = page.json()
    assert shown["kind"] == "fill" and shown["form"]["key"] == "lead"
    assert [f["key"] for f in shown["fields"]] == LEAD_FIELDS
    assert "status" not in json.dumps(shown) and "owner" not in [f["key"] for f in shown["fields"]]
    name = f"访客{uuid.uuid4().hex[:6]}"
    submitted = anonymous(crm).post(
        public_url(link), json={"name": name, "company": "星河科技", "phone": "13912345678"}
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json() == {"submitted": True}
    clients, ids = crm["clients"], crm["ids"]
    [lead] = leads_named(clients["rep_a1"], name)  # the owner sees it in their own list
    assert lead["_owner"] == ids["rep_a1"] and lead["_created_by"] is None
    assert lead["company"] == "星河科技" and lead["status"] == "new"  # defaults still apply
    assert leads_named(clients["rep_b1"], name) == []  # another rep does not
    assert leads_named(clients["rep_a2"], name) == []
    assert len(leads_named(clients["director"], name)) == 1  # the director sees the department tree
    history = (
        clients["rep_a1"].get(f"{API}/apps/crm/forms/lead/records/{lead['_id']}/history").json()
    )
    assert [(h["event"], h["channel"], h["actor"]) for h in history] == [
        ("create", "public_link", None)
    ]
    [entry] = for_link(audit(crm, "public.submit"), link)
    assert entry["success"] is True and entry["actor"] is None and entry["ip"] == "testclient"
    assert (
        entry["detail"]["record_id"] == lead["_id"] and entry["detail"]["owner_id"] == ids["rep_a1"]
    )
    assert for_link(audit(crm, "link.create"), link)
    signed_in = [e for e in audit(crm, "auth.login") if e["success"] and e["subject"] == "rep_a1"]
    assert signed_in  # the rep's own sign-in is there too


BAD_SUBMISSIONS = [
    ({"name": "甲", "status": "converted"}, {"status": "unknown_field"}),
    ({"name": "甲", "owner": 1}, {"owner": "unknown_field"}),
    ({"name": "甲", "_owner": 1}, {"_owner": "unknown_field"}),
    ({"name": "甲", "email": "a@b.cn"}, {"email": "unknown_field"}),
    ({"company": "无名公司"}, {"name": "required"}),
    ({"name": "", "phone": "12"}, {"name": "required", "phone": "invalid_phone"}),
    ({"name": ["甲"]}, {"name": "expected_text"}),
]


@pytest.mark.parametrize(
    ("body", "expected"), BAD_SUBMISSIONS, ids=[str(i) for i in range(len(BAD_SUBMISSIONS))]
)
def test_a_fill_link_takes_only_its_fields_and_bad_input_writes_nothing(
    crm: dict[str, Any], body: dict[str, Any], expected: dict[str, str]
) -> None:
    link = fill_link(crm)
    admin = crm["clients"]["admin"]
    before = admin.get(f"{API}/apps/crm/forms/lead/records", params={"limit": 0}).json()["total"]
    response = anonymous(crm).post(public_url(link), json=body)
    assert response.status_code == 422, response.text
    assert set(expected.items()) <= issue_codes(response)
    assert {path for path, _ in issue_codes(response)} == set(expected)
    assert (
        admin.get(f"{API}/apps/crm/forms/lead/records", params={"limit": 0}).json()["total"]
        == before
    )
    [entry] = for_link(audit(crm, "public.submit"), link)
    assert entry["success"] is False and {i["path"] for i in entry["detail"]["issues"]} == set(
        expected
    )


def test_a_fill_link_body_must_be_an_object(crm: dict[str, Any]) -> None:
    link = fill_link(crm)
    for body in ([{"name": "甲"}], "甲", 1):
        response = anonymous(crm).post(public_url(link), json=body)
        assert response.status_code == 400 and response.json()["error"]["issues"], response.text


# --- querying ------------------------------------------------------------------------------


def _contract(crm: dict[str, Any]) -> dict[str, Any]:
    items = (
        crm["clients"]["admin"]
        .get(f"{API}/apps/crm/forms/contract/records", params={"limit": 5})
        .json()["items"]
    )
    contract: dict[str, Any] = items[0]
    return contract


def test_a_query_link_finds_exact_matches_and_shows_only_its_fields(crm: dict[str, Any]) -> None:
    contract = _contract(crm)
    link = new_link(
        crm,
        "contract",
        {
            "kind": "query",
            "key_fields": ["number", "title"],
            "fields": ["number", "title", "status", "end_date"],
        },
    )
    assert (
        link["owner"]["id"] == link["created_by"]
    )  # a query link's owner is its creator, whose rights bound it
    shown = anonymous(crm).get(public_url(link)).json()
    assert [f["key"] for f in shown["key_fields"]] == ["number", "title"]
    assert [f["key"] for f in shown["fields"]] == ["number", "title", "status", "end_date"]
    found = anonymous(crm).post(
        public_url(link), json={"number": contract["number"], "title": contract["title"]}
    )
    assert found.status_code == 200, found.text
    assert found.json()["items"] == [
        {k: contract[k] for k in ("number", "title", "status", "end_date")}
    ]
    misses = [
        {"number": contract["number"], "title": contract["title"] + "x"},
        {"number": contract["number"][:-1], "title": contract["title"]},
        {"number": contract["number"].lower(), "title": contract["title"]},
        {"number": "%", "title": "%"},
    ]
    for body in misses:
        response = anonymous(crm).post(public_url(link), json=body)
        assert response.status_code == 200 and response.json() == {"items": []}, body
    [entry] = [e for e in for_link(audit(crm, "public.query"), link) if e["detail"]["found"] == 1]
    assert entry["success"] is True


QUERY_ERRORS = [
    ({"number": "HT-1"}, {"title": "required"}),
    ({"number": "", "title": "  "}, {"number": "required", "title": "required"}),
    ({"number": None, "title": "x"}, {"number": "required"}),
    ({"number": "HT-1", "title": "x", "status": "active"}, {"status": "unknown_field"}),
    ({"number": 1, "title": "x"}, {"number": "expected_text"}),
    ({}, {"number": "required", "title": "required"}),
]


@pytest.mark.parametrize(
    ("body", "expected"), QUERY_ERRORS, ids=[str(i) for i in range(len(QUERY_ERRORS))]
)
def test_a_query_needs_every_key_and_nothing_else(
    crm: dict[str, Any], body: dict[str, Any], expected: dict[str, str]
) -> None:
    link = new_link(
        crm, "contract", {"kind": "query", "key_fields": ["number", "title"], "fields": ["title"]}
    )
    response = anonymous(crm).post(public_url(link), json=body)
    assert response.status_code == 422, response.text
    assert issue_codes(response) == set(expected.items())


def test_a_query_by_phone_and_name_returns_only_that_persons_leads(crm: dict[str, Any]) -> None:
    fill = fill_link(crm)
    mine, other = f"李{uuid.uuid4().hex[:5]}", f"赵{uuid.uuid4().hex[:5]}"
    for name, phone in (
        (mine, "13800000001"),
        (mine, "13800000001"),
        (other, "13800000001"),
        (mine, "13800000002"),
    ):
        assert (
            anonymous(crm)
            .post(public_url(fill), json={"name": name, "phone": phone, "note": "秘密备注"})
            .status_code
            == 200
        )
    query = new_link(
        crm,
        "lead",
        {"kind": "query", "key_fields": ["phone", "name"], "fields": ["name", "company"]},
    )
    found = (
        anonymous(crm)
        .post(public_url(query), json={"phone": "13800000001", "name": mine})
        .json()["items"]
    )
    assert found == [{"name": mine, "company": None}, {"name": mine, "company": None}]
    assert "秘密备注" not in json.dumps(found)


# --- passwords, expiry, disabling, deletion -------------------------------------------------


def test_a_password_protected_link_needs_its_password(crm: dict[str, Any]) -> None:
    link = fill_link(crm, password="花开2026")
    client = anonymous(crm)
    missing = client.get(public_url(link))
    assert (
        missing.status_code == 401 and missing.json()["error"]["code"] == "link_password_required"
    )
    wrong = client.post(
        public_url(link), json={"name": "甲"}, headers={"X-Link-Password": "guess-1"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_link_password"
    failures = for_link(audit(crm, "public.password"), link)
    assert (
        len(failures) == 1
        and failures[0]["success"] is False
        and "guess-1" not in json.dumps(failures)
    )
    password = {
        "X-Link-Password": "花开2026".encode()
    }  # headers carry bytes: UTF-8 is read as such
    assert client.get(public_url(link), headers=password).status_code == 200
    name = f"密{uuid.uuid4().hex[:6]}"
    assert client.post(public_url(link), json={"name": name}, headers=password).status_code == 200
    assert len(leads_named(crm["clients"]["rep_a1"], name)) == 1
    removed = crm["clients"]["admin"].patch(
        links_url("lead", f"/{link['id']}"), json={"password": None}
    )
    assert removed.json()["has_password"] is False
    assert client.get(public_url(link)).status_code == 200


def test_an_expired_link_is_gone_and_audited(crm: dict[str, Any]) -> None:
    link = fill_link(crm, expires_at=(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat())
    assert anonymous(crm).get(public_url(link)).status_code == 200
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    assert (
        crm["clients"]["admin"]
        .patch(links_url("lead", f"/{link['id']}"), json={"expires_at": past})
        .status_code
        == 200
    )
    for response in (
        anonymous(crm).get(public_url(link)),
        anonymous(crm).post(public_url(link), json={"name": "迟到"}),
    ):
        assert response.status_code == 410 and response.json()["error"]["code"] == "link_expired"
    entries = for_link(audit(crm, "public.expired"), link)
    assert len(entries) == 2 and all(
        e["detail"]["reason"] == "expired" and not e["success"] for e in entries
    )
    assert leads_named(crm["clients"]["admin"], "迟到") == []


def test_a_disabled_deleted_or_rotated_link_stops_working(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    link = fill_link(crm)
    assert (
        admin.patch(links_url("lead", f"/{link['id']}"), json={"enabled": False}).json()["enabled"]
        is False
    )
    disabled = anonymous(crm).post(public_url(link), json={"name": "甲"})
    assert disabled.status_code == 410 and disabled.json()["error"]["code"] == "link_disabled"
    assert for_link(audit(crm, "public.expired"), link)[0]["detail"]["reason"] == "disabled"
    admin.patch(links_url("lead", f"/{link['id']}"), json={"enabled": True})
    rotated = admin.patch(links_url("lead", f"/{link['id']}"), json={"rotate_token": True}).json()
    assert rotated["token"] != link["token"]
    assert anonymous(crm).get(public_url(link)).status_code == 404
    assert anonymous(crm).get(public_url(rotated)).status_code == 200
    assert admin.delete(links_url("lead", f"/{link['id']}")).status_code == 204
    assert anonymous(crm).get(public_url(rotated)).status_code == 404
    assert admin.delete(links_url("lead", f"/{link['id']}")).status_code == 404
    assert len(for_link(audit(crm, "link.delete"), link)) == 1


def test_unknown_tokens_are_not_found(crm: dict[str, Any]) -> None:
    for token in ("nope", "x" * 64, "%E4%BD%A0"):
        response = anonymous(crm).post(f"{API}/public/{token}", json={"name": "甲"})
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert anonymous(crm).get(f"{API}/public/{'x' * 65}").status_code == 400


# --- rate limiting -------------------------------------------------------------------------


def test_attempts_are_limited_per_address_and_link(crm: dict[str, Any]) -> None:
    link = fill_link(crm, rate_limit=3, password="open-sesame")
    ok = {"X-Link-Password": "open-sesame"}
    client = anonymous(crm, "192.0.2.10")
    assert client.post(public_url(link), json={"name": "一"}, headers=ok).status_code == 200
    assert (
        client.post(public_url(link), json={"status": "x"}, headers=ok).status_code == 422
    )  # failures count too
    assert (
        client.post(
            public_url(link), json={"name": "二"}, headers={"X-Link-Password": "wrong"}
        ).status_code
        == 401
    )
    limited = client.post(public_url(link), json={"name": "三"}, headers=ok)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "too_many_attempts"
    assert client.get(public_url(link), headers=ok).status_code == 429
    throttled = for_link(audit(crm, "public.throttled"), link)
    assert len(throttled) == 2 and all(
        e["ip"] == "192.0.2.10" and not e["success"] for e in throttled
    )
    assert (
        anonymous(crm, "192.0.2.11")
        .post(public_url(link), json={"name": "四"}, headers=ok)
        .status_code
        == 200
    )
    other = fill_link(crm, rate_limit=3)
    assert client.post(public_url(other), json={"name": "五"}).status_code == 200  # per link
    assert leads_named(crm["clients"]["admin"], "三") == []


def test_the_limit_holds_across_worker_processes(crm: dict[str, Any]) -> None:
    """A second application on its own connection pool (as another worker process has) sees
    the attempts the first one counted."""
    link = fill_link(crm, rate_limit=2)
    other_worker = create_app(Settings(data_dir=crm["tmp"], admin_token=SecretStr(TOKEN)))
    other_worker.state.engine = crm["connect"]()
    try:
        first = TestClient(crm["app"], raise_server_exceptions=False, client=("192.0.2.30", 1))
        second = TestClient(other_worker, raise_server_exceptions=False, client=("192.0.2.30", 2))
        assert first.post(public_url(link), json={"name": "甲"}).status_code == 200
        assert second.post(public_url(link), json={"name": "乙"}).status_code == 200
        assert first.post(public_url(link), json={"name": "丙"}).status_code == 429
        assert second.post(public_url(link), json={"name": "丙"}).status_code == 429
    finally:
        other_worker.state.engine.dispose()


def test_raising_the_limit_lets_the_address_in_again(crm: dict[str, Any]) -> None:
    link = fill_link(crm, rate_limit=1)
    client = anonymous(crm, "192.0.2.20")
    assert client.post(public_url(link), json={"name": "甲"}).status_code == 200
    assert client.post(public_url(link), json={"name": "乙"}).status_code == 429
    crm["clients"]["admin"].patch(links_url("lead", f"/{link['id']}"), json={"rate_limit": 5})
    assert client.post(public_url(link), json={"name": "乙"}).status_code == 200


def test_no_token_or_password_reaches_the_audit_log(crm: dict[str, Any]) -> None:
    link = fill_link(crm, password="topsecret-9")
    anonymous(crm).post(
        public_url(link), json={"name": "甲"}, headers={"X-Link-Password": "topsecret-9"}
    )
    anonymous(crm).post(
        public_url(link), json={"name": "甲"}, headers={"X-Link-Password": "topsecret-8"}
    )
    everything = json.dumps(audit(crm, ""), ensure_ascii=False)
    assert link["token"] not in everything and "topsecret" not in everything


def _publish_lead_fields(crm: dict[str, Any], change: Any) -> None:
    admin = crm["clients"]["admin"]
    app = admin.get(f"{API}/apps/crm").json()
    lead = next(form for form in app["forms"] if form["key"] == "lead")
    change(lead["fields"])
    published = admin.put(f"{API}/apps/crm", json={k: v for k, v in app.items() if k != "plan"})
    assert published.status_code == 200, published.text


def test_a_link_follows_changes_of_its_form(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    _publish_lead_fields(
        crm,
        lambda fields: fields.append(
            {"key": "wechat", "type": "text", "label": {"zh": "微信", "en": "WeChat"}}
        ),
    )
    link = new_link(
        crm,
        "lead",
        {"kind": "fill", "fields": ["name", "wechat"], "owner_id": crm["ids"]["rep_b1"]},
    )
    assert [f["key"] for f in anonymous(crm).get(public_url(link)).json()["fields"]] == [
        "name",
        "wechat",
    ]
    _publish_lead_fields(
        crm,
        lambda fields: fields.pop(next(i for i, f in enumerate(fields) if f["key"] == "wechat")),
    )
    assert [f["key"] for f in anonymous(crm).get(public_url(link)).json()["fields"]] == ["name"]
    gone = anonymous(crm).post(public_url(link), json={"name": "甲", "wechat": "jia"})
    assert gone.status_code == 422 and issue_codes(gone) == {("wechat", "unknown_field")}
    disabled = admin.patch(
        links_url("lead", f"/{link['id']}"), json={"enabled": False}
    )  # still manageable
    assert disabled.status_code == 200 and disabled.json()["fields"] == ["name", "wechat"]
    wrong_kind = admin.patch(links_url("lead", f"/{link['id']}"), json={"key_fields": ["phone"]})
    assert wrong_kind.status_code == 422 and issue_codes(wrong_kind) == {
        ("key_fields", "not_allowed")
    }
    refitted = admin.patch(
        links_url("lead", f"/{link['id']}"), json={"fields": ["name"], "enabled": True}
    )
    assert refitted.json()["fields"] == ["name"] and refitted.json()["enabled"] is True


def test_a_fill_links_live_rules_cover_only_its_own_fields(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    app = admin.get(f"{API}/apps/crm").json()
    if not any(f["key"] == "survey" for f in app["forms"]):
        app["forms"].append(
            {
                "key": "survey",
                "name": {"zh": "满意度回访", "en": "Satisfaction survey"},
                "fields": [
                    {"key": "rating", "type": "integer", "label": "评分"},
                    {
                        "key": "reason",
                        "type": "textarea",
                        "label": "不满意的原因",
                        "visible_when": "rating <= 2",
                    },
                    {"key": "secret", "type": "text", "label": "内部代号"},
                    {
                        "key": "note",
                        "type": "text",
                        "label": "备注",
                        "visible_when": 'secret = "vip"',
                    },
                    {"key": "double", "type": "formula", "label": "双倍", "expr": "rating * 2"},
                ],
            }
        )
        plan = admin.post(f"{API}/apps/crm/plan", json=app).json()
        assert (
            admin.put(f"{API}/apps/crm", json={**app, "plan_hash": plan["plan_hash"]}).status_code
            == 200
        )
    link = new_link(
        crm,
        "survey",
        {"kind": "fill", "fields": ["rating", "reason", "note"], "password": "回访2026"},
    )
    client = anonymous(crm)
    assert (
        client.get(f"{public_url(link)}/live").status_code == 401
    )  # the password guards the rules too
    live = client.get(
        f"{public_url(link)}/live", headers={"X-Link-Password": "回访2026".encode()}
    ).json()
    # The rule over the link's own field is compiled; the one reading a field outside the link and
    # the formula (not on the link) stay with the server, so nothing about other fields is sent.
    assert [(rule["key"], rule["reads"]) for rule in live["visible_when"]] == [
        ("reason", ["rating"])
    ]
    assert live["formulas"] == [] and live["readonly_when"] == [] and live["subforms"] == {}
    assert "secret" not in json.dumps(live) and "vip" not in json.dumps(live)
    query = new_link(
        crm, "survey", {"kind": "query", "fields": ["rating"], "key_fields": ["secret"]}
    )
    assert client.get(f"{public_url(query)}/live").json()["visible_when"] == []
