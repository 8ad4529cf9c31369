"""A unique value taken by a record outside the caller's view scope is refused without echoing
the value or naming the record (issue 10, finding 9), on the stock CRM on SQLite and PostgreSQL;
a caller who may see the other record still gets the value in the message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.crm_org import API, installed_crm

PHONE = "13912345678"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def url(suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/customer/records{suffix}"


def customer_of(crm: dict[str, Any], owner: str, phone: str) -> dict[str, Any]:
    admin = crm["clients"]["admin"]
    created = admin.post(url(), json={"name": f"{owner} 的客户", "level": "C", "phone": phone})
    assert created.status_code == 201, created.text
    record_id = created.json()["_id"]
    assert (
        admin.post(
            url("/transfer"), json={"ids": [record_id], "owner": crm["ids"][owner]}
        ).status_code
        == 200
    )
    record: dict[str, Any] = admin.get(url(f"/{record_id}")).json()
    return record


def unique_issue(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    [found] = [i for i in response.json()["error"]["issues"] if i["code"] == "unique"]
    return found


def test_another_reps_phone_is_not_echoed(crm: dict[str, Any]) -> None:
    theirs = customer_of(crm, "rep_b1", PHONE)
    rep = crm["clients"]["rep_a1"]
    assert rep.get(url(f"/{theirs['_id']}")).status_code == 404  # outside rep_a1's scope
    mine = rep.post(url(), json={"name": "rep_a1 的客户", "level": "C"})
    assert mine.status_code == 201, mine.text
    attempts = [
        rep.post(url(), json={"name": "probe", "phone": PHONE}),
        rep.post(
            url("/batch"), params={"partial": "true"}, json=[{"name": "probe", "phone": PHONE}]
        ),
        rep.patch(
            url(f"/{mine.json()['_id']}"),
            json={"phone": PHONE, "_version": mine.json()["_version"]},
        ),
        rep.post(url(), json={"name": "probe", "phone": PHONE}, headers={"Accept-Language": "en"}),
    ]
    for response in attempts:
        assert response.status_code in (200, 422), response.text
        assert PHONE not in response.text
        assert f"{theirs['_id']}" not in response.json().get("error", {}).get("message", "")
    found = unique_issue(attempts[0])
    assert (found["path"], found["message"]) == ("phone", "该取值已被使用，不能重复")
    [row] = attempts[1].json()["results"]
    assert not row["ok"] and [(i["path"], i["code"]) for i in row["error"]["issues"]] == [
        ("[0].phone", "unique")
    ]
    assert unique_issue(attempts[2])["path"] == "phone"
    assert unique_issue(attempts[3])["message"] == "This value is already taken; it must be unique"


def test_a_caller_who_sees_the_other_record_gets_the_value(crm: dict[str, Any]) -> None:
    customer_of(crm, "rep_b2", "13912345679")
    director = crm["clients"]["director"]  # the whole sales department tree
    found = unique_issue(director.post(url(), json={"name": "probe", "phone": "13912345679"}))
    assert found["message"] == "取值 13912345679 已存在，不能重复"
