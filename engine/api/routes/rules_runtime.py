"""Automation rules at run time over HTTP (issue 14, DESIGN §9/§12): each rule's state and last
run, switching a rule on or off without a publish, the run log, retrying a failed run, a
test run against a record. Pressing a rule's button (`fire`) is `engine.api.routes.rule_buttons`.

A thin router over `engine.rules.runtime`. Builders only — administrators and members holding
a builder role of the app (`engine.auth.builders.may_build`): other members get 403, people
outside the app 404. An unknown
rule is 404; bad input is a field-level 422 (400 for malformed parameters).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from engine.api.deps import DbEngine, context_for
from engine.api.schemas.rules import RuleEnabled, RuleRunOut, RuleRuns, RulesState, RuleTest
from engine.api.security import CurrentUser
from engine.apps.pipeline import load_revision
from engine.auth.builders import may_build
from engine.auth.principal import Principal
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.forms import apps as forms_apps
from engine.forms.apps import LoadedApp
from engine.forms.compile import structural_issues
from engine.rules import runtime
from engine.rules.models import RUN_STATES, RuleRun
from engine.rules.spec import RuleSpec
from engine.rules.spec import check as check_rules

router = APIRouter(prefix="/apps", tags=["rules"])

RunId = Annotated[int, Path(ge=1, le=2**62)]
RunState = Literal["queued", "succeeded", "failed", "skipped"]
assert set(RUN_STATES) == {"queued", "succeeded", "failed", "skipped"}


class EnabledBody(BaseModel):
    """Switch a rule on or off (at once, without a publish)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


class TestBody(BaseModel):
    """A test run: the record to run on and, optionally, an unsaved rule spec to run instead
    of the live rule."""

    model_config = ConfigDict(extra="forbid")

    record_id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    rule: dict[str, Any] | None = None


def _builder_app(conn: Connection, principal: Principal, app: str) -> LoadedApp:
    if not principal.may_use_app(app):
        raise not_found()
    loaded = forms_apps.load(conn, app)
    may_build(conn, principal, loaded)
    return loaded


def _live_rule(loaded: LoadedApp, rule: str) -> runtime.LiveRule:
    found = runtime.live_rules(loaded).by_key.get(rule)
    if found is None:
        raise not_found()
    return found


def _moment(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _run_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "rule": row.rule_key,
        "revision": row.revision,
        "mode": row.mode,
        "state": row.state,
        "record_id": row.record_id,
        "event": row.event,
        "condition": row.condition,
        "actions": row.actions,
        "error": row.error,
        "duration_ms": row.duration_ms,
        "job_id": row.job_id,
        "attempt": row.attempt,
        "created_at": _moment(row.created_at),
        "started_at": _moment(row.started_at),
        "finished_at": _moment(row.finished_at),
    }


RUNS: Any = RuleRun.__table__


@router.get("/{app}/rules/state", response_model=RulesState)
def rules_state(app: str, engine: DbEngine, principal: CurrentUser) -> dict[str, Any]:
    """Each rule of the live revision: its key, name, form, trigger, mode, whether it is
    enabled now (a switch, else its definition) and its last run."""
    with engine.connect() as conn:
        loaded = _builder_app(conn, principal, app)
        rules = runtime.live_rules(loaded)
        switched = runtime.switches(conn, loaded.id)
        last: dict[str, Any] = {}
        if rules.by_key:
            newest = (
                select(func.max(RUNS.c.id))
                .where(RUNS.c.app_id == loaded.id)
                .group_by(RUNS.c.rule_key)
                .scalar_subquery()
            )
            rows = conn.execute(select(RUNS).where(RUNS.c.id.in_(newest))).all()
            last = {row.rule_key: _run_json(row) for row in rows}
    items = [
        {
            "key": rule.key,
            "name": rule.spec.model_dump(mode="json")["name"],
            "form": rule.spec.form,
            "on": rule.spec.on.type,
            "mode": rule.spec.mode,
            "enabled": runtime.is_enabled(rule, switched),
            "last_run": last.get(rule.key),
        }
        for rule in rules.by_key.values()
    ]
    return {"rules": items}


