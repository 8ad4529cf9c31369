"""The rule runtime (issue 14, DESIGN §9/§15): which rules a change fires, running them, the
run log.

- **Live rules** (`live_rules`): the rules of an app's live revision, typed and compiled once
  per revision (kept on the revision's layout, `engine.forms.cache.on_layout`), by form and
  event kind, so a save never parses a rule.
- **On a change** (`on_changes`, called by the record listener `rules` in the saving
  transaction): each enabled rule whose trigger matches gets its condition evaluated over the
  record as saved and the values before (`OLD()`) — a record just created is not read back
  when its event tells all its sync rules read (`triggering_record`, `engine.rules.known`) —;
  a `sync` rule's actions run right there, and a refusing action refuses the save (its
  issues, prefixed with the rule's name); an `async` rule gets a run row (`queued`) with a
  snapshot (`RuleEvent.to_json()`, the record and old values as the rule saw them) and a
  `rules.run` job, both in the saving transaction.
- **A job** (`apply_run`, the `rules.run` kind's apply step: exactly once, with the run's
  writes) runs the queued run's actions from its snapshot on the rule of the *live* revision:
  a rule disabled, deleted or no longer live is logged `skipped` and runs nothing; a failing
  action rolls its writes back (a savepoint) and the run is logged `failed` — the job itself
  is done, a builder retries the run (`retry`).
- **Cascades**: actions run as the rule's system actor (no user; new records belong to the
  user whose change fired the rule) on channel `rule`, at depth `event.depth + 1`. A rule
  whose actions would run deeper than `MAX_DEPTH` refuses the save (sync, 422
  `rule_cascade_too_deep`) or is logged failed (async).
- `fire` runs (sync) or queues (async) a rule for given records as if its trigger matched (time
  and button triggers); `test_run` runs the real actions (of the live rule or an unsaved spec)
  in a savepoint it rolls back and reports what each did.

Runs whose condition is false are not logged (a rule on every update would fill the log with
them); a test run reports the condition's result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from engine.core.context import Actor, ExecutionContext
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.expr.runtime import EvalContext
from engine.forms import apps as forms_apps
from engine.forms.apps import LoadedApp
from engine.forms.cache import on_layout
from engine.forms.changes import RecordChanged, defer_history, flush_history
from engine.forms.field_types.links import RelationField
from engine.forms.layout import AppLayout, FormLayout
from engine.forms.query import Reader
from engine.jobs import JOB_KINDS, JobKind, RunningJob, enqueue, register_kind
from engine.rules.actions import lock_relation_targets
from engine.rules.condition import RuleFormula, compile_condition
from engine.rules.kinds import ACTIONS, TRIGGERS, ActionStep, ActionType, RuleEvent, TriggerType
from engine.rules.known import NOTHING, KnownRecord, RecordReads, known_record
from engine.rules.models import RuleRun, RuleSwitch
from engine.rules.spec import RuleSpec, load_kinds
from engine.rules.values import plain, resolve
from engine.settings import get_settings
from engine.store.models import App

logger = logging.getLogger(__name__)

JOB_KIND = "rules.run"
MAX_DEPTH = 5
MAX_ERROR = 2000
FLOW_KINDS = frozenset({"flow_started", "flow_node_entered", "flow_task_done", "flow_finished"})
RUNS: Any = RuleRun.__table__
SWITCHES: Any = RuleSwitch.__table__
# Built once (Core, parameters per execution): a save or a job that runs a rule compiles none.
_SWITCHES = select(SWITCHES.c.rule_key, SWITCHES.c.enabled).where(
    SWITCHES.c.app_id == bindparam("b_app")
)
_INSERT_RUN = RUNS.insert().returning(RUNS.c.id)
_RUN = select(RUNS).where(RUNS.c.id == bindparam("b_run"))
_RUN_OF_JOB = select(RUNS).where(RUNS.c.job_id == bindparam("b_job"))
_UPDATE_RUN = RUNS.update().where(RUNS.c.id == bindparam("b_run"))


@dataclass(frozen=True)
class LiveRule:
    """One rule of a live revision, ready to run: its spec, trigger, condition and actions."""

    spec: RuleSpec
    trigger: TriggerType
    condition: RuleFormula | None
    actions: tuple[ActionType, ...]
    # What it reads of its triggering record (None: anything; `engine.rules.known`)
    reads: RecordReads | None = None

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass(frozen=True)
class LiveRules:
    """The runnable rules of one app revision, by key and by (form, event kind)."""

    by_key: dict[str, LiveRule] = field(default_factory=dict)
    by_event: dict[tuple[str, str], list[LiveRule]] = field(default_factory=dict)


def compile_rule(layout: AppLayout, spec: RuleSpec, app_key: str = "") -> LiveRule | None:
    """`spec` ready to run against `layout` (None when its kinds are unknown here or its
    condition does not check: publish refuses those, so only an older definition has them)."""
    load_kinds()
    trigger = TRIGGERS.get(spec.on.type)
    actions = [ACTIONS.get(action.type) for action in spec.actions]
    if trigger is None or any(a is None for a in actions):
        return None
    condition = None
    if spec.when is not None:
        form = layout.forms.get(spec.form or "")
        if form is None:
            return None
        try:
            condition = compile_condition(spec.when, form.schema)
        except Exception:  # a definition published before conditions were checked
            logger.warning("rule %s/%s: condition does not check; left out", app_key, spec.key)
            return None
    kinds = tuple(a for a in actions if a is not None)
    form_layout = layout.forms.get(spec.form or "")
    reads = record_reads(form_layout, spec, condition, kinds) if form_layout is not None else None
    return LiveRule(spec, trigger, condition, kinds, reads)


def record_reads(
    form: FormLayout,
    spec: RuleSpec,
    condition: RuleFormula | None,
    actions: Sequence[ActionType],
) -> RecordReads | None:
    """What a sync rule of `form` reads of its triggering record: its condition's fields and
    its actions' reads (None: it may read anything — a condition through a relation, an action
    that does not say, or an async rule, whose queued snapshot is the whole record)."""
    if spec.mode != "sync":
        return None
    found = NOTHING
    if condition is not None:
        if condition.relations:
            return None
        found = RecordReads(values=condition.reads)
    for kind, action in zip(actions, spec.actions, strict=True):
        reads = kind.record_reads(form, action)
        if reads is None:
            return None
        found = found | reads
    return found


def rules_of(layout: AppLayout) -> LiveRules:
    """The rules of the revision `layout` belongs to, compiled once per revision."""

    def build() -> LiveRules:
        found = LiveRules()
        for data in layout.spec.rules:
            try:
                spec = RuleSpec.model_validate(data)
            except ValidationError:
                continue
            rule = compile_rule(layout, spec)
            if rule is None:
                continue
            found.by_key[rule.key] = rule
            for kind in rule.trigger.event_kinds:
                found.by_event.setdefault((spec.form or "", kind), []).append(rule)
        return found

    return on_layout(layout, "rules:live", build)


def live_rules(app: LoadedApp) -> LiveRules:
    """The rules of `app`'s live revision, compiled once per revision."""
    return rules_of(app.layout)


