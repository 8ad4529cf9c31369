"""The approval inbox over HTTP (issue 13): /tasks, /tasks/{id}/act, /tasks/act, a record's
/flow with withdraw/urge, /notifications — on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.records_client import API, api_client
from tests.flows.runtime_fixtures import ONE_APPROVER, deals_app

PASSWORD = "Flow-password-42"
RECORDS = f"{API}/apps/deals/forms/deal/records"


@pytest.fixture
def people(migrated_engine: Engine, tmp_path: Path) -> dict[str, TestClient]:
    """The deals app with one approver (bob), and a signed-in client per user."""
    admin = api_client(migrated_engine, tmp_path)
    app = deals_app(ONE_APPROVER)
    app["roles"] = [
        {
            "key": "sales",
            "name": {"zh": "销售", "en": "Sales"},
            "forms": {"deal": {"actions": ["view", "create", "edit", "delete"]}},
        }
    ]
    assert admin.post(f"{API}/apps", json=app).status_code == 201
    [role] = [r for r in admin.get(f"{API}/roles", params={"app": "deals"}).json()]
    clients = {"admin": admin}
    for name in ("alice", "bob", "carol"):
        made = admin.post(
            f"{API}/users",
            json={"username": name, "display_name": name.title(), "password": PASSWORD},
        )
        assert made.status_code == 201, made.text
        if name == "alice":
            added = admin.post(
                f"{API}/roles/{role['id']}/members", json={"user_id": made.json()["id"]}
            )
            assert added.status_code == 201, added.text
        client = TestClient(admin.app, raise_server_exceptions=False)
        login = client.post(f"{API}/auth/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        clients[name] = client
    return clients


def _create(client: TestClient, **values: Any) -> int:
    created = client.post(RECORDS, json={"title": "合同", **values})
    assert created.status_code == 201, created.text
    return int(created.json()["_id"])


def test_the_inbox_round_trip(people: dict[str, TestClient]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    record = _create(alice, amount="100")
    open_tasks = bob.get(f"{API}/tasks", params={"state": "open"}).json()
    assert open_tasks["total"] == 1
    [task] = open_tasks["items"]
    assert (task["app"], task["form"], task["record_id"], task["node"]) == (
        "deals",
        "deal",
        record,
        "boss",
    )
    assert task["title"] == "合同" and task["initiator"]["username"] == "alice"
    assert carol.get(f"{API}/tasks").json()["total"] == 0
    # bob has no role on the form, but his task lets him see the flow; carol sees nothing
    flow = bob.get(f"{RECORDS}/{record}/flow").json()
    assert flow["state"] == "running"
    assert flow["current"][0]["node"] == "boss"
    assert [a["username"] for a in flow["current"][0]["assignees"]] == ["bob"]
    assert carol.get(f"{RECORDS}/{record}/flow").status_code == 404
    # locked while running
    version = alice.get(f"{RECORDS}/{record}").json()["_version"]
    locked = alice.patch(f"{RECORDS}/{record}", json={"amount": "1", "_version": version})
    assert locked.status_code == 422
    assert locked.json()["error"]["code"] == "record_in_approval"
    assert (
        carol.post(f"{API}/tasks/{task['id']}/act", json={"action": "approve"}).status_code == 403
    )
    done = bob.post(f"{API}/tasks/{task['id']}/act", json={"action": "approve", "comment": "同意"})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "approved"
    assert bob.get(f"{RECORDS}/{record}/flow").json()["state"] == "approved"  # 已办: still his
    again = bob.post(f"{API}/tasks/{task['id']}/act", json={"action": "approve"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "task_closed")
    assert bob.get(f"{API}/tasks", params={"state": "done"}).json()["total"] == 1
    mine = alice.get(f"{API}/tasks", params={"state": "initiated"}).json()
    assert [i["state"] for i in mine["items"]] == ["approved"]
    history = alice.get(f"{RECORDS}/{record}/flow").json()["history"]
    assert history[-1]["kind"] == "finished" and history[-1]["data"] == {"outcome": "approved"}
    inbox = alice.get(f"{API}/notifications").json()
    assert inbox["unread"] == 1 and inbox["items"][0]["kind"] == "finished"
    assert alice.post(f"{API}/notifications/read", json={"all": True}).json() == {"read": 1}
    assert alice.get(f"{API}/notifications").json()["unread"] == 0
    bad = alice.post(f"{API}/notifications/read", json={})
    assert bad.status_code == 422 and bad.json()["error"]["issues"][0]["path"] == "ids"


def test_batch_approve_with_per_row_results(people: dict[str, TestClient]) -> None:
    alice, bob = people["alice"], people["bob"]
    first, second = _create(alice), _create(alice)
    ids = [t["id"] for t in bob.get(f"{API}/tasks").json()["items"]]
    answer = bob.post(f"{API}/tasks/act", json={"ids": [*ids, 999999], "action": "approve"})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["ok"] for r in results] == [True, True, False]
    assert results[2]["error"]["code"] == "not_found"
    for record in (first, second):
        assert alice.get(f"{RECORDS}/{record}/flow").json()["state"] == "approved"


def test_urge_and_withdraw(people: dict[str, TestClient]) -> None:
    alice, bob = people["alice"], people["bob"]
    record = _create(alice)
    urged = alice.post(f"{RECORDS}/{record}/flow/urge")
    assert urged.status_code == 200 and urged.json()["urged"] == 1
    too_soon = alice.post(f"{RECORDS}/{record}/flow/urge")
    assert (too_soon.status_code, too_soon.json()["error"]["code"]) == (429, "urge_too_soon")
    assert [n["kind"] for n in bob.get(f"{API}/notifications").json()["items"]] == [
        "urged",
        "assigned",
    ]
    assert bob.post(f"{RECORDS}/{record}/flow/withdraw").status_code == 403
    withdrawn = alice.post(f"{RECORDS}/{record}/flow/withdraw", json={"comment": "不要了"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"
    assert bob.get(f"{API}/tasks").json()["total"] == 0


def test_bad_input_is_a_clear_error(people: dict[str, TestClient]) -> None:
    alice, bob = people["alice"], people["bob"]
    _create(alice)
    task = bob.get(f"{API}/tasks").json()["items"][0]["id"]
    for body, path in (
        ({"action": "sign"}, "action"),
        ({"action": "approve", "extra": 1}, "extra"),
        ({"action": "transfer", "to": 0}, "to"),
    ):
        answer = bob.post(f"{API}/tasks/{task}/act", json=body)
        assert answer.status_code == 400, (body, answer.text)  # malformed request (schema)
        assert answer.json()["error"]["issues"][0]["path"] == path
    self_transfer = bob.post(f"{API}/tasks/{task}/act", json={"action": "transfer", "to": 10**6})
    assert self_transfer.status_code == 422
    assert self_transfer.json()["error"]["issues"][0]["path"] == "to"
    assert bob.get(f"{API}/tasks", params={"state": "nope"}).status_code == 400
    edits = bob.post(f"{API}/tasks/{task}/act", json={"action": "approve", "data": {"amount": "1"}})
    assert edits.status_code == 422
    assert edits.json()["error"]["issues"][0]["path"] == "data.amount"
    assert copy.deepcopy(edits.json())["error"]["issues"][0]["code"] == "flow_field_locked"
