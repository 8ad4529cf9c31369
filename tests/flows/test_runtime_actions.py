"""Actions on tasks and instances (issue 13): modes 或签/会签/依次, approve, reject (end or back
to the initiator, who edits and resubmits), transfer, comment, withdraw, urge, field edits while
approving, the record lock, and notifications."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from engine.core.errors import ServiceError
from engine.store.models import RecordHistory
from tests.flows.runtime_fixtures import (
    ALL_OF_THREE,
    ANY_OF_TWO,
    EDITS,
    HANDLE_ALL,
    IN_TURN,
    ONE_APPROVER,
    REJECT_RETURNS,
    TWO_OF_THREE,
    TWO_STEPS,
    set_up,
)


def refused(code: str, status: int | None = None) -> pytest.RaisesExc[ServiceError]:
    return pytest.raises(
        ServiceError, check=lambda e: e.code == code and status in (None, e.status)
    )


def test_any_the_first_action_decides_and_cancels_the_others(store_engine: Engine) -> None:
    flows = set_up(store_engine, ANY_OF_TWO)
    record = flows.create()
    carol = flows.task("carol")
    flows.act("bob", "approve", comment="好")
    assert flows.state(record) == "approved"
    assert [t.state for t in flows.tasks("carol", state=None)] == ["cancelled"]
    with refused("task_closed", 409):
        flows.act("carol", "approve", carol)


def test_all_needs_every_approval(store_engine: Engine) -> None:
    flows = set_up(store_engine, ALL_OF_THREE)
    record = flows.create()
    flows.act("dave", "approve")
    flows.act("bob", "approve")
    assert flows.state(record) == "running"
    flows.act("carol", "approve")
    assert flows.state(record) == "approved"


def test_all_any_reject_rejects(store_engine: Engine) -> None:
    flows = set_up(store_engine, ALL_OF_THREE)
    record = flows.create()
    flows.act("bob", "approve")
    flows.act("carol", "reject", comment="太贵")
    assert flows.state(record) == "rejected"
    assert [t.state for t in flows.tasks("dave", state=None)] == ["cancelled"]
    assert flows.notifications("alice")[-1][1]["outcome"] == "rejected"


def test_all_with_a_pass_ratio(store_engine: Engine) -> None:
    flows = set_up(store_engine, TWO_OF_THREE)  # 0.6 of 3 → 2 approvals
    record = flows.create()
    flows.act("bob", "approve")
    assert flows.state(record) == "running"
    flows.act("dave", "approve")
    assert flows.state(record) == "approved"
    assert [t.state for t in flows.tasks("carol", state=None)] == ["cancelled"]


def test_sequential_one_at_a_time_in_list_order(store_engine: Engine) -> None:
    flows = set_up(store_engine, IN_TURN)
    record = flows.create()
    assert [t.state for t in flows.tasks(state=None)] == ["open", "waiting", "waiting"]
    assert flows.tasks("carol") == []
    flows.act("bob", "approve")
    assert [t.seq for t in flows.tasks("carol")] == [1]
    assert [kind for kind, _ in flows.notifications("carol")] == ["assigned"]
    flows.act("carol", "approve")
    flows.act("dave", "approve")
    assert flows.state(record) == "approved"


def test_handle_all(store_engine: Engine) -> None:
    flows = set_up(store_engine, HANDLE_ALL)
    record = flows.create()
    flows.act("bob", "handle")
    assert flows.state(record) == "running"
    with refused("action_not_allowed", 422):
        flows.act("carol", "reject")
    flows.act("carol", "handle")
    assert flows.state(record) == "approved"


def test_nodes_in_a_row(store_engine: Engine) -> None:
    flows = set_up(store_engine, TWO_STEPS)
    record = flows.create()
    flows.act("bob", "approve")
    assert [t.node for t in flows.tasks("carol")] == ["second"]
    flows.act("carol", "approve")
    assert flows.state(record) == "approved"
    kinds = [k for k, _ in flows.events(record)]
    assert kinds.count("task_done") == 2 and kinds[-1] == "finished"


def test_reject_back_to_the_initiator_who_edits_and_resubmits(store_engine: Engine) -> None:
    flows = set_up(store_engine, REJECT_RETURNS)
    record = flows.create(amount="100")
    flows.act("bob", "reject", comment="金额不对")
    assert flows.state(record) == "returned"
    [returned] = [n for n in flows.notifications("alice") if n[0] == "returned"]
    assert returned[1]["comment"] == "金额不对"
    [task] = flows.tasks("alice")
    assert (task.kind, task.node) == ("handle", "start")
    flows.update("alice", record, amount="90")  # not locked while returned
    flows.resubmit("alice", record, comment="已改")
    assert flows.state(record) == "running"
    assert [t.node for t in flows.tasks("bob")] == ["boss"]
    flows.act("bob", "approve")
    assert flows.state(record) == "approved"
    assert flows.record(record)["amount"] == "90.00"


def test_reject_ends_by_default(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    record = flows.create()
    flows.act("bob", "reject")
    assert flows.state(record) == "rejected"
    assert flows.instance(record).finished_at is not None


def test_transfer(store_engine: Engine) -> None:
    flows = set_up(store_engine, ANY_OF_TWO)
    record = flows.create()
    with refused("transfer_to_self"):
        flows.act("bob", "transfer", to=flows.users["bob"])
    with refused("already_assignee"):
        flows.act("bob", "transfer", to=flows.users["carol"])
    with refused("required"):
        flows.act("bob", "transfer")
    old = flows.task("bob")
    flows.act("bob", "transfer", to=flows.users["dave"], comment="出差")
    assert flows.tasks("bob") == []
    [done] = flows.tasks("bob", state=None)
    assert (done.state, done.action) == ("done", "transfer")
    [new] = flows.tasks("dave")
    assert new.transferred_from == old
    assert [k for k, _ in flows.notifications("dave")] == ["assigned"]
    with refused("task_closed", 409):
        flows.act("bob", "approve", old)
    flows.act("dave", "approve")
    assert flows.state(record) == "approved"


def test_transfer_in_all_mode_counts_the_new_assignee(store_engine: Engine) -> None:
    flows = set_up(store_engine, ALL_OF_THREE)
    record = flows.create()
    flows.act("bob", "transfer", to=flows.users["erin"])
    for user in ("carol", "dave"):
        flows.act(user, "approve")
    assert flows.state(record) == "running"
    flows.act("erin", "approve")
    assert flows.state(record) == "approved"


def test_comment_keeps_the_task_open(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    record = flows.create()
    flows.act("bob", "comment", comment="请补充合同附件")
    assert flows.state(record) == "running"
    assert len(flows.tasks("bob")) == 1
    assert ("comment", "boss") in flows.events(record)


def test_only_the_assignee_acts_and_unknown_actions_are_refused(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    flows.create()
    task = flows.task("bob")
    with refused("forbidden", 403):
        flows.act("carol", "approve", task)
    with refused("unknown_action", 422):
        flows.act("bob", "sign", task)
    with refused("not_found", 404):
        flows.act("bob", "approve", task + 1000)
    with refused("task_closed", 409):
        flows.act("bob", "approve", task, expected_version=99)


def test_withdraw_while_nobody_acted_on_the_current_node(store_engine: Engine) -> None:
    flows = set_up(store_engine, TWO_STEPS)
    record = flows.create()
    with refused("forbidden", 403):
        flows.withdraw("bob", record)
    assert flows.withdraw("alice", record) == "withdrawn"
    assert flows.tasks() == []
    # after the first approver acted, the next node may still be withdrawn until it is acted on
    second = flows.create()
    flows.act("bob", "approve")
    assert flows.withdraw("alice", second) == "withdrawn"
    with refused("task_closed", 409):
        flows.withdraw("alice", second)


def test_withdraw_refused_once_the_current_node_was_acted_on(store_engine: Engine) -> None:
    flows = set_up(store_engine, ALL_OF_THREE)
    record = flows.create()
    flows.act("bob", "approve")
    with refused("withdraw_too_late", 409):
        flows.withdraw("alice", record)
    assert flows.state(record) == "running"


def test_urge_with_a_cool_down(store_engine: Engine) -> None:
    flows = set_up(store_engine, ANY_OF_TWO)
    record = flows.create()
    assert flows.urge("alice", record) == 2
    assert [k for k, _ in flows.notifications("bob")] == ["assigned", "urged"]
    flows.later(9)
    with pytest.raises(ServiceError) as caught:
        flows.urge("alice", record)
    assert (caught.value.status, caught.value.code) == (429, "urge_too_soon")
    assert caught.value.retry_after == 60
    with refused("forbidden", 403):
        flows.urge("bob", record)
    flows.later(1)
    assert flows.urge("alice", record) == 2


def test_edits_while_approving_only_the_nodes_editable_fields(store_engine: Engine) -> None:
    flows = set_up(store_engine, EDITS)
    record = flows.create(amount="100")
    with pytest.raises(ServiceError) as caught:
        flows.act("bob", "approve", data={"amount": "1", "note": "x"})
    assert [(i.path, i.code) for i in caught.value.issues] == [("data.amount", "flow_field_locked")]
    assert flows.state(record) == "running"
    flows.act("bob", "approve", data={"note": "已核对"})
    saved = flows.record(record)
    assert saved["note"] == "已核对"
    assert saved["_updated_by"] == flows.users["bob"]
    with flows.engine.connect() as conn:
        last = conn.execute(
            select(RecordHistory.channel, RecordHistory.actor_id).order_by(RecordHistory.id.desc())
        ).first()
    assert last is not None and tuple(last) == ("flow", flows.users["bob"])
    assert flows.state(record) == "approved"


def test_a_record_under_approval_is_locked(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    record = flows.create(amount="100")
    with pytest.raises(ServiceError) as caught:
        flows.update("alice", record, amount="5")
    assert caught.value.code == "record_in_approval"
    assert [(i.path, i.code) for i in caught.value.issues] == [("amount", "record_in_approval")]
    assert flows.record(record)["amount"] == "100.00"
    flows.act("bob", "approve")
    flows.update("alice", record, amount="5")  # finished: editable again
    assert flows.record(record)["amount"] == "5.00"


def test_an_inactive_assignee_goes_to_the_admin(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    flows.deactivate("bob")
    flows.create()
    assert [t.node for t in flows.tasks("admin")] == ["boss"]
