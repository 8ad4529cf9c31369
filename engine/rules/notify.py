"""The rule action `notify` (issue 14): an in-app notice to people, in the inbox's bell.

```json
{"type": "notify", "to": [{"role": "sales_director"}, {"owner": true}],
 "title": "大单：{{ title }}（{{ amount }} 元）", "body": "客户 {{ customer.title }}"}
```

- **Recipients** (`to`): `{"user": username}`, `{"role": app-role key}` (its active members,
  direct or through a department, as flow assignees read them), `{"field": key}` (the people in
  a user/users field of the rule's form), `{"owner": true}` (the triggering record's owner),
  `{"actor": true}` (who made the change). Deduplicated in that order; missing and deactivated
  users are skipped; nobody left is an outcome (`notified: []`), not an error.
- **Text**: `title` and `body` are Jinja2 templates run in jinja2's `SandboxedEnvironment` over
  the triggering record's values by field key (record JSON: a relation is `{_id, title}`, a
  person `{id, name}`), plus `record_title`, `app` and `form` (names in the context's language)
  and `app_key`, `form_key`, `record_id`. A syntax error or a name that is neither a field nor
  one of those is an issue at publish, at `…title`/`…body`. `range` is limited to 1,000 items
  and the output of each to `TITLE_MAX`/`BODY_MAX` characters, so one template cannot tie up a
  save.
- **Rows**: one `notifications` row per recipient, kind `rule`, linked to the app, form and
  record, with `data` = `{app, form, rule, rule_name, title, body}` (keys of app and form, the
  rendered text), which the bell shows as the title with the body under it.

`notify_users` writes such rows for other actions too (`assign_owner`'s `assigned_record`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, model_validator
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from engine.core.issues import Issue
from engine.flows.assignees import role_members, user_ids_in
from engine.flows.models import Notification
from engine.forms.common import Key, Spec
from engine.forms.spec import AppSpec
from engine.rules.action_settings import (
    label_text,
    refusal,
    rule_form,
    settings,
    triggering_id,
    typed,
)
from engine.rules.kinds import ACTIONS, ActionStep, ActionType
from engine.store.models import User

TITLE_MAX = 200
BODY_MAX = 2000
RANGE_MAX = 1000
EXTRA_NAMES = frozenset({"record_title", "app", "form", "app_key", "form_key", "record_id"})
"""What a template may read besides the record's fields."""
PEOPLE_TYPES = frozenset({"user", "users"})


class Recipient(Spec):
    """One recipient entry: exactly one of `user`, `role`, `field`, `owner`, `actor`."""

    user: str | None = None
    role: Key | None = None
    field: Key | None = None
    owner: Literal[True] | None = None
    actor: Literal[True] | None = None

    @model_validator(mode="after")
    def _one(self) -> Recipient:
        given = [
            name for name in ("user", "role", "field", "owner", "actor") if getattr(self, name)
        ]
        if len(given) != 1:
            raise ValueError(
                "a recipient is exactly one of user, role, field, owner: true, actor: true"
            )
        return self


class NotifySettings(Spec):
    """`notify`'s settings: recipients, title template, optional body template."""

    to: list[Recipient] = Field(min_length=1)
    title: str = Field(min_length=1, max_length=1000)
    body: str | None = Field(default=None, max_length=10000)


def _limited_range(*args: int) -> range:
    found = range(*args)
    if len(found) > RANGE_MAX:
        raise jinja2.sandbox.SecurityError(f"range is limited to {RANGE_MAX} items")
    return found


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=False, undefined=jinja2.ChainableUndefined, keep_trailing_newline=False
    )
    env.globals["range"] = _limited_range
    return env


ENV = _environment()


def template_issues(source: str, names: Iterable[str], at: str) -> list[Issue]:
    """A template's syntax error, or each name it reads that is not in `names`, at `at`."""
    try:
        tree = ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [
            Issue(
                at,
                "template_syntax",
                f"模板语法错误（第 {exc.lineno} 行）：{exc.message}",
                f"Template syntax error (line {exc.lineno}): {exc.message}",
                line=exc.lineno,
            )
        ]
    known = set(names) | EXTRA_NAMES | set(ENV.globals)
    return [
        Issue(
            at,
            "unknown_field",
            f"模板中的 {name} 不是表单字段，也不是 record_title、app、form",
            f"{name} in the template is neither a field of the form nor record_title, app, form",
        )
        for name in sorted(meta.find_undeclared_variables(tree) - known)
    ]


def render(source: str, values: Mapping[str, Any], limit: int, at: str) -> str:
    """The template rendered over `values` (at most `limit` characters); 422 at `at` when it
    fails (an error while rendering, or an operation the sandbox refuses)."""
    try:
        template = ENV.from_string(source)
        out: list[str] = []
        size = 0
        for chunk in template.generate(dict(values)):
            out.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    except Exception as exc:  # a template is user input: any failure is its error
        raise refusal(
            "template_error",
            f"模板无法生成文本：{exc}",
            f"The template could not be rendered: {exc}",
            at,
        ) from None
    return "".join(out)[:limit].strip()


def template_values(step: ActionStep) -> dict[str, Any]:
    """What templates read: the record's values by key, its title, app and form names."""
    form = rule_form(step)
    record = dict(step.record or {})
    title_key = form.title_field
    locale = step.ctx.locale
    values = dict(record)
    values.update(
        record_title=record.get(title_key) if title_key else None,
        app=label_text(step.app.layout.spec.name, locale),
        form=label_text(form.spec.name, locale),
        app_key=step.app.key,
        form_key=form.key,
        record_id=step.event.record_id,
    )
    return values


