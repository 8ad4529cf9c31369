"""The record and flow triggers of rules (`on.type`), registered in `TRIGGERS`.

- `record_created`, `record_updated`, `record_deleted`: a record of the rule's form was
  created, changed, moved to the recycle bin (no settings);
- `field_changed` `{fields: [keys]}`: an update changed at least one of `fields`;
- `flow_started` `{flow?}`, `flow_node_entered` `{flow?, node?}`, `flow_task_done` `{flow?,
  node?, action?}`, `flow_finished` `{flow?, outcome?}`: the flow engine's record events
  (engine.flows.runtime) on a record of the rule's form. `flow` names a flow of that form (the
  runtime adds the form's bound flow to the event's `data`), `node` a node of it (of any flow
  of the form when `flow` is left out), `outcome` one of approved / rejected / withdrawn /
  cancelled.

Each checks its settings (`rules[i].on.…`): unknown properties, fields, flows and nodes are
issues at their path. Time and button triggers (`schedule`, `date_reached`, `button`) are
registered elsewhere and fired through `engine.rules.runtime.fire`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from engine.core.issues import Issue
from engine.forms.references import FormRefs
from engine.forms.spec import AppSpec
from engine.rules.kinds import TRIGGERS, RuleEvent, TriggerType
from engine.rules.spec import RuleSpec

FLOW_OUTCOMES = ("approved", "rejected", "withdrawn", "cancelled")
TASK_ACTIONS = ("approve", "reject", "handle", "transfer", "comment", "resubmit")


def settings_of(rule: RuleSpec) -> dict[str, Any]:
    """The trigger's own settings (`on` without `type`, with `fields` when given)."""
    found = dict(rule.on.model_extra or {})
    if rule.on.fields:
        found["fields"] = list(rule.on.fields)
    return found


def unknown_settings(rule: RuleSpec, allowed: Iterable[str], at: str) -> list[Issue]:
    """`unknown_setting` at `at.<key>` for each setting the trigger does not take."""
    allowed = set(allowed)
    return [
        Issue(
            f"{at}.{key}",
            "unknown_setting",
            f"触发方式 {rule.on.type} 没有设置项 {key}"
            + (f"（可用：{', '.join(sorted(allowed))}）" if allowed else ""),
            f"Trigger {rule.on.type} has no setting {key}"
            + (f" (known: {', '.join(sorted(allowed))})" if allowed else ""),
        )
        for key in settings_of(rule)
        if key not in allowed
    ]


def _text_setting(rule: RuleSpec, key: str, at: str) -> tuple[str | None, list[Issue]]:
    value = settings_of(rule).get(key)
    if value is None or isinstance(value, str):
        return value, []
    return None, [Issue(f"{at}.{key}", "string_type", "应为文本", "Expected a string")]


class RecordTrigger(TriggerType):
    """A record event of the rule's form, with no settings."""

    def check(self, app: AppSpec, rule: RuleSpec, at: str) -> list[Issue]:
        return unknown_settings(rule, (), at)


class RecordCreated(RecordTrigger):
    name = "record_created"
    label = ("新增记录时", "Record created")
    event_kinds = frozenset({"created"})


class RecordUpdated(RecordTrigger):
    name = "record_updated"
    label = ("修改记录时", "Record updated")
    event_kinds = frozenset({"updated"})


class RecordDeleted(RecordTrigger):
    name = "record_deleted"
    label = ("删除记录时", "Record deleted")
    event_kinds = frozenset({"deleted"})


class FieldChanged(TriggerType):
    name = "field_changed"
    label = ("字段变化时", "Fields changed")
    event_kinds = frozenset({"updated"})

    def check(self, app: AppSpec, rule: RuleSpec, at: str) -> list[Issue]:
        issues = unknown_settings(rule, ("fields",), at)
        if not rule.on.fields:
            issues.append(
                Issue(
                    f"{at}.fields",
                    "missing",
                    "请至少选择一个字段",
                    "Choose at least one field",
                )
            )
        refs = FormRefs(app)
        for index, key in enumerate(rule.on.fields):
            issues += refs.field_issues(rule.form, key, f"{at}.fields[{index}]", system=False)
        return issues

    def matches(self, rule: RuleSpec, event: RuleEvent) -> bool:
        return event.kind == "updated" and any(key in event.changes for key in rule.on.fields)


