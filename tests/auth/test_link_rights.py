"""Public links are bounded by their creator's and owner's rights (issue 10, finding 2), on the
stock CRM with sample data, on SQLite and PostgreSQL.

The attack: a member whose role is a builder role but may only see their own leads created a
public query link on `customer` with `name, phone, annual_purchase`, and anyone without signing
in read 20 customers. Now managing links needs the `links` action on the form; a link may only
show what both its creator and its owner may see (fields and row scope, checked when it is
made and again at every use), so a later loss of rights closes it; `rate_limit` is capped.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.auth.links import MAX_RATE_LIMIT, LinkAccess, link_bound
from engine.forms import apps
from tests.auth.crm_org import API, USERS, installed_crm

LEAK_FIELDS = ["name", "phone", "annual_purchase"]
LEAD_BUILDER: dict[str, Any] = {  # the attacker's role: a builder who may only view their own leads
    "key": "lead_builder",
    "name": {"zh": "线索搭建者", "en": "Lead builder"},
    "builder": True,
    "forms": {"lead": {"actions": ["view"], "scope": "own"}},
}
PUBLISHER: dict[str, Any] = {  # may publish customers and leads, within a narrow scope
    "key": "publisher",
    "name": {"zh": "外链发布者", "en": "Publisher"},
    "forms": {
        "customer": {"actions": ["view", "links"], "scope": "own", "fields": {"phone": "hidden"}},
        "lead": {
            "actions": ["view", "create", "links"],
            "scope": "own",
            "fields": {"note": "read_only"},
        },
    },
}


def _sign_in(crm: dict[str, Any], username: str) -> TestClient:
    client = TestClient(crm["app"], raise_server_exceptions=False)
    login = client.post(
        f"{API}/auth/login", json={"username": username, "password": USERS["password"]}
    )
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return client


def _role_id(admin: TestClient, key: str) -> int:
    role_id: int = next(
        r["id"] for r in admin.get(f"{API}/roles", params={"app": "crm"}).json() if r["key"] == key
    )
    return role_id


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with two more roles, each held by a new user: `builder` (LEAD_BUILDER) and `pub`
    (PUBLISHER), who owns three A-level customers."""
    for crm in installed_crm(request, tmp_path_factory):
        admin = crm["clients"]["admin"]
        definition = admin.get(f"{API}/apps/crm").json()
        definition["roles"] += [LEAD_BUILDER, PUBLISHER]
        assert admin.put(f"{API}/apps/crm", json=definition).status_code == 200
        members = {}
        for username, role in (("builder", "lead_builder"), ("pub", "publisher")):
            made = admin.post(
                f"{API}/users",
                json={
                    "username": username,
                    "display_name": username,
                    "password": USERS["password"],
                },
            )
            assert made.status_code == 201, made.text
            crm["ids"][username] = made.json()["id"]
            member = admin.post(
                f"{API}/roles/{_role_id(admin, role)}/members", json={"user_id": made.json()["id"]}
            )
            assert member.status_code == 201, member.text
            members[username] = member.json()["id"]
            crm["clients"][username] = _sign_in(crm, username)
        customers = admin.get(
            f"{API}/apps/crm/forms/customer/records", params={"filter": 'level = "A"', "limit": 3}
        ).json()["items"]
        ids = [c["_id"] for c in customers]
        moved = admin.post(
            f"{API}/apps/crm/forms/customer/records/transfer",
            json={"ids": ids, "owner": crm["ids"]["pub"]},
        )
        assert moved.status_code == 200, moved.text
        yield {**crm, "members": members, "pub_customers": ids}


def links_url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/links{suffix}"


def public(link: dict[str, Any]) -> str:
    return f"{API}/public/{link['token']}"


