"""What a flow task lets its holder read and edit (issue 13 "Access"), through the API, on
SQLite and PostgreSQL: the record by id and its files with the node's field access, relations
with the holder's own rights, nothing else of the form, edits only through the action, and
the read refused again once the task is closed (cancelled, transferred, withdrawn, deleted) —
except a task the holder acted on (已办) and a cc task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from engine.flows.access import granting_task
from tests.api.records_client import API, api_client
from tests.flows.runtime_fixtures import IN_TURN, set_up

PASSWORD = "Flow-password-42"
DEALS = f"{API}/apps/shop/forms/deal/records"
CUSTOMERS = f"{API}/apps/shop/forms/customer/records"


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


CUSTOMER = {
    "key": "customer",
    "name": _label("客户", "Customer"),
    "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": _label("名称", "Name"), "required": True},
        {"key": "city", "type": "text", "label": _label("城市", "City")},
    ],
}
DEAL = {
    "key": "deal",
    "name": _label("交易", "Deal"),
    "title_field": "title",
    "flow": "approval",
    "fields": [
        {"key": "title", "type": "text", "label": _label("标题", "Title"), "required": True},
        {"key": "amount", "type": "number", "label": _label("金额", "Amount")},
        {"key": "note", "type": "text", "label": _label("备注", "Note")},
        {"key": "secret", "type": "text", "label": _label("底价", "Floor price")},
        {
            "key": "secret_shout",
            "type": "formula",
            "label": _label("底价!", "Floor!"),
            "expr": 'secret & "!"',
        },
        {"key": "doc", "type": "attachment", "label": _label("附件", "Document")},
        {"key": "scan", "type": "attachment", "label": _label("扫描件", "Scan")},
        {
            "key": "customer",
            "type": "relation",
            "label": _label("客户", "Customer"),
            "target": "customer",
        },
        {
            "key": "customer_city",
            "type": "lookup",
            "label": _label("客户城市", "Customer city"),
            "relation": "customer",
            "field": "city",
        },
    ],
}
FLOW = {
    "key": "approval",
    "name": _label("交易审批", "Deal approval"),
    "form": "deal",
    "nodes": [
        {"id": "start", "type": "start"},
        {
            "id": "boss",
            "type": "approve",
            "assignees": [{"user": "bob"}, {"user": "carol"}, {"user": "dave"}],
            "fields": {"note": "edit", "secret": "hidden", "scan": "hidden"},
        },
        {"id": "copy", "type": "cc", "assignees": [{"user": "erin"}]},
        {"id": "end", "type": "end"},
    ],
    "edges": [
        {"from": "start", "to": "boss"},
        {"from": "boss", "to": "copy"},
        {"from": "copy", "to": "end"},
    ],
}
ROLES = [
    {
        "key": "sales",
        "name": _label("销售", "Sales"),
        "forms": {
            "deal": {"actions": ["view", "create", "edit", "delete"], "scope": "own"},
            "customer": {"actions": ["view", "create", "edit"], "scope": "own"},
        },
    },
    {
        # dave reads his own deals only, without the note; and every customer
        "key": "viewer",
        "name": _label("查看", "Viewer"),
        "forms": {
            "deal": {"actions": ["view"], "scope": "own", "fields": {"note": "hidden"}},
            "customer": {"actions": ["view"], "scope": "all"},
        },
    },
]
MEMBERS = {"alice": "sales", "dave": "viewer"}


@pytest.fixture
def shop(migrated_engine: Engine, tmp_path: Path) -> dict[str, TestClient]:
    """The shop app (customer, deal with the approval flow), and a client per user: alice
    (sales: her own deals and customers), bob, carol, erin (no role), dave (viewer)."""
    admin = api_client(migrated_engine, tmp_path)
    app = {
        "format": "jimu.app/1",
        "key": "shop",
        "name": _label("商店", "Shop"),
        "version": "1.0.0",
        "forms": [CUSTOMER, DEAL],
        "roles": ROLES,
        "flows": [FLOW],
    }
    made_app = admin.post(f"{API}/apps", json=app)
    assert made_app.status_code == 201, made_app.text
    roles = {r["key"]: r["id"] for r in admin.get(f"{API}/roles", params={"app": "shop"}).json()}
    clients = {"admin": admin}
    for name in ("alice", "bob", "carol", "dave", "erin"):
        made = admin.post(
            f"{API}/users",
            json={"username": name, "display_name": name.title(), "password": PASSWORD},
        )
        assert made.status_code == 201, made.text
        if name in MEMBERS:
            added = admin.post(
                f"{API}/roles/{roles[MEMBERS[name]]}/members", json={"user_id": made.json()["id"]}
            )
            assert added.status_code == 201, added.text
        client = TestClient(admin.app, raise_server_exceptions=False)
        login = client.post(f"{API}/auth/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        clients[name] = client
    return clients


def _upload(client: TestClient, name: str) -> int:
    done = client.post(
        f"{API}/files", files={"file": (name, b"bytes of " + name.encode(), "text/plain")}
    )
    assert done.status_code == 201, done.text
    return int(done.json()["file_id"])


def _deal(shop: dict[str, TestClient]) -> dict[str, Any]:
    """Alice's customer and her deal for it (with a document and a scan): the flow starts."""
    alice = shop["alice"]
    customer = alice.post(CUSTOMERS, json={"name": "华为", "city": "深圳"})
    assert customer.status_code == 201, customer.text
    doc, scan = _upload(alice, "doc.txt"), _upload(alice, "scan.txt")
    created = alice.post(
        DEALS,
        json={
            "title": "大单",
            "amount": 80000,
            "note": "请审批",
            "secret": "底价 70000",
            "doc": [{"file_id": doc}],
            "scan": [{"file_id": scan}],
            "customer": customer.json()["_id"],
        },
    )
    assert created.status_code == 201, created.text
    return {
        "id": created.json()["_id"],
        "customer": customer.json()["_id"],
        "doc": doc,
        "scan": scan,
    }