def switches(conn: Connection, app_id: int) -> dict[str, bool]:
    """Rules switched on or off without a publish, by key."""
    rows = conn.execute(_SWITCHES, {"b_app": app_id}).all()
    return {row.rule_key: bool(row.enabled) for row in rows}


def live_switches(conn: Connection, app: LoadedApp) -> Mapping[str, bool]:
    """`switches` of `app`, kept on its revision's layout with the switch stamp they were read
    at: when `forms_apps.load` read the app in this transaction, its `rule_switch_stamp` tells
    whether the kept ones are current (no statement) — `set_enabled` changes the stamp, so a
    switch made by any process is seen by the next save everywhere. Without a stamp read in
    this transaction the switches are read."""
    stamp = forms_apps.rule_switch_stamp(conn, app.id)
    if stamp is None:
        return switches(conn, app.id)
    kept: dict[str, tuple[int, dict[str, bool]]] = on_layout(app.layout, "rules:switches", dict)
    found = kept.get("now")
    if found is not None and found[0] == stamp:
        return found[1]
    read = switches(conn, app.id)
    kept["now"] = (stamp, read)
    return read


def is_enabled(rule: LiveRule, switched: Mapping[str, bool]) -> bool:
    return switched.get(rule.key, rule.spec.enabled)


def set_enabled(
    conn: Connection, app: LoadedApp, rule_key: str, enabled: bool, user_id: int | None
) -> None:
    """Switch a rule on or off now (no publish); 404 for a rule not in the live revision."""
    if rule_key not in live_rules(app).by_key:
        raise not_found()
    key = {"app_id": app.id, "rule_key": rule_key}
    values = {"enabled": enabled, "updated_by": user_id, "updated_at": dt.datetime.now(dt.UTC)}
    changed = conn.execute(
        update(RuleSwitch)
        .where(RuleSwitch.app_id == app.id, RuleSwitch.rule_key == rule_key)
        .values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(RuleSwitch).values(**key, **values))
    # A new stamp (random: a rolled-back switch's stamp is never seen again) tells every
    # process's `live_switches` to read the switches again; `updated_at` stays the publish's.
    conn.execute(
        update(App)
        .where(App.id == app.id)
        .values(rule_switch_stamp=secrets.randbits(62), updated_at=App.updated_at)
    )
    if enabled:  # time triggers plan their next jobs again (a skipped run planned none)
        rule = live_rules(app).by_key[rule_key]
        ctx = ExecutionContext.create(Actor(user_id, "rule"), get_settings().timezone)
        rule.trigger.plan(conn, ctx, app, rule.spec)


