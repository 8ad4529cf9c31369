"""The rule action `assign_owner` (issue 14): give the triggering record an owner.

```json
{"type": "assign_owner", "strategy": "round_robin", "role": "sales_rep", "notify": true,
 "set_field": "owner"}
{"type": "assign_owner", "strategy": "least_open", "users": ["rep_a1", "rep_b1"],
 "open_filter": "status <> \"converted\""}
{"type": "assign_owner", "strategy": "mapping", "field": "source",
 "map": {"website": "rep_a1", "referral": "rep_b1"}, "default": "rep_a2"}
```

- **Candidates** (`round_robin`, `least_open`): the usernames in `users`, in that order, or the
  active members of the app role `role`, by user id; deactivated and unknown users are left out.
- **round_robin** takes the next turn of the rule's counter row (`engine.rules.counters`, one
  per rule and action) and gives the record to candidate `(turn - 1) mod len(candidates)`: the
  turn survives restarts and two concurrent saves never share one. When the candidate list
  changes (a rep leaves), the cycle goes on over the new list from the same counter.
- **least_open**: the candidate owning the fewest live records of the rule's form matching
  `open_filter` (a formula over that form; none: every record), the triggering record itself
  not counted; ties go to the earlier candidate. One grouped `COUNT` in SQL.
- **mapping**: `map` from the value of `field` (a single-choice `select` field of the rule's
  form) to a username; `default` when the value is not mapped or its user is inactive.

Nobody to assign to is an error (`no_assignee`, so the run log shows it). The owner is set
through the record service's `transfer` as the rule's actor (history, a `transferred` event);
a record already owned by the chosen user is left as it is. `notify: true` also writes an
`assigned_record` notification to the new owner.

`set_field` (optional) names a person field (`user`) of the rule's form that gets the chosen
user too — the form's own 负责人 column, which lists and filters show — written through the
record service (validated, historied) in the same run; left as it is when it already holds
that user.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import func, select

from engine.core.issues import Issue
from engine.flows.assignees import role_members
from engine.forms.common import Key, Spec
from engine.forms.layout import FormLayout
from engine.forms.query import Reader
from engine.forms.references import FormRefs
from engine.forms.service import open_form, system_caller
from engine.forms.spec import AppSpec
from engine.rules import counters
from engine.rules.action_settings import (
    live_owner,
    refusal,
    rule_form,
    settings,
    triggering_id,
    typed,
)
from engine.rules.kinds import ACTIONS, ActionStep, ActionType
from engine.rules.notify import active_users, notify_users, user_ids_by_name

STRATEGIES = ("round_robin", "least_open", "mapping")


class AssignSettings(Spec):
    """`assign_owner`'s settings (see the module docstring)."""

    strategy: Literal["round_robin", "least_open", "mapping"]
    users: list[str] | None = Field(default=None, min_length=1)
    role: Key | None = None
    open_filter: str | None = None
    field: Key | None = None
    map: dict[str, str] | None = None
    default: str | None = None
    notify: bool = False
    set_field: Key | None = None


def _issue(path: str, code: str, zh: str, en: str) -> Issue:
    return Issue(path, code, zh, en)


def _check_candidates(found: AssignSettings, app: AppSpec, at: str) -> list[Issue]:
    if found.users and found.role:
        return [
            _issue(
                f"{at}.role",
                "conflict",
                "users 和 role 只能二选一",
                "Give either users or role, not both",
            )
        ]
    if not found.users and not found.role:
        return [
            _issue(
                f"{at}.users",
                "missing",
                "请指定候选人：users（用户名列表）或 role（应用角色）",
                "Name the candidates: users (usernames) or role (an app role)",
            )
        ]
    if found.role and found.role not in {role.key for role in app.roles}:
        return [
            _issue(
                f"{at}.role",
                "unknown_role",
                f"角色 {found.role} 不存在",
                f"Role {found.role} does not exist",
            )
        ]
    return []


