"""`/apps/{app}/forms/{form}/records`: list, read, create, change, delete, restore, batch, history.

Every write goes through the forms engine's record pipeline (`engine.forms.records.Writer`);
this router only parses the request and picks the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from engine.api.deps import DbEngine, context_for, limited, read_only
from engine.api.security import SAFE_METHODS, CurrentUser
from engine.auth.permissions import FormAccess, form_access, source_access, user_departments
from engine.auth.principal import Principal
from engine.core.context import Actor, ExecutionContext
from engine.core.errors import ServiceError, forbidden, not_found
from engine.core.issues import Issue
from engine.core.sqltypes import INT64_MAX
from engine.forms import apps
from engine.forms.layout import FormLayout
from engine.forms.query import MAX_LIMIT, Reader
from engine.forms.records import Writer, history
from engine.forms.resolve import NOBODY, Who
from engine.forms.roles import ACTIONS
from engine.store.limits import Work

router = APIRouter(prefix="/apps/{app}/forms/{form}", tags=["records"])

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RecordBody = Annotated[
    dict[str, Any], Body(description="Field key -> value (DESIGN §12 value table)")
]
MAX_BATCH = 1000


@dataclass(frozen=True)
class Opened:
    """A form opened for one caller: its app, layout, the caller's access (None: admin) and
    the request's execution context (the caller as actor, the organisation's time zone)."""

    app: apps.LoadedApp
    form: FormLayout
    access: FormAccess | None
    principal: Principal
    ctx: ExecutionContext
    who: Who = NOBODY  # the member CURRENT_USER() and CURRENT_DEPARTMENTS() read

    def reader(self) -> Reader:
        return Reader(self.app.layout, self.form, self.ctx, access=self.access, who=self.who)

    def writer(self, ctx: ExecutionContext | None = None) -> Writer:
        """The record pipeline for this form, in `ctx` (default: the request's context)."""
        linkage = source_access(self.principal, self.app.id, self.app.layout.spec)
        return Writer(
            self.app.layout,
            self.app.id,
            self.form,
            ctx or self.ctx,
            access=self.access,
            source_access=linkage,
            who=self.who,
        )

    @property
    def actor(self) -> Actor:
        return self.ctx.actor


def _open(conn: Connection, app: str, form: str, principal: Principal, request: Request) -> Opened:
    """The form with the caller's rights; 404 when they hold no access to it (no existence leak)."""
    if not principal.may_use_app(app):
        raise not_found()
    if not principal.can_write and request.method not in SAFE_METHODS:
        raise forbidden()
    loaded = apps.load(conn, app)
    layout = loaded.form(form)
    ctx = context_for(request, principal.actor())
    if principal.is_admin:
        user = principal.user_id
        who = Who(user, user_departments(conn, user)) if user is not None else NOBODY
        return Opened(loaded, layout, None, principal, ctx, who)
    access = form_access(conn, principal, loaded.id, loaded.layout.spec, layout)
    if not access.allows("view"):
        raise not_found()
    return Opened(loaded, layout, access, principal, ctx, Who.of(access))


open_form = _open  # the records I/O router opens forms the same way


@router.get("/records")
def list_records(
    app: str,
    form: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    filter: Annotated[
        str | None, Query(max_length=4000, description="A condition in the formula language")
    ] = None,
    sort: Annotated[
        str | None, Query(max_length=1000, description="Keys, `-` for descending: -amount,title")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Search in the title field")] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    count: Literal["exact", "none"] = "exact",
    related: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=r"^[A-Za-z_][A-Za-z0-9_]*:[1-9][0-9]{0,17}$",
            description="`field:id`: only records whose relation field points to that record",
        ),
    ] = None,
) -> dict[str, Any]:
    """A page of live records, filtered, searched and sorted in the database, with the total."""
    pointing = None
    if related is not None:
        key, _, record_id = related.partition(":")
        pointing = (key, int(record_id))
    with read_only(engine) as conn, limited(conn, request, Work.INTERACTIVE):
        page = (
            _open(conn, app, form, principal, request)
            .reader()
            .list(
                conn,
                filter=filter,
                sort=sort,
                q=q,
                limit=limit,
                offset=offset,
                count=count == "exact",
                related=pointing,
            )
        )
    return {"items": page.items, "total": page.total}