# --- contexts and reads ----------------------------------------------------------------------


def rule_context(ctx: ExecutionContext, event: RuleEvent) -> ExecutionContext:
    """The context a rule's actions run in: the rule's system actor (no user; records it creates
    belong to the user whose change fired it) on channel `rule`, at `event.depth + 1`."""
    actor = Actor(None, "rule", owner=event.actor)
    return dataclasses.replace(ctx, actor=actor, depth=event.depth + 1)


def read_record(
    conn: Connection,
    app: LoadedApp,
    form: str,
    record_id: int | None,
    ctx: ExecutionContext,
    *,
    deleted: bool = False,
) -> dict[str, Any] | None:
    """The record as the system reads it (every field; `ctx`'s clock and zone for read-time
    formulas), or None when it is gone."""
    layout = app.layout.forms.get(form)
    if layout is None or record_id is None:
        return None
    reader = Reader(app.layout, layout, ctx)
    try:
        return reader.get(conn, record_id, deleted=deleted)
    except ServiceError as exc:
        if exc.status == 404:
            return None
        raise


def with_relations(
    conn: Connection,
    app: LoadedApp,
    rule: LiveRule,
    record: Mapping[str, Any],
    ctx: ExecutionContext,
) -> Mapping[str, Any]:
    """`record` with the related records its condition reads through by path filled in."""
    if rule.condition is None or not rule.condition.relations or rule.spec.form is None:
        return record
    filled = dict(record)
    form = app.layout.forms[rule.spec.form]
    for key in rule.condition.relations:
        layout = form.fields.get(key)
        value = plain(record.get(key))
        if layout is None or not isinstance(layout.spec, RelationField):
            continue
        if isinstance(value, int):
            related = read_record(conn, app, layout.spec.target, value, ctx)
            if related is not None:
                filled[key] = related
    return filled


def holds(
    conn: Connection,
    app: LoadedApp,
    rule: LiveRule,
    event: RuleEvent,
    record: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    ctx: ExecutionContext,
) -> bool:
    """Whether the rule's condition holds for the record (true without a condition)."""
    if rule.condition is None:
        return True
    values = with_relations(conn, app, rule, record or {}, ctx)
    evaluation = EvalContext.create(ctx.now, ctx.tz, user=event.actor)
    return rule.condition.holds(values, old, evaluation)


def old_values(event: RuleEvent) -> dict[str, Any] | None:
    """The values before the change (an update's `changes`), else None (OLD() = current)."""
    if event.kind != "updated":
        return None
    return {key: pair[0] for key, pair in event.changes.items() if isinstance(pair, list | tuple)}


# --- running actions -------------------------------------------------------------------------


class RunFailed(Exception):
    """A run's action refused or failed: which one, its issues, and the outcomes so far."""

    def __init__(self, index: int, error: ServiceError | Exception, outcomes: list[Any]) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error
        self.outcomes = outcomes


def _error_text(error: BaseException) -> str:
    if isinstance(error, ServiceError):
        parts = [f"{error.code}: {error.message_zh} / {error.message_en}"]
        parts += [f"{i.path}: {i.message_zh} / {i.message_en}" for i in error.issues[:10]]
        return "; ".join(parts)[:MAX_ERROR]
    return f"{type(error).__name__}: {error}"[:MAX_ERROR]


def _unresolved(spec: Any, form: str | None, key: str | None) -> Any:
    raise AssertionError("the step's resolver is set right after the step is made")


def _resolver(step: ActionStep) -> Callable[[Any, str | None, str | None], Any]:
    def resolve_value(spec: Any, form: str | None, key: str | None) -> Any:
        return resolve(step, spec, form, key)

    return resolve_value


