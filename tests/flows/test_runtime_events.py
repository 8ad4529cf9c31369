"""Flow record events through the record-event seam, and a record deleted mid-flow (issue 13)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.flows.runtime_fixtures import (
    ALL_OF_THREE,
    ONE_APPROVER,
    REJECT_RETURNS,
    recorded,
    set_up,
)


def test_flow_events_reach_the_record_listeners(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    with recorded() as seen:
        record = flows.create()
        flows.act("bob", "approve")
    assert [(e.kind, dict(e.changes)) for e in seen] == [
        ("flow_started", {}),
        ("flow_node_entered", {"node": "start"}),
        ("flow_node_entered", {"node": "boss"}),
        ("flow_task_done", {"node": "boss", "action": "approve"}),
        ("flow_node_entered", {"node": "end"}),
        ("flow_finished", {"outcome": "approved"}),
    ]
    assert {(e.app, e.form, e.record_id, e.channel) for e in seen} == {
        ("deals", "deal", record, "flow")
    }
    assert seen[3].actor == flows.users["bob"]


def test_rejected_and_withdrawn_outcomes(store_engine: Engine) -> None:
    flows = set_up(store_engine, ALL_OF_THREE)
    with recorded() as seen:
        flows.create()
        flows.act("carol", "reject")
        other = flows.create()
        flows.withdraw("alice", other)
    outcomes = [e.changes["outcome"] for e in seen if e.kind == "flow_finished"]
    assert outcomes == ["rejected", "withdrawn"]


def test_a_record_deleted_mid_flow_cancels_it_and_a_restore_does_not_restart(
    store_engine: Engine,
) -> None:
    flows = set_up(store_engine, ALL_OF_THREE)
    record = flows.create()
    flows.act("bob", "approve")
    with recorded() as seen:
        flows.delete("alice", record)
    assert flows.state(record) == "cancelled"
    assert flows.tasks() == []
    assert {t.state for t in flows.tasks(state=None)} == {"done", "cancelled"}
    assert [e.changes for e in seen if e.kind == "flow_finished"] == [{"outcome": "cancelled"}]
    assert flows.notifications("alice")[-1][1]["outcome"] == "cancelled"
    flows.restore("alice", record)
    assert flows.state(record) == "cancelled"
    assert flows.tasks() == []


def test_a_returned_record_deleted_is_cancelled_too(store_engine: Engine) -> None:
    flows = set_up(store_engine, REJECT_RETURNS)
    record = flows.create()
    flows.act("bob", "reject")
    flows.delete("alice", record)
    assert flows.state(record) == "cancelled"
    assert flows.tasks("alice") == []
