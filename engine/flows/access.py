"""What a flow task lets its holder read (issue 13 "Access"): the flow engine's record grant.

A member holding a task on a record's instance may read that one record even when no role of
theirs reaches it (no `view` on the form, or a row scope that leaves it out):

- **which tasks**: an open task (待办), a cc task (抄送我) and a task they acted on (已办:
  approved, rejected, handled, resubmitted). A task cancelled (another approver of a 或签 node
  decided, the instance was withdrawn, rejected or cancelled), transferred away or still
  waiting (依次, not their turn) grants nothing; a deleted record is gone for everyone;
- **what they see**: the node's field access (`engine.flows.field_access.node_access`: a field
  the node hides, and every field derived from one, is absent exactly as a role-hidden field
  is). With a role that views the form, the node *narrows* it: a field hidden by the role
  stays hidden. Without one, the task *grants* reading (never more) and fields computed from
  other forms' fields hidden from them stay hidden (`engine.auth.derived`). Relations inside
  are read with their own rights on the target forms (a customer outside their scope shows
  no title);
- **what it does not open**: the rights allow `view` of that record id only — never a list,
  count, export, history or any write (edits go through the task's action, `runtime.act`).

`task_grant` is registered in `engine.forms.grants.RECORD_GRANTS` (by `register`, which
`create_app` calls); the record service asks it only after the member's own rights refused the
record. `task_answer` is what `GET /tasks/{id}` returns: the task, the record as the task lets
its holder read it, and the node's effective `fields`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import ColumnElement

from engine.apps.pipeline import load_revision
from engine.auth.derived import derived_hidden
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError, not_found
from engine.core.registry import DuplicateNameError
from engine.flows import inbox
from engine.flows.field_access import NodeAccess, check_edit, node_access
from engine.flows.models import FlowInstance, FlowTask
from engine.flows.runtime import FlowPlan
from engine.forms import apps as forms_apps
from engine.forms.access import Access
from engine.forms.grants import RECORD_GRANTS
from engine.forms.layout import FormLayout
from engine.forms.roles import FormPermission, RoleSpec
from engine.forms.service import Caller, RecordService

if TYPE_CHECKING:
    from engine.forms.apps import LoadedApp

NAME = "flow_tasks"
ACTED = ("approve", "reject", "handle", "resubmit")  # done tasks that still grant reading
EDITING_KINDS = ("approve", "handle")
_READER_ROLE = "flow_task_reader__"  # a stand-in role viewing the task's form (derived hidden)


@dataclass(frozen=True)
class TaskAccess:
    """Rights to read one record through a flow task (`engine.forms.access.Access`): `view`
    of `record_id` only, every field read-only except `hidden_keys`; other forms read with
    `own` (the holder's own rights; None: unrestricted, administrators)."""

    record_id: int
    user_id: int | None
    department_ids: tuple[int, ...]
    hidden_keys: frozenset[str]
    own: Access | None
    fingerprint: None = None  # SQL with these rights is built per call, never kept

    def allows(self, action: str) -> bool:
        return action == "view"

    def access(self, key: str) -> str:
        return "hidden" if key in self.hidden_keys else "read_only"

    def hidden(self) -> frozenset[str]:
        return self.hidden_keys

    def where(self, action: str, table: Any, resolver: Any) -> ColumnElement[bool]:
        if action != "view":
            return false()
        condition: ColumnElement[bool] = table.c._id == self.record_id
        return condition

    def on(self, form: FormLayout) -> Access | None:
        """Relations are read with the holder's own rights on the target form."""
        return None if self.own is None else self.own.on(form)


def _granting() -> ColumnElement[bool]:
    return or_(
        FlowTask.state == "open",
        FlowTask.kind == "cc",
        and_(FlowTask.state == "done", FlowTask.action.in_(ACTED)),
    )


def grants(task: Any) -> bool:
    """Whether a task row (state, kind, action) lets its holder read the record."""
    return bool(
        task.state == "open" or task.kind == "cc" or (task.state == "done" and task.action in ACTED)
    )


_TASK_COLUMNS = (
    FlowTask.id,
    FlowTask.node,
    FlowTask.kind,
    FlowTask.state,
    FlowTask.action,
    FlowTask.assignee_id,
    FlowInstance.app_id,
    FlowInstance.form_id,
    FlowInstance.record_id,
    FlowInstance.revision,
    FlowInstance.flow_key,
)


def granting_task(conn: Connection, user_id: int, form_id: int, record_id: int) -> Row[Any] | None:
    """The user's task that lets them read the record: an open one first, else the latest cc
    or acted-on task, on any instance of the record (None: no such task)."""
    rows = conn.execute(
        select(*_TASK_COLUMNS)
        .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
        .where(
            FlowInstance.form_id == form_id,
            FlowInstance.record_id == record_id,
            FlowTask.assignee_id == user_id,
            _granting(),
        )
        .order_by(FlowTask.id.desc())
        .limit(100)
    ).all()
    found: Sequence[Any] = rows
    return next((r for r in found if r.state == "open"), found[0] if found else None)


def node_fields(conn: Connection, app_key: str, task: Any, form: FormLayout) -> NodeAccess:
    """The node's field access of a task, from the revision its instance runs on, over the
    live form."""
    revision = load_revision(conn, app_key, int(task.revision))
    plan = FlowPlan.of(revision, task.flow_key)
    settings: Mapping[str, Any] = plan.settings.get(task.node, {})
    return node_access(form, settings.get("fields") or {})


def _own_hidden(app: LoadedApp, form: FormLayout, own: Access | None) -> frozenset[str]:
    """Fields of `form` hidden from the holder by their own rights: the role's hidden fields
    when a role views the form; without one, the fields computed from other forms' fields
    hidden from them (their roles plus a stand-in that views this form whole)."""
    if own is None:
        return frozenset()
    if own.allows("view"):
        return own.hidden()
    held = set(getattr(own, "roles", ()))
    spec = app.layout.spec
    roles = [role for role in spec.roles if role.key in held]
    reader = RoleSpec(
        key=_READER_ROLE,
        name=_READER_ROLE,
        forms={form.key: FormPermission(actions=["view"])},
    )
    return derived_hidden(spec, [*roles, reader], form)


def task_access(
    app: LoadedApp,
    form: FormLayout,
    record_id: int,
    node: NodeAccess,
    own: Access | None,
    user_id: int | None,
) -> TaskAccess:
    """The rights a task at `node` gives on record `record_id` (see the module docstring)."""
    hidden = {k for k in node.hidden_keys if "." not in k} | _own_hidden(app, form, own)
    return TaskAccess(
        record_id,
        user_id,
        tuple(getattr(own, "department_ids", ()) or ()),
        frozenset(hidden),
        own,
    )


def task_grant(
    conn: Connection,
    app: LoadedApp,
    form: FormLayout,
    record_id: int,
    user_id: int,
    own: Access,
) -> TaskAccess | None:
    """The flow engine's record grant (`engine.forms.grants.RecordGrant`)."""
    task = granting_task(conn, user_id, form.id, record_id)
    if task is None:
        return None
    return task_access(app, form, record_id, node_fields(conn, app.key, task, form), own, user_id)


def effective_fields(node: NodeAccess, hidden: frozenset[str], *, may_edit: bool) -> dict[str, str]:
    """`{key: hidden | read_only | edit}` a task shows: the node's access, hidden where the
    holder's rights hide the field (a sub-form's columns with it), `edit` only while the task
    may still act."""
    shown: dict[str, str] = {}
    for key, value in node.fields.items():
        top = key.split(".", 1)[0]
        if top in hidden or key in hidden:
            shown[key] = "hidden"
        elif value == "edit" and not may_edit:
            shown[key] = "read_only"
        else:
            shown[key] = value
    return shown


def task_answer(
    conn: Connection,
    ctx: ExecutionContext,
    task_id: int,
    user_id: int,
    caller_for: Callable[[LoadedApp, FormLayout], Caller],
) -> dict[str, Any]:
    """`GET /tasks/{id}`: `{task, record, fields}` for one of the user's tasks (404 for anyone
    else's). `record` is the record as the task lets its holder read it (None when the task no
    longer grants it — cancelled, transferred, waiting — or the record is deleted); `fields`
    the node's effective access (see `effective_fields`)."""
    task = conn.execute(
        select(*_TASK_COLUMNS)
        .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
        .where(FlowTask.id == task_id)
    ).first()
    if task is None or task.assignee_id != user_id:
        raise not_found()
    item = _task_item(conn, ctx, task_id)
    app_key, form_key = item["app"], item["form"]
    loaded = forms_apps.load(conn, app_key)
    form = loaded.form(form_key)
    caller = caller_for(loaded, form)
    node = node_fields(conn, app_key, task, form)
    access = task_access(loaded, form, int(task.record_id), node, caller.access, user_id)
    may_edit = task.state == "open" and task.kind in EDITING_KINDS
    record: dict[str, Any] | None = None
    if grants(task):
        service = RecordService(ctx, conn, loaded, form, _with_access(caller, access))
        with contextlib.suppress(ServiceError):
            record = service.get(int(task.record_id))
    return {
        "task": item,
        "record": record,
        "fields": effective_fields(node, access.hidden_keys, may_edit=may_edit),
    }


def check_action_data(
    conn: Connection,
    ctx: ExecutionContext,
    task_id: int,
    user_id: int,
    caller_for: Callable[[LoadedApp, FormLayout], Caller],
    data: Mapping[str, Any],
) -> None:
    """Refuse (422 `flow_field_locked` at `data.<key>`) edits sent with an action to fields the
    task does not show as `edit` — the node's access narrowed by the holder's own rights, so a
    field their role hides stays out of reach even where the node says `edit` (the runtime
    checks the node alone)."""
    keys = [key for key in data if key != "_version"]
    if not keys:
        return
    answer = task_answer(conn, ctx, task_id, user_id, caller_for)
    shown = answer["fields"]
    locked = [key for key in keys if shown.get(key) != "edit"]
    if not locked:
        return
    task = conn.execute(
        select(*_TASK_COLUMNS)
        .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
        .where(FlowTask.id == task_id)
    ).one()
    app_key = answer["task"]["app"]
    form = forms_apps.load(conn, app_key).form(answer["task"]["form"])
    labels = node_fields(conn, app_key, task, form).labels
    issues = check_edit(NodeAccess({}, labels), locked)
    raise ServiceError(422, "validation_failed", [issue.under("data") for issue in issues])


def _with_access(caller: Caller, access: TaskAccess) -> Caller:
    return replace(caller, access=access)


def _task_item(conn: Connection, ctx: ExecutionContext, task_id: int) -> dict[str, Any]:
    """The task as the inbox lists it (`engine.flows.inbox.list_tasks`' item)."""
    row = conn.execute(
        select(*inbox.TASK_COLUMNS)
        .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
        .where(FlowTask.id == task_id)
    ).one()
    return inbox.task_items(conn, ctx, [row])[0]


def register() -> None:
    """Register the flow tasks' record grant (once per process)."""
    with contextlib.suppress(DuplicateNameError):  # already registered
        RECORD_GRANTS.register(NAME, task_grant)


register()

__all__ = [
    "ACTED",
    "NAME",
    "TaskAccess",
    "check_action_data",
    "effective_fields",
    "granting_task",
    "grants",
    "node_fields",
    "register",
    "task_access",
    "task_answer",
    "task_grant",
]
