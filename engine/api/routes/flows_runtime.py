"""The approval inbox over HTTP (issue 13, DESIGN §12): `/tasks`, `/tasks/{id}/act`,
`/tasks/act` (batch), a record's `/flow` and its withdraw/urge/resubmit, `/notifications`.

A thin router over `engine.flows.runtime` (actions, one transaction each) and
`engine.flows.inbox` (reads). The caller acts as themselves: tasks are theirs or 403, and a
read-only token may not act (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from engine.api.deps import DbEngine, context_for, read_only
from engine.api.routes.records import open_form
from engine.api.schemas.flows import (
    ActBatch,
    Acted,
    Inbox,
    MarkedRead,
    Notifications,
    RecordFlow,
    TaskForm,
)
from engine.api.security import CurrentUser, client_ip
from engine.auth.callers import member_caller
from engine.auth.principal import Principal
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError, forbidden, invalid, not_found
from engine.core.issues import Issue
from engine.flows import access, inbox, runtime
from engine.forms import apps as forms_apps
from engine.forms.layout import FormLayout
from engine.forms.service import Caller

router = APIRouter(tags=["flows"])

TaskId = Annotated[int, Path(ge=1, le=2**62)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Comment = Annotated[str | None, Field(max_length=2000)]


class ActBody(BaseModel):
    """One action on a task: approve, reject, handle, transfer (`to`: a user id), comment, or
    resubmit; `data`: field edits of the node's editable fields; `version`: the instance
    version the caller saw (409 `task_closed` when it moved on)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject", "handle", "transfer", "comment", "resubmit"]
    comment: Comment = None
    to: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None
    data: dict[str, Any] | None = None
    version: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None


class BatchBody(BaseModel):
    """The same action on several tasks (批量审批), each in its own transaction."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]], Field(min_length=1, max_length=100)]
    action: Literal["approve", "reject", "handle"]
    comment: Comment = None


class FlowActionBody(BaseModel):
    """An initiator's action on the record's flow, with an optional comment."""

    model_config = ConfigDict(extra="forbid")

    comment: Comment = None


class ReadBody(BaseModel):
    """Which notifications to mark read: `ids`, or `all: true`."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]] | None, Field(max_length=1000)] = (
        None
    )
    all: bool = False


def _member(principal: Principal) -> int:
    if principal.user_id is None:
        raise forbidden()
    return principal.user_id


def _acting(principal: Principal, request: Request) -> ExecutionContext:
    """The context of a flow action by the caller (403 for a read-only token)."""
    _member(principal)
    if not principal.can_write:
        raise forbidden()
    return context_for(request, principal.actor())


