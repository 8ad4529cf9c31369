"""The rule action `start_flow` (issue 14): start an approval flow on the triggering record.

`{"type": "start_flow", "flow": "contract_approval"}` starts that flow of the rule's form on
the triggering record through `engine.flows.runtime.start`, on the app's live revision, in the
rule's transaction (so a sync rule's flow rows are written with the save, and a refused save
starts nothing). The initiator is who made the change (the event's actor), else the record's
owner. A record with a live instance already (running or returned, of any flow) is left alone:
the outcome is `already_running`, not an error. An unknown flow, or a flow of another form, is
an issue at publish (`…flow`); a flow with no nodes yet (a draft) refuses the run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.core.issues import Issue
from engine.flows import runtime
from engine.forms.common import Key, Spec
from engine.forms.spec import AppSpec
from engine.rules.action_settings import (
    live_owner,
    refusal,
    rule_form,
    settings,
    triggering_id,
    typed,
)
from engine.rules.kinds import ACTIONS, ActionStep, ActionType


class StartFlowSettings(Spec):
    """`start_flow`'s settings: the key of a flow of the rule's form."""

    flow: Key


def _flow_form(flow: Any) -> tuple[str | None, str | None]:
    """(key, form) of a flow of the definition, typed or plain JSON."""
    if isinstance(flow, dict):
        return flow.get("key"), flow.get("form")
    return getattr(flow, "key", None), getattr(flow, "form", None)


class StartFlow(ActionType):
    """`start_flow`: starts the named flow on the triggering record (module docstring)."""

    name = "start_flow"
    label = ("发起流程", "Start a flow")
    writes_records = True  # the instance, its tasks and timeline are written in the transaction

    def check(self, app: AppSpec, rule: Any, action: Any, at: str) -> list[Issue]:
        found, issues = typed(StartFlowSettings, action, at)
        if found is None:
            return issues
        flows = dict(_flow_form(flow) for flow in app.flows)
        if found.flow not in flows:
            return [
                Issue(
                    f"{at}.flow",
                    "unknown_flow",
                    f"流程 {found.flow} 不存在",
                    f"Flow {found.flow} does not exist",
                )
            ]
        if rule.form is None or flows[found.flow] != rule.form:
            return [
                Issue(
                    f"{at}.flow",
                    "flow_of_other_form",
                    f"流程 {found.flow} 属于表单 {flows[found.flow]}，不是本规则的表单 {rule.form}",
                    f"Flow {found.flow} belongs to form {flows[found.flow]}, not to this rule's "
                    f"form {rule.form}",
                )
            ]
        return []

    def run(self, step: ActionStep) -> dict[str, Any]:
        found = settings(StartFlowSettings, step)
        form = rule_form(step)
        record_id = triggering_id(step)
        owner = live_owner(step, form, record_id)  # refuses a record that is gone
        live = runtime.live_instances(step.conn, form.id, [record_id])
        if record_id in live:
            return {"outcome": "already_running", "instance": live[record_id]}
        table = form.table
        version = step.conn.execute(
            select(table.c._version).where(table.c._id == record_id)
        ).scalar()
        initiator = step.event.actor if step.event.actor is not None else owner
        started = runtime.start(
            step.conn,
            step.ctx,
            app_key=step.app.key,
            form_key=form.key,
            record_id=record_id,
            initiator_id=initiator,
            record_version=None if version is None else int(version),
            flow_key=found.flow,
        )
        if started is None:
            raise refusal(
                "flow_not_runnable",
                f"流程 {found.flow} 不是本表单可运行的流程（可能还没有节点）",
                f"Flow {found.flow} is not a runnable flow of this form (it may have no nodes yet)",
                "flow",
            )
        return {"outcome": "started", "instance": started, "flow": found.flow}


ACTIONS.register(StartFlow.name, StartFlow())

__all__ = ["StartFlow", "StartFlowSettings"]