def _task(client: TestClient, state: str = "open") -> dict[str, Any]:
    [task] = client.get(f"{API}/tasks", params={"state": state}).json()["items"]
    return task


def _reads(client: TestClient, record: int) -> bool:
    answer = client.get(f"{DEALS}/{record}")
    assert answer.status_code in (200, 404), answer.text
    return answer.status_code == 200


def test_an_approver_without_a_role_reads_the_record_with_the_nodes_access(
    shop: dict[str, TestClient],
) -> None:
    deal = _deal(shop)
    bob, carol, erin = shop["bob"], shop["carol"], shop["erin"]
    record = bob.get(f"{DEALS}/{deal['id']}")
    assert record.status_code == 200, record.text
    got = record.json()
    assert got["title"] == "大单" and got["note"] == "请审批" and got["amount"] == "80000.00"
    # node-hidden fields and the formula computed from one are absent
    assert "secret" not in got and "secret_shout" not in got and "scan" not in got
    # the relation is read with bob's own rights: no role on customers, so no title, and the
    # lookup of the customer's city is hidden from him
    assert got["customer"] == {"_id": deal["customer"], "title": None, "restricted": True}
    assert "customer_city" not in got
    # the role holder sees everything as before
    mine = shop["alice"].get(f"{DEALS}/{deal['id']}").json()
    assert mine["secret_shout"] == "底价 70000!" and mine["customer_city"] == "深圳"
    assert mine["customer"]["title"] == "华为"
    # files: the visible document downloads, the node-hidden scan does not
    files = f"{DEALS}/{deal['id']}/files"
    assert bob.get(f"{files}/{deal['doc']}").content == b"bytes of doc.txt"
    assert bob.get(f"{files}/{deal['scan']}").status_code == 404
    assert carol.get(f"{files}/{deal['doc']}").status_code == 200
    # erin (cc, not reached yet) and the admin's view of the same request
    assert not _reads(erin, deal["id"])
    assert erin.get(f"{files}/{deal['doc']}").status_code == 404


