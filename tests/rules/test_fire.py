"""`fire` (time and button triggers), relation paths in conditions, and pack installs with
data firing no rule (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from engine.apps.pipeline import import_pack
from engine.core.context import Actor
from engine.core.errors import ServiceError
from engine.rules import runtime
from engine.rules.kinds import TRIGGERS, RuleEvent, TriggerType
from engine.rules.models import RuleRun
from tests.api.records_client import API, api_client
from tests.contexts import context
from tests.rules.fixtures import NOW, rule, sales_app, set_up


class _Button(TriggerType):
    """Stands in for the button trigger of the time-and-button piece when it is not there."""

    name = "button"
    label = ("按钮", "Button")


@pytest.fixture(autouse=True)
def button() -> Iterator[None]:
    added = "button" not in TRIGGERS
    if added:
        TRIGGERS.register("button", _Button())
    try:
        yield
    finally:
        if added:
            TRIGGERS._items.pop("button")


def _stamp(mode: str, when: str | None = None) -> dict[str, Any]:
    return rule(
        "stamp",
        {"type": "button", "label": {"zh": "盖章", "en": "Stamp"}},
        [{"type": "update_records", "target": "self", "values": {"note": '"已盖章 " & name'}}],
        mode=mode,
        **({"when": when} if when else {}),
    )


def _event(record_id: int | None = None) -> RuleEvent:
    return RuleEvent(
        kind="schedule",
        app="sales",
        form="deal",
        record_id=record_id,
        actor=None,
        channel="rule",
        depth=0,
        at=NOW,
        data={"planned": NOW.isoformat()},
    )


def test_fire_runs_a_sync_rule_for_each_record_whose_condition_holds(store_engine: Engine) -> None:
    rules = set_up(store_engine, _stamp("sync", when="amount > 10"))
    big = rules.create(name="大", amount="20")
    small = rules.create(name="小", amount="1")
    with store_engine.begin() as conn:
        runs = runtime.fire(conn, rules.ctx(None, "rule"), "sales", "stamp", _event(), [big, small])
    assert len(runs) == 1
    assert rules.get("deal", big)["note"] == "已盖章 大"
    assert rules.get("deal", small)["note"] is None
    [run] = rules.runs()
    assert (run.record_id, run.event["kind"], run.event["data"]) == (
        big,
        "schedule",
        {"planned": NOW.isoformat()},
    )
    with store_engine.begin() as conn, pytest.raises(ServiceError) as missing:
        runtime.fire(conn, rules.ctx(None), "sales", "ghost", _event(), [big])
    assert missing.value.status == 404


def test_fire_queues_an_async_rule(store_engine: Engine) -> None:
    rules = set_up(store_engine, _stamp("async"))
    deal = rules.create(name="异步")
    with store_engine.begin() as conn:
        [run_id] = runtime.fire(conn, rules.ctx(None, "rule"), "sales", "stamp", _event(), [deal])
    assert rules.get("deal", deal)["note"] is None
    assert rules.work() == 1
    assert rules.get("deal", deal)["note"] == "已盖章 异步"
    [run] = rules.runs()
    assert (run.id, run.state) == (run_id, "succeeded")


def test_a_condition_reads_through_a_relation(store_engine: Engine) -> None:
    shanghai = rule(
        "shanghai",
        {"type": "record_created"},
        [{"type": "update_records", "target": "self", "values": {"note": "customer.city"}}],
        when='customer.city = "上海"',
        mode="sync",
    )
    rules = set_up(store_engine, shanghai)
    there = rules.create("customer", name="甲", city="上海")
    elsewhere = rules.create("customer", name="乙", city="北京")
    one = rules.create(name="一", customer=there)
    two = rules.create(name="二", customer=elsewhere)
    assert rules.get("deal", one)["note"] == "上海"
    assert rules.get("deal", two)["note"] is None


def test_installing_a_pack_with_data_fires_no_rule(store_engine: Engine) -> None:
    rules = set_up(store_engine)
    pack = sales_app(
        [
            rule(
                "on_create",
                {"type": "record_created"},
                [{"type": "create_record", "form": "project", "values": {"name": "name"}}],
                mode="sync",
            ),
            {
                **rule(
                    "later",
                    {"type": "record_created"},
                    [{"type": "delete_records", "target": "self"}],
                )
            },
        ]
    )
    pack["key"] = "sales2"
    pack["data"] = {"deal": [{"_id": 1, "name": "样例"}, {"_id": 2, "name": "样例二"}]}
    with store_engine.begin() as conn:
        import_pack(conn, pack, mode="create", ctx=context(Actor(None, "api"), now=NOW))
    with store_engine.connect() as conn:
        from sqlalchemy import func, select

        assert conn.execute(select(func.count()).select_from(RuleRun)).scalar_one() == 0
    assert rules.runs() == []


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store_engine, tmp_path) as admin:
        made = admin.post(
            f"{API}/apps",
            json=sales_app(
                [
                    _stamp("sync"),
                    {**_stamp("sync"), "key": "plain", "on": {"type": "record_created"}},
                ]
            ),
        )
        assert made.status_code == 201, made.text
        yield admin


def test_pressing_a_button_over_http(client: TestClient) -> None:
    deal = client.post(f"{API}/apps/sales/forms/deal/records", json={"name": "按"}).json()
    pressed = client.post(f"{API}/apps/sales/rules/stamp/fire", json={"record_id": deal["_id"]})
    assert pressed.status_code == 200, pressed.text
    assert pressed.json()["condition"] is True and pressed.json()["run"]["state"] == "succeeded"
    record = client.get(f"{API}/apps/sales/forms/deal/records/{deal['_id']}").json()
    assert record["note"] == "已盖章 按"
    missing = client.post(f"{API}/apps/sales/rules/stamp/fire", json={"record_id": 9999})
    assert missing.status_code == 404
    other = client.post(f"{API}/apps/sales/rules/plain/fire", json={"record_id": deal["_id"]})
    assert other.status_code == 404  # not a button rule (engine/api/routes/rule_buttons.py)
