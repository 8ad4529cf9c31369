"""The flow runtime's start and walk (issue 13): instances start on create, on the live
revision; exclusive conditions read read-time fields; parallel blocks; cc; modes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.flows.runtime_fixtures import (
    ONE_APPROVER,
    PARALLEL,
    ROUTED,
    WITH_CC,
    Flows,
    set_up,
)


@pytest.fixture
def routed(migrated_engine: Engine) -> Iterator[Flows]:
    yield set_up(migrated_engine, ROUTED)


def test_creating_a_record_starts_its_flow_on_the_live_revision(migrated_engine: Engine) -> None:
    flows = set_up(migrated_engine, ONE_APPROVER)
    record = flows.create(amount="10")
    instance = flows.instance(record)
    assert instance.state == "running"
    assert instance.initiator_id == flows.users["alice"]
    assert instance.flow_key == "deal_approval"
    [task] = flows.tasks("bob")
    assert (task.node, task.kind, task.state) == ("boss", "approve", "open")
    assert flows.events(record)[:3] == [
        ("started", None),
        ("node_entered", "start"),
        ("node_entered", "boss"),
    ]
    assert [kind for kind, _ in flows.notifications("bob")] == ["assigned"]


def test_an_exclusive_gateway_takes_the_first_true_branch(routed: Flows) -> None:
    small = routed.create(amount="999")
    assert [t.node for t in routed.tasks("bob")] == ["small"]
    assert routed.tasks("carol") == []
    routed.act("bob", "approve")
    assert routed.state(small) == "approved"


def test_conditions_read_rollups_of_the_record(routed: Flows) -> None:
    # amount ≥ 1000 and the lines add up to 6000: the rollup `total` routes to 会签
    big = routed.create(amount="2000", items=[{"line": "4000"}, {"line": "2000"}])
    assert sorted(t.node for t in routed.tasks()) == ["big", "big"]
    middle = routed.create(amount="2000", items=[{"line": "10"}])
    assert routed.state(middle) == "running"
    assert [t.node for t in routed.tasks("carol")] == ["big", "middle"]
    assert routed.state(big) == "running"


def test_the_instance_keeps_the_revision_it_started_on(routed: Flows) -> None:
    record = routed.create(amount="10")
    started_on = routed.instance(record).revision
    routed.publish(ONE_APPROVER)  # the flow changes: one node "boss"
    assert routed.instance(record).revision == started_on
    routed.act("bob", "approve")  # still the old flow's node "small"
    assert routed.state(record) == "approved"
    newer = routed.create(amount="10")
    assert routed.instance(newer).revision == started_on + 1
    assert [t.node for t in routed.tasks("bob")] == ["boss"]


def test_parallel_branches_join_before_going_on(migrated_engine: Engine) -> None:
    flows = set_up(migrated_engine, PARALLEL)
    record = flows.create()
    assert {t.node for t in flows.tasks()} == {"legal", "money"}
    flows.act("bob", "approve")
    assert flows.tasks("dave") == []
    assert ("join", "waiting") in flows.tokens(record)
    flows.act("carol", "approve")
    assert [t.node for t in flows.tasks("dave")] == ["final"]
    flows.act("dave", "approve")
    assert flows.state(record) == "approved"
    assert all(state == "done" for _, state in flows.tokens(record))


def test_cc_nodes_copy_and_pass_on(migrated_engine: Engine) -> None:
    flows = set_up(migrated_engine, WITH_CC)
    record = flows.create()
    assert flows.notifications("erin") == []
    flows.act("bob", "approve")
    assert flows.state(record) == "approved"
    [cc] = flows.tasks("erin", state=None)
    assert (cc.kind, cc.state, cc.node) == ("cc", "done", "copy")
    kinds = [kind for kind, _ in flows.notifications("erin")]
    assert kinds == ["cc"]
    assert [kind for kind, _ in flows.notifications("alice")] == ["finished"]
    assert flows.notifications("alice")[0][1]["outcome"] == "approved"


def test_imports_and_pack_loads_start_nothing(migrated_engine: Engine) -> None:
    flows = set_up(migrated_engine, ONE_APPROVER)
    imported = flows.create(channel="import")
    assert flows.instance(imported) is None
    from engine.forms.service import open_form

    with migrated_engine.begin() as conn:
        ctx = flows.ctx("alice").without_record_events()
        [loaded] = open_form(ctx, conn, "deals", "deal").create_many([{"title": "样例"}])
    assert flows.instance(loaded) is None
    assert flows.tasks() == []


def test_a_form_without_a_flow_starts_nothing(migrated_engine: Engine) -> None:
    flows = set_up(migrated_engine, None)
    record = flows.create()
    assert flows.instance(record) is None


def test_a_public_link_fill_starts_with_the_links_owner_as_initiator(
    migrated_engine: Engine,
) -> None:
    from engine.core.context import Actor
    from engine.forms.service import open_form
    from tests.contexts import context

    flows = set_up(migrated_engine, ONE_APPROVER)
    filler = Actor(None, "public_link", owner=flows.users["carol"])
    with migrated_engine.begin() as conn:
        [record] = open_form(context(filler), conn, "deals", "deal").create_many(
            [{"title": "外链"}]
        )
    instance = flows.instance(record)
    assert instance.state == "running"
    assert instance.initiator_id == flows.users["carol"]
    assert [t.node for t in flows.tasks("bob")] == ["boss"]


@pytest.mark.parametrize("start_flows", [False, True])
def test_an_import_starts_flows_only_when_asked(migrated_engine: Engine, start_flows: bool) -> None:
    from engine.forms.service import open_form

    flows = set_up(migrated_engine, ONE_APPROVER)
    with migrated_engine.begin() as conn:
        result = open_form(flows.ctx("alice"), conn, "deals", "deal").import_rows(
            [["title", "amount"], ["导入甲", "10"], ["导入乙", "20"]], start_flows=start_flows
        )
    imported = list(result.created.values())
    assert len(imported) == 2
    instances = [flows.instance(record_id) for record_id in imported]
    if start_flows:
        assert [i.state for i in instances] == ["running", "running"]
        assert all(i.initiator_id == flows.users["alice"] for i in instances)
        assert [t.node for t in flows.tasks("bob")] == ["boss", "boss"]
    else:
        assert instances == [None, None]
        assert flows.tasks() == []