def test_the_task_opens_no_list_count_export_history_or_other_record(
    shop: dict[str, TestClient],
) -> None:
    deal = _deal(shop)
    bob, dave = shop["bob"], shop["dave"]
    assert _reads(bob, deal["id"])
    assert bob.get(DEALS).status_code == 404  # no role on the form: as before
    assert bob.get(DEALS, params={"limit": 0}).status_code == 404
    assert bob.get(f"{DEALS}/{deal['id']}/history").status_code == 404
    assert bob.get(f"{DEALS}/export", params={"format": "csv"}).status_code == 404
    assert shop["dave"].get(f"{DEALS}/export", params={"format": "csv"}).status_code == 403
    # the customer whose deal is under approval stays out of reach, and so do its deals
    assert bob.get(f"{CUSTOMERS}/{deal['customer']}").status_code == 404
    assert bob.get(DEALS, params={"related": f"customer:{deal['customer']}"}).status_code == 404
    # a role whose scope leaves the record out: the list stays empty, the record reads
    listed = dave.get(DEALS).json()
    assert listed["items"] == [] and listed["total"] == 0
    assert dave.get(DEALS, params={"related": f"customer:{deal['customer']}"}).json()["total"] == 0
    assert dave.get(f"{DEALS}/{deal['id']}/history").status_code == 404
    assert _reads(dave, deal["id"])


def test_the_node_narrows_a_role_and_grants_only_read(shop: dict[str, TestClient]) -> None:
    deal = _deal(shop)
    dave = shop["dave"]
    got = dave.get(f"{DEALS}/{deal['id']}").json()
    # dave's role hides the note (the node would show it, editable): it stays hidden
    assert "note" not in got and "secret" not in got and got["title"] == "大单"
    # his role reads every customer: the relation has its title and the lookup its value
    assert got["customer"]["title"] == "华为" and got["customer_city"] == "深圳"
    task = dave.get(f"{API}/tasks/{_task(dave)['id']}").json()
    assert task["fields"]["note"] == "hidden" and task["fields"]["secret"] == "hidden"
    assert task["fields"]["title"] == "read_only"
    assert "note" not in task["record"]
    # the granted read allows no write
    changed = dave.patch(f"{DEALS}/{deal['id']}", json={"title": "改", "_version": 1})
    assert changed.status_code in (403, 404)
    # nor through the action: the node makes the note editable, his role hides it
    refused = dave.post(
        f"{API}/tasks/{task['task']['id']}/act", json={"action": "approve", "data": {"note": "改"}}
    )
    assert refused.status_code == 422, refused.text
    [issue] = refused.json()["error"]["issues"]
    assert issue["path"] == "data.note" and issue["code"] == "flow_field_locked"
    assert _task(dave)["id"] == task["task"]["id"]  # still open: nothing was done
    assert shop["alice"].get(f"{DEALS}/{deal['id']}").json()["note"] == "请审批"


