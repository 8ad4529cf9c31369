"""Data linkage defaults through the API, on SQLite and PostgreSQL: creates fill from the
source as the actor (row scope and hidden fields apply), the live endpoint the fill page calls,
public fill links (read as the link's owner), and export -> import keeping the definitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.records_client import API
from tests.forms.linkage_app import link, shop_app

PASSWORD = "Linkage-Pass-1"


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/shop/forms/{form}{suffix}"


def as_user(client: TestClient, username: str) -> TestClient:
    other = TestClient(client.app, raise_server_exceptions=False)
    login = other.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    other.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return other


@pytest.fixture
def shop(client: TestClient) -> Iterator[dict[str, Any]]:
    """The shop app, two reps and a viewer, and customers of each rep (made by the admin)."""
    assert client.post(f"{API}/apps", json=shop_app()).status_code == 201
    roles = {r["key"]: r["id"] for r in client.get(f"{API}/roles", params={"app": "shop"}).json()}
    ids: dict[str, int] = {}
    for username, role in (("rep_a", "rep"), ("rep_b", "rep"), ("viewer", "viewer")):
        user = client.post(
            f"{API}/users",
            json={"username": username, "display_name": username, "password": PASSWORD},
        )
        assert user.status_code == 201, user.text
        ids[username] = user.json()["id"]
        assert (
            client.post(
                f"{API}/roles/{roles[role]}/members", json={"user_id": ids[username]}
            ).status_code
            == 201
        )
    customers = {}
    for name, owner, level in (("甲公司", "rep_a", "A"), ("乙公司", "rep_b", "B")):
        body = {
            "name": name,
            "city": "杭州",
            "level": level,
            "phone": "13800000000",
            "manager": ids[owner],
            "credit": "5000",
        }
        created = client.post(url("customer", "/records"), json=body)
        assert created.status_code == 201, created.text
        record = created.json()
        moved = client.post(
            url("customer", "/records/transfer"), json={"ids": [record["_id"]], "owner": ids[owner]}
        )
        assert moved.status_code == 200, moved.text
        customers[name] = record["_id"]
    yield {
        "admin": client,
        "ids": ids,
        "customers": customers,
        "rep_a": as_user(client, "rep_a"),
        "viewer": as_user(client, "viewer"),
    }


def test_create_fills_linked_fields_from_the_related_record(shop: dict[str, Any]) -> None:
    admin, customer = shop["admin"], shop["customers"]["甲公司"]
    created = admin.post(
        url("order", "/records"),
        json={"title": "一号", "customer": customer, "customer_name": "甲公司", "city": "杭州"},
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["level"] == "A"
    assert order["phone"] == "13800000000"  # phone -> text
    assert order["manager"]["id"] == shop["ids"]["rep_a"]
    assert order["credit"] == "5000.00"  # money -> number
    assert order["level_by_name"] == "A"  # two conditions: name and city


def test_given_values_win_and_nothing_matching_leaves_the_field_empty(shop: dict[str, Any]) -> None:
    admin, customer = shop["admin"], shop["customers"]["甲公司"]
    body = {
        "title": "二号",
        "customer": customer,
        "level": "C",
        "phone": None,
        "customer_name": "甲公司",
        "city": "上海",
    }
    order = admin.post(url("order", "/records"), json=body).json()
    assert (order["level"], order["phone"], order["level_by_name"]) == ("C", None, None)
    empty = admin.post(url("order", "/records"), json={"title": "三号"}).json()
    assert (empty["level"], empty["manager"], empty["credit"]) == (None, None, None)


def test_a_batch_fills_every_record(shop: dict[str, Any]) -> None:
    admin, customers = shop["admin"], shop["customers"]
    records = [
        {"title": str(n), "customer": customers["甲公司" if n % 2 else "乙公司"]} for n in range(6)
    ]
    done = admin.post(url("order", "/records/batch"), json=records)
    assert done.status_code == 200, done.text
    items = admin.get(url("order", "/records"), params={"sort": "_id", "limit": 10}).json()["items"]
    assert [i["level"] for i in items] == ["B", "A", "B", "A", "B", "A"]


def test_the_source_is_read_as_the_actor(shop: dict[str, Any]) -> None:
    rep, customers = shop["rep_a"], shop["customers"]
    own = rep.post(
        url("order", "/records"), json={"title": "自己的", "customer": customers["甲公司"]}
    )
    assert own.status_code == 201, own.text
    assert own.json()["level"] == "A"
    assert own.json()["credit"] is None  # credit is hidden from reps on customers: not copied
    # 乙公司 belongs to rep_b: outside rep_a's scope, so it cannot be linked at all (issue 10)
    other = rep.post(
        url("order", "/records"),
        json={
            "title": "别人的",
            "customer": customers["乙公司"],
            "customer_name": "乙公司",
            "city": "杭州",
        },
    )
    assert other.status_code == 422, other.text
    assert [(i["path"], i["code"]) for i in other.json()["error"]["issues"]] == [
        ("customer", "record_not_found")
    ]
    assert "乙公司" not in other.text.replace('"customer_name"', "")
    # matched by name and city instead of the relation, 乙公司 is still read as rep_a: nothing copied
    named = rep.post(
        url("order", "/records"),
        json={"title": "别人的", "customer_name": "乙公司", "city": "杭州"},
    )
    assert named.status_code == 201, named.text
    assert (
        named.json()["level"],
        named.json()["phone"],
        named.json()["manager"],
        named.json()["level_by_name"],
    ) == (None, None, None, None)


def test_the_live_endpoint_answers_what_a_create_would_copy(shop: dict[str, Any]) -> None:
    admin, rep, customers = shop["admin"], shop["rep_a"], shop["customers"]
    answer = admin.post(
        url("order", "/linkage"),
        json={
            "values": {"customer": {"_id": customers["甲公司"], "title": "甲公司"}, "title": "x"}
        },
    )
    assert answer.status_code == 200, answer.text
    values = answer.json()["values"]
    assert (
        values["level"] == "A"
        and values["phone"] == "13800000000"
        and values["credit"] == "5000.00"
    )
    assert values["manager"] == {
        "id": shop["ids"]["rep_a"],
        "name": "rep_a",
    }  # as reads show people
    assert "level_by_name" not in values  # its conditions are not filled
    both = admin.post(
        url("order", "/linkage"), json={"values": {"customer_name": "乙公司", "city": "杭州"}}
    ).json()["values"]
    assert both == {"level_by_name": "B"}
    nothing = admin.post(
        url("order", "/linkage"), json={"values": {"customer_name": "丙公司", "city": "杭州"}}
    ).json()["values"]
    assert nothing == {"level_by_name": None}
    mine = rep.post(
        url("order", "/linkage"), json={"values": {"customer": customers["甲公司"]}}
    ).json()["values"]
    assert mine["level"] == "A" and mine["credit"] is None
    theirs = rep.post(
        url("order", "/linkage"), json={"values": {"customer": customers["乙公司"]}}
    ).json()["values"]
    assert set(theirs.values()) == {None}


def test_the_live_endpoint_refuses_bad_input_with_the_error_shape(shop: dict[str, Any]) -> None:
    admin = shop["admin"]
    bad_value = admin.post(
        url("order", "/linkage"),
        json={"values": {"customer": "abc", "city": 5, "customer_name": "x"}},
    )
    assert bad_value.status_code == 422
    error = bad_value.json()["error"]
    assert error["code"] == "validation_failed"
    assert {i["path"] for i in error["issues"]} == {"values.customer", "values.city"}
    not_an_object = admin.post(url("order", "/linkage"), json={"values": [1, 2]})
    assert not_an_object.status_code in (400, 422)
    assert not_an_object.json()["error"]["issues"]
    no_body = admin.post(
        url("order", "/linkage"), content=b"{", headers={"Content-Type": "application/json"}
    )
    assert no_body.status_code == 400
    for response in (bad_value, not_an_object, no_body):
        assert set(response.json()["error"]) >= {"code", "message", "issues"}
    surrogate = admin.post(
        url("order", "/linkage"),
        content=b'{"values": {"customer_name": "\\ud800", "city": "x"}}',
        headers={"Content-Type": "application/json"},
    )
    assert surrogate.status_code == 422
    assert [i["path"] for i in surrogate.json()["error"]["issues"]] == ["values.customer_name"]
    assert (
        admin.post(f"{API}/apps/nope/forms/order/linkage", json={"values": {}}).status_code == 404
    )
    assert admin.post(url("nope", "/linkage"), json={"values": {}}).status_code == 404


def test_the_live_endpoint_needs_a_caller_who_may_create(shop: dict[str, Any]) -> None:
    anonymous = TestClient(shop["admin"].app, raise_server_exceptions=False)
    assert anonymous.post(url("order", "/linkage"), json={"values": {}}).status_code == 401
    refused = shop["viewer"].post(
        url("order", "/linkage"), json={"values": {"customer": shop["customers"]["甲公司"]}}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


def test_a_public_fill_link_reads_the_source_as_its_owner(shop: dict[str, Any]) -> None:
    admin = shop["admin"]
    body = {
        "kind": "fill",
        "name": "订单外链",
        "fields": ["title", "customer_name", "city"],
        "owner_id": shop["ids"]["rep_a"],
    }
    made = admin.post(url("order", "/links"), json=body)
    assert made.status_code == 201, made.text
    anonymous = TestClient(admin.app, raise_server_exceptions=False)
    for title, name in (("外链甲", "甲公司"), ("外链乙", "乙公司")):
        sent = anonymous.post(
            f"{API}/public/{made.json()['token']}",
            json={"title": title, "customer_name": name, "city": "杭州"},
        )
        assert sent.status_code == 200, sent.text
    items = admin.get(url("order", "/records"), params={"sort": "_id"}).json()["items"]
    levels = {i["title"]: i["level_by_name"] for i in items}
    assert levels == {"外链甲": "A", "外链乙": None}  # rep_a may not see 乙公司


def test_export_and_import_keep_linkage_definitions(shop: dict[str, Any]) -> None:
    admin = shop["admin"]
    pack = admin.get(f"{API}/apps/shop/export").json()
    fields = {f["key"]: f for f in pack["forms"][1]["fields"]}
    assert fields["level"]["default"] == link("level", ("_id", "customer"))
    pack["key"] = "shop_copy"
    imported = admin.post(f"{API}/apps/import", json=pack)
    assert imported.status_code == 201, imported.text
    again = admin.get(f"{API}/apps/shop_copy/export").json()
    assert again["forms"] == pack["forms"]
    copy = f"{API}/apps/shop_copy/forms"
    customer = admin.post(f"{copy}/customer/records", json={"name": "丁公司", "level": "C"}).json()
    order = admin.post(f"{copy}/order/records", json={"customer": customer["_id"]}).json()
    assert order["level"] == "C"


def test_publishing_a_bad_linkage_is_a_field_level_422(shop: dict[str, Any]) -> None:
    admin = shop["admin"]
    definition = admin.get(f"{API}/apps/shop").json()
    definition["forms"][1]["fields"][2]["default"]["linkage"]["take"] = "nothing"
    refused = admin.put(f"{API}/apps/shop", json=definition)
    assert refused.status_code == 422
    [found] = refused.json()["error"]["issues"]
    assert found["path"] == "forms[1].fields[2].default.linkage.take"
    assert found["code"] == "unknown_field"


def test_the_crm_follow_ups_copy_the_customer_owner(crm: TestClient) -> None:
    customers = crm.get(f"{API}/apps/crm/forms/customer/records", params={"limit": 1000}).json()[
        "items"
    ]
    owners = {c["_id"]: (c["owner"] or {}).get("id") for c in customers}
    followups = crm.get(f"{API}/apps/crm/forms/followup/records", params={"limit": 1000}).json()[
        "items"
    ]
    assert followups and all(
        (f["customer_owner"] or {}).get("id") == owners[f["customer"]["_id"]] for f in followups
    )
    assert sum(f["customer_owner"] is not None for f in followups) > len(followups) / 2
    made = crm.post(
        f"{API}/apps/crm/forms/followup/records",
        json={"customer": customers[0]["_id"], "method": "phone", "content": "电话"},
    )
    assert made.status_code == 201, made.text
    assert (made.json()["customer_owner"] or {}).get("id") == owners[customers[0]["_id"]]
