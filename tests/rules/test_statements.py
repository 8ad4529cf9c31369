"""How many SQL statements a save that fires a sync rule costs (issue 14, Benchmark), on SQLite
and PostgreSQL: a deal whose sync rule creates a project against the same pair written by hand
(bench/rules_bench.py (a)). The budget is what the runtime needs today — the rule's own cost is
the one run-log INSERT: its condition and values read only what the deal's change event tells
(`engine.rules.known`), so the deal is not read back; the rule switches are kept with the app's
revision and read again only when `apps.rule_switch_stamp` changed —, so a change that adds a
statement to a rule save (the deal read back again, switches read per save again, the app
loaded twice, the run row written in two statements) fails here. Also: a switch made meanwhile takes
effect at the very next save, and a save whose app was not read in its transaction still reads
the switches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.forms import apps as forms_apps
from engine.forms.service import open_form
from engine.rules import runtime
from tests.rules.fixtures import Rules, rule, set_up

MAKES_PROJECT = rule(
    "deal_project",
    {"type": "record_created"},
    [
        {
            "type": "create_record",
            "form": "project",
            "values": {
                "name": 'name & " 项目"',
                "amount": "amount",
                "customer": {"copy": "customer"},
            },
        }
    ],
    mode="sync",
)
# Statements (BEGIN left out): the hand-made pair is the app, the relation's check, the insert
# and its history for each of the two records, the app read once more for the second form (8);
# the rule save reads the app once, then the deal (check, insert, history), the project (check,
# insert, history) and the run-log row (8; 9 while the deal was read back for the rule).
BUDGET = {"rule save": 8, "plain save + create by hand": 8}
# Six queued runs of an async update-records rule, applied by one worker pass: the poll and the
# claim, then one transaction for all six (engine.jobs.worker batches): the claims checked, the
# app and the six runs read once, their relation targets locked (one statement per target
# form), per run the record service's update (the record before, its stored values, the
# UPDATE, the record after), then the six updates' history rows in one write, the six runs'
# logs in one executemany and all six marked done, and the next poll finds nothing —
# 2 + 4 + 6 × 4 + 3 + 1 (before batches: about 14 a run, each run its own commit; before the
# targets were locked ahead and the history and logs written together: 7 a run).
TOUCHES = rule(
    "touch",
    {"type": "record_updated"},
    [
        {
            "type": "update_records",
            "target": {"relation": "customer"},
            "values": {"touched": "bounce"},
        }
    ],
    mode="async",
)
RUNS_IN_BATCH = 6
# Gives a customer whose city changed to bob: the record service's transfer, which moves the
# customer's version without the batch's locked versions knowing (below).
TRANSFERS = {
    **rule(
        "transfer",
        {"type": "field_changed", "fields": ["city"]},
        [{"type": "assign_owner", "strategy": "round_robin", "users": ["bob"]}],
        mode="async",
    ),
    "form": "customer",
}
BUDGET_ASYNC = {"statements": 2 + 4 + RUNS_IN_BATCH * 4 + 3 + 1, "commits": 2}


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


def _deal(rules: Rules, customer: int, name: str) -> None:
    rules.create(name=name, amount="1200.50", customer=customer)


def _by_hand(rules: Rules, customer: int, name: str) -> None:
    with rules.engine.begin() as conn:
        values = {"name": name, "amount": "1200.50", "customer": customer}
        open_form(rules.ctx(), conn, "sales", "deal").create_many([values])
        project = {**values, "name": f"{name} 项目"}
        open_form(rules.ctx(), conn, "sales", "project").create_many([project])


def _switch(rules: Rules, enabled: bool) -> None:
    with rules.engine.begin() as conn:
        app = forms_apps.load(conn, "sales")
        runtime.set_enabled(conn, app, "deal_project", enabled, rules.users["admin"])


def test_a_save_firing_a_sync_rule_stays_within_its_statement_budget(
    store_engine: Engine,
) -> None:
    rules = set_up(store_engine, MAKES_PROJECT, TOUCHES, TRANSFERS)
    customer = rules.create("customer", name="ACME")
    _deal(rules, customer, "暖机")  # caches filled (revision, rules, switches), as in a server
    with counted(store_engine) as seen:
        _deal(rules, customer, "有规则")
    assert len(seen) <= BUDGET["rule save"], "\n".join(seen)
    assert not [s for s in seen if "rule_switches" in s]
    assert [s for s in seen if "rule_runs" in s and s.lstrip().upper().startswith("INSERT")]
    _switch(rules, False)  # the deal's rule off: the pair is written by hand
    _by_hand(rules, customer, "暖机二")  # the new switches read once
    with counted(store_engine) as seen:
        _by_hand(rules, customer, "手工")
    assert len(seen) <= BUDGET["plain save + create by hand"], "\n".join(seen)
    assert [p["name"] for p in rules.records("project")] == [
        "暖机 项目",
        "有规则 项目",
        "暖机二 项目",
        "手工 项目",
    ]
    # async runs: one worker pass applies the queued runs in one transaction
    deal = next(d for d in rules.records("deal") if d["name"] == "手工")
    for bounce in range(1, RUNS_IN_BATCH + 1):
        rules.update("deal", deal["_id"], bounce=bounce)
    commits: list[int] = []

    def commit(conn: Any) -> None:
        commits.append(1)

    event.listen(store_engine, "commit", commit)
    try:
        with counted(store_engine) as seen:
            assert rules.work() == RUNS_IN_BATCH
    finally:
        event.remove(store_engine, "commit", commit)
    assert len(seen) <= BUDGET_ASYNC["statements"], "\n".join(seen)
    assert len(commits) == BUDGET_ASYNC["commits"]
    assert len([s for s in seen if s.lstrip().upper().startswith("UPDATE RULE_RUNS")]) == 1
    assert [r.state for r in rules.runs("touch")] == ["succeeded"] * RUNS_IN_BATCH
    assert rules.get("customer", customer)["touched"] == RUNS_IN_BATCH
    # A batch whose first run changes the customer's version behind the versions locked ahead
    # for the second: that one's write is refused as stale, the batch rolls back and each run
    # goes alone — both succeed, each effect once.
    rules.update("customer", customer, city="杭州")
    rules.update("deal", deal["_id"], bounce=RUNS_IN_BATCH + 1)
    assert rules.work() == 2
    assert [r.state for r in rules.runs("transfer")] == ["succeeded"]
    assert [r.state for r in rules.runs("touch")] == ["succeeded"] * (RUNS_IN_BATCH + 1)
    after = rules.get("customer", customer)
    assert (after["touched"], after["_owner"]) == (RUNS_IN_BATCH + 1, rules.users["bob"])
    changes = [e["changes"] for e in rules.history("customer", customer)]
    assert "_owner" in changes[-2]  # each write once in the history, in order
    assert [c["touched"] for c in changes if "touched" in c] == [
        [None if n == 1 else n - 1, n] for n in range(1, RUNS_IN_BATCH + 2)
    ]


def test_a_switch_takes_effect_at_the_next_save(store_engine: Engine) -> None:
    rules = set_up(store_engine, MAKES_PROJECT)
    customer = rules.create("customer", name="ACME")
    _deal(rules, customer, "一")
    _switch(rules, False)
    with counted(store_engine) as seen:
        _deal(rules, customer, "二")  # the new stamp: the switches are read again, once
    assert len([s for s in seen if "rule_switches" in s]) == 1
    _deal(rules, customer, "三")
    _switch(rules, True)
    _deal(rules, customer, "四")
    # a switch rolled back leaves the kept switches as they were
    with rules.engine.begin() as conn:
        app = forms_apps.load(conn, "sales")
        runtime.set_enabled(conn, app, "deal_project", False, None)
        conn.rollback()
    _deal(rules, customer, "五")
    assert [p["name"] for p in rules.records("project")] == ["一 项目", "四 项目", "五 项目"]
    runs = rules.runs("deal_project")
    assert [r.state for r in runs] == ["succeeded"] * 3


def test_a_save_whose_app_was_not_read_in_its_transaction_reads_the_switches(
    store_engine: Engine,
) -> None:
    rules = set_up(store_engine, MAKES_PROJECT)
    customer = rules.create("customer", name="ACME")
    with store_engine.begin() as conn:
        app = forms_apps.load(conn, "sales")
    _switch(rules, False)
    with store_engine.begin() as conn:  # the app as loaded before the switch, not read again
        assert forms_apps.rule_switch_stamp(conn, app.id) is None
        assert runtime.live_switches(conn, app) == {"deal_project": False}
        service = open_form(rules.ctx(), conn, app, "deal")
        service.create_many([{"name": "旧应用", "customer": customer}])
    assert rules.records("project") == []
