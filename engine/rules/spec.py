"""The rule part of an app definition (DESIGN §9): typed, still small.

A rule is a trigger, a condition and ordered actions:

```json
{"key": "won_creates_project", "name": {"zh": "赢单建项目", "en": "Won deal starts a project"},
 "form": "opportunity", "on": {"type": "field_changed", "fields": ["stage"]}, "when": "stage = \"won\"",
 "mode": "sync", "actions": [{"type": "create_record", "form": "project", "values": {"name": "title"}}]}
```

This module owns the shape (key, name, the form whose records trigger it — none for a schedule —,
the trigger, the condition, sync or async, the actions) and its checks against the rest of the
app: the forms exist, the trigger's fields are fields of the form, the condition type-checks
over its records, an action's `values` name fields of the action's form. Triggers and actions
tolerate further properties (their types' settings), which the rules engine's registries will
type. The plan lists the trigger, the actions in order and the fields referenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

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


def check(app: AppSpec, rules: Sequence[Any]) -> list[Issue]:
    """The rules' issues against the forms of `app`."""
    refs = FormRefs(app)
    issues = duplicate_keys([r.key for r in rules], "rules", ("规则", "rule"))
    for index, rule in enumerate(rules):
        at = f"rules[{index}]"
        issues += refs.form_issues(rule.form, f"{at}.form")
        if rule.form is None and (rule.on.fields or rule.when is not None):
            issues.append(
                Issue(
                    f"{at}.form",
                    "missing",
                    "按字段或条件触发的规则必须指定表单",
                    "A rule with trigger fields or a condition needs a form",
                )
            )
        for f, key in enumerate(rule.on.fields):
            issues += refs.field_issues(rule.form, key, f"{at}.on.fields[{f}]", system=False)
        if rule.when is not None:
            issues += refs.condition_issues(rule.form, rule.when, f"{at}.when")
        for a, action in enumerate(rule.actions):
            issues += refs.form_issues(action.form, f"{at}.actions[{a}].form")
            for key in action.values:
                issues += refs.field_issues(
                    action.form, key, f"{at}.actions[{a}].values.{key}", system=False
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


PART = register_part(
    DefinitionPart(name="rules", item=RuleSpec, title=("规则", "rules"), check=check, plan=plan)
)

__all__ = ["PART", "RuleAction", "RuleSpec", "Trigger", "check", "plan"]
