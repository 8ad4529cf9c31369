"""The approval inbox and notifications (issue 13): what `/tasks`, `/notifications` and a
record's `/flow` answer, read from the runtime's rows. Writes go through
`engine.flows.runtime`; this module reads, and marks notifications read.

Tasks are listed per user: `open` (待办: open tasks), `done` (已办: tasks they acted on),
`cc` (抄送我) and `initiated` (我发起的: instances they started, one row each). Each row names
its app, form and record (with the record's title, read unrestricted: the assignee is meant
to see what they are asked about; field-level access for assignees is a later piece), the node
and its name, the flow and the initiator.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from engine.apps.pipeline import load_revision
from engine.core.context import ExecutionContext
from engine.core.moments import datetime_json
from engine.flows.models import FlowInstance, FlowTask, Notification
from engine.flows.runtime import FlowPlan
from engine.forms import apps as forms_apps
from engine.forms.query import Reader
from engine.store.models import App, Form, User

TaskState = Literal["open", "done", "cc", "initiated"]


def _moment(value: Any) -> str | None:
    return None if value is None else datetime_json(value)


def _names(conn: Connection, ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = conn.execute(
        select(User.id, User.username, User.display_name).where(User.id.in_(wanted))
    ).all()
    return {r.id: {"id": r.id, "name": r.display_name, "username": r.username} for r in rows}


def _titles(
    conn: Connection, ctx: ExecutionContext, keys: Iterable[tuple[str, str, int]]
) -> dict[tuple[str, str, int], Any]:
    """The title of each (app key, form key, record id), read unrestricted (deleted too)."""
    by_form: dict[tuple[str, str], set[int]] = {}
    for app, form, record in keys:
        by_form.setdefault((app, form), set()).add(record)
    titles: dict[tuple[str, str, int], Any] = {}
    for (app, form), records in by_form.items():
        loaded = forms_apps.load(conn, app)
        layout = loaded.layout.forms.get(form)
        if layout is None or layout.title_field is None:
            continue
        reader = Reader(loaded.layout, layout, ctx)
        for deleted in (False, True):
            page = reader.list(
                conn, ids=sorted(records), limit=len(records), count=False, deleted=deleted
            )
            for item in page.items:
                titles[(app, form, int(item["_id"]))] = item.get(layout.title_field)
    return titles


def _where(
    conn: Connection, rows: Sequence[Any]
) -> tuple[dict[int, str], dict[int, str], dict[tuple[int, int, str], FlowPlan]]:
    """App keys, form keys and the flow plans of `rows` (instance columns)."""
    app_keys = {r.id: r.key for r in conn.execute(select(App.id, App.key))}
    form_ids = {r.form_id for r in rows}
    form_keys = (
        {r.id: r.key for r in conn.execute(select(Form.id, Form.key).where(Form.id.in_(form_ids)))}
        if form_ids
        else {}
    )
    plans: dict[tuple[int, int, str], FlowPlan] = {}
    for r in rows:
        key = (r.app_id, r.revision, r.flow_key)
        if key not in plans:
            revision = load_revision(conn, app_keys[r.app_id], r.revision)
            plans[key] = FlowPlan.of(revision, r.flow_key)
    return app_keys, form_keys, plans


TASK_COLUMNS = (
    FlowTask.id,
    FlowTask.node,
    FlowTask.kind,
    FlowTask.state,
    FlowTask.action,
    FlowTask.comment,
    FlowTask.created_at,
    FlowTask.acted_at,
    FlowTask.instance_id,
    FlowInstance.app_id,
    FlowInstance.form_id,
    FlowInstance.record_id,
    FlowInstance.revision,
    FlowInstance.flow_key,
    FlowInstance.initiator_id,
    FlowInstance.state.label("instance_state"),
)
"""What an inbox item is made of (`task_items`)."""


def list_tasks(
    conn: Connection,
    ctx: ExecutionContext,
    user_id: int,
    state: TaskState,
    *,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """`{items, total}`: the user's tasks in `state`, newest first (see the module docstring)."""
    if state == "initiated":
        return _initiated(conn, ctx, user_id, limit=limit, offset=offset)
    condition = FlowTask.assignee_id == user_id
    if state == "open":
        condition &= (FlowTask.state == "open") & (FlowTask.kind != "cc")
    elif state == "done":
        condition &= (FlowTask.state == "done") & (FlowTask.kind != "cc")
    else:
        condition &= FlowTask.kind == "cc"
    total = conn.execute(select(func.count()).select_from(FlowTask).where(condition)).scalar_one()
    rows = conn.execute(
        select(*TASK_COLUMNS)
        .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
        .where(condition)
        .order_by(FlowTask.created_at.desc(), FlowTask.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return {"items": task_items(conn, ctx, rows), "total": total}


def task_items(
    conn: Connection, ctx: ExecutionContext, rows: Sequence[Any]
) -> list[dict[str, Any]]:
    """The inbox items of task rows selected with `TASK_COLUMNS` (titles, node and flow names,
    initiators read in one statement each for all the rows)."""
    app_keys, form_keys, plans = _where(conn, rows)
    people = _names(conn, (r.initiator_id for r in rows))
    titles = _titles(
        conn, ctx, ((app_keys[r.app_id], form_keys[r.form_id], r.record_id) for r in rows)
    )
    items = []
    for r in rows:
        plan = plans[(r.app_id, r.revision, r.flow_key)]
        app, form = app_keys[r.app_id], form_keys[r.form_id]
        items.append(
            {
                "id": r.id,
                "kind": r.kind,
                "state": r.state,
                "action": r.action,
                "comment": r.comment,
                "node": r.node,
                "node_name": plan.node_name(r.node),
                "flow": {"key": plan.key, "name": plan.name},
                "instance": {"id": r.instance_id, "state": r.instance_state},
                "app": app,
                "form": form,
                "record_id": r.record_id,
                "title": titles.get((app, form, r.record_id)),
                "initiator": people.get(r.initiator_id),
                "created_at": _moment(r.created_at),
                "acted_at": _moment(r.acted_at),
            }
        )
    return items


def _initiated(
    conn: Connection, ctx: ExecutionContext, user_id: int, *, limit: int, offset: int
) -> dict[str, Any]:
    condition = FlowInstance.initiator_id == user_id
    total = conn.execute(
        select(func.count()).select_from(FlowInstance).where(condition)
    ).scalar_one()
    rows = conn.execute(
        select(FlowInstance.__table__)
        .where(condition)
        .order_by(FlowInstance.started_at.desc(), FlowInstance.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    app_keys, form_keys, plans = _where(conn, rows)
    titles = _titles(
        conn, ctx, ((app_keys[r.app_id], form_keys[r.form_id], r.record_id) for r in rows)
    )
    people = _names(conn, [user_id])
    items = []
    for r in rows:
        plan = plans[(r.app_id, r.revision, r.flow_key)]
        app, form = app_keys[r.app_id], form_keys[r.form_id]
        items.append(
            {
                "id": r.id,
                "kind": "instance",
                "state": r.state,
                "flow": {"key": plan.key, "name": plan.name},
                "instance": {"id": r.id, "state": r.state},
                "app": app,
                "form": form,
                "record_id": r.record_id,
                "title": titles.get((app, form, r.record_id)),
                "initiator": people.get(user_id),
                "created_at": _moment(r.started_at),
                "finished_at": _moment(r.finished_at),
            }
        )
    return {"items": items, "total": total}


def record_flow(conn: Connection, instance: Any) -> dict[str, Any]:
    """`{state, current: [{node, name, assignees}], history}` of a record's instance, with
    node names and people's names filled in."""
    from engine.flows.runtime import flow_state

    found = flow_state(conn, int(instance.id))
    app_key = conn.execute(select(App.key).where(App.id == instance.app_id)).scalar_one()
    plan = FlowPlan.of(load_revision(conn, app_key, int(instance.revision)), instance.flow_key)
    ids: list[int | None] = [found["initiator"]]
    ids += [u for c in found["current"] for u in c["assignees"]]
    ids += [h["actor"] for h in found["history"]]
    people = _names(conn, ids)
    found["flow"] = {"key": plan.key, "name": plan.name}
    found["initiator"] = people.get(found["initiator"])
    found["current"] = [
        {
            "node": c["node"],
            "name": plan.node_name(c["node"]),
            "assignees": [people.get(u, {"id": u}) for u in c["assignees"]],
        }
        for c in found["current"]
    ]
    for entry in found["history"]:
        entry["at"] = _moment(entry["at"])
        entry["actor"] = people.get(entry["actor"])
        if entry["node"] is not None:
            entry["node_name"] = plan.node_name(entry["node"])
    return found


def list_notifications(
    conn: Connection, user_id: int, *, unread: bool = False, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """`{items, total, unread}`: the user's notifications, newest first."""
    mine = Notification.user_id == user_id
    condition = mine & Notification.read_at.is_(None) if unread else mine
    total = conn.execute(
        select(func.count()).select_from(Notification).where(condition)
    ).scalar_one()
    not_read = conn.execute(
        select(func.count()).select_from(Notification).where(mine, Notification.read_at.is_(None))
    ).scalar_one()
    rows = conn.execute(
        select(Notification.__table__)
        .where(condition)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        {
            "id": r.id,
            "kind": r.kind,
            "app": r.data.get("app"),
            "form": r.data.get("form"),
            "record_id": r.record_id,
            "task_id": r.task_id,
            "data": r.data,
            "read": r.read_at is not None,
            "created_at": _moment(r.created_at),
        }
        for r in rows
    ]
    return {"items": items, "total": total, "unread": not_read}


def mark_read(
    conn: Connection, ctx: ExecutionContext, user_id: int, ids: Sequence[int] | None
) -> int:
    """Mark the user's notifications `ids` (None: all) read; how many changed."""
    condition = (Notification.user_id == user_id) & Notification.read_at.is_(None)
    if ids is not None:
        if not ids:
            return 0
        condition &= Notification.id.in_(list(ids))
    changed = conn.execute(update(Notification).where(condition).values(read_at=ctx.now))
    return int(changed.rowcount)


__all__ = ["TaskState", "list_notifications", "list_tasks", "mark_read", "record_flow"]
