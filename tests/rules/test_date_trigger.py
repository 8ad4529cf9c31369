"""The date_reached trigger (issue 14): one job per record at its date plus an offset, re-planned
when the date changes (the old moment does not fire, the new one does), removed with the
record, only future moments planned at publish (in batches), a wrong field refused — with the
real job worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from engine.core.errors import ServiceError
from engine.forms import apps as forms_apps
from engine.jobs import enqueue
from engine.rules import runtime, timing
from engine.rules.timing import DATE_KIND, DateSetting
from tests.rules.fixtures import Rules, rule, set_up
from tests.rules.time_fixtures import TZ, jobs, make_due, worker

CREATE_PROJECT = [
    {"type": "create_record", "form": "project", "values": {"name": 'name & " 提醒"'}}
]


def remind(**on: Any) -> dict[str, Any]:
    """Three days before a deal's close date, at 10:00 Shanghai time, create a project."""
    settings = {"field": "close", "offset_days": -3, "at": "10:00", **on}
    return rule("remind", {"type": "date_reached", **settings}, CREATE_PROJECT)


def _moment(day: str, hour: int = 2) -> dt.datetime:
    """10:00 in Shanghai on `day` is 02:00 UTC."""
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def _projects(rules: Rules) -> list[str]:
    return sorted(p["name"] for p in rules.records("project"))


def test_a_date_change_replans_the_old_moment_never_fires_the_new_one_does(
    store_engine: Engine,
) -> None:
    rules = set_up(store_engine, remind())
    deal = rules.create(name="甲", close="2026-12-20")
    [job] = jobs(store_engine, DATE_KIND)
    assert job.run_at == _moment("2026-12-17")  # three days before, 10:00 in Shanghai
    assert job.key == f"rdate:sales:remind:{deal}@2026-12-17T02:00:00Z"
    rules.update("deal", deal, note="别的字段")  # another field: the job stays
    assert [j.id for j in jobs(store_engine, DATE_KIND)] == [job.id]
    rules.update("deal", deal, close="2026-12-28")
    [moved] = jobs(store_engine, DATE_KIND)
    assert moved.key != job.key and moved.run_at == _moment("2026-12-25")
    # even a job of the old moment that was already claimed would find the date changed
    with store_engine.begin() as conn:
        enqueue(conn, DATE_KIND, dict(job.payload), job.run_at, job.key)
    stale = [j for j in jobs(store_engine, DATE_KIND) if j.key == job.key]
    make_due(store_engine, stale[0].id)
    assert worker(store_engine).drain() == 1
    assert _projects(rules) == [] and rules.runs("remind") == []
    make_due(store_engine, moved.id)
    assert worker(store_engine).drain() == 2  # the date job, then the queued run
    assert _projects(rules) == ["甲 提醒"]
    [run] = rules.runs("remind")
    assert run.state == "succeeded" and run.record_id == deal
    assert run.event["kind"] == "date_reached"
    assert run.event["data"]["moment"] == _moment("2026-12-25").isoformat()
    assert jobs(store_engine, DATE_KIND) == []
    assert worker(store_engine).drain() == 0


def test_clearing_the_date_or_deleting_the_record_removes_its_job(store_engine: Engine) -> None:
    rules = set_up(store_engine, remind())
    cleared = rules.create(name="甲", close="2026-12-20")
    deleted = rules.create(name="乙", close="2026-12-21")
    past = rules.create(name="丙", close="2026-12-07")  # three days before is already past
    assert {j.payload["record"] for j in jobs(store_engine, DATE_KIND)} == {cleared, deleted}
    rules.update("deal", cleared, close=None)
    rules.delete("deal", deleted)
    rules.update("deal", past, close="2026-12-08")  # still past
    assert jobs(store_engine, DATE_KIND) == []


