"""The rule action `start_flow` (issue 14) on the stock CRM, SQLite and PostgreSQL: it starts
the contract approval on a contract (the initiator is who made the change), a second run finds
it `already_running`, a deleted record refuses, and the checks of its settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine.core.context import Actor
from engine.core.errors import ServiceError
from engine.flows.models import FlowInstance, FlowTask
from engine.forms.service import open_form
from tests.contexts import context
from tests.rules.acts_fixtures import NOW, Acts, check, install, rolled_back

START = {"type": "start_flow", "flow": "contract_approval"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from install(request, tmp_path_factory)


def _contract(conn: Any) -> int:
    """A sample contract with no flow instance (sample data starts no flows)."""
    contracts = open_form(context(Actor(None, "api"), now=NOW), conn, "crm", "contract")
    started = set(conn.execute(select(FlowInstance.record_id)).scalars())
    return next(int(c["_id"]) for c in contracts.list(limit=100).items if c["_id"] not in started)


def test_starts_the_flow_then_finds_it_running(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        acts.actor = acts.user("rep_a1")
        contract = _contract(conn)
        first = acts.run(START, contract, form="contract")
        assert first["outcome"] == "started"
        instance = conn.execute(
            select(FlowInstance.__table__).where(FlowInstance.id == first["instance"])
        ).one()
        assert (instance.record_id, instance.flow_key, instance.state) == (
            contract,
            "contract_approval",
            "running",
        )
        assert instance.initiator_id == acts.user("rep_a1")
        tasks = conn.execute(select(FlowTask.id).where(FlowTask.instance_id == instance.id)).all()
        assert tasks  # the walk reached its first approval
        second = acts.run(START, contract, form="contract")
        assert second == {"outcome": "already_running", "instance": first["instance"]}
        count = conn.execute(
            select(FlowInstance.id).where(FlowInstance.record_id == contract)
        ).all()
        assert len(count) == 1


def test_initiator_is_the_owner_without_an_actor(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        contract = _contract(conn)
        owner = acts.record("contract", contract)["_owner"]
        started = acts.run(START, contract, form="contract")
        initiator = conn.execute(
            select(FlowInstance.initiator_id).where(FlowInstance.id == started["instance"])
        ).scalar_one()
        assert initiator == owner


def test_a_deleted_record_refuses(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        contract = _contract(conn)
        step = acts.step(START, contract, form="contract")
        open_form(context(Actor(None, "api"), now=NOW), conn, "crm", "contract").delete(contract)
        from engine.rules.kinds import ACTIONS

        with pytest.raises(ServiceError) as caught:
            ACTIONS["start_flow"].run(step)
        assert caught.value.code == "record_gone"
        assert (
            conn.execute(select(FlowInstance.id).where(FlowInstance.record_id == contract)).all()
            == []
        )


@pytest.mark.parametrize(
    ("action", "form", "path", "code"),
    [
        ({"flow": "nope"}, "contract", "flow", "unknown_flow"),
        ({"flow": "contract_approval"}, "lead", "flow", "flow_of_other_form"),
        ({}, "contract", "flow", "missing"),
        ({"flow": "contract_approval", "form": "lead"}, "contract", "form", "unknown_property"),
    ],
)
def test_checks(
    crm: dict[str, Any], action: dict[str, Any], form: str, path: str, code: str
) -> None:
    with crm["engine"].connect() as conn:
        issues = check(conn, {"type": "start_flow", **action}, form=form)
    found = [(i.path, i.code) for i in issues]
    assert (f"rules[0].actions[0].{path}", code) in found, found
    assert all(i.message_zh and i.message_en for i in issues)


def test_good_settings_pass_the_checks(crm: dict[str, Any]) -> None:
    with crm["engine"].connect() as conn:
        assert check(conn, START, form="contract") == []
