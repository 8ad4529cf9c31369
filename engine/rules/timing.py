"""The time triggers of rules (issue 14): `schedule` and `date_reached`, their jobs and their
planning.

- **schedule** `{cron, filter?}`: at each moment of `cron` (five fields, read in the
  organisation's time zone, `JIMU_TIMEZONE`) the rule runs once per live record of its form
  matching `filter` (a formula over the form, run in SQL through the Reader); a schedule rule
  without a form runs once per moment, with no record. Each moment is
  one `rules.schedule` job with `run_at` and the key `rule:<app>:<rule>@<moment in UTC>`
  (`engine.jobs.moment_key`, independent of the revision), so it fires exactly once, across
  restarts. Its run plans the next moment after *now* (or after the moment, if later): after
  downtime spanning several moments the rule runs once, late, not once per missed moment.
  Publishing the rules (or installing an app) and switching a rule on plan the next moment;
  a queued job whose rule is gone or switched off is logged `skipped` and plans no next one; a
  changed cron replaces the queued job.
  A moment runs its records in batches of `SCHEDULE_BATCH` (by record id), one job and one
  transaction each: the moment's job fires the first batch and plans the next moment; when a
  batch is full it queues the moment's next batch (`rules.schedule` with `after`: the last id
  done, keyed `<moment key>#<after>`) in the same transaction. So a large form never holds
  the write lock for one long transaction, a failure or a crash loses (and retries) one batch
  only, and each batch runs exactly once across restarts. A record is considered once per
  moment (ids after the last batch's); whether it matches `filter` is read when its batch runs.
- **date_reached** `{field, offset_days, at?}`: per record, one `rules.date` job at the date
  field's day plus `offset_days` at `at` ("HH:MM", default 09:00) in the organisation's time
  zone (a datetime field: its moment plus `offset_days`), keyed
  `rdate:<app>:<rule>:<record>@<moment>`. The record listener `rules.dates` (registered beside
  the rules listener, in the saving transaction) plans it when a record is created or restored
  and re-plans it when the date changes (the old queued job is removed); deleting the record
  removes it. A run whose record is gone, or whose date no longer gives that moment, does
  nothing. Moments already past are never planned. Publishing plans, in batches of
  `BATCH` records and only for records whose moment is still ahead, the rules that are new
  or whose trigger changed since the previous revision (their old queued jobs removed first);
  queued jobs of date rules no longer in the revision are removed.

Both fire through `engine.rules.runtime.fire` (condition, then the actions or a queued run),
as the system (no user) at cascade depth 0; a sync rule refusing for one record logs that run
`failed` and goes on with the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from engine.core.context import Actor, ExecutionContext
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.forms import apps as forms_apps
from engine.forms.apps import LoadedApp
from engine.forms.cache import on_layout
from engine.forms.changes import RecordChanged
from engine.forms.layout import AppLayout
from engine.forms.query import Reader
from engine.forms.references import FormRefs
from engine.forms.spec import AppSpec
from engine.jobs import JOB_KINDS, JobKind, RunningJob, enqueue, moment_key, register_kind
from engine.jobs.queue import JOBS, utcnow
from engine.jobs.worker import next_moment
from engine.rules import runtime
from engine.rules.kinds import TRIGGERS, RuleEvent, TriggerType
from engine.rules.models import RuleRun
from engine.rules.spec import RuleSpec
from engine.rules.triggers import settings_of, unknown_settings
from engine.store.models import AppVersion

SCHEDULE_KIND = "rules.schedule"
DATE_KIND = "rules.date"
BATCH = 1000
SCHEDULE_BATCH = 200  # records of one schedule moment fired per job (one transaction)
DEFAULT_AT = "09:00"
DATE_TYPES = ("date", "datetime")


# --- keys ------------------------------------------------------------------------------------


def schedule_prefix(app_key: str, rule_key: str) -> str:
    """The key prefix of a schedule rule's moments (`moment_key` adds `@<moment>`)."""
    return f"rule:{app_key}:{rule_key}"


def date_prefix(app_key: str, rule_key: str, record_id: int | None = None) -> str:
    """The key prefix of a date rule's jobs (of one record when `record_id` is given)."""
    base = f"rdate:{app_key}:{rule_key}:"
    return base if record_id is None else f"{base}{record_id}"