def _check_mapping(found: AssignSettings, app: AppSpec, form: str | None, at: str) -> list[Issue]:
    issues: list[Issue] = []
    if found.field is None:
        return [
            _issue(
                f"{at}.field",
                "missing",
                "按映射分配需要指定选项字段 field",
                "A mapping needs the choice field it reads (field)",
            )
        ]
    if not found.map and found.default is None:
        issues.append(
            _issue(
                f"{at}.map",
                "missing",
                "请填写映射表 map 或默认负责人 default",
                "Give the mapping (map) or a default owner (default)",
            )
        )
    spec = next((f for f in app.forms if f.key == form), None)
    field = None if spec is None else next((f for f in spec.fields if f.key == found.field), None)
    if spec is None:
        return issues
    if field is None:
        return [
            *issues,
            _issue(
                f"{at}.field",
                "unknown_field",
                f"字段 {found.field} 不存在",
                f"Field {found.field} does not exist",
            ),
        ]
    if field.type != "select":
        return [
            *issues,
            _issue(
                f"{at}.field",
                "not_a_choice",
                f"字段 {found.field} 不是单选字段，不能按它映射负责人",
                f"Field {found.field} is not a single-choice (select) field to map owners from",
            ),
        ]
    options = {option.value for option in getattr(field, "options", [])}
    for value in found.map or {}:
        if value not in options:
            issues.append(
                _issue(
                    f"{at}.map.{value}",
                    "unknown_option",
                    f"{value} 不是字段 {found.field} 的选项",
                    f"{value} is not an option of field {found.field}",
                )
            )
    return issues


def _check_set_field(found: AssignSettings, app: AppSpec, form: str | None, at: str) -> list[Issue]:
    """`set_field` must be a person field (`user`, one member) of the rule's form."""
    if found.set_field is None:
        return []
    spec = next((f for f in app.forms if f.key == form), None)
    if spec is None:
        return []
    field = next((f for f in spec.fields if f.key == found.set_field), None)
    if field is None:
        return [
            _issue(
                f"{at}.set_field",
                "unknown_field",
                f"字段 {found.set_field} 不存在",
                f"Field {found.set_field} does not exist",
            )
        ]
    if field.type != "user":
        return [
            _issue(
                f"{at}.set_field",
                "not_a_user_field",
                f"字段 {found.set_field} 不是人员字段，不能填入负责人",
                f"Field {found.set_field} is not a person (user) field to put the owner in",
            )
        ]
    return []


