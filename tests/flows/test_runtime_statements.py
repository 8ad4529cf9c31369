"""How many SQL statements each flow action costs (issue 13, item 6), on SQLite and PostgreSQL:
a contract-approval-shaped flow (an exclusive choice on a rollup, a 或签 node, a 会签 node of
two, a cc node, the end) worked one transaction per step, with each step's statements counted.
The budgets are what the runtime needs today; a change that adds statements to an action (a
plan or revision loaded again, assignees resolved twice, the record read for nothing, listener
work on a plain record write) fails here and must be looked at (bench/flow_bench.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.rules import listeners as rule_listeners
from tests.flows.runtime_fixtures import Flows, approve, flow, node, set_up

# amount < 1000 → bob alone (或签); else bob and carol countersign (会签); erin in cc; end
CONTRACT_LIKE = flow(
    [
        {"id": "start", "type": "start"},
        {"id": "route", "type": "exclusive"},
        approve("director", "bob"),
        approve("countersign", "bob", "carol", mode="all"),
        node("finance", "cc", "erin"),
        {"id": "end", "type": "end"},
    ],
    [
        {"from": "start", "to": "route"},
        {"from": "route", "to": "director", "when": "total < 1000"},
        {"from": "route", "to": "countersign", "default": True},
        {"from": "director", "to": "finance"},
        {"from": "countersign", "to": "finance"},
        {"from": "finance", "to": "end"},
    ],
)

# Statements per step, BEGIN excluded (SQLite's BEGIN IMMEDIATE is a statement of its own).
# What each costs today (docs/decisions.md "Flow steps in fewer statements (issue 13)"): the
# approval that ends the instance was 17 and one vote of a 会签 8 before plans were kept and
# the writes merged.
BUDGET = {
    "create, starting the flow": 12,
    "create, no flow bound": 4,
    "approve, the node passes to the end": 10,
    "approve, one of a 会签 of two": 5,
}
# Measured as a server runs, with the rules listeners registered (issue 14): they say which
# events they want (`Listener.wants`), so while no rule of the app listens to flow events an
# action builds none and reads no record version for them (11 and 6 before).
rule_listeners.register()


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """The statements `engine` runs inside the block (BEGIN left out)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def cost(engine: Engine, step: Callable[[], Any]) -> int:
    with counted(engine) as seen:
        step()
    return len(seen)


def within(what: str, statements: int) -> None:
    assert statements <= BUDGET[what], f"{what}: {statements} statements (budget {BUDGET[what]})"


def _warm(flows: Flows) -> None:
    """One instance run through first: caches (revisions, plans, compiled SQL) are filled, as
    in a running server."""
    record = flows.create(items=[{"line": "10"}])
    flows.act("bob", "approve")
    assert flows.state(record) == "approved"


def test_statements_per_step_of_a_small_contract(store_engine: Engine) -> None:
    flows = set_up(store_engine, CONTRACT_LIKE)
    _warm(flows)
    created: list[int] = []
    started = cost(store_engine, lambda: created.append(flows.create(items=[{"line": "10"}])))
    within("create, starting the flow", started)
    [record] = created
    task = flows.task("bob")
    approved = cost(store_engine, lambda: flows.act("bob", "approve", task))
    within("approve, the node passes to the end", approved)
    [copied] = [t for t in flows.tasks("erin", state="done") if t.id > task]
    assert copied.kind == "cc"
    assert flows.state(record) == "approved"


def test_statements_per_step_of_a_large_contract(store_engine: Engine) -> None:
    flows = set_up(store_engine, CONTRACT_LIKE)
    _warm(flows)
    record = flows.create(items=[{"line": "600"}, {"line": "700"}])
    first, second = flows.task("bob"), flows.task("carol")
    one = cost(store_engine, lambda: flows.act("bob", "approve", first))
    within("approve, one of a 会签 of two", one)
    assert flows.state(record) == "running"
    both = cost(store_engine, lambda: flows.act("carol", "approve", second))
    within("approve, the node passes to the end", both)
    assert flows.state(record) == "approved"


def test_a_form_without_a_flow_pays_nothing_for_flows(store_engine: Engine) -> None:
    flows = set_up(store_engine, None)
    flows.create()
    created = cost(store_engine, lambda: flows.create())
    within("create, no flow bound", created)
    assert flows.instance(flows.create()) is None
