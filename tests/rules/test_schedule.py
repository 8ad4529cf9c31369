"""The schedule trigger (issue 14): once per matching record at each cron moment, once across a
restart, once after downtime spanning several moments, switched-off and removed rules skipped,
a changed cron re-planned, a bad cron refused at publish, a large moment run in batches (one
transaction each, each exactly once when a worker dies holding one) — with the real job
worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from engine.core.errors import ServiceError
from engine.core.registry import Registry
from engine.forms import apps as forms_apps
from engine.forms.service import open_form
from engine.jobs import JOB_KINDS, JobKind, Worker
from engine.jobs.queue import JOBS, moment_key, utcnow
from engine.jobs.worker import next_moment
from engine.rules import runtime
from engine.rules.timing import SCHEDULE_BATCH, SCHEDULE_KIND
from engine.settings import Settings
from tests.rules.fixtures import NOW, Rules, rule, set_up
from tests.rules.time_fixtures import TZ, jobs, make_due, worker

CRON = "30 8 * * *"  # 08:30 every day, Shanghai time
OPEN = sorted(["甲", "乙"])  # the open deals
CREATE_PROJECT = [{"type": "create_record", "form": "project", "values": {"name": "name"}}]


def nudge(cron: str = CRON, **more: Any) -> dict[str, Any]:
    return rule(
        "nudge",
        {"type": "schedule", "cron": cron, "filter": 'stage = "open"'},
        more.pop("actions", CREATE_PROJECT),
        **more,
    )


def _deals(rules: Rules) -> None:
    rules.create(name="甲", stage="open")
    rules.create(name="乙", stage="open")
    rules.create(name="丙", stage="won")


def _projects(rules: Rules) -> list[str]:
    return sorted(p["name"] for p in rules.records("project"))


def test_a_schedule_fires_once_per_matching_record_then_plans_the_next_moment(
    store_engine: Engine,
) -> None:
    rules = set_up(store_engine, nudge())
    [job] = jobs(store_engine, SCHEDULE_KIND)
    planned = next_moment(CRON, NOW, ZoneInfo(TZ))
    assert planned == dt.datetime(2026, 12, 7, 0, 30, tzinfo=dt.UTC)  # 08:30 in Shanghai
    assert job.run_at == planned
    assert job.key == "rule:sales:nudge@2026-12-07T00:30:00Z"
    _deals(rules)
    assert worker(store_engine).drain() == 0  # not due yet
    make_due(store_engine, job.id)
    assert worker(store_engine).drain() == 3  # the moment, then one run per open deal
    assert _projects(rules) == OPEN
    runs = rules.runs("nudge")
    assert [(r.state, r.event["kind"]) for r in runs] == [("succeeded", "schedule")] * 2
    assert {r.event["data"]["planned"] for r in runs} == {planned.isoformat()}
    [following] = jobs(store_engine, SCHEDULE_KIND)
    assert following.id != job.id and following.run_at > planned
    assert following.run_at == next_moment(
        CRON, following.run_at - dt.timedelta(days=1), ZoneInfo(TZ)
    )


def test_a_moment_fires_once_across_a_restart_and_a_second_worker(store_engine: Engine) -> None:
    rules = set_up(store_engine, nudge())
    _deals(rules)
    [job] = jobs(store_engine, SCHEDULE_KIND)
    make_due(store_engine, job.id)
    first = worker(store_engine, "first")
    assert first.drain() == 3
    # another worker (a restarted server) finds nothing left to do for that moment
    assert worker(store_engine, "second").drain() == 0
    # publishing again (as a restart re-plans) queues no second job for the next moment
    [following] = jobs(store_engine, SCHEDULE_KIND)
    rules.publish(nudge())
    assert [j.id for j in jobs(store_engine, SCHEDULE_KIND)] == [following.id]
    assert worker(store_engine, "third").drain() == 0
    assert _projects(rules) == OPEN
    assert len(rules.runs("nudge")) == 2


def test_downtime_over_several_moments_fires_once_late(store_engine: Engine) -> None:
    rules = set_up(store_engine, nudge())
    _deals(rules)
    [job] = jobs(store_engine, SCHEDULE_KIND)
    # the server was down for four days: the job planned for a moment four days ago is due
    missed = next_moment(CRON, utcnow() - dt.timedelta(days=4), ZoneInfo(TZ))
    with store_engine.begin() as conn:
        conn.execute(
            update(JOBS)
            .where(JOBS.c.id == job.id)
            .values(
                run_at=missed,
                key=moment_key("rule:sales:nudge", missed),
                payload={**job.payload, "planned": missed.isoformat()},
            )
        )
    assert worker(store_engine).drain() == 3
    assert _projects(rules) == OPEN  # once, not once per missed moment
    [following] = jobs(store_engine, SCHEDULE_KIND)
    assert following.run_at > missed + dt.timedelta(days=3)  # after now, not the missed ones
    assert worker(store_engine).drain() == 0


def test_a_switched_off_rule_is_skipped_and_not_planned_until_switched_on(
    store_engine: Engine,
) -> None:
    rules = set_up(store_engine, nudge())
    _deals(rules)
    [job] = jobs(store_engine, SCHEDULE_KIND)
    with store_engine.begin() as conn:
        runtime.set_enabled(conn, forms_apps.load(conn, "sales"), "nudge", False, None)
    make_due(store_engine, job.id)
    assert worker(store_engine).drain() == 1
    [skipped] = rules.runs("nudge")
    assert (skipped.state, skipped.error, skipped.event["kind"]) == (
        "skipped",
        "rule_disabled",
        "schedule",
    )
    assert jobs(store_engine, SCHEDULE_KIND) == []
    assert _projects(rules) == []
    with store_engine.begin() as conn:
        runtime.set_enabled(conn, forms_apps.load(conn, "sales"), "nudge", True, None)
    [planned] = jobs(store_engine, SCHEDULE_KIND)
    assert planned.payload["cron"] == CRON


def test_a_removed_rule_is_skipped_and_a_changed_cron_replaces_the_job(
    store_engine: Engine,
) -> None:
    rules = set_up(store_engine, nudge())
    _deals(rules)
    [job] = jobs(store_engine, SCHEDULE_KIND)
    rules.publish(nudge("0 18 * * 1-5"))
    [changed] = jobs(store_engine, SCHEDULE_KIND)
    assert changed.key != job.key and changed.payload["cron"] == "0 18 * * 1-5"
    assert changed.run_at == next_moment("0 18 * * 1-5", NOW, ZoneInfo(TZ))
    rules.publish()  # the rule is gone; its queued job stays, to be logged skipped
    assert [j.id for j in jobs(store_engine, SCHEDULE_KIND)] == [changed.id]
    make_due(store_engine, changed.id)
    assert worker(store_engine).drain() == 1
    [skipped] = rules.runs("nudge")
    assert (skipped.state, skipped.error) == ("skipped", "rule_deleted")
    assert jobs(store_engine, SCHEDULE_KIND) == []
    assert _projects(rules) == []


def test_a_sync_schedule_logs_a_refused_record_failed_and_goes_on(store_engine: Engine) -> None:
    coded = [
        {"type": "create_record", "form": "project", "values": {"name": "name", "code": "note"}}
    ]
    rules = set_up(store_engine, nudge(actions=coded, mode="sync"))
    rules.create(name="甲", stage="open", note="短")
    rules.create(name="乙", stage="open", note="这个编号太长太长太长了")
    [job] = jobs(store_engine, SCHEDULE_KIND)
    make_due(store_engine, job.id)
    assert worker(store_engine).drain() == 1
    assert _projects(rules) == ["甲"]
    states = sorted((r.state, r.record_id is not None) for r in rules.runs("nudge"))
    assert states == [("failed", True), ("succeeded", True)]
    [failed] = [r for r in rules.runs("nudge") if r.state == "failed"]
    assert "code" in failed.error
    assert len(jobs(store_engine, SCHEDULE_KIND)) == 1  # the next moment, planned all the same


@pytest.mark.parametrize(
    ("on", "path", "code"),
    [
        ({"type": "schedule", "cron": "61 * * * *"}, "rules[0].on.cron", "invalid_cron"),
        ({"type": "schedule", "cron": "every day"}, "rules[0].on.cron", "invalid_cron"),
        ({"type": "schedule", "cron": "0 0 * * * 5"}, "rules[0].on.cron", "invalid_cron"),
        ({"type": "schedule"}, "rules[0].on.cron", "missing"),
        ({"type": "schedule", "cron": CRON, "filter": "stage +"}, "rules[0].on.filter", None),
        ({"type": "schedule", "cron": CRON, "filter": "ghost = 1"}, "rules[0].on.filter", None),
        ({"type": "schedule", "cron": CRON, "every": 5}, "rules[0].on.every", "unknown_setting"),
    ],
)
def test_a_bad_schedule_is_refused_at_publish(
    store_engine: Engine, on: dict[str, Any], path: str, code: str | None
) -> None:
    rules = set_up(store_engine)
    with pytest.raises(ServiceError) as refused:
        rules.publish(rule("nudge", on, CREATE_PROJECT))
    assert refused.value.status == 422
    [issue] = [i for i in refused.value.issues if i.path == path]
    assert code is None or issue.code == code
    assert issue.message_zh and issue.message_en
    assert jobs(store_engine, SCHEDULE_KIND) == []


def test_a_schedule_without_a_form_runs_once_per_moment(store_engine: Engine) -> None:
    daily = {
        "key": "daily",
        "name": {"zh": "每日项目", "en": "Daily project"},
        "on": {"type": "schedule", "cron": CRON},
        "actions": [
            {"type": "create_record", "form": "project", "values": {"name": {"value": "日报"}}}
        ],
    }
    rules = set_up(store_engine, daily)
    _deals(rules)
    [job] = jobs(store_engine, SCHEDULE_KIND)
    make_due(store_engine, job.id)
    assert worker(store_engine).drain() == 2  # the moment, then its one run
    assert _projects(rules) == ["日报"]
    [run] = rules.runs("daily")
    assert (run.state, run.record_id, run.event["kind"]) == ("succeeded", None, "schedule")
    with pytest.raises(ServiceError) as refused:
        rules.publish({**daily, "on": {**daily["on"], "filter": 'stage = "open"'}})
    assert [i.path for i in refused.value.issues] == ["rules[0].on.filter"]


def _schedule_worker(engine: Engine, name: str, ahead: dt.timedelta = dt.timedelta()) -> Worker:
    """A worker of the schedule jobs only, one job per claim, its clock `ahead` of the wall."""
    kinds: Registry[JobKind] = Registry("job kind")
    kinds.register(SCHEDULE_KIND, JOB_KINDS[SCHEDULE_KIND])
    return Worker(
        engine,
        Settings(timezone=TZ),
        kinds=kinds,
        name=name,
        batch=1,
        clock=lambda: utcnow() + ahead,
    )


def test_a_large_moment_runs_in_batches_each_once_across_a_crash(store_engine: Engine) -> None:
    rules = set_up(store_engine, nudge(mode="sync"))  # each batch writes its projects itself
    count = 2 * SCHEDULE_BATCH + 50
    with store_engine.begin() as conn:
        deals = [{"name": f"商机{i:04}", "stage": "open"} for i in range(count)]
        ids = open_form(rules.ctx(), conn, "sales", "deal").create_many(
            [*deals, {"name": "已签", "stage": "won"}]
        )
    [job] = jobs(store_engine, SCHEDULE_KIND)
    moment = job.key
    make_due(store_engine, job.id)
    # the moment's job: the first batch in its own transaction, the next batch queued
    assert _schedule_worker(store_engine, "a").run_once() == 1
    queued = [j for j in jobs(store_engine, SCHEDULE_KIND) if j.key.startswith(moment)]
    assert [(j.key, j.payload["after"]) for j in queued] == [
        (f"{moment}#{ids[SCHEDULE_BATCH - 1]}", ids[SCHEDULE_BATCH - 1])
    ]
    assert len(rules.runs("nudge")) == len(rules.records("project")) == SCHEDULE_BATCH
    # a worker claims the second batch and dies before running it (SIGKILL after the claim)
    dying = _schedule_worker(store_engine, "dying")
    [claimed] = dying._claim([SCHEDULE_KIND], utcnow())
    assert claimed.key == queued[0].key
    assert _schedule_worker(store_engine, "b").run_once() == 0  # its lease still holds
    # after the lease: a restarted worker takes the batch over, then runs the last one
    lease = dt.timedelta(seconds=Settings().job_lease_seconds + 60)
    assert _schedule_worker(store_engine, "c", ahead=lease).drain() == 2
    names = [p["name"] for p in rules.records("project")]
    assert sorted(names) == sorted(d["name"] for d in deals)  # each exactly once
    assert len(rules.runs("nudge")) == count
    done = [j for j in jobs(store_engine, SCHEDULE_KIND, state="done") if j.key.startswith(moment)]
    assert [j.key for j in done] == [
        moment,
        f"{moment}#{ids[SCHEDULE_BATCH - 1]}",
        f"{moment}#{ids[2 * SCHEDULE_BATCH - 1]}",
    ]
    assert [j.attempts for j in done] == [1, 2, 1]  # the crashed claim counted an attempt
    [following] = jobs(store_engine, SCHEDULE_KIND)  # the next moment, planned once
    assert following.run_at > job.run_at
