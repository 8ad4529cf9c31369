"""The rule part of an app definition (DESIGN §9): typed, still small.

A rule is a trigger, a condition and ordered actions:

```json
{"key": "won_creates_project", "name": {"zh": "赢单建项目", "en": "Won deal starts a project"},
 "form": "opportunity", "on": {"type": "field_changed", "fields": ["stage"]}, "when": "stage = \"won\"",
 "mode": "sync", "actions": [{"type": "create_record", "form": "project", "values": {"name": "title"}}]}
```

This module owns the shape (key, name, the form whose records trigger it — none for a schedule —,
the trigger, the condition, sync or async, the actions) and its checks against the rest of the
app: the forms exist, the trigger and each action check their settings through the registries
of `engine.rules.kinds` (an unknown type is an issue at `….type` listing the known ones), the
condition type-checks over the form's records with `OLD(field)` (`engine.rules.condition`),
and `sync` is allowed only when every action writes records. The plan lists the trigger, the
actions in order and the fields referenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field
from sqlalchemy.engine import Connection

from engine.core.context import ExecutionContext
from engine.core.issues import Issue
from engine.core.parts import DefinitionPart, register_part
from engine.forms.common import Formula, Key, Label, OpenSpec, Spec
from engine.forms.references import FormRefs, duplicate_keys
from engine.forms.spec import AppSpec


class Trigger(OpenSpec):
    """What starts the rule: record created/updated/deleted, fields changed, a schedule, …"""

    type: Key
    fields: list[Key] = Field(default_factory=list)


class RuleAction(OpenSpec):
    """One action: its type and, for actions that write records, the form and field values."""

    type: Key
    form: Key | None = None
    values: dict[Key, Any] = Field(default_factory=dict)


class RuleSpec(Spec):
    """An automation rule: trigger (`on`), condition (`when`) and ordered `actions`."""

    key: Key
    name: Label
    form: Key | None = None
    description: Label | None = None
    on: Trigger
    when: Formula | None = None
    mode: Literal["sync", "async"] = "async"
    enabled: bool = True
    actions: list[RuleAction] = Field(default_factory=list)


def load_kinds() -> None:
    """Import the modules that register the rule engine's triggers, actions and value kinds
    (each registers on import; `engine.rules` imports them too)."""
    import importlib

    for name in KIND_MODULES:
        importlib.import_module(name)


# The modules that register kinds; other pieces of the rule engine add theirs here.
KIND_MODULES = [
    "engine.rules.triggers",
    "engine.rules.values",
    "engine.rules.actions",
    "engine.rules.assign",
    "engine.rules.notify",
    "engine.rules.flow_action",
    "engine.rules.aggregate",
    "engine.rules.timing",
    "engine.rules.button",
]


def check(app: AppSpec, rules: Sequence[Any]) -> list[Issue]:
    """The rules' issues against the rest of `app`: each trigger and action checks its own
    settings through the registries (`engine.rules.kinds`); the condition type-checks over the
    rule's form with `OLD(field)`; `sync` only when every action writes records."""
    from engine.forms.schema import form_schemas
    from engine.rules.condition import formula_issues
    from engine.rules.kinds import ACTIONS, TRIGGERS

    load_kinds()
    refs = FormRefs(app)
    issues = duplicate_keys([r.key for r in rules], "rules", ("规则", "rule"))
    schemas: dict[str, Any] | None = None
    for index, rule in enumerate(rules):
        at = f"rules[{index}]"
        form_issues = refs.form_issues(rule.form, f"{at}.form")
        issues += form_issues
        trigger = TRIGGERS.get(rule.on.type)
        if trigger is None:
            known = ", ".join(TRIGGERS.names())
            issues.append(
                Issue(
                    f"{at}.on.type",
                    "unknown_trigger",
                    f"未知的触发方式 {rule.on.type}（可用：{known}）",
                    f"Unknown trigger type {rule.on.type} (known: {known})",
                )
            )
        elif trigger.needs_form and rule.form is None:
            issues.append(
                Issue(
                    f"{at}.form",
                    "missing",
                    f"触发方式 {rule.on.type} 需要指定表单",
                    f"Trigger {rule.on.type} needs a form",
                )
            )
        elif not form_issues:
            issues += trigger.check(app, rule, f"{at}.on")
        if rule.when is not None:
            if rule.form is None:
                issues.append(
                    Issue(
                        f"{at}.form",
                        "missing",
                        "按条件触发的规则必须指定表单",
                        "A rule with a condition needs a form",
                    )
                )
            elif not form_issues:
                if schemas is None:
                    schemas = form_schemas(app)
                issues += formula_issues(rule.when, schemas.get(rule.form, {}), f"{at}.when")
        writes = True
        for a, action in enumerate(rule.actions):
            kind = ACTIONS.get(action.type)
            if kind is None:
                known = ", ".join(ACTIONS.names())
                writes = False
                issues.append(
                    Issue(
                        f"{at}.actions[{a}].type",
                        "unknown_action",
                        f"未知的动作 {action.type}（可用：{known}）",
                        f"Unknown action type {action.type} (known: {known})",
                    )
                )
                continue
            writes = writes and kind.writes_records
            if not form_issues:
                issues += kind.check(app, rule, action, f"{at}.actions[{a}]")
        if rule.mode == "sync" and not writes:
            issues.append(
                Issue(
                    f"{at}.mode",
                    "sync_not_allowed",
                    "只有全部动作都是写记录（新增、修改、删除记录）的规则才能同步执行",
                    "A rule runs in sync mode only when every action writes records",
                )
            )
    return issues


def plan(app: AppSpec, rule: Any) -> dict[str, Any]:
    """What a run of `rule` does: its trigger, condition, actions in order and the fields it
    references (with their types as published)."""
    refs = FormRefs(app)
    fields = [refs.field_ref(rule.form, key) for key in rule.on.fields] if rule.form else []
    for action in rule.actions:
        if action.form is not None:
            fields += [refs.field_ref(action.form, key) for key in action.values]
    return {
        "form": rule.form,
        "on": rule.on.type,
        "when": rule.when,
        "mode": rule.mode,
        "actions": [action.type for action in rule.actions],
        "fields": fields,
    }


def published(conn: Connection, app: Any, ctx: ExecutionContext) -> None:
    """After a publish or an install: the time triggers plan their jobs
    (`engine.rules.timing.plan_app`)."""
    from engine.rules.timing import plan_app

    plan_app(conn, ctx, app)


PART = register_part(
    DefinitionPart(
        name="rules",
        item=RuleSpec,
        title=("规则", "rules"),
        check=check,
        plan=plan,
        published=published,
    )
)

__all__ = [
    "KIND_MODULES",
    "PART",
    "RuleAction",
    "RuleSpec",
    "Trigger",
    "check",
    "load_kinds",
    "plan",
    "published",
]
