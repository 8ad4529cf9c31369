"""The rule runtime (issue 14): record triggers, sync and async runs, the run log, cascades,
switches and deleted rules, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from engine.core.errors import ServiceError
from engine.rules import runtime
from tests.rules.fixtures import Rules, rule, set_up

WON_CREATES_PROJECT = rule(
    "won_project",
    {"type": "field_changed", "fields": ["stage"]},
    [
        {
            "type": "create_record",
            "form": "project",
            "values": {
                "name": 'name & " 项目"',
                "customer": {"copy": "customer"},
                "amount": "amount",
            },
        }
    ],
    when='stage = "won" AND OLD(stage) <> "won"',
    mode="sync",
)


def _won(rules: Rules) -> tuple[int, int]:
    customer = rules.create("customer", name="ACME", city="上海")
    deal = rules.create(name="大单", stage="open", amount="1200.50", customer=customer)
    return customer, deal


def test_sync_field_changed_creates_a_record_in_the_saving_transaction(
    store_engine: Engine,
) -> None:
    rules = set_up(store_engine, WON_CREATES_PROJECT)
    customer, deal = _won(rules)
    assert rules.records("project") == []
    rules.update("deal", deal, stage="won")
    [project] = rules.records("project")
    assert project["name"] == "大单 项目"
    assert project["customer"]["_id"] == customer
    assert project["amount"] == "1200.50"
    assert project["_owner"] == rules.users["alice"]  # the user whose change fired the rule
    [entry] = rules.history("project", project["_id"])
    assert entry["channel"] == "rule"
    [run] = rules.runs("won_project")
    assert (run.state, run.mode, run.record_id, run.condition) == ("succeeded", "sync", deal, True)
    assert run.actions[0]["state"] == "succeeded"
    assert run.actions[0]["outcome"] == {"form": "project", "created": [project["_id"]]}
    # OLD(stage) is now "won": saving again creates nothing more
    rules.update("deal", deal, note="再改一次", stage="won")
    rules.update("deal", deal, note="又一次")
    assert len(rules.records("project")) == 1
    assert len(rules.runs()) == 1


def test_a_failing_sync_action_refuses_the_save_and_writes_nothing(store_engine: Engine) -> None:
    failing = rule(
        "bad_code",
        {"type": "record_updated"},
        [
            {
                "type": "create_record",
                "form": "project",
                "values": {"name": "name", "code": '"很长很长很长的编号"'},
            }
        ],
        mode="sync",
    )
    rules = set_up(store_engine, failing)
    deal = rules.create(name="x")
    before = rules.history("deal", deal)
    with pytest.raises(ServiceError) as refused:
        rules.update("deal", deal, note="改")
    assert refused.value.status == 422
    [issue] = refused.value.issues
    assert issue.path == "code"
    assert issue.message_zh.startswith("规则「规则bad_code」：")
    assert issue.message_en.startswith('Rule "Rule bad_code": ')
    assert rules.get("deal", deal)["note"] is None
    assert rules.history("deal", deal) == before
    assert rules.records("project") == []
    assert rules.runs() == []


def test_async_rule_runs_once_as_a_job_with_its_snapshot(store_engine: Engine) -> None:
    touch = rule(
        "touch_customer",
        {"type": "record_created"},
        [
            {
                "type": "update_records",
                "target": {"relation": "customer"},
                "values": {"level": '"来自 " & name', "touched": 1},
            }
        ],
    )
    rules = set_up(store_engine, touch)
    customer = rules.create("customer", name="ACME")
    deal = rules.create(name="首单", customer=customer)
    [run] = rules.runs()
    assert run.state == "queued" and run.job_id is not None
    assert run.snapshot["record"]["name"] == "首单"
    assert rules.get("customer", customer)["level"] is None  # not before the job ran
    rules.update("deal", deal, name="改名了")  # the job reads its snapshot, not the record now
    assert rules.work() == 1
    assert rules.work() == 0
    assert rules.get("customer", customer)["level"] == "来自 首单"
    [run] = rules.runs()
    assert run.state == "succeeded" and run.attempt == 1
    assert run.actions[0]["outcome"] == {"form": "customer", "updated": [customer]}
    entries = rules.history("customer", customer)
    assert [e["channel"] for e in entries] == ["api", "rule"]


def test_record_deleted_and_created_triggers_with_a_condition(store_engine: Engine) -> None:
    log = rule(
        "deleted_note",
        {"type": "record_deleted"},
        [{"type": "create_record", "form": "project", "values": {"name": '"删除了 " & name'}}],
        when="amount > 100",
        mode="sync",
    )
    rules = set_up(store_engine, log)
    small = rules.create(name="小", amount="5")
    big = rules.create(name="大", amount="500")
    rules.delete("deal", small)
    rules.delete("deal", big)
    assert [p["name"] for p in rules.records("project")] == ["删除了 大"]


def test_update_delete_and_upsert_targets(store_engine: Engine) -> None:
    upsert = rule(
        "upsert",
        {"type": "record_created"},
        [
            {
                "type": "upsert_record",
                "form": "customer",
                "match": {"name": "note"},
                "values": {"city": '"由规则写入"'},
            },
            {
                "type": "delete_records",
                "target": {"form": "project", "match": {"name": "name"}, "filter": "amount < 10"},
            },
        ],
        mode="sync",
    )
    rules = set_up(store_engine, upsert)
    existing = rules.create("customer", name="老客户")
    cheap = rules.create("project", name="甲", amount="1")
    dear = rules.create("project", name="甲", amount="100")
    other = rules.create("project", name="乙", amount="1")
    rules.create(name="甲", note="老客户")
    rules.create(name="丙", note='新"客户')
    customers = {c["name"]: c for c in rules.records("customer")}
    assert customers["老客户"]["_id"] == existing
    assert customers["老客户"]["city"] == "由规则写入"
    assert customers['新"客户']["city"] == "由规则写入"
    assert len(customers) == 2
    assert {p["_id"] for p in rules.records("project")} == {dear, other}
    [first, second] = rules.runs()
    assert first.actions[1]["outcome"] == {"form": "project", "deleted": [cheap]}
    assert second.actions[0]["outcome"]["created"]


def _ping_pong(mode: str) -> list[dict[str, Any]]:
    """A updates the project of the same name, B updates the deal of the same name: a loop."""
    a = rule(
        "a",
        {"type": "field_changed", "fields": ["bounce"]},
        [
            {
                "type": "update_records",
                "target": {"form": "project", "match": {"name": "name"}},
                "values": {"bounce": "bounce + 1"},
            }
        ],
        mode=mode,
    )
    b = {
        **rule(
            "b",
            {"type": "field_changed", "fields": ["bounce"]},
            [
                {
                    "type": "update_records",
                    "target": {"form": "deal", "match": {"name": "name"}},
                    "values": {"bounce": "bounce + 1"},
                }
            ],
            mode=mode,
        ),
        "form": "project",
    }
    return [a, b]


def test_a_sync_cascade_loop_is_refused_at_depth_5(store_engine: Engine) -> None:
    rules = set_up(store_engine, *_ping_pong("sync"))
    deal = rules.create(name="环", bounce=0)
    project = rules.create("project", name="环", bounce=0)
    with pytest.raises(ServiceError) as refused:
        rules.update("deal", deal, bounce=1)
    assert refused.value.code == "rule_cascade_too_deep"
    assert rules.get("deal", deal)["bounce"] == 0
    assert rules.get("project", project)["bounce"] == 0
    assert rules.runs() == []


def test_an_async_cascade_loop_stops_at_depth_5(store_engine: Engine) -> None:
    rules = set_up(store_engine, *_ping_pong("async"))
    deal = rules.create(name="环", bounce=0)
    project = rules.create("project", name="环", bounce=0)
    rules.update("deal", deal, bounce=1)
    rules.work()
    runs = rules.runs()
    assert [r.state for r in runs] == ["succeeded"] * 5 + ["failed"]
    assert [r.event["depth"] for r in runs] == [0, 1, 2, 3, 4, 5]
    assert "rule_cascade_too_deep" in runs[-1].error
    # user set 1; five runs each added one: deal 1 → project 2 → deal 3 → project 4 → deal 5 → project 6
    assert rules.get("deal", deal)["bounce"] == 5
    assert rules.get("project", project)["bounce"] == 6


def test_disabled_and_deleted_rules_run_none_of_their_queued_jobs(store_engine: Engine) -> None:
    note = rule(
        "note",
        {"type": "record_updated"},
        [{"type": "update_records", "target": "self", "values": {"close": "DATE(2026, 12, 31)"}}],
    )
    other = {**note, "key": "other"}
    rules = set_up(store_engine, note, other)
    deal = rules.create(name="x")
    rules.update("deal", deal, note="one")
    with store_engine.begin() as conn:
        from engine.forms import apps as forms_apps

        runtime.set_enabled(conn, forms_apps.load(conn, "sales"), "note", False, None)
    rules.publish(note)  # `other` deleted from the live revision
    rules.work()
    assert sorted((r.rule_key, r.state, r.error) for r in rules.runs()) == [
        ("note", "skipped", "rule_disabled"),
        ("other", "skipped", "rule_deleted"),
    ]
    assert rules.get("deal", deal)["close"] is None
    # a disabled rule queues nothing more
    rules.update("deal", deal, note="two")
    assert len(rules.runs()) == 2


def test_retry_queues_a_failed_run_again_with_its_snapshot(store_engine: Engine) -> None:
    coded = rule(
        "coded",
        {"type": "record_created"},
        [{"type": "create_record", "form": "project", "values": {"name": "name", "code": "note"}}],
    )
    rules = set_up(store_engine, coded)
    rules.create(name="a", note="A1")
    rules.create(name="p", note="太长太长太长太长的编号")
    rules.create(name="b", note="B1")
    # the three runs are applied in one batch; the failing one rolls it back, then each job
    # runs alone: the failure is logged with its writes undone, the others succeed once
    assert rules.work() == 3
    first, run, last = rules.runs()
    assert (first.state, run.state, last.state) == ("succeeded", "failed", "succeeded")
    assert run.actions[0]["state"] == "failed" and run.actions[0]["issues"][0]["path"] == "code"
    assert [p["code"] for p in rules.records("project")] == ["A1", "B1"]
    # the form now takes longer codes: the retried run succeeds on the stored snapshot
    from tests.rules import fixtures

    longer = [dict(f) for f in fixtures.FORMS]
    saved = fixtures.FORMS
    try:
        project = dict(longer[2])
        project["fields"] = [
            {**f, "max": 100} if f["key"] == "code" else f for f in project["fields"]
        ]
        longer[2] = project
        fixtures.FORMS = longer
        rules.publish(coded)
    finally:
        fixtures.FORMS = saved
    with store_engine.begin() as conn:
        from engine.forms import apps as forms_apps

        runtime.retry(conn, forms_apps.load(conn, "sales"), "coded", run.id)
    rules.work()
    run = rules.runs()[1]
    assert run.state == "succeeded" and run.attempt == 2
    assert [p["code"] for p in rules.records("project")] == ["A1", "B1", "太长太长太长太长的编号"]
