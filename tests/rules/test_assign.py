"""The rule action `assign_owner` (issue 14) on the stock CRM, SQLite and PostgreSQL: round
robin in order across restarts and under concurrent saves, least open records, mapping with a
default, the inbox notice, no candidate, and the checks of its settings."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine.core.context import Actor
from engine.flows.inbox import list_notifications
from engine.forms import apps as forms_apps
from engine.forms.records import history
from engine.forms.service import open_form
from engine.rules import counters
from engine.store.models import User
from tests.contexts import context
from tests.rules.acts_fixtures import NOW, Acts, check, install, rolled_back

REPS = ["rep_a1", "rep_b1", "rep_a2"]
ROUND_ROBIN = {"type": "assign_owner", "strategy": "round_robin", "users": REPS}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from install(request, tmp_path_factory)


def _lead(acts: Acts, name: str, **values: Any) -> int:
    return acts.create("lead", {"name": name, **values}, owner=acts.user("admin"))


def test_round_robin_cycles_in_order_across_restarts(crm: dict[str, Any]) -> None:
    owners: list[int] = []
    turns: list[int] = []
    for restart in range(3):  # each "process" has its own engine: nothing kept in memory
        engine = crm["connect"]()
        try:
            for n in range(2):
                with engine.begin() as conn:
                    acts = Acts(conn)
                    lead = _lead(acts, f"轮询{restart}-{n}")
                    outcome = acts.run(ROUND_ROBIN, lead, key="rr_restarts")
                    owners.append(acts.record("lead", lead)["_owner"])
                    turns.append(outcome["turn"])
                    assert outcome["owner"] == owners[-1] and outcome["changed"] is True
        finally:
            engine.dispose()
    with crm["engine"].connect() as conn:
        acts = Acts(conn)
        reps = [acts.user(u) for u in REPS]
        app_id = forms_apps.load(conn, "crm").id
        assert counters.current(conn, app_id, "rr_restarts", "actions[0]") == 6
    assert turns == [1, 2, 3, 4, 5, 6]
    assert owners == reps + reps


def test_round_robin_transfers_through_the_record_service(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        lead = _lead(acts, "看历史")
        outcome = acts.run(ROUND_ROBIN, lead, key="rr_history")
        layout = forms_apps.load(conn, "crm").layout.forms["lead"]
        entries = history(conn, layout, lead)
        last = entries[-1]
        assert last["event"] == "transfer"
        assert last["channel"] == "rule"
        assert last["changes"]["_owner"] == [acts.user("admin"), outcome["owner"]]


def test_set_field_fills_the_forms_own_person_field(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        action = {**ROUND_ROBIN, "set_field": "owner"}
        lead = _lead(acts, "填负责人")
        outcome = acts.run(action, lead, key="rr_set_field")
        assert outcome["set_field"] is True
        layout = forms_apps.load(conn, "crm").layout.forms["lead"]
        entries = history(conn, layout, lead)
        assert entries[-1]["channel"] == "rule"
        old, new = entries[-1]["changes"]["owner"]
        assert (old, new["id"]) == (None, outcome["owner"])
        row = conn.execute(
            select(layout.table.c[layout.fields["owner"].column], layout.table.c._owner).where(
                layout.table.c._id == lead
            )
        ).one()
        assert (row[0], row[1]) == (outcome["owner"], outcome["owner"])
        # a field already holding the chosen user is left as it is (no history entry)
        rep = acts.user("rep_b1")
        kept = _lead(acts, "已有负责人", owner=rep)
        mapped = {"type": "assign_owner", "strategy": "mapping", "field": "source"}
        done = acts.run({**mapped, "default": "rep_b1", "set_field": "owner"}, kept)
        assert (done["owner"], done["set_field"]) == (rep, False)
        assert all("owner" not in e["changes"] for e in history(conn, layout, kept)[1:])


def test_concurrent_assignments_never_share_a_turn(crm: dict[str, Any]) -> None:
    engine = crm["engine"]
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def assign(n: int) -> None:
        try:
            with engine.begin() as conn:
                acts = Acts(conn)
                lead = _lead(acts, f"并发{n}")
                outcome = acts.run(
                    {"type": "assign_owner", "strategy": "round_robin", "role": "sales_rep"},
                    lead,
                    key="rr_threads",
                )
            with lock:
                results.append((outcome["turn"], outcome["owner"]))
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=assign, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with engine.connect() as conn:
        acts = Acts(conn)
        reps = sorted(acts.user(u) for u in ("rep_a1", "rep_a2", "rep_b1", "rep_b2"))
    results.sort()
    assert [turn for turn, _ in results] == list(range(1, 9))  # every turn taken exactly once
    assert [owner for _, owner in results] == [reps[(t - 1) % 4] for t, _ in results]
    assert all(a[1] != b[1] for a, b in itertools.pairwise(results))


def test_least_open_picks_the_least_loaded(crm: dict[str, Any]) -> None:
    action = {
        "type": "assign_owner",
        "strategy": "least_open",
        "users": ["rep_a1", "rep_b1", "rep_b2"],
        "open_filter": 'status <> "converted" AND status <> "invalid"',
    }
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        a1, b1, b2 = (acts.user(u) for u in ("rep_a1", "rep_b1", "rep_b2"))
        # Give rep_b2's open leads to rep_a1, and rep_b1 one closed lead only: b1 has the fewest
        # open ones (none), although it is not first in the list.
        leads = open_form(context(Actor(None, "api"), now=NOW), conn, "crm", "lead")
        items = leads.list(limit=500).items
        for item in items:
            if item["_owner"] in (b1, b2):
                leads.transfer([item["_id"]], a1)
        closed = _lead(acts, "已关闭", status="invalid")
        leads.transfer([closed], b1)
        for n in range(2):
            leads.transfer([_lead(acts, f"b2 的开放线索{n}", status="new")], b2)
        lead = _lead(acts, "新线索", status="new")
        outcome = acts.run(action, lead)
        assert outcome["owner"] == b1 and outcome["open_records"] == 0
        assert acts.record("lead", lead)["_owner"] == b1
        # Now b1 has one open lead, b2 two: the next goes to b1 again (fewest), then ties go
        # to the earlier candidate.
        second = _lead(acts, "再一个", status="new")
        assert acts.run(action, second)["owner"] == b1
        third = _lead(acts, "第三个", status="new")
        assert acts.run(action, third)["owner"] == b1  # b1: 2, b2: 2 → b1 comes first
        fourth = _lead(acts, "第四个", status="new")
        assert acts.run(action, fourth)["owner"] == b2  # b1: 3, b2: 2


def test_mapping_with_a_default(crm: dict[str, Any]) -> None:
    action = {
        "type": "assign_owner",
        "strategy": "mapping",
        "field": "source",
        "map": {"website": "rep_a1", "referral": "rep_b1"},
        "default": "rep_a2",
    }
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        web = _lead(acts, "官网来的", source="website")
        show = _lead(acts, "展会来的", source="trade_show")
        blank = _lead(acts, "不知道来源")
        assert acts.run(action, web)["owner"] == acts.user("rep_a1")
        assert acts.run(action, show)["owner"] == acts.user("rep_a2")
        assert acts.run(action, blank)["owner"] == acts.user("rep_a2")
        acts.deactivate("rep_b1")  # a mapped user who left: the default takes over
        referral = _lead(acts, "转介绍", source="referral")
        assert acts.run(action, referral)["owner"] == acts.user("rep_a2")
        acts.deactivate("rep_a2")  # and with no active default either: an error
        other = _lead(acts, "其他", source="other")
        with pytest.raises(Exception) as caught:
            acts.run(action, other)
        assert getattr(caught.value, "code", None) == "no_assignee"


def test_notify_writes_an_assigned_record_notice(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        lead = _lead(acts, "要通知的线索")
        outcome = acts.run({**ROUND_ROBIN, "notify": True}, lead, key="rr_notify")
        owner = outcome["owner"]
        assert outcome["notified"] == [owner]
        notices = list_notifications(conn, owner, unread=True)["items"]
        mine = [n for n in notices if n["kind"] == "assigned_record"]
        assert len(mine) == 1
        notice = mine[0]
        assert (notice["app"], notice["form"], notice["record_id"]) == ("crm", "lead", lead)
        assert notice["data"]["title"] == "要通知的线索"
        assert notice["data"]["rule"] == "r1" or notice["data"]["rule"] == "rr_notify"


def test_no_active_candidate_is_an_error_and_the_owner_stays(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        lead = _lead(acts, "没人接")
        for username in REPS:
            acts.deactivate(username)
        with pytest.raises(Exception) as caught:
            acts.run(ROUND_ROBIN, lead, key="rr_nobody")
        assert getattr(caught.value, "code", None) == "no_assignee"
        assert acts.record("lead", lead)["_owner"] == acts.user("admin")


def test_deactivated_candidates_are_skipped(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        acts.deactivate("rep_b1")
        owners = []
        for n in range(4):
            lead = _lead(acts, f"跳过{n}")
            owners.append(acts.run(ROUND_ROBIN, lead, key="rr_skip")["owner"])
        a1, a2 = acts.user("rep_a1"), acts.user("rep_a2")
        assert owners == [a1, a2, a1, a2]
        active = conn.execute(select(User.id).where(User.is_active.is_(True))).scalars().all()
        assert set(owners) <= set(active)


@pytest.mark.parametrize(
    ("action", "path", "code"),
    [
        ({"strategy": "round_robin"}, "users", "missing"),
        ({"strategy": "turns", "users": ["rep_a1"]}, "strategy", "literal_error"),
        ({"strategy": "round_robin", "users": ["a"], "role": "sales_rep"}, "role", "conflict"),
        ({"strategy": "round_robin", "role": "nobody"}, "role", "unknown_role"),
        ({"strategy": "round_robin", "users": []}, "users", "too_short"),
        ({"strategy": "round_robin", "users": ["a"], "colour": 1}, "colour", "unknown_property"),
        (
            {"strategy": "least_open", "users": ["a"], "open_filter": "statuz = 1"},
            "open_filter",
            "unknown_field",
        ),
        ({"strategy": "mapping", "map": {"website": "a"}}, "field", "missing"),
        ({"strategy": "mapping", "field": "name", "default": "a"}, "field", "not_a_choice"),
        ({"strategy": "mapping", "field": "nope", "default": "a"}, "field", "unknown_field"),
        (
            {"strategy": "mapping", "field": "source", "map": {"tv": "a"}},
            "map.tv",
            "unknown_option",
        ),
        ({"strategy": "mapping", "field": "source"}, "map", "missing"),
        ({**ROUND_ROBIN, "set_field": "nope"}, "set_field", "unknown_field"),
        ({**ROUND_ROBIN, "set_field": "name"}, "set_field", "not_a_user_field"),
        (
            {"strategy": "mapping", "field": "source", "default": "a", "set_field": "source"},
            "set_field",
            "not_a_user_field",
        ),
    ],
)
def test_checks(crm: dict[str, Any], action: dict[str, Any], path: str, code: str) -> None:
    with crm["engine"].connect() as conn:
        issues = check(conn, {"type": "assign_owner", **action})
    found = [(i.path, i.code) for i in issues]
    assert (f"rules[0].actions[0].{path}", code) in found, found
    assert all(i.message_zh and i.message_en for i in issues)


def test_good_settings_pass_the_checks(crm: dict[str, Any]) -> None:
    with crm["engine"].connect() as conn:
        assert check(conn, {**ROUND_ROBIN, "notify": True}) == []
        assert check(conn, {**ROUND_ROBIN, "set_field": "owner"}) == []
        assert (
            check(conn, {"type": "assign_owner", "strategy": "least_open", "role": "sales_rep"})
            == []
        )
        mapping = {"type": "assign_owner", "strategy": "mapping", "field": "source", "default": "a"}
        assert check(conn, mapping) == []
        assert check(conn, ROUND_ROBIN, form=None)[0].code == "missing"