def active_users(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    """Those of `ids` that are active users, with their usernames."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        select(User.id, User.username).where(User.id.in_(wanted), User.is_active.is_(True))
    ).all()
    return {int(r.id): r.username for r in rows}


def user_ids_by_name(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Active users by username (missing and deactivated ones left out)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = conn.execute(
        select(User.id, User.username).where(User.username.in_(wanted), User.is_active.is_(True))
    ).all()
    return {r.username: int(r.id) for r in rows}


def recipients(step: ActionStep, entries: Sequence[Recipient]) -> list[int]:
    """The active users the entries give, in entry order, each once."""
    conn, record = step.conn, step.record or {}
    by_name = user_ids_by_name(conn, [e.user for e in entries if e.user])
    roles = role_members(conn, step.app.id, {e.role for e in entries if e.role})
    wanted: list[int] = []
    for entry in entries:
        if entry.user:
            found = by_name.get(entry.user)
            wanted += [] if found is None else [found]
        elif entry.role:
            wanted += list(roles.get(entry.role, ()))
        elif entry.field:
            wanted += list(user_ids_in(record.get(entry.field)))
        elif entry.owner:
            wanted += list(user_ids_in(record.get("_owner")))
        elif entry.actor and step.event.actor is not None:
            wanted.append(int(step.event.actor))
    active = active_users(conn, wanted)
    return [user for user in dict.fromkeys(wanted) if user in active]


def notify_users(
    step: ActionStep, users: Sequence[int], kind: str, data: Mapping[str, Any]
) -> None:
    """One notification of `kind` per user, linked to the triggering record of the rule's form,
    with `data` plus the app and form keys and the rule's key and name."""
    if not users:
        return
    form = rule_form(step)
    full = {
        "app": step.app.key,
        "form": form.key,
        "rule": step.rule.key,
        "rule_name": step.rule.name.model_dump()
        if hasattr(step.rule.name, "model_dump")
        else step.rule.name,
        **data,
    }
    step.conn.execute(
        insert(Notification),
        [
            {
                "user_id": user,
                "kind": kind,
                "app_id": step.app.id,
                "form_id": form.id,
                "record_id": step.event.record_id,
                "task_id": None,
                "data": full,
                "read_at": None,
                "created_at": step.ctx.now,
            }
            for user in users
        ],
    )


def _form_fields(app: AppSpec, form: str | None) -> dict[str, Any]:
    found = next((f for f in app.forms if f.key == form), None)
    return {} if found is None else {f.key: f for f in found.fields}


class NotifyAction(ActionType):
    """`notify`: an inbox notice to the recipients, with text from templates (module docstring)."""

    name = "notify"
    label = ("站内通知", "In-app notice")
    writes_records = False

    def check(self, app: AppSpec, rule: Any, action: Any, at: str) -> list[Issue]:
        found, issues = typed(NotifySettings, action, at)
        if found is None:
            return issues
        fields = _form_fields(app, rule.form)
        if rule.form is None:
            issues.append(
                Issue(
                    f"{at}.to",
                    "missing",
                    "站内通知需要规则指定表单",
                    "An in-app notice needs the rule to have a form",
                )
            )
        roles = {role.key for role in app.roles}
        for index, entry in enumerate(found.to):
            where = f"{at}.to[{index}]"
            if entry.role and entry.role not in roles:
                issues.append(
                    Issue(
                        f"{where}.role",
                        "unknown_role",
                        f"角色 {entry.role} 不存在",
                        f"Role {entry.role} does not exist",
                    )
                )
            if entry.field and rule.form is not None:
                spec = fields.get(entry.field)
                if spec is None:
                    issues.append(
                        Issue(
                            f"{where}.field",
                            "unknown_field",
                            f"字段 {entry.field} 不存在",
                            f"Field {entry.field} does not exist",
                        )
                    )
                elif spec.type not in PEOPLE_TYPES:
                    issues.append(
                        Issue(
                            f"{where}.field",
                            "not_a_user_field",
                            f"字段 {entry.field} 不是成员字段，不能作为接收人",
                            f"Field {entry.field} is not a member field; it cannot name recipients",
                        )
                    )
        names = [*fields, "_id", "_owner", "_created_by", "_updated_by", "_created_at"]
        names += ["_updated_at", "_version"]
        issues += template_issues(found.title, names, f"{at}.title")
        if found.body is not None:
            issues += template_issues(found.body, names, f"{at}.body")
        return issues

    def run(self, step: ActionStep) -> dict[str, Any]:
        found = settings(NotifySettings, step)
        triggering_id(step)
        values = template_values(step)
        title = render(found.title, values, TITLE_MAX, "title")
        body = None if found.body is None else render(found.body, values, BODY_MAX, "body")
        users = recipients(step, found.to)
        notify_users(step, users, "rule", {"title": title, "body": body})
        return {"notified": users, "title": title, "body": body}


ACTIONS.register(NotifyAction.name, NotifyAction())

__all__ = [
    "BODY_MAX",
    "TITLE_MAX",
    "NotifyAction",
    "NotifySettings",
    "Recipient",
    "active_users",
    "notify_users",
    "recipients",
    "render",
    "template_issues",
    "template_values",
    "user_ids_by_name",
]
