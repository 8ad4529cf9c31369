"""Concurrency (issue 13): two people acting on one 或签 node at once, and a withdraw racing an
approval — exactly one wins, the other gets 409 `task_closed`. On PostgreSQL the loser's
transaction is held at the instance row while the winner's is open (the interleaving that a
version check exists for); SQLite runs writers one at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from engine.core.errors import ServiceError
from engine.flows import runtime
from tests.flows.runtime_fixtures import ANY_OF_TWO, ONE_APPROVER, Flows, set_up


def _race(flows: Flows, *work: Callable[[Connection], Any]) -> list[Any]:
    """Run each piece of work in its own thread and transaction, started together; each
    one's result or the ServiceError it raised."""
    results: list[Any] = [None] * len(work)
    barrier = threading.Barrier(len(work))

    def run(index: int) -> None:
        barrier.wait()
        try:
            with flows.engine.begin() as conn:
                results[index] = work[index](conn)
        except ServiceError as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _closed(result: Any) -> bool:
    return isinstance(result, ServiceError) and (result.status, result.code) == (
        409,
        "task_closed",
    )


def test_two_approvers_of_an_any_node_at_once(store_engine: Engine) -> None:
    flows = set_up(store_engine, ANY_OF_TWO)
    record = flows.create()
    bob, carol = flows.task("bob"), flows.task("carol")
    results = _race(
        flows,
        lambda conn: runtime.act(conn, flows.ctx("bob"), bob, "approve"),
        lambda conn: runtime.act(conn, flows.ctx("carol"), carol, "reject"),
    )
    assert sum(isinstance(r, runtime.ActResult) for r in results) == 1
    assert sum(_closed(r) for r in results) == 1
    winner = "bob" if isinstance(results[0], runtime.ActResult) else "carol"
    assert flows.state(record) == ("approved" if winner == "bob" else "rejected")
    acted = [t for t in flows.tasks(state=None) if t.action is not None]
    assert len(acted) == 1


def test_withdraw_racing_an_approval(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    record = flows.create()
    task = flows.task("bob")
    instance = int(flows.instance(record).id)
    results = _race(
        flows,
        lambda conn: runtime.act(conn, flows.ctx("bob"), task, "approve"),
        lambda conn: runtime.withdraw(conn, flows.ctx("alice"), instance),
    )
    approved = isinstance(results[0], runtime.ActResult)
    assert approved != (results[1] == "withdrawn")
    loser = results[1] if approved else results[0]
    # a withdraw that comes second finds the node acted on or the instance finished
    assert _closed(loser) or (approved and getattr(loser, "code", None) == "withdraw_too_late")
    assert flows.state(record) == ("approved" if approved else "withdrawn")


def _held_then(
    flows: Flows, first: Callable[[Connection], Any], second: Callable[[Connection], Any]
) -> Any:
    """PostgreSQL: `first` runs in an open transaction; `second` starts in another and reads
    before `first` commits, then waits at the instance row; `first` commits. What `second`
    gave."""
    outcome: dict[str, Any] = {}
    with flows.engine.connect() as holder:
        transaction = holder.begin()
        first(holder)

        def run() -> None:
            try:
                with flows.engine.begin() as conn:
                    outcome["value"] = second(conn)
            except ServiceError as exc:
                outcome["value"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        with flows.engine.connect() as watcher:
            for _ in range(2000):  # until the second transaction waits for the row lock
                waiting = watcher.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar_one()
                watcher.rollback()
                if waiting:
                    break
                time.sleep(0.005)
            else:
                pytest.fail("the second action never waited for the first")
        transaction.commit()
        thread.join()
    return outcome["value"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_loser_read_before_the_winner_committed(store_engine: Engine) -> None:
    flows = set_up(store_engine, ANY_OF_TWO)
    record = flows.create()
    bob, carol = flows.task("bob"), flows.task("carol")
    second = _held_then(
        flows,
        lambda conn: runtime.act(conn, flows.ctx("bob"), bob, "approve"),
        lambda conn: runtime.act(conn, flows.ctx("carol"), carol, "approve"),
    )
    assert _closed(second)
    assert flows.state(record) == "approved"
    assert [t.action for t in flows.tasks("carol", state=None)] == [None]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_withdraw_read_before_an_approval_committed(store_engine: Engine) -> None:
    flows = set_up(store_engine, ONE_APPROVER)
    record = flows.create()
    task = flows.task("bob")
    instance = int(flows.instance(record).id)
    second = _held_then(
        flows,
        lambda conn: runtime.act(conn, flows.ctx("bob"), task, "approve"),
        lambda conn: runtime.withdraw(conn, flows.ctx("alice"), instance),
    )
    assert _closed(second)
    assert flows.state(record) == "approved"