def made(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def issues(response: Any) -> set[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return {(i["path"], i["code"]) for i in response.json()["error"]["issues"]}


def anonymous(crm: dict[str, Any]) -> TestClient:
    # A fresh address per call keeps the per-address rate limit out of the way.
    return TestClient(
        crm["app"],
        raise_server_exceptions=False,
        client=(f"198.51.100.{uuid.uuid4().int % 250 + 1}", 1),
    )


def level_a(crm: dict[str, Any], link: dict[str, Any]) -> Any:
    return anonymous(crm).post(public(link), json={"level": "A"})


def change_roles(crm: dict[str, Any], change: Callable[[list[dict[str, Any]]], None]) -> None:
    admin = crm["clients"]["admin"]
    definition = admin.get(f"{API}/apps/crm").json()
    change(definition["roles"])
    published = admin.put(f"{API}/apps/crm", json=definition)
    assert published.status_code == 200, published.text


def role(roles: list[dict[str, Any]], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in roles if r["key"] == key)
    return found


def not_permitted(response: Any) -> bool:
    return response.status_code == 410 and response.json()["error"]["code"] == "link_not_permitted"


# --- the attack --------------------------------------------------------------------------


def test_a_builder_who_sees_only_own_leads_cannot_publish_customers(crm: dict[str, Any]) -> None:
    builder = crm["clients"]["builder"]
    body = {"kind": "query", "fields": LEAK_FIELDS, "key_fields": ["level"]}
    refused = builder.post(links_url("customer"), json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden", (
        refused.text
    )
    assert "外链" in refused.json()["error"]["message"]
    # the builder role alone does not let them manage the links of the form they do see either
    assert (
        builder.post(
            links_url("lead"), json={"kind": "query", "fields": ["name"], "key_fields": ["phone"]}
        ).status_code
        == 403
    )
    assert builder.get(links_url("lead")).status_code == 403
    assert crm["clients"]["rep_a1"].post(links_url("customer"), json=body).status_code == 403
    assert crm["clients"]["admin"].get(links_url("customer")).json() == []  # nothing was written


def test_the_crm_administrator_role_manages_links_and_permissions_say_so(
    crm: dict[str, Any],
) -> None:
    crm_admin = crm["clients"]["crm_admin"]
    for form in ("customer", "contact", "lead", "opportunity", "followup", "contract", "payment"):
        mine = crm_admin.get(f"{API}/apps/crm/forms/{form}/permissions/me").json()
        assert "links" in mine["actions"], form
    assert (
        "links"
        not in crm["clients"]["rep_a1"]
        .get(f"{API}/apps/crm/forms/lead/permissions/me")
        .json()["actions"]
    )
    assert (
        "links"
        in crm["clients"]["admin"]
        .get(f"{API}/apps/crm/forms/lead/permissions/me")
        .json()["actions"]
    )


# --- bounded at creation -----------------------------------------------------------------


def test_a_link_may_only_show_what_its_creator_may_see(crm: dict[str, Any]) -> None:
    pub = crm["clients"]["pub"]
    hidden = pub.post(
        links_url("customer"),
        json={"kind": "query", "fields": LEAK_FIELDS, "key_fields": ["level"]},
    )
    assert issues(hidden) == {("fields[1]", "field_not_permitted")}
    by_phone = pub.post(
        links_url("customer"), json={"kind": "query", "fields": ["name"], "key_fields": ["phone"]}
    )
    assert issues(by_phone) == {("key_fields[0]", "field_not_permitted")}
    read_only = pub.post(
        links_url("lead"),
        json={"kind": "fill", "fields": ["name", "note"]},
        headers={"Accept-Language": "en"},
    )
    assert issues(read_only) == {("fields[1]", "field_not_permitted")}
    assert "note" in read_only.json()["error"]["issues"][0]["message"]
    no_create = pub.post(links_url("customer"), json={"kind": "fill", "fields": ["name"]})
    assert issues(no_create) == {("kind", "owner_not_permitted")}
    assert crm["clients"]["admin"].get(links_url("customer")).json() == []


def test_a_named_owner_must_hold_the_rights_too(crm: dict[str, Any]) -> None:
    admin, ids = crm["clients"]["admin"], crm["ids"]
    # finance has no rights on leads, and customer phone is hidden from them
    body = {"kind": "fill", "fields": ["name", "company"], "owner_id": ids["finance"]}
    assert issues(admin.post(links_url("lead"), json=body)) == {("owner_id", "owner_not_permitted")}
    query = {
        "kind": "query",
        "fields": ["name", "phone"],
        "key_fields": ["level"],
        "owner_id": ids["finance"],
    }
    assert issues(admin.post(links_url("customer"), json=query)) == {
        ("fields[1]", "field_not_permitted")
    }
    link = made(admin.post(links_url("customer"), json={**query, "fields": ["name"]}))
    assert issues(
        admin.patch(links_url("customer", f"/{link['id']}"), json={"fields": ["name", "phone"]})
    ) == {("fields[1]", "field_not_permitted")}
    rep = admin.patch(links_url("customer", f"/{link['id']}"), json={"owner_id": ids["gm"]})
    assert rep.status_code == 200 and rep.json()["owner"]["id"] == ids["gm"]


def test_rate_limit_is_capped(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    body = {"kind": "fill", "fields": ["name"], "owner_id": crm["ids"]["rep_a1"]}
    too_high = admin.post(
        links_url("lead"),
        json={**body, "rate_limit": MAX_RATE_LIMIT + 1},
        headers={"Accept-Language": "en"},
    )
    assert (
        issues(too_high) == {("rate_limit", "too_large")}
        and str(MAX_RATE_LIMIT) in too_high.json()["error"]["issues"][0]["message"]
    )
    assert issues(admin.post(links_url("lead"), json={**body, "rate_limit": 10**9})) == {
        ("rate_limit", "too_large")
    }
    link = made(admin.post(links_url("lead"), json={**body, "rate_limit": MAX_RATE_LIMIT}))
    assert issues(
        admin.patch(links_url("lead", f"/{link['id']}"), json={"rate_limit": 100_000})
    ) == {("rate_limit", "too_large")}


# --- bounded at every use ----------------------------------------------------------------


def test_a_query_link_returns_only_its_creators_records(crm: dict[str, Any]) -> None:
    pub, admin = crm["clients"]["pub"], crm["clients"]["admin"]
    body = {"kind": "query", "fields": ["name", "annual_purchase"], "key_fields": ["level"]}
    narrow = made(pub.post(links_url("customer"), json=body))
    wide = made(admin.post(links_url("customer"), json=body))
    theirs = level_a(crm, narrow)
    assert theirs.status_code == 200, theirs.text
    # their own customers (their role's scope)
    own = {c["name"] for c in pub.get(f"{API}/apps/crm/forms/customer/records").json()["items"]}
    assert {item["name"] for item in theirs.json()["items"]} == own and len(own) == 3
    # the administrator's link sees every A customer
    assert len(level_a(crm, wide).json()["items"]) == 20


def test_members_see_and_change_only_their_own_links(crm: dict[str, Any]) -> None:
    pub, admin = crm["clients"]["pub"], crm["clients"]["admin"]
    theirs = made(
        admin.post(
            links_url("lead"),
            json={"kind": "query", "fields": ["name", "phone"], "key_fields": ["phone"]},
        )
    )
    mine = made(
        pub.post(
            links_url("lead"), json={"kind": "query", "fields": ["name"], "key_fields": ["phone"]}
        )
    )
    assert mine["owner"]["id"] == crm["ids"]["pub"] and mine["created_by"] == crm["ids"]["pub"]
    listed = [link["id"] for link in pub.get(links_url("lead")).json()]
    assert mine["id"] in listed and theirs["id"] not in listed
    assert pub.get(links_url("lead", f"/{theirs['id']}")).status_code == 404
    assert (
        pub.patch(links_url("lead", f"/{theirs['id']}"), json={"enabled": False}).status_code == 404
    )
    assert pub.delete(links_url("lead", f"/{theirs['id']}")).status_code == 404
    assert admin.get(links_url("lead", f"/{theirs['id']}")).json()["enabled"] is True
    assert theirs["token"] not in json.dumps(pub.get(links_url("lead")).json())


def test_a_fill_link_of_the_crm_administrator_for_a_rep(crm: dict[str, Any]) -> None:
    crm_admin, ids = crm["clients"]["crm_admin"], crm["ids"]
    link = made(
        crm_admin.post(
            links_url("lead"),
            json={"kind": "fill", "fields": ["name", "company"], "owner_id": ids["rep_b1"]},
        )
    )
    name = f"外链{uuid.uuid4().hex[:6]}"
    assert anonymous(crm).post(public(link), json={"name": name}).status_code == 200
    found = (
        crm["clients"]["rep_b1"]
        .get(f"{API}/apps/crm/forms/lead/records", params={"filter": f'name = "{name}"'})
        .json()["items"]
    )
    assert [lead["_owner"] for lead in found] == [ids["rep_b1"]]
    # the rep (the owner) is deactivated: the link stops
    admin = crm["clients"]["admin"]
    assert admin.patch(f"{API}/users/{ids['rep_b1']}", json={"is_active": False}).status_code == 200
    try:
        assert not_permitted(anonymous(crm).get(public(link)))
        stopped = anonymous(crm).post(
            public(link), json={"name": name + "2"}, headers={"Accept-Language": "en"}
        )
        assert not_permitted(stopped) and "owner" in stopped.json()["error"]["message"]
    finally:
        assert (
            admin.patch(f"{API}/users/{ids['rep_b1']}", json={"is_active": True}).status_code == 200
        )
    assert anonymous(crm).get(public(link)).status_code == 200
    assert (
        admin.get(
            f"{API}/apps/crm/forms/lead/records", params={"filter": f'name = "{name}2"'}
        ).json()["items"]
        == []
    )
    reasons = [
        e["detail"].get("reason")
        for e in admin.get(f"{API}/audit", params={"kind": "public.expired", "limit": 500}).json()
    ]
    assert "not_permitted" in reasons


def test_the_crm_administrators_link_follows_the_roles_current_rights(crm: dict[str, Any]) -> None:
    crm_admin = crm["clients"]["crm_admin"]
    link = made(
        crm_admin.post(
            links_url("customer"),
            json={"kind": "query", "fields": LEAK_FIELDS, "key_fields": ["level"]},
        )
    )
    before = level_a(crm, link).json()["items"]
    assert len(before) == 20 and all(item["phone"] for item in before)
    original = crm["clients"]["admin"].get(f"{API}/apps/crm").json()["roles"]

    def narrow(roles: list[dict[str, Any]]) -> None:
        customer = role(roles, "crm_admin")["forms"]["customer"]
        customer["fields"] = {"phone": "hidden"}
        customer["scope"] = "own"

    change_roles(crm, narrow)
    try:
        shown = anonymous(crm).get(public(link)).json()
        assert [f["key"] for f in shown["fields"]] == ["name", "annual_purchase"]
        after = level_a(crm, link)
        assert after.status_code == 200, after.text
        assert after.json()["items"] == []  # crm_admin owns no customer: their scope is their own
        assert "phone" not in json.dumps(after.json())

        def no_links(roles: list[dict[str, Any]]) -> None:
            role(roles, "crm_admin")["forms"]["customer"]["actions"].remove("links")

        change_roles(crm, no_links)
        assert not_permitted(anonymous(crm).get(public(link)))
        assert not_permitted(level_a(crm, link))
    finally:
        change_roles(crm, lambda roles: roles.__setitem__(slice(None), copy.deepcopy(original)))
    assert len(level_a(crm, link).json()["items"]) == 20


def test_a_link_closes_when_its_creator_loses_the_role(crm: dict[str, Any]) -> None:
    pub, admin = crm["clients"]["pub"], crm["clients"]["admin"]
    link = made(
        pub.post(
            links_url("customer"),
            json={"kind": "query", "fields": ["name"], "key_fields": ["level"]},
        )
    )
    assert len(level_a(crm, link).json()["items"]) == 3
    role_id = _role_id(admin, "publisher")
    assert admin.delete(f"{API}/roles/{role_id}/members/{crm['members']['pub']}").status_code == 204
    try:
        for response in (
            anonymous(crm).get(public(link)),
            level_a(crm, link),
            anonymous(crm).get(f"{public(link)}/live"),
        ):
            assert not_permitted(response), response.text
            assert "name" not in json.dumps(response.json())
    finally:
        member = admin.post(f"{API}/roles/{role_id}/members", json={"user_id": crm["ids"]["pub"]})
        assert member.status_code == 201, member.text
        crm["members"]["pub"] = member.json()["id"]
    assert len(level_a(crm, link).json()["items"]) == 3


def test_a_fill_link_drops_fields_its_creator_may_no_longer_fill(crm: dict[str, Any]) -> None:
    pub, admin = crm["clients"]["pub"], crm["clients"]["admin"]
    link = made(pub.post(links_url("lead"), json={"kind": "fill", "fields": ["name", "company"]}))
    original = admin.get(f"{API}/apps/crm").json()["roles"]
    change_roles(
        crm,
        lambda roles: role(roles, "publisher")["forms"]["lead"]["fields"].update(
            {"company": "read_only"}
        ),
    )
    try:
        assert [f["key"] for f in anonymous(crm).get(public(link)).json()["fields"]] == ["name"]
        refused = anonymous(crm).post(public(link), json={"name": "甲", "company": "乙"})
        assert issues(refused) == {("company", "unknown_field")}
        name = f"丙{uuid.uuid4().hex[:6]}"
        assert anonymous(crm).post(public(link), json={"name": name}).status_code == 200
        [lead] = pub.get(
            f"{API}/apps/crm/forms/lead/records", params={"filter": f'name = "{name}"'}
        ).json()["items"]
        assert lead["_owner"] == crm["ids"]["pub"]
    finally:
        change_roles(crm, lambda roles: roles.__setitem__(slice(None), copy.deepcopy(original)))


def test_relations_from_a_link_are_read_with_its_bound_on_the_target_form(
    crm: dict[str, Any],
) -> None:
    """What a link reads through a relation (`Access.on`) is what both its creator and its
    owner may read of the target form, not everything."""
    with crm["engine"].connect() as conn:
        loaded = apps.load(conn, "crm")
        customer, lead, contact = (loaded.form(key) for key in ("customer", "lead", "contact"))
        bound = link_bound(
            conn, loaded, customer, owner_id=crm["ids"]["pub"], created_by=crm["ids"]["pub"]
        )
        assert bound is not None and bound.access("phone") == "hidden"
        link = LinkAccess(
            "query",
            frozenset({"name"}),
            frozenset(customer.fields),
            keys=(("level", "A"),),
            owner=bound,
        )
        on_lead = link.on(lead)
        assert (
            on_lead is not None and on_lead.allows("view") and on_lead.access("note") == "read_only"
        )
        on_contact = link.on(contact)
        # pub may not read contacts at all
        assert on_contact is not None and not on_contact.allows("view")
        both = link_bound(
            conn, loaded, customer, owner_id=crm["ids"]["gm"], created_by=crm["ids"]["pub"]
        )
        assert both is not None
        both_on_contact = both.on(contact)
        # pub's bound holds whoever the owner is
        assert both_on_contact is not None and not both_on_contact.allows("view")
        # a link of the admin token without an owner is unrestricted
        assert link_bound(conn, loaded, customer, owner_id=None, created_by=None) is None