def test_edits_only_through_the_action_and_only_the_nodes_edit_fields(
    shop: dict[str, TestClient],
) -> None:
    deal = _deal(shop)
    bob, alice = shop["bob"], shop["alice"]
    task = _task(bob)
    answer = bob.get(f"{API}/tasks/{task['id']}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["task"]["record_id"] == deal["id"] and body["task"]["node"] == "boss"
    assert body["fields"]["note"] == "edit" and body["fields"]["secret"] == "hidden"
    assert body["fields"]["secret_shout"] == "hidden" and body["fields"]["title"] == "read_only"
    assert "secret" not in body["record"] and body["record"]["note"] == "请审批"
    # someone else's task is not there for carol
    assert shop["carol"].get(f"{API}/tasks/{task['id']}").status_code == 404
    # through the records API: bob has no role (404), alice's edit is locked while running
    assert bob.patch(f"{DEALS}/{deal['id']}", json={"note": "x", "_version": 1}).status_code == 404
    locked = alice.patch(f"{DEALS}/{deal['id']}", json={"note": "x", "_version": 1})
    assert locked.status_code == 422 and locked.json()["error"]["code"] == "record_in_approval"
    # through the action: a read-only or hidden field is refused, nothing written
    for key in ("title", "secret"):
        refused = bob.post(
            f"{API}/tasks/{task['id']}/act", json={"action": "approve", "data": {key: "改"}}
        )
        assert refused.status_code == 422, refused.text
        [issue] = refused.json()["error"]["issues"]
        assert issue["path"] == f"data.{key}" and issue["code"] == "flow_field_locked"
    # the node's edit field changes, as bob, though he holds no role on the form
    done = bob.post(
        f"{API}/tasks/{task['id']}/act",
        json={"action": "approve", "data": {"note": "同意，价格可以"}},
    )
    assert done.status_code == 200, done.text
    record = alice.get(f"{DEALS}/{deal['id']}").json()
    assert record["note"] == "同意，价格可以" and record["title"] == "大单"
    history = alice.get(f"{DEALS}/{deal['id']}/history").json()
    assert history[-1]["changes"]["note"][1] == "同意，价格可以"
    # 已办: bob still reads it, read-only now
    assert _reads(bob, deal["id"])
    after = bob.get(f"{API}/tasks/{task['id']}").json()
    assert after["fields"]["note"] == "read_only" and after["record"]["note"] == "同意，价格可以"


def test_the_read_ends_with_the_task(shop: dict[str, TestClient]) -> None:
    bob, carol, dave, erin, alice = (shop[n] for n in ("bob", "carol", "dave", "erin", "alice"))
    # 或签: bob approves, carol's and dave's tasks are cancelled; erin is copied
    first = _deal(shop)
    carol_task = _task(carol)
    assert _reads(carol, first["id"]) and _reads(dave, first["id"])
    assert (
        bob.post(f"{API}/tasks/{_task(bob)['id']}/act", json={"action": "approve"}).status_code
        == 200
    )
    assert not _reads(carol, first["id"]) and not _reads(dave, first["id"])
    closed = carol.get(f"{API}/tasks/{carol_task['id']}").json()
    assert closed["record"] is None and closed["task"]["state"] == "cancelled"
    assert _reads(bob, first["id"]) and _reads(erin, first["id"])  # 已办, 抄送
    assert "secret" in erin.get(f"{DEALS}/{first['id']}").json()  # the cc node hides nothing

    # transferred away: carol passes hers to erin; carol no longer reads it, erin does
    second = _deal(shop)
    task = next(
        t for t in carol.get(f"{API}/tasks").json()["items"] if t["record_id"] == second["id"]
    )
    erin_id = next(
        u["id"] for u in shop["admin"].get(f"{API}/users").json() if u["username"] == "erin"
    )
    moved = carol.post(f"{API}/tasks/{task['id']}/act", json={"action": "transfer", "to": erin_id})
    assert moved.status_code == 200, moved.text
    assert not _reads(carol, second["id"]) and _reads(erin, second["id"])
    assert "secret" not in erin.get(f"{DEALS}/{second['id']}").json()  # the open task's node

    # withdrawn by the initiator: every approver's read ends
    third = _deal(shop)
    assert _reads(bob, third["id"])
    withdrawn = alice.post(f"{DEALS}/{third['id']}/flow/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert not any(_reads(c, third["id"]) for c in (bob, carol, dave))

    # the record deleted (instance cancelled), then restored: not readable through the task
    fourth = _deal(shop)
    assert _reads(bob, fourth["id"])
    assert alice.delete(f"{DEALS}/{fourth['id']}").status_code == 204
    assert not _reads(bob, fourth["id"])
    assert alice.post(f"{DEALS}/{fourth['id']}/restore").status_code == 200
    assert not _reads(bob, fourth["id"]) and _reads(alice, fourth["id"])
    assert bob.get(f"{DEALS}/{fourth['id']}/files/{fourth['doc']}").status_code == 404


def test_a_sequential_task_grants_nothing_until_its_turn(migrated_engine: Engine) -> None:
    flows = set_up(migrated_engine, IN_TURN)
    record = flows.create("alice", amount="100")
    form_id = int(flows.instance(record).form_id)

    def granting(user: str) -> tuple[str, str | None] | None:
        with migrated_engine.connect() as conn:
            task = granting_task(conn, flows.users[user], form_id, record)
        return None if task is None else (task.state, task.action)

    assert granting("bob") == ("open", None)
    assert granting("carol") is None and granting("dave") is None  # waiting (依次)
    flows.act("bob", "approve")
    assert granting("bob") == ("done", "approve") and granting("carol") == ("open", None)
    flows.act("carol", "reject")  # ends the instance: dave's waiting task is cancelled
    assert granting("carol") == ("done", "reject") and granting("dave") is None
    assert granting("erin") is None