@router.get("/recycle-bin")
def recycle_bin(
    app: str,
    form: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """Deleted records that can still be restored, most recently deleted first."""
    with read_only(engine) as conn, limited(conn, request, Work.INTERACTIVE):
        opened = _open(conn, app, form, principal, request)
        opened.writer().require("delete")
        page = opened.reader().list(
            conn, sort="", limit=limit, offset=offset, deleted=True, action="delete"
        )
    return {"items": page.items, "total": page.total}


@router.post("/records", status_code=201)
def create_record(
    app: str,
    form: str,
    record: RecordBody,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """Create a record; returns it with computed fields filled (422 with every issue otherwise)."""
    with engine.begin() as conn:
        opened = _open(conn, app, form, principal, request)
        writer = opened.writer()
        [record_id] = writer.create_many(conn, [record], opened.actor)
        return writer.reader.get(conn, record_id)


@router.post("/records/batch")
def batch(
    app: str,
    form: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    records: Annotated[list[Any], Body(max_length=MAX_BATCH)],
    partial: bool = False,
) -> dict[str, Any]:
    """Create (no `_id`) or change (`_id` + `_version`) many records: all or nothing, or with
    `partial=true` each row on its own, with per-row results."""
    with engine.begin() as conn:
        opened = _open(conn, app, form, principal, request)
        writer, actor = opened.writer(), opened.actor
        if not partial:
            return {"results": _batch_all(conn, writer, records, actor)}
        results = []
        for index, record in enumerate(records):
            savepoint = conn.begin_nested()
            try:
                [result] = _batch_all(conn, writer, [record], actor, offset=index)
            except ServiceError as exc:
                savepoint.rollback()
                results.append(
                    {
                        "index": index,
                        "ok": False,
                        "error": {"code": exc.code, "issues": [i.to_dict() for i in exc.issues]},
                    }
                )
            else:
                savepoint.commit()
                results.append(result)
        return {"results": results}


def _batch_all(
    conn: Any, writer: Writer, records: list[Any], actor: Actor, offset: int = 0
) -> list[dict[str, Any]]:
    creates = [
        (i, r)
        for i, r in enumerate(records)
        if not (isinstance(r, dict) and r.get("_id") is not None)
    ]
    updates = [
        (i, r) for i, r in enumerate(records) if isinstance(r, dict) and r.get("_id") is not None
    ]
    results: dict[int, dict[str, Any]] = {}
    issues: list[Issue] = []
    if creates:
        try:
            ids = writer.create_many(
                conn, [r for _, r in creates], actor, paths=[f"[{offset + i}]." for i, _ in creates]
            )
        except ServiceError as exc:
            if exc.status != 422:
                raise
            issues.extend(exc.issues)
        else:
            for (i, _), record_id in zip(creates, ids, strict=True):
                results[i] = {"index": offset + i, "ok": True, "_id": record_id, "_version": 1}
    for i, record in updates:
        record_id = record["_id"]
        if (
            not isinstance(record_id, int)
            or isinstance(record_id, bool)
            or not 1 <= record_id <= INT64_MAX
        ):
            issues.append(
                Issue(
                    f"[{offset + i}]._id",
                    "expected_id",
                    "应为编号（正整数）",
                    "Expected an id (a positive whole number)",
                )
            )
            continue
        try:
            version = writer.update(conn, record_id, record, actor)
        except ServiceError as exc:
            if exc.status != 422:
                raise
            issues.extend(issue.under(f"[{offset + i}]") for issue in exc.issues)
        else:
            results[i] = {"index": offset + i, "ok": True, "_id": record_id, "_version": version}
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    return [results[i] for i in sorted(results)]


@router.get("/records/{record_id}")
def get_record(
    app: str,
    form: str,
    record_id: RecordId,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """One live record (404 when missing or deleted)."""
    with read_only(engine) as conn, limited(conn, request, Work.INTERACTIVE):
        return _open(conn, app, form, principal, request).reader().get(conn, record_id)


@router.patch("/records/{record_id}")
def patch_record(
    app: str,
    form: str,
    record_id: RecordId,
    record: RecordBody,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """Change some fields; `_version` must be the version read (409 when someone saved since)."""
    with engine.begin() as conn:
        opened = _open(conn, app, form, principal, request)
        writer = opened.writer()
        writer.update(conn, record_id, record, opened.actor)
        return writer.reader.get(conn, record_id)


@router.delete("/records/{record_id}", status_code=204)
def delete_record(
    app: str,
    form: str,
    record_id: RecordId,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> None:
    """Move a record to the recycle bin."""
    with engine.begin() as conn:
        opened = _open(conn, app, form, principal, request)
        opened.writer().delete(conn, record_id, opened.actor)


@router.post("/records/{record_id}/restore")
def restore_record(
    app: str,
    form: str,
    record_id: RecordId,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """Bring a record back from the recycle bin."""
    with engine.begin() as conn:
        opened = _open(conn, app, form, principal, request)
        writer = opened.writer()
        writer.restore(conn, record_id, opened.actor)
        return writer.reader.get(conn, record_id)


@router.get("/records/{record_id}/history")
def record_history(
    app: str,
    form: str,
    record_id: RecordId,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> list[dict[str, Any]]:
    """Every change of a record, oldest first, with its field-level diff."""
    with read_only(engine) as conn, limited(conn, request, Work.INTERACTIVE):
        opened = _open(conn, app, form, principal, request)
        reader = opened.reader()
        if opened.access is not None:
            reader.get(conn, record_id)  # 404 unless the caller may see the record
        entries = reader.history_json(
            conn, history(conn, opened.form, record_id, hidden=reader.hidden)
        )
    if not entries:
        raise not_found()
    return entries


@router.get("/permissions/me")
def my_permissions(
    app: str, form: str, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """What I may do with this form: actions, row scope per action, and field access."""
    with read_only(engine) as conn, limited(conn, request, Work.INTERACTIVE):
        opened = _open(conn, app, form, principal, request)
    if opened.access is None:
        return {"roles": [], "admin": True, "actions": list(ACTIONS), "scopes": {}, "fields": {}}
    return opened.access.summary()


class Transfer(BaseModel):
    """Records to hand over and their new owner."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[
        list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(min_length=1, max_length=MAX_BATCH)
    ]
    owner: Annotated[int, Field(ge=1, le=2**31 - 1)]


@router.post("/records/transfer")
def transfer(
    app: str, form: str, body: Transfer, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """Give records to another owner (`_owner`), all or nothing; needs edit rights on each."""
    with engine.begin() as conn:
        opened = _open(conn, app, form, principal, request)
        changed = opened.writer().transfer(conn, body.ids, body.owner, opened.actor)
    return {"transferred": changed}