def test_publishing_plans_only_future_moments_in_batches(
    store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = set_up(store_engine)
    future = [rules.create(name=f"将来{i}", close=f"2027-01-{10 + i:02d}") for i in range(5)]
    rules.create(name="过去", close="2026-11-01")
    just = rules.create(name="刚过", close="2026-12-08")  # 3 days before: 12-05, past at 12-06
    rules.create(name="空")
    gone = rules.create(name="删除", close="2027-02-01")
    rules.delete("deal", gone)
    monkeypatch.setattr(timing, "BATCH", 2)  # three batches for the five future deals
    rules.publish(remind())
    planned = {j.payload["record"]: j.run_at for j in jobs(store_engine, DATE_KIND)}
    assert planned == {record: _moment(f"2027-01-{7 + i:02d}") for i, record in enumerate(future)}
    # publishing again (nothing changed) plans nothing twice; a changed offset re-plans all
    rules.publish(remind())
    assert len(jobs(store_engine, DATE_KIND)) == 5
    rules.publish(remind(offset_days=0, at="08:00"))
    planned = {j.payload["record"]: j.run_at for j in jobs(store_engine, DATE_KIND)}
    assert planned == {
        just: _moment("2026-12-08", hour=0),  # on the day itself it is still ahead
        **{record: _moment(f"2027-01-{10 + i:02d}", hour=0) for i, record in enumerate(future)},
    }
    # the rule removed: its queued jobs go with it
    rules.publish()
    assert jobs(store_engine, DATE_KIND) == []


def test_a_switched_off_date_rule_is_skipped(store_engine: Engine) -> None:
    rules = set_up(store_engine, remind())
    deal = rules.create(name="甲", close="2026-12-20")
    [job] = jobs(store_engine, DATE_KIND)
    with store_engine.begin() as conn:
        runtime.set_enabled(conn, forms_apps.load(conn, "sales"), "remind", False, None)
    make_due(store_engine, job.id)
    assert worker(store_engine).drain() == 1
    [run] = rules.runs("remind")
    assert (run.state, run.error, run.record_id) == ("skipped", "rule_disabled", deal)
    assert _projects(rules) == []


def test_a_datetime_moment_is_its_own_moment_plus_the_offset() -> None:
    setting = DateSetting("due", "datetime", -1, dt.time(9, 0))
    zone = ZoneInfo(TZ)
    assert setting.moment("2026-12-20T03:15:00.000Z", zone) == dt.datetime(
        2026, 12, 19, 3, 15, tzinfo=dt.UTC
    )
    dated = DateSetting("due", "date", 2, dt.time(23, 30))
    assert dated.moment("2026-12-20", zone) == dt.datetime(2026, 12, 22, 15, 30, tzinfo=dt.UTC)
    assert dated.moment(None, zone) is None and dated.moment("not a date", zone) is None


@pytest.mark.parametrize(
    ("on", "path", "code"),
    [
        ({"field": "name", "offset_days": -3}, "rules[0].on.field", "not_a_date"),
        ({"field": "ghost", "offset_days": -3}, "rules[0].on.field", "unknown_field"),
        ({"offset_days": -3}, "rules[0].on.field", "missing"),
        ({"field": "close", "offset_days": 1.5}, "rules[0].on.offset_days", "integer_type"),
        ({"field": "close", "offset_days": "-3"}, "rules[0].on.offset_days", "integer_type"),
        ({"field": "close", "at": "9am"}, "rules[0].on.at", "invalid_time"),
        ({"field": "close", "hour": 9}, "rules[0].on.hour", "unknown_setting"),
    ],
)
def test_a_bad_date_trigger_is_refused_at_publish(
    store_engine: Engine, on: dict[str, Any], path: str, code: str
) -> None:
    rules = set_up(store_engine)
    with pytest.raises(ServiceError) as refused:
        rules.publish(rule("remind", {"type": "date_reached", **on}, CREATE_PROJECT))
    assert refused.value.status == 422
    [issue] = [i for i in refused.value.issues if i.path == path]
    assert issue.code == code and issue.message_zh and issue.message_en