def _queued(kind: str, prefix: str) -> Any:
    return (
        (JOBS.c.kind == kind)
        & (JOBS.c.state == "queued")
        & JOBS.c.key.startswith(prefix, autoescape=True)
    )


# --- settings --------------------------------------------------------------------------------


def _issue(at: str, code: str, zh: str, en: str) -> Issue:
    return Issue(at, code, zh, en)


def cron_issues(cron: Any, at: str) -> list[Issue]:
    """A cron expression of five fields (minute hour day month weekday) that croniter reads."""
    if not isinstance(cron, str) or not cron.strip():
        return [_issue(at, "missing", "请填写 cron 表达式", "Enter a cron expression")]
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        return [
            _issue(
                at,
                "invalid_cron",
                f"无效的 cron 表达式 {cron!r}（五段：分 时 日 月 周，例如 0 9 * * 1-5）",
                f"Not a cron expression: {cron!r} (five fields: minute hour day month "
                "weekday, e.g. 0 9 * * 1-5)",
            )
        ]
    return []


@dataclass(frozen=True)
class DateSetting:
    """A date rule's trigger, read: the field, its type (`date`/`datetime`), the offset in
    days and the time of day (date fields)."""

    field: str
    kind: str
    offset_days: int
    at: dt.time

    def signature(self) -> str:
        return json.dumps([self.field, self.kind, self.offset_days, self.at.isoformat()])

    def moment(self, value: Any, zone: ZoneInfo) -> dt.datetime | None:
        """The moment a record whose field holds `value` fires (UTC, whole seconds), or None."""
        if value is None or value == "":
            return None
        try:
            if self.kind == "date":
                day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
                if isinstance(day, dt.datetime):
                    day = day.date()
                day = day + dt.timedelta(days=self.offset_days)
                local = dt.datetime.combine(day, self.at, tzinfo=zone)
                return local.astimezone(dt.UTC).replace(microsecond=0)
            moment = (
                value
                if isinstance(value, dt.datetime)
                else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            )
        except (TypeError, ValueError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        try:
            shifted = moment + dt.timedelta(days=self.offset_days)
        except OverflowError:
            return None
        return shifted.astimezone(dt.UTC).replace(microsecond=0)


def _time_of(text: Any) -> dt.time | None:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        return None
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        return None


def _field_kind(app: AppSpec, form: str | None, key: str) -> str | None:
    for spec in app.forms:
        if spec.key == form:
            for field in spec.fields:
                if field.key == key:
                    return str(field.type)
    return None


def date_setting(layout: AppLayout, rule: RuleSpec) -> DateSetting | None:
    """The trigger of a `date_reached` rule as published (None when it does not read)."""
    on = settings_of(rule)
    form = layout.forms.get(rule.form or "")
    key = on.get("field")
    if form is None or not isinstance(key, str) or key not in form.fields:
        return None
    kind = str(form.fields[key].spec.type)
    offset = on.get("offset_days", 0)
    at = _time_of(on.get("at", DEFAULT_AT))
    if kind not in DATE_TYPES or isinstance(offset, bool) or not isinstance(offset, int):
        return None
    return DateSetting(key, kind, offset, at or dt.time(9, 0))


# --- the triggers ----------------------------------------------------------------------------


class ScheduleTrigger(TriggerType):
    """`schedule` `{cron, filter?}`: once per matching record at each cron moment."""

    name = "schedule"
    label = ("定时", "On a schedule")
    needs_form = False  # without a form: one run per moment, with no record

    def check(self, app: AppSpec, rule: RuleSpec, at: str) -> list[Issue]:
        issues = unknown_settings(rule, ("cron", "filter"), at)
        on = settings_of(rule)
        issues += cron_issues(on.get("cron"), f"{at}.cron")
        found = on.get("filter")
        if found is not None:
            if not isinstance(found, str):
                issues.append(
                    _issue(f"{at}.filter", "string_type", "应为文本", "Expected a string")
                )
            elif found.strip() and rule.form is None:
                issues.append(
                    _issue(
                        f"{at}.filter",
                        "filter_needs_form",
                        "筛选条件需要先选择表单",
                        "A filter needs the rule's form",
                    )
                )
            elif found.strip():
                issues += FormRefs(app).condition_issues(rule.form, found, f"{at}.filter")
        return issues

    def plan(self, conn: Connection, ctx: ExecutionContext, app: LoadedApp, rule: RuleSpec) -> None:
        plan_schedule(conn, ctx, app, rule)


class DateReachedTrigger(TriggerType):
    """`date_reached` `{field, offset_days, at?}`: each record at its date plus an offset."""

    name = "date_reached"
    label = ("到达日期时", "Date reached")
    settings: ClassVar[tuple[str, ...]] = ("field", "offset_days", "at")

    def check(self, app: AppSpec, rule: RuleSpec, at: str) -> list[Issue]:
        issues = unknown_settings(rule, self.settings, at)
        on = settings_of(rule)
        key = on.get("field")
        if not isinstance(key, str) or not key:
            issues.append(_issue(f"{at}.field", "missing", "请选择日期字段", "Choose a date field"))
        else:
            found = FormRefs(app).field_issues(rule.form, key, f"{at}.field", system=False)
            issues += found
            if not found and _field_kind(app, rule.form, key) not in DATE_TYPES:
                issues.append(
                    _issue(
                        f"{at}.field",
                        "not_a_date",
                        f"字段 {key} 不是日期或日期时间字段",
                        f"Field {key} is not a date or date-time field",
                    )
                )
        offset = on.get("offset_days", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 3650:
            issues.append(
                _issue(
                    f"{at}.offset_days",
                    "integer_type",
                    "偏移天数应为 -3650 到 3650 之间的整数（负数表示之前）",
                    "The offset is a whole number of days from -3650 to 3650 (negative: before)",
                )
            )
        # `at` is the time of day for date fields; a date-time field fires at its own moment
        # and ignores it (the designer always sends one)
        if "at" in on and _time_of(on["at"]) is None:
            issues.append(
                _issue(
                    f"{at}.at",
                    "invalid_time",
                    "时间格式应为 HH:MM（例如 09:00）",
                    "The time is HH:MM (e.g. 09:00)",
                )
            )
        return issues

    def plan(self, conn: Connection, ctx: ExecutionContext, app: LoadedApp, rule: RuleSpec) -> None:
        plan_dates(conn, ctx, app, rule)


for _trigger in (ScheduleTrigger(), DateReachedTrigger()):
    if _trigger.name not in TRIGGERS:
        TRIGGERS.register(_trigger.name, _trigger)


# --- planning --------------------------------------------------------------------------------


def plan_schedule(conn: Connection, ctx: ExecutionContext, app: LoadedApp, rule: RuleSpec) -> None:
    """Queue the next cron moment of schedule rule `rule` (nothing when a job of this cron is
    queued already; queued jobs of another cron are removed)."""
    cron = settings_of(rule).get("cron")
    if not isinstance(cron, str) or cron_issues(cron, ""):
        return
    prefix = schedule_prefix(app.key, rule.key)
    queued = conn.execute(
        select(JOBS.c.id, JOBS.c.payload).where(_queued(SCHEDULE_KIND, prefix + "@"))
    ).all()
    if any((row.payload or {}).get("cron") == cron for row in queued):
        return
    if queued:
        conn.execute(delete(JOBS).where(JOBS.c.id.in_([row.id for row in queued])))
    _enqueue_moment(conn, app.key, rule.key, cron, next_moment(cron, ctx.now, ctx.zone))


def _enqueue_moment(
    conn: Connection, app_key: str, rule_key: str, cron: str, moment: dt.datetime
) -> int:
    """Queue the job of `moment` (a moment whose job already ran — its key is taken by a done
    job — gives way to the next one, so the chain of moments never stops)."""
    zone = ZoneInfo("UTC")
    for _ in range(100):
        payload = {"app": app_key, "rule": rule_key, "cron": cron, "planned": moment.isoformat()}
        key = moment_key(schedule_prefix(app_key, rule_key), moment)
        job_id = enqueue(conn, SCHEDULE_KIND, payload, moment, key)
        state = conn.execute(select(JOBS.c.state).where(JOBS.c.id == job_id)).scalar_one()
        if state in ("queued", "running"):
            break
        moment = next_moment(cron, moment, zone)
    return job_id


def _date_job(
    app_key: str, rule_key: str, record_id: int, moment: dt.datetime, now: dt.datetime
) -> dict[str, Any]:
    return {
        "kind": DATE_KIND,
        "key": moment_key(date_prefix(app_key, rule_key, record_id), moment),
        "payload": {
            "app": app_key,
            "rule": rule_key,
            "record": record_id,
            "moment": moment.isoformat(),
        },
        "state": "queued",
        "run_at": moment,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _insert_jobs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Queue date jobs in one statement per batch; a key already there is left as it is."""
    if not rows:
        return
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(JOBS).on_conflict_do_nothing(index_elements=["kind", "key"])
    conn.execute(statement, list(rows))


def plan_dates(
    conn: Connection,
    ctx: ExecutionContext,
    app: LoadedApp,
    rule: RuleSpec,
    *,
    replace: bool = False,
) -> int:
    """Queue the date jobs of `rule` for every live record whose moment is still ahead, in
    batches of `BATCH` records (records whose date lies before the earliest moment that can
    still come are not read); with `replace`, the rule's queued date jobs are removed first.
    How many records have a moment ahead."""
    setting = date_setting(app.layout, rule)
    form = app.layout.forms.get(rule.form or "")
    if replace:
        conn.execute(delete(JOBS).where(_queued(DATE_KIND, date_prefix(app.key, rule.key))))
    if setting is None or form is None:
        return 0
    zone = ctx.zone
    now = ctx.now
    reader = Reader(app.layout, form, ExecutionContext.create(Actor(None, "rule"), ctx.tz))
    scoped = reader.scoped()
    column = scoped.value(setting.field)
    ident = scoped.value("_id")
    earliest: Any
    if setting.kind == "date":
        earliest = (now.astimezone(zone) - dt.timedelta(days=setting.offset_days + 1)).date()
    else:
        earliest = now - dt.timedelta(days=setting.offset_days)
    last = 0
    planned = 0
    stamp = utcnow()
    while True:
        rows = conn.execute(
            select(ident, column)
            .select_from(scoped.table)
            .where(scoped.where, column.is_not(None), column >= earliest, ident > last)
            .order_by(ident)
            .limit(BATCH)
        ).all()
        if not rows:
            return planned
        jobs = []
        for record_id, value in rows:
            moment = setting.moment(value, zone)
            if moment is not None and moment > now:
                jobs.append(_date_job(app.key, rule.key, int(record_id), moment, stamp))
        _insert_jobs(conn, jobs)
        planned += len(jobs)
        last = int(rows[-1][0])


def _previous_definition(conn: Connection, app: LoadedApp) -> dict[str, Any]:
    """The definition of the revision before the live one (empty for a new app)."""
    definition = conn.execute(
        select(AppVersion.definition).where(
            AppVersion.app_id == app.id, AppVersion.revision == app.revision - 1
        )
    ).scalar_one_or_none()
    return definition if isinstance(definition, dict) else {}


def _rules_of(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for data in definition.get("rules") or []:
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            found[data["key"]] = data
    return found


def _date_signature(definition: Mapping[str, Any], data: Any) -> str | None:
    """What a date rule's jobs depend on, as a definition states it: form, field, the field's
    type, offset and time (None for a rule that is not a date rule)."""
    if not isinstance(data, dict) or not isinstance(data.get("on"), dict):
        return None
    on = data["on"]
    if on.get("type") != DateReachedTrigger.name:
        return None
    kind = None
    for form in definition.get("forms") or []:
        if isinstance(form, dict) and form.get("key") == data.get("form"):
            for field in form.get("fields") or []:
                if isinstance(field, dict) and field.get("key") == on.get("field"):
                    kind = field.get("type")
    return json.dumps(
        [data.get("form"), on.get("field"), kind, on.get("offset_days", 0), on.get("at")],
        sort_keys=True,
    )


def plan_app(conn: Connection, ctx: ExecutionContext, app: LoadedApp) -> None:
    """After a publish or an install (the rules part's `published` hook): each enabled
    schedule rule's next moment; for each date rule that is new or whose trigger changed, its
    queued jobs replaced by the moments ahead; queued jobs of date rules gone removed."""
    rules = runtime.live_rules(app)
    old = _previous_definition(conn, app)
    previous = _rules_of(old)
    if not rules.by_key and not previous:
        return
    switched = runtime.switches(conn, app.id)
    for rule in rules.by_key.values():
        spec = rule.spec
        if spec.on.type == ScheduleTrigger.name and runtime.is_enabled(rule, switched):
            plan_schedule(conn, ctx, app, spec)
        elif spec.on.type == DateReachedTrigger.name:
            now = _date_signature(app.definition, spec.model_dump(mode="json", exclude_none=True))
            before = _date_signature(old, previous.get(spec.key))
            if now != before:
                plan_dates(conn, ctx, app, spec, replace=True)
    for key, data in previous.items():
        live = rules.by_key.get(key)
        if _date_signature(old, data) is not None and (
            live is None or live.spec.on.type != DateReachedTrigger.name
        ):
            conn.execute(delete(JOBS).where(_queued(DATE_KIND, date_prefix(app.key, key))))


# --- the record listener ---------------------------------------------------------------------


def date_rules(layout: AppLayout) -> dict[str, list[tuple[RuleSpec, DateSetting]]]:
    """The date rules of a revision by form, read once per revision."""

    def build() -> dict[str, list[tuple[RuleSpec, DateSetting]]]:
        found: dict[str, list[tuple[RuleSpec, DateSetting]]] = {}
        for rule in runtime.rules_of(layout).by_key.values():
            if rule.spec.on.type != DateReachedTrigger.name:
                continue
            setting = date_setting(layout, rule.spec)
            if setting is not None:
                found.setdefault(rule.spec.form or "", []).append((rule.spec, setting))
        return found

    return on_layout(layout, "rules:dates", build)


def replan_record(
    conn: Connection,
    app_key: str,
    rule: RuleSpec,
    setting: DateSetting,
    record_id: int,
    value: Any,
    ctx: ExecutionContext,
    *,
    fresh: bool = False,
) -> dt.datetime | None:
    """Plan one record's date job for `value` (its queued job for another moment removed,
    unless the record is `fresh`); the moment planned, None when blank or past."""
    prefix = date_prefix(app_key, rule.key, record_id)
    moment = setting.moment(value, ctx.zone)
    ahead = moment is not None and moment > ctx.now
    key = moment_key(prefix, moment) if ahead and moment is not None else None
    if not fresh:
        stale = _queued(DATE_KIND, prefix + "@")
        if key is not None:
            stale = stale & (JOBS.c.key != key)
        conn.execute(delete(JOBS).where(stale))
    if key is None or moment is None:
        return None
    _insert_jobs(conn, [_date_job(app_key, rule.key, record_id, moment, utcnow())])
    return moment


def on_changes(conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]) -> None:
    """The `rules.dates` listener: plan, re-plan or remove the date jobs of the records one
    write call changed (nothing for forms without a date rule; no statement for them)."""
    if not events:
        return
    first = events[0]
    layout = first.layout
    if layout is None:
        try:
            layout = forms_apps.load(conn, first.app).layout
        except ServiceError:
            return
    by_form = date_rules(layout)
    if not by_form:
        return
    for event in events:
        wanted = by_form.get(event.form)
        if not wanted:
            continue
        record: Mapping[str, Any] | None = None
        for rule, setting in wanted:
            if event.kind == "deleted":
                prefix = date_prefix(event.app, rule.key, event.record_id)
                conn.execute(delete(JOBS).where(_queued(DATE_KIND, prefix + "@")))
                continue
            if event.kind == "updated" and setting.field not in event.changes:
                continue
            if event.kind not in ("created", "updated", "restored"):
                continue
            pair = event.changes.get(setting.field)
            if isinstance(pair, list | tuple) and len(pair) == 2:
                value = pair[1]
            else:
                if record is None:
                    app = forms_apps.load(conn, event.app)
                    record = runtime.read_record(conn, app, event.form, event.record_id, ctx) or {}
                value = record.get(setting.field)
            replan_record(
                conn,
                event.app,
                rule,
                setting,
                event.record_id,
                value,
                ctx,
                fresh=event.kind == "created",
            )


# --- running ---------------------------------------------------------------------------------


def log_skipped(
    conn: Connection,
    app: LoadedApp,
    rule_key: str,
    mode: str,
    event: RuleEvent,
    reason: str,
    now: dt.datetime,
    *,
    job_id: int | None = None,
) -> int:
    """A `skipped` run row (the rule is gone or switched off): nothing ran."""
    return int(
        conn.execute(
            insert(RuleRun).returning(RuleRun.id),
            {
                "app_id": app.id,
                "rule_key": rule_key,
                "revision": app.revision,
                "mode": mode,
                "event": event.to_json(),
                "record_id": event.record_id,
                "state": "skipped",
                "condition": None,
                "actions": [],
                "error": reason,
                "duration_ms": 0,
                "job_id": job_id,
                "attempt": 1,
                "snapshot": None,
                "created_at": now,
                "started_at": now,
                "finished_at": now,
            },
        ).scalar_one()
    )


def fire_each(
    conn: Connection,
    ctx: ExecutionContext,
    app: LoadedApp,
    rule: runtime.LiveRule,
    event: RuleEvent,
    record_ids: Sequence[int],
) -> list[int]:
    """Fire `rule` for `record_ids` (`runtime.fire`): async rules queue one run per record
    whose condition holds; a sync rule runs per record in a savepoint, and a record it refuses
    is logged as a `failed` run while the others go on."""
    if rule.spec.mode != "sync":
        return runtime.fire(conn, ctx, app.key, rule.key, event, record_ids)
    runs: list[int] = []
    targets: list[int | None] = list(record_ids) or [None]  # None: a rule without a form
    for record_id in targets:
        savepoint = conn.begin_nested()
        try:
            ids = [] if record_id is None else [record_id]
            runs += runtime.fire(conn, ctx, app.key, rule.key, event, ids)
        except ServiceError as exc:
            savepoint.rollback()
            fired = dataclasses.replace(event, form=rule.spec.form, record_id=record_id)
            row = runtime._run_row(
                app,
                rule,
                fired,
                "failed",
                ctx.now,
                error=runtime._error_text(exc),
                attempt=1,
                started_at=ctx.now,
                finished_at=ctx.now,
            )
            runs.append(runtime._insert_run(conn, row))
            continue
        savepoint.commit()
    return runs


def matching_ids(
    conn: Connection,
    app: LoadedApp,
    form_key: str,
    source: str | None,
    tz: str,
    *,
    after: int | None = None,
    limit: int | None = None,
) -> list[int]:
    """The ids of the live records of `form_key` matching the formula `source` (all when
    blank), found in one SQL statement as the system, in id order: only ids above `after`,
    at most `limit`."""
    form = app.layout.forms.get(form_key)
    if form is None:
        return []
    reader = Reader(app.layout, form, ExecutionContext.create(Actor(None, "rule"), tz))
    scoped = reader.scoped(filter=source if source and source.strip() else None)
    ident = scoped.value("_id")
    statement = select(ident).select_from(scoped.table).where(scoped.where).order_by(ident)
    if after is not None:
        statement = statement.where(ident > after)
    if limit is not None:
        statement = statement.limit(limit)
    return [int(found) for found in conn.execute(statement).scalars()]


def _load(conn: Connection, key: Any) -> LoadedApp | None:
    try:
        return forms_apps.load(conn, str(key))
    except ServiceError:
        return None


def run_schedule(job: RunningJob, conn: Connection) -> None:
    """The `rules.schedule` job: fire the rule once per matching record of its batch (the first
    `SCHEDULE_BATCH`, or those after `payload["after"]`), queue the moment's next batch when
    this one is full, and — the moment's own job — plan the next moment (after now, so missed
    moments fire once, late). A rule gone or switched off is logged `skipped` (by the moment's
    job) and plans nothing; a job of a cron no longer the rule's does nothing (the publish that
    changed it planned the new cron)."""
    payload = job.payload
    after = payload.get("after")
    batch_of = int(after) if isinstance(after, int) else None
    app = _load(conn, payload.get("app"))
    if app is None:
        return
    ctx = job.context(Actor(None, "rule"))
    rule_key = str(payload.get("rule"))
    cron = str(payload.get("cron"))
    planned = dt.datetime.fromisoformat(str(payload.get("planned")))
    rule = runtime.live_rules(app).by_key.get(rule_key)
    event = RuleEvent(
        kind="schedule",
        app=app.key,
        form=rule.spec.form if rule is not None else None,
        record_id=None,
        actor=None,
        channel="rule",
        depth=0,
        at=planned,
        data={"planned": planned.isoformat(), "cron": cron},
    )
    if rule is None:
        if batch_of is None:
            log_skipped(conn, app, rule_key, "async", event, "rule_deleted", ctx.now, job_id=job.id)
        return
    if rule.spec.on.type != ScheduleTrigger.name or settings_of(rule.spec).get("cron") != cron:
        return
    if not runtime.is_enabled(rule, runtime.live_switches(conn, app)):
        if batch_of is None:
            log_skipped(
                conn, app, rule_key, rule.spec.mode, event, "rule_disabled", ctx.now, job_id=job.id
            )
        return
    if rule.spec.form is None:  # no form: one run for the moment, with no record
        fire_each(conn, ctx, app, rule, event, [])
    else:
        source = settings_of(rule.spec).get("filter")
        text = source if isinstance(source, str) else None
        ids = matching_ids(
            conn, app, rule.spec.form, text, ctx.tz, after=batch_of, limit=SCHEDULE_BATCH
        )
        fire_each(conn, ctx, app, rule, event, ids)
        if len(ids) == SCHEDULE_BATCH:  # more may match: the moment's next batch, at once
            key = f"{moment_key(schedule_prefix(app.key, rule_key), planned)}#{ids[-1]}"
            enqueue(conn, SCHEDULE_KIND, {**payload, "after": ids[-1]}, ctx.now, key)
    if batch_of is None:
        later = max(ctx.now, planned)
        _enqueue_moment(conn, app.key, rule_key, cron, next_moment(cron, later, ctx.zone))


def run_date(job: RunningJob, conn: Connection) -> None:
    """The `rules.date` job: fire the rule for its record when the record is still there and
    its date still gives this moment. A rule switched off (or gone) is logged `skipped`."""
    payload = job.payload
    app = _load(conn, payload.get("app"))
    if app is None:
        return
    ctx = job.context(Actor(None, "rule"))
    rule_key = str(payload.get("rule"))
    record_id = int(payload.get("record") or 0)
    moment = dt.datetime.fromisoformat(str(payload.get("moment")))
    rule = runtime.live_rules(app).by_key.get(rule_key)
    event = RuleEvent(
        kind="date_reached",
        app=app.key,
        form=rule.spec.form if rule is not None else None,
        record_id=record_id,
        actor=None,
        channel="rule",
        depth=0,
        at=moment,
        data={"moment": moment.isoformat()},
    )
    if rule is None:
        log_skipped(conn, app, rule_key, "async", event, "rule_deleted", ctx.now, job_id=job.id)
        return
    setting = date_setting(app.layout, rule.spec)
    if rule.spec.on.type != DateReachedTrigger.name or setting is None:
        return
    if not runtime.is_enabled(rule, runtime.switches(conn, app.id)):
        log_skipped(
            conn, app, rule_key, rule.spec.mode, event, "rule_disabled", ctx.now, job_id=job.id
        )
        return
    record = runtime.read_record(conn, app, rule.spec.form or "", record_id, ctx)
    if record is None:
        return  # deleted since: nothing to remind of
    if setting.moment(record.get(setting.field), ctx.zone) != moment:
        return  # the date changed since; its new moment has a job of its own
    event = dataclasses.replace(event, data={"moment": moment.isoformat(), "field": setting.field})
    fire_each(conn, ctx, app, rule, event, [record_id])


if SCHEDULE_KIND not in JOB_KINDS:
    register_kind(JobKind(SCHEDULE_KIND, apply=run_schedule, max_attempts=3, backoff_seconds=30))
if DATE_KIND not in JOB_KINDS:
    register_kind(JobKind(DATE_KIND, apply=run_date, max_attempts=3, backoff_seconds=30))


__all__ = [
    "BATCH",
    "DATE_KIND",
    "SCHEDULE_BATCH",
    "SCHEDULE_KIND",
    "DateReachedTrigger",
    "DateSetting",
    "ScheduleTrigger",
    "cron_issues",
    "date_prefix",
    "date_rules",
    "date_setting",
    "fire_each",
    "log_skipped",
    "matching_ids",
    "on_changes",
    "plan_app",
    "plan_dates",
    "plan_schedule",
    "replan_record",
    "run_date",
    "run_schedule",
    "schedule_prefix",
]
