"""Issue 13's "done when" on the stock CRM through the API, on SQLite and PostgreSQL: the
contract approval routed by the contract amount (a rollup of its lines), the 会签 of the sales
director and the general manager, finance in cc, a rejection back to the sales rep, who edits
and resubmits; sample data starts nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.auth.crm_org import API, installed_crm
from tests.flows.fixtures import CRM_CONTRACT_APPROVAL

CONTRACTS = f"{API}/apps/crm/forms/contract/records"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    for installed in installed_crm(request, tmp_path_factory):
        admin = installed["clients"]["admin"]
        definition = admin.get(f"{API}/apps/crm").json()
        definition["flows"] = [copy.deepcopy(CRM_CONTRACT_APPROVAL)]
        for form in definition["forms"]:
            if form["key"] == "contract":
                form["flow"] = "contract_approval"
        published = admin.put(f"{API}/apps/crm", json=definition)
        assert published.status_code == 200, published.text
        yield installed


def _contract(rep: TestClient, price: int) -> int:
    customers = rep.get(f"{API}/apps/crm/forms/customer/records", params={"limit": 1}).json()
    created = rep.post(
        CONTRACTS,
        json={
            "title": f"合同 {price}",
            "customer": customers["items"][0]["_id"],
            "start_date": "2026-12-01",
            "end_date": "2027-11-30",
            "items": [{"product": "软件", "qty": 1, "price": str(price)}],
        },
    )
    assert created.status_code == 201, created.text
    return int(created.json()["_id"])


def _open(client: TestClient, record: int) -> list[dict[str, Any]]:
    items = client.get(f"{API}/tasks", params={"limit": 200}).json()["items"]
    return [t for t in items if t["form"] == "contract" and t["record_id"] == record]


def _approve(client: TestClient, record: int, action: str = "approve", **body: Any) -> None:
    [task] = _open(client, record)
    done = client.post(f"{API}/tasks/{task['id']}/act", json={"action": action, **body})
    assert done.status_code == 200, done.text


def test_sample_contracts_start_nothing(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    sample = admin.get(CONTRACTS, params={"limit": 1}).json()["items"][0]["_id"]
    assert admin.get(f"{CONTRACTS}/{sample}/flow").json()["state"] is None


def test_a_big_contract_needs_director_and_general_manager(crm: dict[str, Any]) -> None:
    clients = crm["clients"]
    rep, director, gm, finance = (clients[n] for n in ("rep_a1", "director", "gm", "finance"))
    record = _contract(rep, 80000)
    assert [t["node"] for t in _open(director, record)] == ["countersign"]
    assert [t["node"] for t in _open(gm, record)] == ["countersign"]
    _approve(gm, record)
    assert rep.get(f"{CONTRACTS}/{record}/flow").json()["state"] == "running"
    _approve(director, record)
    assert rep.get(f"{CONTRACTS}/{record}/flow").json()["state"] == "approved"
    copied = finance.get(f"{API}/tasks", params={"state": "cc", "limit": 200}).json()["items"]
    assert record in {t["record_id"] for t in copied if t["form"] == "contract"}


def test_a_small_contract_needs_the_director_only(crm: dict[str, Any]) -> None:
    clients = crm["clients"]
    rep, director, gm = clients["rep_a1"], clients["director"], clients["gm"]
    record = _contract(rep, 30000)
    assert _open(gm, record) == []
    _approve(director, record, data={"signed_date": "2026-12-05"})
    flow = rep.get(f"{CONTRACTS}/{record}/flow").json()
    assert flow["state"] == "approved"
    assert rep.get(f"{CONTRACTS}/{record}").json()["signed_date"] == "2026-12-05"


def test_a_rejected_contract_returns_to_the_rep_who_edits_and_resubmits(
    crm: dict[str, Any],
) -> None:
    clients = crm["clients"]
    rep, director = clients["rep_a1"], clients["director"]
    record = _contract(rep, 20000)
    _approve(director, record, action="reject", comment="请补充付款条款")
    assert rep.get(f"{CONTRACTS}/{record}/flow").json()["state"] == "returned"
    returned = [
        n
        for n in rep.get(f"{API}/notifications").json()["items"]
        if n["kind"] == "returned" and n["record_id"] == record
    ]
    assert returned[0]["data"]["comment"] == "请补充付款条款"
    version = rep.get(f"{CONTRACTS}/{record}").json()["_version"]
    edited = rep.patch(
        f"{CONTRACTS}/{record}", json={"title": "合同（已补充）", "_version": version}
    )
    assert edited.status_code == 200, edited.text
    again = rep.post(f"{CONTRACTS}/{record}/flow/resubmit", json={"comment": "已补充"})
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "running"
    assert [t["node"] for t in _open(director, record)] == ["director"]
