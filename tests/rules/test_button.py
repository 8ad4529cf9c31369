"""The button trigger over HTTP (issue 14): the buttons of a record page, pressing one (sync: the
run; async: the queued run), who may press it (read access to the record, the rule's roles),
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.records_client import API, api_client
from tests.rules.fixtures import rule, sales_app
from tests.rules.test_api import _create, _member
from tests.rules.time_fixtures import worker

MARK = rule(
    "mark",
    {"type": "button", "label": {"zh": "标记赢单", "en": "Mark won"}, "roles": ["rep"]},
    [{"type": "update_records", "target": "self", "values": {"stage": {"value": "won"}}}],
    when='stage = "open"',
    mode="sync",
)
COPY = rule(
    "copy",
    {"type": "button", "label": {"zh": "建项目", "en": "Make a project"}},
    [{"type": "create_record", "form": "project", "values": {"name": "name"}}],
)
TOO_LONG = rule(
    "coded",
    {"type": "button", "label": "编号"},
    [{"type": "create_record", "form": "project", "values": {"name": "name", "code": "note"}}],
    mode="sync",
)


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store_engine, tmp_path) as admin:
        made = admin.post(f"{API}/apps", json=sales_app([MARK, COPY, TOO_LONG]))
        assert made.status_code == 201, made.text
        yield admin


def _fire(client: TestClient, rule_key: str, record: int) -> Any:
    return client.post(f"{API}/apps/sales/rules/{rule_key}/fire", json={"record_id": record})


def test_an_allowed_member_presses_sync_and_async_buttons(
    client: TestClient, store_engine: Engine
) -> None:
    rep = _member(client, "rep1", "rep")
    deal = _create(client, "deal", name="大单", stage="open", note="一个很长很长的编号啊")["_id"]
    listed = rep.get(f"{API}/apps/sales/forms/deal/rule-buttons")
    assert listed.status_code == 200, listed.text
    assert listed.json()["buttons"] == [
        {"rule": "mark", "label": {"zh": "标记赢单", "en": "Mark won"}, "mode": "sync"},
        {"rule": "copy", "label": {"zh": "建项目", "en": "Make a project"}, "mode": "async"},
        {"rule": "coded", "label": {"zh": "编号", "en": "编号"}, "mode": "sync"},
    ]
    assert client.get(f"{API}/apps/sales/forms/project/rule-buttons").json() == {"buttons": []}
    # sync: the run, finished, in the answer; the record changed
    pressed = _fire(rep, "mark", deal)
    assert pressed.status_code == 200, pressed.text
    body = pressed.json()
    assert body["condition"] is True and body["run"]["state"] == "succeeded"
    assert body["run"]["event"]["kind"] == "button" and body["run"]["record_id"] == deal
    assert client.get(f"{API}/apps/sales/forms/deal/records/{deal}").json()["stage"] == "won"
    # the condition no longer holds: no run
    again = _fire(rep, "mark", deal)
    assert again.status_code == 200 and again.json() == {"condition": False, "run": None}
    # async: a queued run, done by the worker
    queued = _fire(rep, "copy", deal)
    assert queued.status_code == 200, queued.text
    run = queued.json()["run"]
    assert run["state"] == "queued" and run["mode"] == "async"
    assert worker(store_engine).drain() == 1
    done = client.get(f"{API}/apps/sales/rules/copy/runs").json()["items"][0]
    assert (done["id"], done["state"]) == (run["id"], "succeeded")
    assert [
        p["name"] for p in client.get(f"{API}/apps/sales/forms/project/records").json()["items"]
    ] == ["大单"]
    # a sync refusal: 422 with the action's field issue, nothing written
    refused = _fire(rep, "coded", deal)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["issues"][0]["path"] == "code"
    assert client.get(f"{API}/apps/sales/forms/project/records").json()["total"] == 1
    assert client.get(f"{API}/apps/sales/rules/coded/runs").json()["total"] == 0


def test_who_may_not_press_a_button(client: TestClient) -> None:
    deal = _create(client, "deal", name="大单", stage="open")["_id"]
    designer = _member(client, "designer1", "designer")  # reads deals, not in the rule's roles
    listed = designer.get(f"{API}/apps/sales/forms/deal/rule-buttons").json()["buttons"]
    assert [b["rule"] for b in listed] == ["copy", "coded"]
    refused = _fire(designer, "mark", deal)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    # without read access to the app's records: 404, nothing told
    made = client.post(
        f"{API}/users", json={"username": "nobody", "display_name": "N", "password": "Nobody@2026"}
    )
    assert made.status_code == 201
    outsider = TestClient(client.app, raise_server_exceptions=False)
    login = outsider.post(
        f"{API}/auth/login", json={"username": "nobody", "password": "Nobody@2026"}
    )
    outsider.headers["Authorization"] = f"Bearer {login.json()['token']}"
    assert _fire(outsider, "copy", deal).status_code == 404
    assert outsider.get(f"{API}/apps/sales/forms/deal/rule-buttons").status_code == 404
    # unknown rule, a rule that is not a button, a missing record, bad input
    rep = _member(client, "rep2", "rep")
    assert _fire(rep, "ghost", deal).status_code == 404
    assert _fire(rep, "mark", deal + 1000).status_code == 404
    bad = rep.post(f"{API}/apps/sales/rules/mark/fire", json={"record_id": "x"})
    assert bad.status_code in (400, 422), bad.text
    assert "record_id" in bad.json()["error"]["issues"][0]["path"]
    # switched off: 409, and the button is no longer listed
    off = client.post(f"{API}/apps/sales/rules/mark/enabled", json={"enabled": False})
    assert off.status_code == 200
    assert _fire(rep, "mark", deal).status_code == 409
    listed = rep.get(f"{API}/apps/sales/forms/deal/rule-buttons").json()["buttons"]
    assert "mark" not in [b["rule"] for b in listed]


def test_a_bad_button_is_refused_at_publish(client: TestClient) -> None:
    bad = rule(
        "bad",
        {"type": "button", "label": {"zh": "", "en": ""}, "roles": ["ghost"]},
        [{"type": "create_record", "form": "project", "values": {"name": "name"}}],
    )
    app = client.get(f"{API}/apps/sales").json()
    answer = client.put(
        f"{API}/apps/sales/rules", json={"rules": [bad], "_revision": app["_revision"]}
    )
    assert answer.status_code == 422, answer.text
    paths = {i["path"] for i in answer.json()["error"]["issues"]}
    assert {"rules[0].on.label", "rules[0].on.roles[0]"} <= paths
