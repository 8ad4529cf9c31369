"""What the rule actions of `assign`, `notify` and `flow_action` share (issue 14): their
settings typed with a Pydantic model (`typed`), the refusal an action raises at run time
(`refusal`), and the rule's form and triggering record as an action needs them.

Settings are the action object's properties besides `type` (an action of these kinds has no
`form` or `values`), validated strictly: an unknown property, a missing one or a wrong type is
an `Issue` at `rules[i].actions[j].<property>` with the same zh/en messages as every other
part of a definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import select

from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.forms.common import Spec

if TYPE_CHECKING:
    from engine.forms.layout import FormLayout
    from engine.rules.kinds import ActionStep
    from engine.rules.spec import RuleAction

M = TypeVar("M", bound=Spec)


def settings_of(action: RuleAction) -> dict[str, Any]:
    """The action's own properties (everything but `type`; `form` and `values` only when set)."""
    data = action.model_dump(mode="json")
    data.pop("type", None)
    if data.get("form") is None:
        data.pop("form", None)
    if not data.get("values"):
        data.pop("values", None)
    return data


def typed(model: type[M], action: RuleAction, at: str) -> tuple[M | None, list[Issue]]:
    """The action's settings as `model`, or None and the issues at `at` (`rules[i].actions[j]`)."""
    from engine.forms.compile import issue_of_error

    data = settings_of(action)
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [issue_of_error(error, data).under(at) for error in exc.errors()]


def settings(model: type[M], step: ActionStep) -> M:
    """The running action's settings (a definition that slipped past publish is refused)."""
    found, issues = typed(model, step.action, "")
    if found is None:
        first = issues[0]
        raise ServiceError(
            422, "invalid_action", issues, message_zh=first.message_zh, message_en=first.message_en
        )
    return found


def refusal(code: str, zh: str, en: str, path: str = "") -> ServiceError:
    """422 `code` with one issue at `path` (relative to the action), its message also the
    error's: what an action raises when it cannot do its work."""
    return ServiceError(422, code, [Issue(path, code, zh, en)], message_zh=zh, message_en=en)


def rule_form(step: ActionStep) -> FormLayout:
    """The live layout of the rule's form (refused when the rule has none)."""
    key = step.rule.form
    form = step.app.layout.forms.get(key or "")
    if form is None:
        raise refusal(
            "no_form", "规则没有指定表单，无法执行此动作", "The rule has no form to act on", "form"
        )
    return form


def triggering_id(step: ActionStep) -> int:
    """The id of the triggering record (refused when the event has none)."""
    if step.event.record_id is None:
        raise refusal(
            "no_record",
            "此动作需要触发记录，但本次触发没有记录",
            "This action needs a triggering record, and this run has none",
        )
    return int(step.event.record_id)


def live_owner(step: ActionStep, form: FormLayout, record_id: int) -> int | None:
    """The record's owner now, read in the action's transaction (refused when the record is
    gone: deleted, or never committed)."""
    table = form.table
    row = step.conn.execute(
        select(table.c._owner).where(table.c._id == record_id, table.c._deleted_at.is_(None))
    ).first()
    if row is None:
        raise refusal(
            "record_gone",
            f"触发记录 #{record_id} 已不存在或已删除",
            f"The triggering record #{record_id} no longer exists or was deleted",
        )
    return None if row[0] is None else int(row[0])


def label_text(value: Any, locale: str = "zh") -> str:
    """A zh/en label (or plain text) as text in `locale`, the other language as fallback."""
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        other = "en" if locale == "zh" else "zh"
        return str(value.get(locale) or value.get(other) or "")
    return "" if value is None else str(value)


__all__ = [
    "label_text",
    "live_owner",
    "refusal",
    "rule_form",
    "settings",
    "settings_of",
    "triggering_id",
    "typed",
]