@router.post("/{app}/rules/{rule}/enabled", response_model=RuleEnabled)
def set_rule_enabled(
    app: str, rule: str, body: EnabledBody, engine: DbEngine, principal: CurrentUser
) -> dict[str, Any]:
    """Switch a rule on or off; it takes effect at once, without a publish (queued runs of a
    rule switched off are skipped)."""
    with engine.begin() as conn:
        loaded = _builder_app(conn, principal, app)
        _live_rule(loaded, rule)
        runtime.set_enabled(conn, loaded, rule, body.enabled, principal.user_id)
    return {"key": rule, "enabled": body.enabled}


@router.get("/{app}/rules/{rule}/runs", response_model=RuleRuns)
def rule_runs(
    app: str,
    rule: str,
    engine: DbEngine,
    principal: CurrentUser,
    state: Annotated[RunState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """The rule's run log, newest first, optionally of one `state`: `{items, total}`. Each run:
    the trigger event, the condition's result, each action's outcome (`[{type, state, outcome,
    error, ms}]`), the error, the duration, its job and attempt."""
    with engine.connect() as conn:
        loaded = _builder_app(conn, principal, app)
        where = [RUNS.c.app_id == loaded.id, RUNS.c.rule_key == rule]
        if state is not None:
            where.append(RUNS.c.state == state)
        if rule not in runtime.live_rules(loaded).by_key:
            known = conn.execute(select(RUNS.c.id).where(*where[:2]).limit(1)).first()
            if known is None:
                raise not_found()
        total = int(conn.execute(select(func.count()).select_from(RUNS).where(*where)).scalar_one())
        rows = conn.execute(
            select(RUNS).where(*where).order_by(RUNS.c.id.desc()).limit(limit).offset(offset)
        ).all()
    return {"items": [_run_json(row) for row in rows], "total": total}


@router.post("/{app}/rules/{rule}/runs/{run}/retry", response_model=RuleRunOut)
def retry_run(
    app: str, rule: str, run: RunId, engine: DbEngine, principal: CurrentUser
) -> dict[str, Any]:
    """Queue a failed (or skipped) run again with the snapshot it stored; the run as queued
    (409 `run_not_failed` for a run that did not fail, 404 for a run of another rule)."""
    with engine.begin() as conn:
        loaded = _builder_app(conn, principal, app)
        runtime.retry(conn, loaded, rule, run)
        row = conn.execute(select(RUNS).where(RUNS.c.id == run)).one()
    return _run_json(row)


def _spec_of(conn: Connection, loaded: LoadedApp, data: dict[str, Any]) -> RuleSpec:
    """An unsaved rule spec checked as publishing would check it (422 at `rule.…`)."""
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        raise ServiceError(
            422, "invalid_definition", [i.under("rule") for i in structural_issues(exc, data)]
        ) from None
    app_spec = load_revision(conn, loaded.key, loaded.revision, loaded).spec
    issues = check_rules(app_spec, [spec])
    if issues:
        raise ServiceError(
            422,
            "invalid_definition",
            [
                Issue(
                    "rule" + i.path.removeprefix("rules[0]"),
                    i.code,
                    i.message_zh,
                    i.message_en,
                    i.line,
                    i.column,
                )
                for i in issues
            ],
        )
    return spec


@router.post("/{app}/rules/{rule}/test", response_model=RuleTest)
def test_rule(
    app: str,
    rule: str,
    body: TestBody,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """Run the rule — the live one, or the unsaved `rule` spec — on record `record_id` for
    real, in a transaction that is rolled back: nothing is written. The condition's result and
    each action's outcome or error (`{condition, actions: [{type, state, outcome, error,
    ms}]}`). Builders only; 404 for an unknown rule or record."""
    ctx = context_for(request, principal.actor())
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            loaded = _builder_app(conn, principal, app)
            spec = None
            if body.rule is not None:
                spec = _spec_of(conn, loaded, body.rule)
            else:
                _live_rule(loaded, rule)
            result = runtime.test_run(conn, ctx, loaded, rule, body.record_id, spec)
        finally:
            transaction.rollback()
    return result


__all__ = ["router"]
