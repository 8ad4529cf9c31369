"""What the tests of the actions `assign_owner`, `notify`, `start_flow` and the `aggregate`
value share: the stock CRM installed with sample data and demo users (SQLite or PostgreSQL,
with `connect` making new engines on the same database: a "restart"), and `Acts`, which runs
one action the way the rule runtime does — `ActionType.run(ActionStep(...))` in the caller's
transaction, as the rule's system actor on channel `rule` one level deep — with a small
resolver of action values (a field key or formula over the triggering record, `{"value"}`,
`{"copy"}`, and the registered value kinds)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

import engine.rules.aggregate
import engine.rules.assign
import engine.rules.flow_action
import engine.rules.notify  # noqa: F401
from engine import expr
from engine.core.context import Actor, ExecutionContext
from engine.core.issues import Issue
from engine.forms import apps as forms_apps
from engine.forms.query import Reader
from engine.forms.service import open_form
from engine.rules.kinds import ACTIONS, VALUE_KINDS, ActionStep, RuleEvent
from engine.rules.spec import RuleSpec
from engine.store.models import User
from tests.auth.crm_org import copied_crm
from tests.contexts import context

NOW = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)


def install(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The body of a module fixture parametrized by database: `installed_crm`'s answer plus
    `connect` (a new engine on the same database)."""
    for crm, connect in copied_crm(request, tmp_path_factory.mktemp("crm_rules")):
        crm["connect"] = connect
        yield crm


def rule(action: Mapping[str, Any], *, form: str | None = "lead", key: str = "r1") -> RuleSpec:
    """A rule of `form` on record creation with the one action."""
    return RuleSpec.model_validate(
        {
            "key": key,
            "name": {"zh": "测试规则", "en": "Test rule"},
            "form": form,
            "on": {"type": "record_created"},
            "actions": [dict(action)],
        }
    )


def check(conn: Connection, action: Mapping[str, Any], *, form: str | None = "lead") -> list[Issue]:
    """The issues of the action in a rule of `form`, against the live CRM definition."""
    spec = rule(action, form=form)
    app = forms_apps.load(conn, "crm").layout.spec
    kind = ACTIONS[spec.actions[0].type]
    return kind.check(app, spec, spec.actions[0], "rules[0].actions[0]")


@dataclass
class Acts:
    """Runs actions of rules of the CRM in one connection (see the module docstring)."""

    conn: Connection
    actor: int | None = None

    def ctx(self) -> ExecutionContext:
        return context(Actor(None, "rule"), now=NOW).nested()

    def record(self, form: str, record_id: int) -> dict[str, Any]:
        loaded = forms_apps.load(self.conn, "crm")
        layout = loaded.layout.forms[form]
        return Reader(loaded.layout, layout, self.ctx()).get(self.conn, record_id)

    def create(self, form: str, values: Mapping[str, Any], owner: int | None = None) -> int:
        """A record created through the record service by `owner` (default: the acts' actor),
        who owns it, on channel api."""
        ctx = context(Actor(owner if owner is not None else self.actor, "api"), now=NOW)
        return int(open_form(ctx, self.conn, "crm", form).create(dict(values))["_id"])

    def step(
        self,
        action: Mapping[str, Any],
        record_id: int | None,
        *,
        form: str = "lead",
        key: str = "r1",
        index: int = 0,
    ) -> ActionStep:
        spec = rule(action, form=form, key=key)
        loaded = forms_apps.load(self.conn, "crm")
        record = None if record_id is None else self.record(form, record_id)
        event = RuleEvent(
            kind="created",
            app="crm",
            form=form,
            record_id=record_id,
            actor=self.actor,
            channel="api",
            depth=0,
            at=NOW,
        )
        holder: list[ActionStep] = []
        found = ActionStep(
            conn=self.conn,
            ctx=self.ctx(),
            app=loaded,
            rule=spec,
            action=spec.actions[0],
            index=index,
            event=event,
            record=record,
            old=record,
            resolve=lambda value, target, field: resolve(holder[0], value, target, field),
        )
        holder.append(found)
        return found

    def run(
        self, action: Mapping[str, Any], record_id: int | None, **options: Any
    ) -> dict[str, Any]:
        step = self.step(action, record_id, **options)
        return ACTIONS[step.action.type].run(step)

    def value(self, spec: Any, record_id: int, form: str, target: str, field: str) -> Any:
        """One action value resolved for record `record_id` of `form`, for `target.field`."""
        step = self.step(
            {"type": "notify", "to": [{"owner": True}], "title": "x"}, record_id, form=form
        )
        return step.value(spec, target, field)

    def user(self, username: str) -> int:
        return int(self.conn.execute(select(User.id).where(User.username == username)).scalar_one())

    def deactivate(self, username: str) -> None:
        self.conn.execute(update(User).where(User.username == username).values(is_active=False))


def resolve(step: ActionStep, spec: Any, target_form: str | None, field: str | None) -> Any:
    """A minimal action value resolver for these tests (the runtime's lives in
    `engine.rules.values`): a field key or formula over the triggering record, a literal,
    `{"value"}`, `{"copy"}`, or a registered value kind."""
    record: Mapping[str, Any] = step.record or {}
    if isinstance(spec, Mapping) and len(spec) == 1:
        name, inner = next(iter(spec.items()))
        if name == "value":
            return inner
        if name == "copy":
            return record.get(inner)
        return VALUE_KINDS[name].resolve(step, inner, target_form, field)
    if isinstance(spec, str):
        if spec in record:
            return record[spec]
        return expr.evaluate(spec, record)
    return spec


class rolled_back:
    """`with rolled_back(engine) as conn:` a connection whose transaction is rolled back at
    the end, so a test leaves the shared CRM as it found it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Connection:
        self.conn = self.engine.connect()
        self.trans = self.conn.begin()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.trans.rollback()
        self.conn.close()


__all__ = ["NOW", "Acts", "check", "install", "resolve", "rolled_back", "rule"]