def run_actions(
    conn: Connection,
    ctx: ExecutionContext,
    app: LoadedApp,
    rule: LiveRule,
    event: RuleEvent,
    record: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    *,
    dry_run: bool = False,
    keep_going: bool = False,
) -> list[dict[str, Any]]:
    """Run the rule's actions in order in `conn`'s transaction; each one's outcome for the run
    log. Raises `RunFailed` at the first failing action (unless `keep_going`, a test run, which
    reports each action's outcome or error)."""
    step_ctx = rule_context(ctx, event)
    outcomes: list[dict[str, Any]] = []
    for index, (kind, action) in enumerate(zip(rule.actions, rule.spec.actions, strict=True)):
        step = ActionStep(
            conn=conn,
            ctx=step_ctx,
            app=app,
            rule=rule.spec,
            action=action,
            index=index,
            event=event,
            record=record,
            old=old,
            resolve=_unresolved,
            dry_run=dry_run,
        )
        step.resolve = _resolver(step)
        started = time.perf_counter()
        try:
            if keep_going:
                savepoint = conn.begin_nested()
                try:
                    outcome = kind.run(step)
                except BaseException:
                    savepoint.rollback()
                    raise
                savepoint.commit()
            else:
                outcome = kind.run(step)
        except Exception as exc:
            ms = int((time.perf_counter() - started) * 1000)
            entry: dict[str, Any] = {
                "type": action.type,
                "state": "failed",
                "outcome": None,
                "error": _error_text(exc),
                "ms": ms,
            }
            if isinstance(exc, ServiceError):
                entry["code"] = exc.code
                entry["issues"] = [i.to_dict() for i in exc.issues]
            outcomes.append(entry)
            if keep_going:
                continue
            raise RunFailed(index, exc, outcomes) from exc
        ms = int((time.perf_counter() - started) * 1000)
        outcomes.append(
            {"type": action.type, "state": "succeeded", "outcome": outcome, "error": None, "ms": ms}
        )
    return outcomes


def names(rule: LiveRule) -> tuple[str, str]:
    """The rule's name in Chinese and English (either falls back to the other, then the key)."""
    name = rule.spec.name
    if isinstance(name, str):
        return name, name
    zh = name.zh or name.en or rule.key
    return zh, name.en or zh


def cascade_too_deep(rule: LiveRule) -> ServiceError:
    zh_name, en_name = names(rule)
    return ServiceError(
        422,
        "rule_cascade_too_deep",
        message_zh=f"规则「{zh_name}」连锁触发超过 {MAX_DEPTH} 层，已停止，未保存任何内容",
        message_en=f'Rule "{en_name}" cascaded more than {MAX_DEPTH} levels deep; nothing was saved',
    )


def refused(rule: LiveRule, failed: RunFailed, path: str) -> ServiceError:
    """The refusal of a save whose sync rule's action failed: the action's issues, each
    message prefixed with the rule's name, at the record's place in the request."""
    zh_name, en_name = names(rule)
    error = failed.error
    zh, en = f"规则「{zh_name}」：", f'Rule "{en_name}": '
    if isinstance(error, ServiceError) and error.code == "rule_cascade_too_deep":
        return error  # names the rule that went too deep already
    if isinstance(error, ServiceError):
        issues = [
            Issue(i.path, i.code, zh + i.message_zh, en + i.message_en, i.line, i.column).under(
                path
            )
            for i in error.issues
        ] or [Issue(path, error.code, zh + error.message_zh, en + error.message_en)]
        status = error.status if error.status < 500 else 422
        return ServiceError(
            status,
            error.code,
            issues,
            message_zh=zh + error.message_zh,
            message_en=en + error.message_en,
        )
    logger.error("rule %s failed at action %d", rule.key, failed.index, exc_info=error)
    return ServiceError(
        422,
        "rule_failed",
        [Issue(path, "rule_failed", zh + "动作执行失败", en + "an action failed")],
        message_zh=zh + "动作执行失败，未保存任何内容",
        message_en=en + "an action failed; nothing was saved",
    )


def _insert_run(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(_INSERT_RUN, values).scalar_one())


def _run_row(
    app: LoadedApp,
    rule: LiveRule,
    event: RuleEvent,
    state: str,
    now: dt.datetime,
    **values: Any,
) -> dict[str, Any]:
    return {
        "app_id": app.id,
        "rule_key": rule.key,
        "revision": app.revision,
        "mode": rule.spec.mode,
        "event": event.to_json(),
        "record_id": event.record_id,
        "state": state,
        "condition": True,
        "actions": [],
        "error": None,
        "duration_ms": None,
        "job_id": None,
        "attempt": 0,
        "snapshot": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        **values,
    }