@router.get("/tasks", response_model=Inbox, response_model_exclude_unset=True)
def tasks(
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    state: Literal["open", "done", "cc", "initiated"] = "open",
    limit: Annotated[int, Query(ge=0, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """My tasks: 待办 `open`, 已办 `done`, 抄送我 `cc`, 我发起的 `initiated`, newest first."""
    user = _member(principal)
    ctx = context_for(request, principal.actor())
    with read_only(engine) as conn:
        return inbox.list_tasks(conn, ctx, user, state, limit=limit, offset=offset)


@router.get("/tasks/{task_id}", response_model=TaskForm, response_model_exclude_unset=True)
def task(
    task_id: TaskId, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """One of my tasks, for the approval form: `{task, record, fields}` — the record as the task
    lets me read it (null once the task no longer does) and each field's `hidden`, `read_only`
    or `edit` at its node (`edit` only while the task is open)."""
    user = _member(principal)
    ctx = context_for(request, principal.actor())
    ip = client_ip(request)

    def caller_for(loaded: forms_apps.LoadedApp, form: FormLayout) -> Caller:
        return member_caller(conn, principal, loaded, form, ip=ip)

    with read_only(engine) as conn:
        answer = access.task_answer(conn, ctx, task_id, user, caller_for)
        if not principal.may_use_app(answer["task"]["app"]):
            raise not_found()
        return answer


@router.post("/tasks/act", response_model=ActBatch, response_model_exclude_unset=True)
def act_batch(
    body: BatchBody, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """Act on several tasks; one result per id (`ok`, or the error), each its own transaction."""
    ctx = _acting(principal, request)
    results: list[dict[str, Any]] = []
    for task_id in dict.fromkeys(body.ids):
        try:
            with engine.begin() as conn:
                done = runtime.act(conn, ctx, task_id, body.action, comment=body.comment)
            results.append({"id": task_id, "ok": True, **done.to_json()})
        except ServiceError as exc:
            message = exc.message_en if ctx.locale == "en" else exc.message_zh
            results.append(
                {
                    "id": task_id,
                    "ok": False,
                    "error": {
                        "code": exc.code,
                        "message": message,
                        "issues": [i.to_dict(ctx.locale) for i in exc.issues],
                    },
                }
            )
    return {"results": results}


@router.post("/tasks/{task_id}/act", response_model=Acted)
def act(
    task_id: TaskId, body: ActBody, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """Act on one of my open tasks; the instance's state and version afterwards."""
    ctx = _acting(principal, request)
    ip = client_ip(request)

    def caller_for(loaded: forms_apps.LoadedApp, form: FormLayout) -> Caller:
        return member_caller(conn, principal, loaded, form, ip=ip)

    with engine.begin() as conn:
        if isinstance(body.data, Mapping) and body.data:
            access.check_action_data(conn, ctx, task_id, _member(principal), caller_for, body.data)
        done = runtime.act(
            conn,
            ctx,
            task_id,
            body.action,
            comment=body.comment,
            to=body.to,
            data=body.data,
            expected_version=body.version,
        )
    return done.to_json()


def _instance(
    conn: Connection, app: str, form: str, record_id: int, principal: Principal, request: Request
) -> Any:
    """The record's latest instance, if the caller may see the record (its form's view right)
    or is involved in the instance (started it, or holds or held a task in it); 404 otherwise."""
    if not principal.may_use_app(app):
        raise not_found()
    layout = forms_apps.load(conn, app).form(form)
    instance = runtime.instance_for(conn, layout.id, record_id)
    user = principal.user_id
    involved = instance is not None and user is not None and runtime.involved(conn, user, instance)
    if not involved:
        open_form(conn, app, form, principal, request).get(record_id)  # 404 unless visible
    return instance


@router.get(
    "/apps/{app}/forms/{form}/records/{record_id}/flow",
    response_model=RecordFlow,
    response_model_exclude_unset=True,
)
def record_flow(
    app: str,
    form: str,
    record_id: RecordId,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """The record's flow: `{state, current: [{node, name, assignees}], history}` (state null
    when no flow ever ran on it)."""
    with read_only(engine) as conn:
        instance = _instance(conn, app, form, record_id, principal, request)
        if instance is None:
            return {"state": None, "current": [], "history": []}
        return inbox.record_flow(conn, instance)


@router.post(
    "/apps/{app}/forms/{form}/records/{record_id}/flow/{action}",
    response_model=RecordFlow,
    response_model_exclude_unset=True,
)
def record_flow_action(
    app: str,
    form: str,
    record_id: RecordId,
    action: Literal["withdraw", "urge", "resubmit"],
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    body: FlowActionBody | None = None,
) -> dict[str, Any]:
    """The initiator's withdraw (撤回), urge (催办) or resubmit of the record's flow."""
    ctx = _acting(principal, request)
    comment = body.comment if body is not None else None
    with engine.begin() as conn:
        instance = _instance(conn, app, form, record_id, principal, request)
        if instance is None:
            raise not_found()
        if action == "withdraw":
            runtime.withdraw(conn, ctx, int(instance.id), comment=comment)
            answer: dict[str, Any] = {}
        elif action == "urge":
            answer = {"urged": runtime.urge(conn, ctx, int(instance.id))}
        else:
            answer = runtime.resubmit(conn, ctx, int(instance.id), comment=comment).to_json()
        return {
            **inbox.record_flow(conn, runtime.instance_for_id(conn, int(instance.id))),
            **answer,
        }


@router.get("/notifications", response_model=Notifications)
def notifications(
    engine: DbEngine,
    principal: CurrentUser,
    unread: bool = False,
    limit: Annotated[int, Query(ge=0, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """My notifications (assigned, cc, urged, finished, returned), newest first, and the
    unread count."""
    user = _member(principal)
    with read_only(engine) as conn:
        return inbox.list_notifications(conn, user, unread=unread, limit=limit, offset=offset)


@router.post("/notifications/read", response_model=MarkedRead)
def notifications_read(
    body: ReadBody, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """Mark notifications read: `{"ids": [...]}` or `{"all": true}`; how many changed."""
    user = _member(principal)
    if body.ids is None and not body.all:
        raise invalid(
            [Issue("ids", "required", "请给出 ids 或 all: true", "Give ids or all: true")]
        )
    ctx = context_for(request, principal.actor())
    with engine.begin() as conn:
        changed = inbox.mark_read(conn, ctx, user, None if body.all else body.ids)
    return {"read": changed}
