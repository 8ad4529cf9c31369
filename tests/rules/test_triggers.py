"""Flow triggers and the publish-time checks of rules (issue 14): each flow event fires the
rules that name it (flow, node, action, outcome), and bad triggers, actions, values and
conditions are refused at their paths."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from engine.apps.pipeline import validated
from engine.core.errors import ServiceError
from engine.flows import runtime as flows
from engine.flows.models import FlowTask
from tests.rules.fixtures import Rules, rule, sales_app, set_up

FLOW = {
    "key": "deal_approval",
    "name": {"zh": "商机审批", "en": "Deal approval"},
    "form": "deal",
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "boss", "type": "approve", "assignees": [{"user": "bob"}]},
        {"id": "end", "type": "end"},
    ],
    "edges": [{"from": "start", "to": "boss"}, {"from": "boss", "to": "end"}],
}


def _logs(key: str, on: dict[str, Any]) -> dict[str, Any]:
    """A sync rule that creates a project named after the rule for each event it fires on."""
    return rule(
        key,
        on,
        [{"type": "create_record", "form": "project", "values": {"name": {"value": key}}}],
        mode="sync",
    )


FLOW_RULES = [
    _logs("started", {"type": "flow_started", "flow": "deal_approval"}),
    _logs("at_boss", {"type": "flow_node_entered", "node": "boss"}),
    _logs("any_node", {"type": "flow_node_entered"}),
    _logs("approved_task", {"type": "flow_task_done", "node": "boss", "action": "approve"}),
    _logs("rejected_task", {"type": "flow_task_done", "action": "reject"}),
    _logs("finished_ok", {"type": "flow_finished", "outcome": "approved"}),
    _logs("finished_no", {"type": "flow_finished", "outcome": "rejected"}),
]


def _approve(rules: Rules) -> None:
    from sqlalchemy import select

    with rules.engine.connect() as conn:
        task = conn.execute(select(FlowTask.id).where(FlowTask.state == "open")).scalar_one()
    with rules.engine.begin() as conn:
        flows.act(conn, rules.ctx("bob"), int(task), "approve")


def test_flow_events_fire_the_rules_that_name_them(store_engine: Engine) -> None:
    rules = set_up(store_engine, *FLOW_RULES, flow=FLOW)
    rules.create(name="要审批")
    names = [p["name"] for p in rules.records("project")]
    assert sorted(names) == ["any_node", "any_node", "at_boss", "started"]
    _approve(rules)
    names = [p["name"] for p in rules.records("project")]
    assert sorted(names) == sorted(
        ["any_node", "any_node", "at_boss", "started", "approved_task", "any_node", "finished_ok"]
    )
    run = next(r for r in rules.runs("finished_ok"))
    assert run.event["kind"] == "flow_finished"
    assert run.event["data"] == {"outcome": "approved", "flow": "deal_approval"}


def test_record_triggers_fire_on_their_event_only(store_engine: Engine) -> None:
    rules = set_up(
        store_engine,
        _logs("created", {"type": "record_created"}),
        _logs("updated", {"type": "record_updated"}),
        _logs("deleted", {"type": "record_deleted"}),
        _logs("amount_changed", {"type": "field_changed", "fields": ["amount", "stage"]}),
    )
    deal = rules.create(name="d")
    rules.update("deal", deal, note="备注")
    rules.update("deal", deal, amount="3")
    rules.delete("deal", deal)
    assert [p["name"] for p in rules.records("project")] == [
        "created",
        "updated",
        "updated",
        "amount_changed",
        "deleted",
    ]


def _issues(*rules: dict[str, Any], flow: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ServiceError) as refused:
        validated(sales_app(list(rules), flow))
    return [(i.path, i.code) for i in refused.value.issues]


def _one(**changes: Any) -> dict[str, Any]:
    base = rule(
        "r",
        {"type": "record_updated"},
        [{"type": "update_records", "target": "self", "values": {"note": '"x"'}}],
    )
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"on": {"type": "when_it_rains"}}, "rules[0].on.type", "unknown_trigger"),
        (
            {"on": {"type": "record_updated", "cron": "* * * * *"}},
            "rules[0].on.cron",
            "unknown_setting",
        ),
        ({"on": {"type": "field_changed"}}, "rules[0].on.fields", "missing"),
        (
            {"on": {"type": "field_changed", "fields": ["nope"]}},
            "rules[0].on.fields[0]",
            "unknown_field",
        ),
        ({"on": {"type": "flow_started", "flow": "nope"}}, "rules[0].on.flow", "unknown_flow"),
        (
            {"on": {"type": "flow_finished", "outcome": "maybe"}},
            "rules[0].on.outcome",
            "unknown_outcome",
        ),
        ({"actions": [{"type": "teleport"}]}, "rules[0].actions[0].type", "unknown_action"),
        (  # a 是/否 result into a text field: the save would refuse it (expected_text)
            {
                "actions": [
                    {"type": "update_records", "target": "self", "values": {"note": "amount > 100"}}
                ]
            },
            "rules[0].actions[0].values.note",
            "value_type",
        ),
        (  # a record into a text field
            {
                "actions": [
                    {"type": "update_records", "target": "self", "values": {"note": "customer"}}
                ]
            },
            "rules[0].actions[0].values.note",
            "value_type",
        ),
        (
            {
                "actions": [
                    {"type": "create_record", "form": "project", "values": {"amount": '"text"'}}
                ]
            },
            "rules[0].actions[0].values.amount",
            "value_type",
        ),
        (
            {
                "actions": [
                    {
                        "type": "create_record",
                        "form": "project",
                        "values": {"customer": {"copy": "name"}},
                    }
                ]
            },
            "rules[0].actions[0].values.customer",
            "value_type",
        ),
        (
            {
                "actions": [
                    {
                        "type": "create_record",
                        "form": "project",
                        "values": {"name": {"copy": "nope"}},
                    }
                ]
            },
            "rules[0].actions[0].values.name.copy",
            "unknown_field",
        ),
        (
            {
                "actions": [
                    {
                        "type": "update_records",
                        "target": {"relation": "name"},
                        "values": {"name": '"x"'},
                    }
                ]
            },
            "rules[0].actions[0].target.relation",
            "not_a_relation",
        ),
        (
            {
                "actions": [
                    {
                        "type": "update_records",
                        "target": {"relation": "customer", "include_old": "yes"},
                        "values": {"name": '"x"'},
                    }
                ]
            },
            "rules[0].actions[0].target.include_old",
            "bool_type",
        ),
        (
            {
                "actions": [
                    {
                        "type": "delete_records",
                        "target": {"relation": "customer", "include_old": True},
                    }
                ]
            },
            "rules[0].actions[0].target.include_old",
            "unknown_setting",
        ),
        (
            {
                "actions": [
                    {"type": "delete_records", "target": {"form": "project", "filter": "amout > 1"}}
                ]
            },
            "rules[0].actions[0].target.filter",
            "unknown_field",
        ),
        (
            {"actions": [{"type": "upsert_record", "form": "customer", "values": {"city": '"x"'}}]},
            "rules[0].actions[0].match",
            "missing",
        ),
        ({"when": "amount"}, "rules[0].when", "not_boolean"),
        ({"when": "OLD(1) = 1"}, "rules[0].when", "old_needs_field"),
        ({"when": "OLD(amout) > 1"}, "rules[0].when", "unknown_field"),
    ],
)
def test_publish_refuses_bad_rules_at_their_path(
    changes: dict[str, Any], path: str, code: str
) -> None:
    assert (path, code) in _issues(_one(**changes), flow=FLOW)


def test_sync_only_when_every_action_writes_records() -> None:
    from engine.rules.kinds import ACTIONS, ActionType

    class Ping(ActionType):
        name = "test_ping"
        label = ("测试", "Ping")

        def run(self, step: Any) -> dict[str, Any]:
            return {}

    ACTIONS.register("test_ping", Ping())
    try:
        found = _issues(_one(mode="sync", actions=[{"type": "test_ping"}]))
        assert ("rules[0].mode", "sync_not_allowed") in found
        validated(sales_app([_one(mode="async", actions=[{"type": "test_ping"}])]))
    finally:
        ACTIONS._items.pop("test_ping")


def test_old_is_refused_outside_rule_conditions() -> None:
    app = sales_app()
    app["forms"][1]["fields"].append(
        {"key": "was", "type": "formula", "label": "旧", "expr": "OLD(amount)"}
    )
    with pytest.raises(ServiceError) as refused:
        validated(app)
    assert [i.code for i in refused.value.issues] == ["old_outside_rule"]
    # OLD() in a rule condition and in an action value is fine
    validated(
        sales_app(
            [
                _one(
                    when="amount > OLD(amount)",
                    actions=[
                        {
                            "type": "update_records",
                            "target": "self",
                            "values": {"note": "TEXT(OLD(amount))"},
                        }
                    ],
                )
            ]
        )
    )
