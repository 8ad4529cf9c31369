"""The pluggable kinds of the rules engine (DESIGN §9, issue 14): trigger types, action types and
value kinds, each a registry of classes, and what an action sees when it runs.

- A **trigger type** (`TRIGGERS`, by `on.type`) says which record or flow events start a rule
  (`event_kinds`, and `matches` for finer tests such as "one of these fields changed" or "this
  flow node"), or — for time and button triggers — that the rules runtime is asked to fire it
  by something else (a job, an HTTP call). It checks its own settings (`on`'s properties).
- An **action type** (`ACTIONS`, by `actions[i].type`) checks its settings against the app
  and does its work in `run(step)`, returning what it did for the run log (JSON). Actions that
  write records (`writes_records`) may run in a `sync` rule, inside the saving transaction;
  they write through the record service as the rule's system actor (channel `rule`), so
  validation, history and events apply. An action refuses with `ServiceError` (field-level
  issues); the runtime turns that into a refused save (sync) or a failed run (async).
- A **value kind** (`VALUE_KINDS`, by the single key of an object value such as `{"copy": …}`)
  turns one action value into a record-JSON value for the triggering record. A bare string
  is a formula over the triggering record; numbers, booleans and null are literals;
  `{"value": x}` is the literal `x` (for literal strings).

This module holds only the contracts; the kinds themselves register from
`engine.rules.triggers`, `engine.rules.actions`, `engine.rules.values` (and further modules),
and `engine.rules.runtime` runs them.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.engine import Connection

from engine.core.context import ExecutionContext
from engine.core.issues import Issue
from engine.core.registry import Registry

if TYPE_CHECKING:
    from engine.forms.apps import LoadedApp
    from engine.forms.changes import RecordChanged
    from engine.forms.layout import FormLayout
    from engine.forms.spec import AppSpec
    from engine.rules.known import RecordReads
    from engine.rules.spec import RuleAction, RuleSpec


@dataclass(frozen=True)
class RuleEvent:
    """What fired one run of a rule — a snapshot that travels in an async job's payload.

    `kind` is the record event kind (`created`, `updated`, `deleted`, `restored`,
    `transferred`), a flow event (`flow_started`, `flow_node_entered`, `flow_task_done`,
    `flow_finished`) or a time/button firing (`schedule`, `date_reached`, `button`).
    `changes` is `{key: [old, new]}` as in `RecordChanged`; `data` carries the rest (a flow
    event's `node`/`action`/`outcome`, a schedule's planned moment, a button's user).
    `depth` is the cascade depth of the change that fired it: actions run at `depth + 1`."""

    kind: str
    app: str
    form: str | None
    record_id: int | None
    actor: int | None
    channel: str
    depth: int
    at: dt.datetime
    changes: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, event: RecordChanged, data: Mapping[str, Any] | None = None) -> RuleEvent:
        """The rule event of a record (or flow) event."""
        return cls(
            kind=event.kind,
            app=event.app,
            form=event.form,
            record_id=event.record_id,
            actor=event.actor,
            channel=event.channel,
            depth=event.depth,
            at=event.at,
            changes=dict(event.changes),
            data=dict(data or {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "app": self.app,
            "form": self.form,
            "record_id": self.record_id,
            "actor": self.actor,
            "channel": self.channel,
            "depth": self.depth,
            "at": self.at.isoformat(),
            "changes": dict(self.changes),
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleEvent:
        return cls(
            kind=str(data["kind"]),
            app=str(data["app"]),
            form=data.get("form"),
            record_id=data.get("record_id"),
            actor=data.get("actor"),
            channel=str(data.get("channel", "rule")),
            depth=int(data.get("depth", 0)),
            at=dt.datetime.fromisoformat(str(data["at"])),
            changes=dict(data.get("changes") or {}),
            data=dict(data.get("data") or {}),
        )


class TriggerType(ABC):
    """One kind of trigger (`on.type`); see the module docstring."""

    name: ClassVar[str]
    label: ClassVar[tuple[str, str]]  # (zh, en), for the designer and messages
    needs_form: ClassVar[bool] = True
    # Record/flow event kinds this trigger reacts to; empty: fired by the runtime on request
    # (schedule, date reached, button).
    event_kinds: ClassVar[frozenset[str]] = frozenset()

    def check(self, app: AppSpec, rule: RuleSpec, at: str) -> list[Issue]:
        """Issues of the trigger's settings (`rule.on`) against `app`; `at` is `rules[i].on`."""
        return []

    def matches(self, rule: RuleSpec, event: RuleEvent) -> bool:
        """Whether `event` (already of one of `event_kinds`, on the rule's form) fires `rule`."""
        return event.kind in self.event_kinds

    def plan(self, conn: Connection, ctx: ExecutionContext, app: LoadedApp, rule: RuleSpec) -> None:
        """Plan the jobs that will fire `rule` of `app`'s live revision (time triggers: the next
        cron moment, each record's date); called after a publish and when the rule is switched
        on. Record and flow triggers plan nothing."""
        return None


@dataclass
class ActionStep:
    """One action about to run, with everything it may read.

    `ctx` is the rule's execution context: the system actor of the rule (channel `rule`) at
    cascade depth `event.depth + 1`. `record` is the triggering record's JSON as the rule sees
    it (after the change; None once deleted or for a schedule without a record) and `old` the
    values before the change (`OLD(field)`). `value(spec)` resolves one action value (a
    formula, `{"copy": …}`, a literal, `{"aggregate": …}`) for the triggering record. `dry_run`
    is set by a test run, which runs the real actions in a transaction that is rolled back."""

    conn: Connection
    ctx: ExecutionContext
    app: LoadedApp
    rule: RuleSpec
    action: RuleAction
    index: int
    event: RuleEvent
    record: Mapping[str, Any] | None
    old: Mapping[str, Any] | None
    # (value spec, target form key, target field key) -> the value in record JSON
    resolve: Callable[[Any, str | None, str | None], Any]
    dry_run: bool = False

    def value(self, spec: Any, target_form: str | None = None, field: str | None = None) -> Any:
        """One action value for the triggering record, converted for `field` of `target_form`."""
        return self.resolve(spec, target_form, field)


class ActionType(ABC):
    """One kind of action (`actions[i].type`); see the module docstring."""

    name: ClassVar[str]
    label: ClassVar[tuple[str, str]]
    writes_records: ClassVar[bool] = False

    def check(self, app: AppSpec, rule: RuleSpec, action: RuleAction, at: str) -> list[Issue]:
        """Issues of the action's settings against `app`; `at` is `rules[i].actions[j]`."""
        return []

    @abstractmethod
    def run(self, step: ActionStep) -> dict[str, Any]:
        """Do the action; what it did, for the run log (e.g. `{"created": [12]}`)."""

    def record_reads(self, form: FormLayout, action: RuleAction) -> RecordReads | None:
        """What `run` reads of the triggering record of `form` (`engine.rules.known`); None,
        the default: it may read anything, so the record is read back for it."""
        return None


class ValueKind(ABC):
    """One kind of object value (`{"<name>": …}`) in an action's `values`."""

    name: ClassVar[str]

    def check(
        self,
        app: AppSpec,
        rule: RuleSpec,
        target_form: str | None,
        field: str | None,
        spec: Any,
        at: str,
    ) -> list[Issue]:
        """Issues of the value `spec` (the object's single property's value) at `at`."""
        return []

    @abstractmethod
    def resolve(
        self, step: ActionStep, spec: Any, target_form: str | None, field: str | None
    ) -> Any:
        """The value, in record JSON, for `field` of `target_form`."""


TRIGGERS: Registry[TriggerType] = Registry("rule trigger type")
ACTIONS: Registry[ActionType] = Registry("rule action type")
VALUE_KINDS: Registry[ValueKind] = Registry("rule value kind")

__all__ = [
    "ACTIONS",
    "TRIGGERS",
    "VALUE_KINDS",
    "ActionStep",
    "ActionType",
    "RuleEvent",
    "TriggerType",
    "ValueKind",
]