class AssignOwner(ActionType):
    """`assign_owner`: sets the triggering record's owner by round robin, least open records or
    a mapping (see the module docstring)."""

    name = "assign_owner"
    label = ("分配负责人", "Assign owner")
    writes_records = True

    def check(self, app: AppSpec, rule: Any, action: Any, at: str) -> list[Issue]:
        found, issues = typed(AssignSettings, action, at)
        if found is None:
            return issues
        if rule.form is None:
            return [
                _issue(
                    f"{at}.strategy",
                    "missing",
                    "分配负责人需要规则指定表单",
                    "Assigning an owner needs the rule to have a form",
                )
            ]
        own = _check_set_field(found, app, rule.form, at)
        if found.strategy == "mapping":
            return _check_mapping(found, app, rule.form, at) + own
        issues = _check_candidates(found, app, at)
        if found.strategy == "least_open" and found.open_filter:
            refs = FormRefs(app)
            issues += refs.condition_issues(rule.form, found.open_filter, f"{at}.open_filter")
        return issues + own

    def run(self, step: ActionStep) -> dict[str, Any]:
        found = settings(AssignSettings, step)
        form = rule_form(step)
        record_id = triggering_id(step)
        before = live_owner(step, form, record_id)
        outcome: dict[str, Any] = {"strategy": found.strategy}
        if found.strategy == "mapping":
            owner = self._mapped(step, found)
        else:
            candidates = self._candidates(step, found)
            if not candidates:
                raise refusal(
                    "no_assignee",
                    "没有可分配的在职候选人",
                    "There is no active candidate to assign the record to",
                    "role" if found.role else "users",
                )
            if found.strategy == "round_robin":
                turn = counters.advance(
                    step.conn, step.app.id, step.rule.key, f"actions[{step.index}]", step.ctx.now
                )
                owner = candidates[(turn - 1) % len(candidates)]
                outcome["turn"] = turn
            else:
                owner, load = self._least_open(step, found, candidates, record_id)
                outcome["open_records"] = load
        names = active_users(step.conn, [owner])
        outcome.update(owner=owner, username=names.get(owner), previous=before)
        outcome["changed"] = owner != before
        if owner != before:
            service = open_form(step.ctx, step.conn, step.app, form.key, system_caller(via="rule"))
            service.transfer([record_id], owner)
        if found.set_field:
            outcome["set_field"] = self._set_field(step, form, record_id, found.set_field, owner)
        if found.notify:
            title_key = form.title_field
            title = (step.record or {}).get(title_key) if title_key else None
            notify_users(step, [owner], "assigned_record", {"title": title})
            outcome["notified"] = [owner]
        return outcome

    @staticmethod
    def _set_field(
        step: ActionStep, form: FormLayout, record_id: int, key: str, owner: int
    ) -> bool:
        """Put `owner` into the person field `key` of the record (through the record service, at
        the version it has now); whether it changed."""
        layout = form.fields.get(key)
        if layout is None:  # a definition that slipped past publish
            raise refusal(
                "unknown_field", f"字段 {key} 不存在", f"Field {key} does not exist", "set_field"
            )
        table = form.table
        row = step.conn.execute(
            select(table.c[layout.column], table.c._version)
            .where(table.c._id == record_id, table.c._deleted_at.is_(None))
            .with_for_update()
        ).first()
        if row is None or (row[0] is not None and int(row[0]) == owner):
            return False
        service = open_form(step.ctx, step.conn, step.app, form.key, system_caller(via="rule"))
        service.writer().update(
            step.conn, record_id, {key: owner, "_version": row[1]}, step.ctx.actor
        )
        return True

    @staticmethod
    def _candidates(step: ActionStep, found: AssignSettings) -> list[int]:
        """Active candidate user ids, in the order the strategy walks them."""
        if found.users:
            by_name = user_ids_by_name(step.conn, found.users)
            return list(dict.fromkeys(by_name[u] for u in found.users if u in by_name))
        members = role_members(step.conn, step.app.id, {found.role or ""})
        return list(members.get(found.role or "", ()))

    @staticmethod
    def _least_open(
        step: ActionStep, found: AssignSettings, candidates: list[int], record_id: int
    ) -> tuple[int, int]:
        """The candidate owning the fewest open records (ties: the earlier one) and that count."""
        form = rule_form(step)
        scoped = Reader(step.app.layout, form, step.ctx).scoped(filter=found.open_filter or None)
        table = form.table
        rows = step.conn.execute(
            select(table.c._owner, func.count())
            .where(scoped.where, table.c._owner.in_(candidates), table.c._id != record_id)
            .group_by(table.c._owner)
        ).all()
        load = {int(owner): int(count) for owner, count in rows}
        best = min(candidates, key=lambda user: (load.get(user, 0), candidates.index(user)))
        return best, load.get(best, 0)

    @staticmethod
    def _mapped(step: ActionStep, found: AssignSettings) -> int:
        """The user the record's option maps to, else the default (active users only)."""
        value = (step.record or {}).get(found.field or "")
        wanted = (found.map or {}).get(value) if isinstance(value, str) else None
        names = [n for n in (wanted, found.default) if n]
        by_name = user_ids_by_name(step.conn, names)
        for name in names:
            if name in by_name:
                return by_name[name]
        raise refusal(
            "no_assignee",
            f"选项 {value} 没有对应的在职负责人，也没有可用的默认负责人",
            f"Option {value} maps to no active user and there is no active default owner",
            "map",
        )


ACTIONS.register(AssignOwner.name, AssignOwner())

__all__ = ["STRATEGIES", "AssignOwner", "AssignSettings"]