def run_sync(
    conn: Connection,
    ctx: ExecutionContext,
    app: LoadedApp,
    rule: LiveRule,
    event: RuleEvent,
    record: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    path: str = "",
) -> int:
    """Run a sync rule in the saving transaction and log it; a refusal raises (the save is
    refused, nothing written — the run row neither)."""
    if event.depth + 1 > MAX_DEPTH:
        raise cascade_too_deep(rule)
    started = time.perf_counter()
    try:
        outcomes = run_actions(conn, ctx, app, rule, event, record, old)
    except RunFailed as failed:
        raise refused(rule, failed, path) from failed.error
    ms = int((time.perf_counter() - started) * 1000)
    return _insert_run(
        conn,
        _run_row(
            app,
            rule,
            event,
            "succeeded",
            ctx.now,
            actions=outcomes,
            duration_ms=ms,
            attempt=1,
            started_at=ctx.now,
            finished_at=ctx.now,
        ),
    )


def queue(
    conn: Connection,
    app: LoadedApp,
    rule: LiveRule,
    event: RuleEvent,
    record: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    now: dt.datetime,
) -> int:
    """A queued run of an async rule with its snapshot, and its job (the caller's transaction):
    the job first, then the run naming it (`job_id`, by which the job finds its run) — two
    statements."""
    snapshot = {"record": dict(record) if record is not None else None, "old": old}
    job_id = enqueue(conn, JOB_KIND, {"rule": rule.key})
    row = _run_row(app, rule, event, "queued", now, snapshot=snapshot, job_id=job_id)
    return _insert_run(conn, row)


# --- the record listener ---------------------------------------------------------------------


def rule_event(app: LoadedApp, event: RecordChanged) -> RuleEvent:
    """The rule event of a record or flow event; a flow event's data names the form's flow."""
    if event.kind in FLOW_KINDS:
        form = app.layout.forms.get(event.form)
        data = dict(event.changes)
        data["flow"] = form.spec.flow if form is not None else None
        return dataclasses.replace(RuleEvent.of(event, data), changes={})
    return RuleEvent.of(event)


def app_of(conn: Connection, key: str, layout: AppLayout) -> LoadedApp:
    """The loaded app whose live revision `layout` belongs to, kept on the layout once loaded
    (a save that fires rules sends no statement for it); if a publish made another revision
    live meanwhile, that one, loaded afresh."""
    kept: dict[str, LoadedApp] = on_layout(layout, "rules:app", dict)
    found = kept.get("app")
    if found is not None:
        return found
    app = forms_apps.load(conn, key)
    if app.layout is layout:
        kept["app"] = app
    return app


def triggering_record(
    conn: Connection,
    ctx: ExecutionContext,
    app: LoadedApp,
    event: RecordChanged,
    rules: Sequence[LiveRule],
    *,
    fresh: bool,
) -> Mapping[str, Any] | None:
    """The record `rules` run over, as `read_record` reads it now. A record just created
    (`fresh`: nothing but its own write since — no sync rule of the call ran yet, and no flow
    bound to the form, whose listener may write before this one) whose rules read only what
    its event tells is not read back: `engine.rules.known`."""

    def read() -> dict[str, Any] | None:
        deleted = event.kind == "deleted"
        return read_record(conn, app, event.form, event.record_id, ctx, deleted=deleted)

    form = app.layout.forms.get(event.form)
    if fresh and event.kind == "created" and form is not None and form.spec.flow is None:
        known: KnownRecord = known_record(form, event, read)
        if all(known.serves(rule.reads) for rule in rules):
            return known
    return read()


def on_changes(conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]) -> None:
    """Fire the rules one write call's events match (see the module docstring). A write whose
    app has no rule for its form and event kind costs no statement: the rules come from the
    layout the write used; the app is loaded only when one matches."""
    if not events:
        return
    first = events[0]
    layout = first.layout
    app: LoadedApp | None = None
    if layout is None:
        try:
            app = forms_apps.load(conn, first.app)
        except ServiceError:
            return
        layout = app.layout
    rules = rules_of(layout)
    if not rules.by_key:
        return
    switched: Mapping[str, bool] | None = None
    wrote = False  # a sync rule of this call ran: later records may differ from their events
    for event in events:
        candidates = rules.by_event.get((event.form, event.kind))
        if not candidates:
            continue
        if app is None:
            app = app_of(conn, first.app, layout)
        if switched is None:
            switched = live_switches(conn, app)
        fired = rule_event(app, event)
        matched = [
            rule
            for rule in candidates
            if is_enabled(rule, switched) and rule.trigger.matches(rule.spec, fired)
        ]
        if not matched:
            continue
        record = triggering_record(conn, ctx, app, event, matched, fresh=not wrote)
        for rule in matched:
            old = old_values(fired)
            if not holds(conn, app, rule, fired, record, old, ctx):
                continue
            if rule.spec.mode == "sync":
                run_sync(conn, ctx, app, rule, fired, record, old, event.path)
                wrote = True
            else:
                queue(conn, app, rule, fired, record, old, ctx.now)