class FlowTrigger(TriggerType):
    """A flow event on a record of the rule's form; `flow` (and per type `node`, `action`,
    `outcome`) narrow it."""

    settings: ClassVar[tuple[str, ...]] = ("flow",)

    def check(self, app: AppSpec, rule: RuleSpec, at: str) -> list[Issue]:
        issues = unknown_settings(rule, self.settings, at)
        flows = [f for f in getattr(app, "flows", []) if f.form == rule.form]
        flow_key, found = _text_setting(rule, "flow", at)
        issues += found
        if flow_key is not None and flow_key not in {f.key for f in flows}:
            issues.append(
                Issue(
                    f"{at}.flow",
                    "unknown_flow",
                    f"表单 {rule.form} 没有流程 {flow_key}",
                    f"Form {rule.form} has no flow {flow_key}",
                )
            )
        if "node" in self.settings:
            node, found = _text_setting(rule, "node", at)
            issues += found
            chosen = [f for f in flows if flow_key is None or f.key == flow_key]
            nodes = {n.id for f in chosen for n in f.nodes}
            if node is not None and chosen and node not in nodes:
                issues.append(
                    Issue(
                        f"{at}.node",
                        "unknown_node",
                        f"流程中没有节点 {node}",
                        f"The flow has no node {node}",
                    )
                )
        for key, allowed in (("action", TASK_ACTIONS), ("outcome", FLOW_OUTCOMES)):
            if key not in self.settings:
                continue
            value, found = _text_setting(rule, key, at)
            issues += found
            if value is not None and value not in allowed:
                issues.append(
                    Issue(
                        f"{at}.{key}",
                        f"unknown_{key}",
                        f"未知的{'操作' if key == 'action' else '结果'} {value}（可用：{', '.join(allowed)}）",
                        f"Unknown {key} {value} (known: {', '.join(allowed)})",
                    )
                )
        return issues

    def matches(self, rule: RuleSpec, event: RuleEvent) -> bool:
        if event.kind not in self.event_kinds:
            return False
        wanted = settings_of(rule)
        for key in self.settings:
            value = wanted.get(key)
            if value is not None and event.data.get(key) != value:
                return False
        return True


class FlowStarted(FlowTrigger):
    name = "flow_started"
    label = ("流程发起时", "Flow started")
    event_kinds = frozenset({"flow_started"})


class FlowNodeEntered(FlowTrigger):
    name = "flow_node_entered"
    label = ("流程进入节点时", "Flow reached a node")
    event_kinds = frozenset({"flow_node_entered"})
    settings = ("flow", "node")


class FlowTaskDone(FlowTrigger):
    name = "flow_task_done"
    label = ("审批任务处理后", "Flow task done")
    event_kinds = frozenset({"flow_task_done"})
    settings = ("flow", "node", "action")


class FlowFinished(FlowTrigger):
    name = "flow_finished"
    label = ("流程结束时", "Flow finished")
    event_kinds = frozenset({"flow_finished"})
    settings = ("flow", "outcome")


for _trigger in (
    RecordCreated(),
    RecordUpdated(),
    RecordDeleted(),
    FieldChanged(),
    FlowStarted(),
    FlowNodeEntered(),
    FlowTaskDone(),
    FlowFinished(),
):
    if _trigger.name not in TRIGGERS:
        TRIGGERS.register(_trigger.name, _trigger)


__all__ = [
    "FLOW_OUTCOMES",
    "FieldChanged",
    "FlowFinished",
    "FlowNodeEntered",
    "FlowStarted",
    "FlowTaskDone",
    "FlowTrigger",
    "RecordCreated",
    "RecordDeleted",
    "RecordTrigger",
    "RecordUpdated",
    "settings_of",
    "unknown_settings",
]
