"""The rule runtime over HTTP (issue 14): state, enable/disable without a publish, the run log,
retry and test runs; builders only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from engine.core.registry import Registry
from engine.jobs import JOB_KINDS, JobKind, Worker
from engine.rules.runtime import JOB_KIND
from engine.settings import Settings
from tests.api.records_client import API, api_client
from tests.rules.fixtures import rule, sales_app

PASSWORD = "Builder@2026"
CODED = rule(
    "coded",
    {"type": "record_created"},
    [{"type": "create_record", "form": "project", "values": {"name": "name", "code": "note"}}],
)
WON = rule(
    "won",
    {"type": "field_changed", "fields": ["stage"]},
    [{"type": "create_record", "form": "project", "values": {"name": "name", "amount": "amount"}}],
    when='stage = "won"',
    mode="sync",
)


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store_engine, tmp_path) as admin:
        made = admin.post(f"{API}/apps", json=sales_app([CODED, WON]))
        assert made.status_code == 201, made.text
        yield admin


def _work(engine: Engine) -> int:
    kinds: Registry[JobKind] = Registry("job kind")
    kinds.register(JOB_KIND, JOB_KINDS[JOB_KIND])
    return Worker(engine, Settings(timezone="Asia/Shanghai"), kinds=kinds).drain()


def _create(client: TestClient, form: str, **values: Any) -> dict[str, Any]:
    made = client.post(f"{API}/apps/sales/forms/{form}/records", json=values)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def _member(client: TestClient, username: str, role: str) -> TestClient:
    made = client.post(
        f"{API}/users", json={"username": username, "display_name": username, "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    roles = client.get(f"{API}/roles", params={"app": "sales"}).json()
    role_id = next(r["id"] for r in roles if r["key"] == role)
    added = client.post(f"{API}/roles/{role_id}/members", json={"user_id": made.json()["id"]})
    assert added.status_code == 201, added.text
    member = TestClient(client.app, raise_server_exceptions=False)
    login = member.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    member.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return member


def test_run_log_retry_and_switches(client: TestClient, store_engine: Engine) -> None:
    _create(client, "deal", name="甲", note="太长太长太长太长的编号")
    assert _work(store_engine) == 1
    state = client.get(f"{API}/apps/sales/rules/state")
    assert state.status_code == 200, state.text
    rules = {r["key"]: r for r in state.json()["rules"]}
    assert rules["coded"]["enabled"] is True
    assert rules["coded"]["last_run"]["state"] == "failed"
    assert rules["won"]["last_run"] is None
    runs = client.get(f"{API}/apps/sales/rules/coded/runs", params={"state": "failed"})
    assert runs.status_code == 200
    body = runs.json()
    assert body["total"] == 1
    [run] = body["items"]
    assert run["actions"][0]["state"] == "failed"
    assert run["event"]["kind"] == "created"
    assert client.get(
        f"{API}/apps/sales/rules/coded/runs", params={"state": "succeeded"}
    ).json() == {
        "items": [],
        "total": 0,
    }
    retried = client.post(f"{API}/apps/sales/rules/coded/runs/{run['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "queued"
    again = client.post(f"{API}/apps/sales/rules/coded/runs/{run['id']}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_not_failed"
    # switched off before the retried job runs: skipped, nothing written
    off = client.post(f"{API}/apps/sales/rules/coded/enabled", json={"enabled": False})
    assert off.status_code == 200 and off.json() == {"key": "coded", "enabled": False}
    _work(store_engine)
    [run] = client.get(f"{API}/apps/sales/rules/coded/runs").json()["items"]
    assert (run["state"], run["error"], run["attempt"]) == ("skipped", "rule_disabled", 2)
    state = {r["key"]: r for r in client.get(f"{API}/apps/sales/rules/state").json()["rules"]}
    assert state["coded"]["enabled"] is False
    _create(client, "deal", name="乙")
    assert client.get(f"{API}/apps/sales/rules/coded/runs").json()["total"] == 1


def test_a_test_run_reports_each_action_and_writes_nothing(
    client: TestClient, store_engine: Engine
) -> None:
    deal = _create(client, "deal", name="丙", stage="open", amount="88")
    _work(store_engine)
    projects = client.get(f"{API}/apps/sales/forms/project/records").json()["total"]
    tested = client.post(f"{API}/apps/sales/rules/won/test", json={"record_id": deal["_id"]})
    assert tested.status_code == 200, tested.text
    result = tested.json()
    assert result["condition"] is False  # the deal is not won; the actions still show what they do
    [action] = result["actions"]
    assert action["state"] == "succeeded" and action["outcome"]["form"] == "project"
    assert client.get(f"{API}/apps/sales/forms/project/records").json()["total"] == projects
    # an unsaved spec: a failing action reports its error, a bad spec is a 422 at rule.…
    failing = {
        **CODED,
        "actions": [{"type": "create_record", "form": "project", "values": {"code": "name"}}],
    }
    tested = client.post(
        f"{API}/apps/sales/rules/coded/test", json={"record_id": deal["_id"], "rule": failing}
    )
    assert tested.status_code == 200, tested.text
    [action] = tested.json()["actions"]
    assert action["state"] == "failed" and action["issues"][0]["path"] == "name"
    bad = {**CODED, "actions": [{"type": "create_record", "form": "ghost"}]}
    refused = client.post(
        f"{API}/apps/sales/rules/coded/test", json={"record_id": deal["_id"], "rule": bad}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["issues"][0]["path"] == "rule.actions[0].form"
    assert (
        client.post(f"{API}/apps/sales/rules/won/test", json={"record_id": 999}).status_code == 404
    )
    assert client.get(f"{API}/apps/sales/forms/project/records").json()["total"] == projects


def test_builders_only(client: TestClient) -> None:
    builder = _member(client, "designer1", "designer")
    rep = _member(client, "rep1", "rep")
    assert builder.get(f"{API}/apps/sales/rules/state").status_code == 200
    assert rep.get(f"{API}/apps/sales/rules/state").status_code == 403
    assert rep.get(f"{API}/apps/sales/rules/coded/runs").status_code == 403
    assert (
        rep.post(f"{API}/apps/sales/rules/coded/enabled", json={"enabled": False}).status_code
        == 403
    )
    assert client.get(f"{API}/apps/sales/rules/ghost/runs").status_code == 404
    assert (
        client.post(f"{API}/apps/sales/rules/ghost/enabled", json={"enabled": True}).status_code
        == 404
    )
    bad = client.get(f"{API}/apps/sales/rules/coded/runs", params={"state": "lost"})
    assert bad.status_code == 400  # bad query parameters are 400s, like every list's
    assert "state" in bad.json()["error"]["issues"][0]["path"]
    wrong = client.post(f"{API}/apps/sales/rules/coded/enabled", json={"enabled": "maybe"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["issues"][0]["path"] == "enabled"