# --- jobs ------------------------------------------------------------------------------------


def _finish(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(_UPDATE_RUN, {"b_run": run_id, **values})


_APPS = "jimu.rules.apps"  # conn.info: (transaction, {app key: LoadedApp}) of `app_in_transaction`


def app_in_transaction(conn: Connection, key: str) -> LoadedApp:
    """`forms_apps.load(conn, key)` once per transaction of `conn`: the runs a job worker
    applies in one transaction (a batch) read the app's live revision and switch stamp once."""
    transaction = conn.get_transaction()
    kept: tuple[Any, dict[str, LoadedApp]] | None = conn.info.get(_APPS)
    if kept is None or kept[0] is not transaction:
        kept = (transaction, {})
        conn.info[_APPS] = kept
    found = kept[1].get(key)
    if found is None:
        found = kept[1][key] = forms_apps.load(conn, key)
    return found


_BATCH_RUNS = "jimu.rules.batch_runs"  # conn.info: (transaction, {job id: run row})
_RUNS_OF_JOBS = select(RUNS).where(RUNS.c.job_id.in_(bindparam("b_jobs", expanding=True)))


def _run_of_job(conn: Connection, job_id: int | None, batch: Sequence[int]) -> Any:
    """The run naming job `job_id`; in a batch, the runs of all the batch's jobs are read with
    the first one's (one statement for the batch), and the records their update actions target
    through a relation are locked then (`_lock_targets`)."""
    if job_id is None or job_id not in batch:
        return conn.execute(_RUN_OF_JOB, {"b_job": job_id}).first()
    transaction = conn.get_transaction()
    kept: tuple[Any, dict[int, Any]] | None = conn.info.get(_BATCH_RUNS)
    if kept is None or kept[0] is not transaction or job_id not in kept[1]:
        rows = conn.execute(_RUNS_OF_JOBS, {"b_jobs": list(batch)}).all()
        kept = (transaction, {int(row.job_id): row for row in rows})
        kept[1].setdefault(job_id, None)
        conn.info[_BATCH_RUNS] = kept
        _lock_targets(conn, [row for row in rows if row.state == "queued"])
        defer_history(conn)  # the runs' history rows: written together by `finish_batch`
    return kept[1].pop(job_id)


def _lock_targets(conn: Connection, rows: Sequence[Any]) -> None:
    """Lock what the queued runs `rows` of a batch update through a relation, one statement per
    target form (`actions.lock_relation_targets`) instead of one per run."""
    by_app: dict[str, list[tuple[RuleSpec, Mapping[str, Any] | None]]] = {}
    for row in rows:
        key = str((row.event or {}).get("app", ""))
        try:
            app = app_in_transaction(conn, key)
        except ServiceError:
            continue
        rule = live_rules(app).by_key.get(row.rule_key)
        if rule is not None:
            by_app.setdefault(key, []).append((rule.spec, (row.snapshot or {}).get("record")))
    for key, runs in by_app.items():
        lock_relation_targets(conn, app_in_transaction(conn, key), runs)


_FINISHED = "jimu.rules.finished"  # conn.info: (transaction, [run-log values]) of a batch


def _finish_later(conn: Connection, run_id: int, **values: Any) -> None:
    """`_finish` for a run applied in a worker's batch: kept until the batch's applies are done,
    then written with the others' in one statement (`finish_batch`)."""
    transaction = conn.get_transaction()
    kept: tuple[Any, list[dict[str, Any]]] | None = conn.info.get(_FINISHED)
    if kept is None or kept[0] is not transaction:
        kept = (transaction, [])
        conn.info[_FINISHED] = kept
    kept[1].append({"b_run": run_id, **values})


def finish_batch(conn: Connection) -> None:
    """The `rules.run` kind's `finish_batch` step, in the batch's transaction before its jobs
    are marked done: the history rows of the records the batch's runs wrote (deferred since the
    batch's runs were read: `engine.forms.changes.defer_history`; one multi-row write) and the
    run-log rows of its succeeded runs (one executemany: on PostgreSQL psycopg pipelines it)."""
    flush_history(conn)
    kept: tuple[Any, list[dict[str, Any]]] | None = conn.info.pop(_FINISHED, None)
    if kept is None or kept[0] is not conn.get_transaction() or not kept[1]:
        return
    conn.execute(_UPDATE_RUN, kept[1])


def execute_run(
    conn: Connection,
    ctx: ExecutionContext,
    run_id: int | None,
    *,
    job_id: int | None = None,
    batch: Sequence[int] = (),
) -> str:
    """Run a queued run (by id, or the run of job `job_id`) from its snapshot on the live rule,
    in `conn`'s transaction; its new state (`succeeded`, `failed`, `skipped`; an already
    finished run is left alone).

    `batch`: the jobs a worker applies in this transaction with this one (`RunningJob.batch`):
    their runs are read together (and their relation targets locked), a failing action raises
    `RunFailed` instead of rolling back a savepoint of the run's own (the worker rolls the
    batch back and runs each job alone, which logs the failure) and a succeeded run's log is
    written with the batch's others (`finish_batch`) — four statements fewer per run."""
    if run_id is not None:
        row = conn.execute(_RUN, {"b_run": run_id}).first()
    else:
        row = _run_of_job(conn, job_id, batch)
    if row is None or row.state != "queued":
        return row.state if row is not None else "missing"
    run_id = int(row.id)
    event = RuleEvent.from_json(row.event)
    now = ctx.now
    attempt = int(row.attempt or 0) + 1
    try:
        app = app_in_transaction(conn, event.app)
    except ServiceError:
        _finish(conn, run_id, state="skipped", error="app_gone", attempt=attempt, finished_at=now)
        return "skipped"
    rule = live_rules(app).by_key.get(row.rule_key)
    if rule is None or not is_enabled(rule, live_switches(conn, app)):
        reason = "rule_deleted" if rule is None else "rule_disabled"
        _finish(
            conn,
            run_id,
            state="skipped",
            error=reason,
            attempt=attempt,
            started_at=now,
            finished_at=now,
        )
        return "skipped"
    if event.depth + 1 > MAX_DEPTH:
        error = cascade_too_deep(rule)
        _finish(
            conn,
            run_id,
            state="failed",
            error=f"{error.code}: {error.message_zh} / {error.message_en}",
            attempt=attempt,
            started_at=now,
            finished_at=now,
        )
        return "failed"
    snapshot = row.snapshot or {}
    started = time.perf_counter()
    # in a batch a failure rolls the worker's batch back: no savepoint of its own
    savepoint = None if batch else conn.begin_nested()
    try:
        outcomes = run_actions(
            conn, ctx, app, rule, event, snapshot.get("record"), snapshot.get("old")
        )
    except RunFailed as failed:
        if savepoint is None:
            raise
        savepoint.rollback()
        ms = int((time.perf_counter() - started) * 1000)
        _finish(
            conn,
            run_id,
            state="failed",
            actions=failed.outcomes,
            error=_error_text(failed.error),
            duration_ms=ms,
            attempt=attempt,
            started_at=now,
            finished_at=now,
        )
        return "failed"
    if savepoint is not None:
        savepoint.commit()
    ms = int((time.perf_counter() - started) * 1000)
    (_finish_later if batch else _finish)(
        conn,
        run_id,
        state="succeeded",
        actions=outcomes,
        error=None,
        duration_ms=ms,
        attempt=attempt,
        started_at=now,
        finished_at=now,
    )
    return "succeeded"


def apply_run(job: RunningJob, conn: Connection) -> None:
    """The `rules.run` job's apply step: the run's writes and its log, exactly once. The run is
    the one naming the job (`job_id`), or — a retry's job, and jobs queued before runs named
    them — the payload's `run`."""
    run = job.payload.get("run")
    ctx = job.context(Actor(None, "rule"))
    execute_run(conn, ctx, int(run) if run is not None else None, job_id=job.id, batch=job.batch)


if JOB_KIND not in JOB_KINDS:
    # Runs are applied in batches (one transaction and commit for up to 25 claimed runs,
    # engine.jobs.worker): each run's actions have their own savepoint already.
    register_kind(
        JobKind(
            JOB_KIND,
            apply=apply_run,
            max_attempts=3,
            backoff_seconds=5,
            batch=25,
            finish_batch=finish_batch,
        )
    )


def retry(conn: Connection, app: LoadedApp, rule_key: str, run_id: int) -> int:
    """Queue a failed (or skipped) run again with its stored snapshot; the new job's id.
    404 for a run of another rule, 409 `run_not_failed` for a run that did not fail."""
    row = conn.execute(
        select(RUNS).where(
            RUNS.c.id == run_id, RUNS.c.app_id == app.id, RUNS.c.rule_key == rule_key
        )
    ).first()
    if row is None:
        raise not_found()
    if row.state not in ("failed", "skipped"):
        raise ServiceError(
            409,
            "run_not_failed",
            message_zh="只能重试失败或跳过的运行",
            message_en="Only a failed or skipped run can be retried",
        )
    job_id = enqueue(conn, JOB_KIND, {"run": run_id})
    conn.execute(
        update(RuleRun)
        .where(RuleRun.id == run_id)
        .values(state="queued", job_id=job_id, error=None, finished_at=None)
    )
    return job_id


# --- fire and test ---------------------------------------------------------------------------


def fire(
    conn: Connection,
    ctx: ExecutionContext,
    app_key: str,
    rule_key: str,
    event: RuleEvent,
    record_ids: Sequence[int],
) -> list[int]:
    """Run (sync) or queue (async) rule `rule_key` for `record_ids` as if its trigger matched
    (time and button triggers): per record, its condition, then the actions or a queued run.
    The ids of the runs logged (none for a record whose condition is false). 404 for a rule not
    in the live revision; a disabled rule runs nothing. A sync refusal raises."""
    app = forms_apps.load(conn, app_key)
    rule = live_rules(app).by_key.get(rule_key)
    if rule is None:
        raise not_found()
    if not is_enabled(rule, switches(conn, app.id)):
        return []
    runs: list[int] = []
    for record_id in record_ids:
        fired = dataclasses.replace(event, app=app.key, form=rule.spec.form, record_id=record_id)
        record = read_record(conn, app, rule.spec.form or "", record_id, ctx)
        if rule.spec.form is not None and record is None:
            continue
        if not holds(conn, app, rule, fired, record, None, ctx):
            continue
        if rule.spec.mode == "sync":
            runs.append(run_sync(conn, ctx, app, rule, fired, record, None))
        else:
            runs.append(queue(conn, app, rule, fired, record, None, ctx.now))
    if not record_ids and rule.spec.form is None:
        if rule.spec.mode == "sync":
            runs.append(run_sync(conn, ctx, app, rule, event, None, None))
        else:
            runs.append(queue(conn, app, rule, event, None, None, ctx.now))
    return runs


def test_run(
    conn: Connection,
    ctx: ExecutionContext,
    app: LoadedApp,
    rule_key: str,
    record_id: int,
    spec: RuleSpec | None = None,
) -> dict[str, Any]:
    """Run the rule (the live one, or `spec` unsaved) on a record for real in a savepoint that
    is rolled back: the condition's result and each action's outcome or error. The caller
    rolls its transaction back too. 404 for an unknown rule or record; 422 for a `spec` whose
    kinds are unknown."""
    if spec is None:
        rule = live_rules(app).by_key.get(rule_key)
        if rule is None:
            raise not_found()
    else:
        compiled = compile_rule(app.layout, spec, app.key)
        if compiled is None:
            raise ServiceError(
                422,
                "invalid_definition",
                [Issue("rule", "invalid_rule", "规则无法运行", "The rule cannot run")],
            )
        rule = compiled
    record = read_record(conn, app, rule.spec.form or "", record_id, ctx)
    if record is None:
        raise not_found()
    event = RuleEvent(
        kind="test",
        app=app.key,
        form=rule.spec.form,
        record_id=record_id,
        actor=ctx.actor.user_id,
        channel=ctx.channel,
        depth=0,
        at=ctx.now,
    )
    condition = holds(conn, app, rule, event, record, None, ctx)
    outcomes: list[dict[str, Any]] = []
    savepoint = conn.begin_nested()
    try:
        outcomes = run_actions(
            conn, ctx, app, rule, event, record, None, dry_run=True, keep_going=True
        )
    finally:
        savepoint.rollback()
    return {"condition": condition, "actions": outcomes}


__all__ = [
    "JOB_KIND",
    "MAX_DEPTH",
    "LiveRule",
    "LiveRules",
    "apply_run",
    "compile_rule",
    "execute_run",
    "fire",
    "is_enabled",
    "live_rules",
    "live_switches",
    "on_changes",
    "retry",
    "rules_of",
    "set_enabled",
    "switches",
    "test_run",
]
