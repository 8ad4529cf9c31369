"""Formulas over records and people through the API (issue 11, item 7), on SQLite and
PostgreSQL with the stock CRM: filters with `_owner = CURRENT_USER()`, `customer = <id>`,
`ISBLANK(customer)`, `CONTAINS(CURRENT_DEPARTMENTS(), …)` as members (inside their role's
scope only), a role whose row scope is `{"expr": "_owner = CURRENT_USER()"}`, and the acting
member in the `/live` answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.crm_org import API, USERS, installed_crm

MINE: dict[str, Any] = {
    "key": "mine_by_formula",
    "name": {"zh": "本人（公式）", "en": "Own (formula)"},
    "forms": {"customer": {"actions": ["view"], "scope": {"expr": "_owner = CURRENT_USER()"}}},
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def ids(client: Any, form: str, filter: str | None = None) -> set[int]:
    params: dict[str, Any] = {"limit": 1000}
    if filter is not None:
        params["filter"] = filter
    response = client.get(url(form), params=params)
    assert response.status_code == 200, response.text
    return {r["_id"] for r in response.json()["items"]}


def everything(crm: dict[str, Any], form: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        crm["clients"]["admin"].get(url(form), params={"limit": 1000}).json()["items"]
    )
    return items


def test_owner_is_me_as_members_within_their_scope(crm: dict[str, Any]) -> None:
    customers = everything(crm, "customer")
    for username in ("rep_a1", "director", "gm", "admin"):
        me = crm["ids"][username]
        client = crm["clients"][username]
        visible = ids(client, "customer")
        mine = {r["_id"] for r in customers if r["_owner"] == me} & visible
        assert ids(client, "customer", "_owner = CURRENT_USER()") == mine, username
        assert ids(client, "customer", "_owner <> CURRENT_USER()") == visible - mine, username
    # A sales rep sees only their own customers: "not mine" finds nothing outside the scope.
    rep = crm["clients"]["rep_a1"]
    assert ids(rep, "customer", "_owner = CURRENT_USER()")
    assert ids(rep, "customer", "_owner <> CURRENT_USER()") == set()
    # The system user columns compare with a user field and with a number.
    me = crm["ids"]["rep_a1"]
    assert ids(rep, "customer", f"_created_by = {me} OR _owner = {me}") == ids(rep, "customer")
    assert ids(rep, "customer", "owner = _owner") == {
        r["_id"]
        for r in customers
        if r["_owner"] == me and (r.get("owner") or {}).get("id") == r["_owner"]
    }


def test_relations_compare_by_id(crm: dict[str, Any]) -> None:
    gm = crm["clients"]["gm"]
    contacts = everything(crm, "contact")
    linked = [r for r in contacts if r.get("customer")]
    target = linked[0]["customer"]["_id"]
    expected = {r["_id"] for r in linked if r["customer"]["_id"] == target}
    assert ids(gm, "contact", f"customer = {target}") == expected
    assert ids(gm, "contact", f"{target} = customer") == expected
    assert ids(gm, "contact", f"customer <> {target}") == {r["_id"] for r in contacts} - expected
    assert ids(gm, "contact", f"customer = {target}.5") == set()
    blank = {r["_id"] for r in contacts if not r.get("customer")}
    assert ids(gm, "contact", "ISBLANK(customer)") == blank
    assert ids(gm, "contact", "customer = customer._id") == {r["_id"] for r in linked}
    # The related record's owner, through the relation: contacts of my customers.
    rep = crm["clients"]["rep_a1"]
    mine = ids(rep, "customer")
    assert ids(rep, "contact", "customer._owner = CURRENT_USER()") == {
        r["_id"] for r in everything(crm, "contact") if (r.get("customer") or {}).get("_id") in mine
    } & ids(rep, "contact")


def test_current_departments_are_the_members_own(crm: dict[str, Any]) -> None:
    departments = crm["clients"]["admin"].get(f"{API}/departments").json()
    team_a = next(d["id"] for d in departments if d["name"] == "销售一组")
    sales = next(d["id"] for d in departments if d["name"] == "销售部")
    rep, director = crm["clients"]["rep_a1"], crm["clients"]["director"]
    assert ids(rep, "customer", f"CONTAINS(CURRENT_DEPARTMENTS(), {team_a})") == ids(
        rep, "customer"
    )
    # Sub-departments are not included: the director sits in 销售部, not in 销售一组.
    assert ids(director, "customer", f"CONTAINS(CURRENT_DEPARTMENTS(), {team_a})") == set()
    assert ids(director, "customer", f"CONTAINS(CURRENT_DEPARTMENTS(), {sales})") == ids(
        director, "customer"
    )


def test_bad_formulas_are_field_errors(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    for bad, code in (
        ('_owner = "7"', "operand_type"),
        ("_owner > 3", "operand_type"),
        ("CONTAINS(_owner, 3)", "arg_type"),
        ("customer", "unknown_field"),
    ):
        response = rep.get(url("customer"), params={"filter": bad})
        assert response.status_code == 422, (bad, response.text)
        issue = response.json()["error"]["issues"][0]
        assert issue["path"] == "filter" and issue["code"] == code, (bad, issue)
        english = rep.get(
            url("customer"), params={"filter": bad}, headers={"Accept-Language": "en"}
        ).json()["error"]["issues"][0]["message"]
        assert issue["message"] and english and issue["message"] != english, (bad, english)


def test_a_role_scope_reads_its_holder(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    definition = admin.get(f"{API}/apps/crm").json()
    definition["roles"] = [r for r in definition["roles"] if r["key"] != MINE["key"]] + [MINE]
    assert admin.put(f"{API}/apps/crm", json=definition).status_code == 200
    role = next(
        r
        for r in admin.get(f"{API}/roles", params={"app": "crm"}).json()
        if r["key"] == MINE["key"]
    )
    created = {}
    for name in ("formula_one", "formula_two"):
        user = admin.post(
            f"{API}/users",
            json={"username": name, "display_name": name, "password": USERS["password"]},
        )
        assert user.status_code == 201, user.text
        created[name] = user.json()["id"]
        joined = admin.post(f"{API}/roles/{role['id']}/members", json={"user_id": created[name]})
        assert joined.status_code == 201, joined.text
    customers = sorted(r["_id"] for r in everything(crm, "customer"))
    given = {"formula_one": customers[:3], "formula_two": customers[3:5]}
    for name, records in given.items():
        moved = admin.post(
            url("customer", "/transfer"), json={"ids": records, "owner": created[name]}
        )
        assert moved.status_code == 200, moved.text
    for name, records in given.items():
        client = crm["clients"]["admin"].__class__(crm["app"], raise_server_exceptions=False)
        login = client.post(
            f"{API}/auth/login", json={"username": name, "password": USERS["password"]}
        )
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        assert ids(client, "customer") == set(records), name
        other = given["formula_two" if name == "formula_one" else "formula_one"][0]
        assert client.get(url("customer", f"/{other}")).status_code == 404
        live = client.get(f"{API}/apps/crm/forms/customer/live")
        assert live.status_code == 200 and live.json()["user"] == created[name]
        assert live.json()["departments"] == []


def test_live_names_the_member(crm: dict[str, Any]) -> None:
    departments = crm["clients"]["admin"].get(f"{API}/departments").json()
    team_a = next(d["id"] for d in departments if d["name"] == "销售一组")
    live = crm["clients"]["rep_a1"].get(f"{API}/apps/crm/forms/customer/live").json()
    assert live["user"] == crm["ids"]["rep_a1"] and live["departments"] == [team_a]
    admin = crm["clients"]["admin"].get(f"{API}/apps/crm/forms/customer/live").json()
    assert admin["user"] == crm["ids"]["admin"]  # the admin token acts as the admin user


def test_a_validation_reads_the_saver(crm: dict[str, Any]) -> None:
    """`owner = CURRENT_USER()` as a lead's validation: a rep may save a lead only as its
    owner; the check runs in the saving transaction as the saver, and a refused save writes
    nothing."""
    admin = crm["clients"]["admin"]
    definition = admin.get(f"{API}/apps/crm").json()
    lead = next(f for f in definition["forms"] if f["key"] == "lead")
    lead["validations"] = [
        {
            "expr": "owner = CURRENT_USER() AND _created_by = CURRENT_USER()",
            "message": {"zh": "负责人必须是本人", "en": "The owner must be you"},
        }
    ]
    assert admin.put(f"{API}/apps/crm", json=definition).status_code == 200
    rep = crm["clients"]["rep_b1"]
    me, other = crm["ids"]["rep_b1"], crm["ids"]["rep_b2"]
    before = ids(rep, "lead")
    refused = rep.post(url("lead"), json={"name": "不是我的线索", "owner": other})
    assert refused.status_code == 422, refused.text
    assert "负责人必须是本人" in refused.text
    assert ids(rep, "lead") == before
    accepted = rep.post(url("lead"), json={"name": "我的线索", "owner": me})
    assert accepted.status_code == 201, accepted.text
    assert ids(rep, "lead") == before | {accepted.json()["_id"]}


def test_a_default_of_current_user_is_the_creator(crm: dict[str, Any]) -> None:
    """`owner` defaults to `CURRENT_USER()`: a record created without one belongs to its creator
    in that field; a public-link-like caller without a user would leave it blank."""
    admin = crm["clients"]["admin"]
    definition = admin.get(f"{API}/apps/crm").json()
    opportunity = next(f for f in definition["forms"] if f["key"] == "opportunity")
    owner = next(f for f in opportunity["fields"] if f["key"] == "owner")
    owner["default"] = {"expr": "CURRENT_USER()"}
    published = admin.put(f"{API}/apps/crm", json=definition)
    assert published.status_code == 200, published.text
    rep = crm["clients"]["rep_a2"]
    template = rep.get(url("opportunity"), params={"limit": 1}).json()["items"][0]
    body = {
        k: v
        for k, v in template.items()
        if not k.startswith("_") and k != "owner" and not isinstance(v, dict | list)
    }
    body["customer"] = template["customer"]["_id"] if template.get("customer") else None
    created = rep.post(url("opportunity"), json=body)
    assert created.status_code == 201, created.text
    assert created.json()["owner"]["id"] == crm["ids"]["rep_a2"]
    given = rep.post(url("opportunity"), json={**body, "owner": crm["ids"]["rep_a1"]})
    assert given.status_code == 201, given.text
    assert given.json()["owner"]["id"] == crm["ids"]["rep_a1"]
