"""The button trigger of rules (issue 14): `button` `{label, roles?}` puts a button on the record
page of the rule's form; a person who may read the record (and holds one of `roles`, app role
keys, when given; administrators always may) fires the rule for that record.

`buttons` lists the buttons of a form a member may press (live, switched-on button rules);
`press` fires one through `engine.rules.runtime.fire` as the member (the run's event carries
who pressed it; actions still run as the rule, one cascade level deeper): a sync rule runs in
the request's transaction and its refusal refuses the press (422, nothing written); an async
rule queues a run. The HTTP doors are `engine.api.routes.rule_buttons`.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Connection

from engine.auth.permissions import held_roles, user_departments
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.forms.apps import LoadedApp
from engine.forms.common import Label
from engine.forms.spec import AppSpec
from engine.rules import runtime
from engine.rules.kinds import TRIGGERS, RuleEvent, TriggerType
from engine.rules.spec import RuleSpec
from engine.rules.triggers import settings_of, unknown_settings

LABEL: TypeAdapter[Any] = TypeAdapter(Label)


class ButtonTrigger(TriggerType):
    """`button` `{label: {zh, en}, roles?: [app role keys]}`: a button on the record page."""

    name = "button"
    label = ("按钮", "Button")

    def check(self, app: AppSpec, rule: RuleSpec, at: str) -> list[Issue]:
        issues = unknown_settings(rule, ("label", "roles"), at)
        on = settings_of(rule)
        label = on.get("label")
        try:
            text = LABEL.validate_python(label) if label is not None else None
        except ValidationError:
            text = None
        if not _label_text(text):
            issues.append(
                Issue(
                    f"{at}.label",
                    "missing",
                    "请填写按钮文字（中文和/或英文）",
                    "Enter the button's label (Chinese and/or English)",
                )
            )
        roles = on.get("roles")
        if roles is not None:
            known = {role.key for role in app.roles}
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                issues.append(
                    Issue(
                        f"{at}.roles",
                        "list_type",
                        "应为角色标识的列表",
                        "Expected a list of role keys",
                    )
                )
            else:
                for index, key in enumerate(roles):
                    if key not in known:
                        issues.append(
                            Issue(
                                f"{at}.roles[{index}]",
                                "unknown_role",
                                f"应用没有角色 {key}",
                                f"The app has no role {key}",
                            )
                        )
        return issues


def _label_text(label: Any) -> tuple[str, str] | None:
    """The label in Chinese and English (either falls back to the other), or None if blank."""
    if isinstance(label, str):
        return (label, label) if label.strip() else None
    zh = getattr(label, "zh", None) or ""
    en = getattr(label, "en", None) or ""
    if not zh.strip() and not en.strip():
        return None
    return zh or en, en or zh


if ButtonTrigger.name not in TRIGGERS:
    TRIGGERS.register(ButtonTrigger.name, ButtonTrigger())


def _roles_of(rule: RuleSpec) -> list[str] | None:
    roles = settings_of(rule).get("roles")
    return [str(r) for r in roles] if isinstance(roles, list) and roles else None


def _held(conn: Connection, app: LoadedApp, user_id: int | None) -> set[str]:
    if user_id is None:
        return set()
    return held_roles(conn, app.id, user_id, user_departments(conn, user_id))


def may_press(rule: RuleSpec, is_admin: bool, held: set[str]) -> bool:
    """Whether a caller holding app roles `held` may press the rule's button."""
    roles = _roles_of(rule)
    return is_admin or roles is None or bool(held.intersection(roles))


def buttons(
    conn: Connection, app: LoadedApp, form: str, user_id: int | None, is_admin: bool
) -> list[dict[str, Any]]:
    """The buttons of `form`'s record page the caller may press: each live, switched-on
    button rule's key, label (`{zh, en}`) and mode, in definition order."""
    rules = runtime.live_rules(app)
    wanted = [
        rule
        for rule in rules.by_key.values()
        if rule.spec.on.type == ButtonTrigger.name and rule.spec.form == form
    ]
    if not wanted:
        return []
    switched = runtime.switches(conn, app.id)
    held = set() if is_admin else _held(conn, app, user_id)
    found = []
    for rule in wanted:
        if not runtime.is_enabled(rule, switched) or not may_press(rule.spec, is_admin, held):
            continue
        label = _label_text(LABEL.validate_python(settings_of(rule.spec).get("label")))
        zh, en = label or runtime.names(rule)
        found.append({"rule": rule.key, "label": {"zh": zh, "en": en}, "mode": rule.spec.mode})
    return found


def live_button(app: LoadedApp, rule_key: str) -> runtime.LiveRule:
    """The live button rule `rule_key` of `app`; 404 for an unknown rule or another trigger."""
    rule = runtime.live_rules(app).by_key.get(rule_key)
    if rule is None or rule.spec.on.type != ButtonTrigger.name:
        raise not_found()
    return rule


def press(
    conn: Connection,
    ctx: ExecutionContext,
    app: LoadedApp,
    rule_key: str,
    record_id: int,
    *,
    is_admin: bool,
) -> list[int]:
    """Fire button rule `rule_key` for record `record_id` as `ctx`'s actor, who must have read
    the record already (the caller checks). 404 for a rule that is not a live button rule; 403
    `forbidden` for a caller outside its `roles`; 409 `rule_disabled` for a rule switched
    off. The runs logged (none when the condition is false)."""
    rule = live_button(app, rule_key)
    if not may_press(
        rule.spec, is_admin, set() if is_admin else _held(conn, app, ctx.actor.user_id)
    ):
        raise ServiceError(
            403,
            "forbidden",
            message_zh="你的角色不能使用这个按钮",
            message_en="Your role may not use this button",
        )
    if not runtime.is_enabled(rule, runtime.switches(conn, app.id)):
        raise ServiceError(
            409,
            "rule_disabled",
            message_zh="这个按钮的规则已停用",
            message_en="This button's rule is switched off",
        )
    event = RuleEvent(
        kind="button",
        app=app.key,
        form=rule.spec.form,
        record_id=record_id,
        actor=ctx.actor.user_id,
        channel=ctx.channel,
        depth=ctx.depth,
        at=ctx.now,
        data={"user": ctx.actor.user_id},
    )
    return runtime.fire(conn, ctx, app.key, rule.key, event, [record_id])


__all__ = ["ButtonTrigger", "buttons", "live_button", "may_press", "press"]
