"""`/apps/{app}/forms/{form}/records`: list, read, create, change, delete, restore, batch, history.

Every read and write goes through the record service (`engine.forms.service`), which checks
the caller's rights; this router only parses the request, picks the transaction and maps the
answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from engine.api.deps import DbEngine, context_for, engine_of
from engine.api.fast_json import record_answer
from engine.api.opening import read
from engine.api.route_params import Params, openapi_extra, parse_params, parse_path
from engine.api.schemas.records import (
    BatchResult,
    HistoryEntry,
    Permissions,
    RecordOut,
    RecordPage,
    Transferred,
)
from engine.api.security import SAFE_METHODS, CurrentUser, client_ip, credential_present
from engine.auth.callers import open_as
from engine.auth.permissions import FormAccess
from engine.auth.principal import Principal
from engine.core.errors import ServiceError
from engine.forms.query import MAX_LIMIT
from engine.forms.roles import ACTIONS
from engine.forms.service import RecordService
from engine.store.session import READ_ONLY

router = APIRouter(prefix="/apps/{app}/forms/{form}", tags=["records"])

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RecordBody = Annotated[
    dict[str, Any], Body(description="Field key -> value (DESIGN §12 value table)")
]
MAX_BATCH = 1000
# The read routes authenticate inside the statement that opens the read (engine.api.opening):
# up front only a request without any credential is refused (no database, on the event loop).
AUTHENTICATED = [Depends(credential_present)]


def _open(
    conn: Connection,
    app: str,
    form: str,
    principal: Principal,
    request: Request,
    record: int | None = None,
) -> RecordService:
    """The form opened for the caller through the record service (`engine.forms.service`):
    404 when they hold no access to it (no existence leak), 403 for a write with a read-only
    token. `record`: a read of that one record, which a flow task may allow beyond the
    caller's roles (`engine.flows.access`)."""
    return open_as(
        context_for(request, principal.actor()),
        conn,
        principal,
        app,
        form,
        writes=request.method not in SAFE_METHODS,
        ip=client_ip(request),
        record=record,
    )


open_form = _open  # the other form routers open forms the same way


class FormPath(Params):
    """The path parameters of a form's records routes."""

    app: str
    form: str


class RecordPath(FormPath):
    """The path parameters of one record's routes."""

    record_id: Annotated[int, Field(ge=1, le=2**63 - 1)]


class ListParams(Params):
    """The query parameters of a records page (and of the total alone, `limit=0`)."""

    filter: Annotated[
        str | None, Field(max_length=4000, description="A condition in the formula language")
    ] = None
    sort: Annotated[
        str | None, Field(max_length=1000, description="Keys, `-` for descending: -amount,title")
    ] = None
    q: Annotated[str | None, Field(max_length=200, description="Search in the title field")] = None
    limit: Annotated[int, Field(ge=0, le=MAX_LIMIT)] = 50
    offset: Annotated[int, Field(ge=0, le=2**31)] = 0
    count: Literal["exact", "none"] = "exact"
    related: Annotated[
        str | None,
        Field(
            max_length=100,
            pattern=r"^[A-Za-z_][A-Za-z0-9_]*:[1-9][0-9]{0,17}$",
            description="`field:id`: only records whose relation field points to that record",
        ),
    ] = None


@router.get(
    "/records",
    response_model=RecordPage,
    response_model_exclude_unset=True,
    dependencies=AUTHENTICATED,
    openapi_extra=openapi_extra(FormPath, ListParams),
)
def list_records(request: Request) -> Response:
    """A page of live records, filtered, searched and sorted in the database, with the total."""
    path, params = parse_params(request, FormPath, ListParams)
    pointing = None
    if params.related is not None:
        key, _, record_id = params.related.partition(":")
        pointing = (key, int(record_id))
    page = read(
        engine_of(request),
        request,
        path.app,
        path.form,
        lambda service: service.list(
            filter=params.filter,
            sort=params.sort,
            q=params.q,
            limit=params.limit,
            offset=params.offset,
            count=params.count == "exact",
            related=pointing,
        ),
    )
    return record_answer({"items": page.items, "total": page.total})


@router.get(
    "/recycle-bin",
    response_model=RecordPage,
    response_model_exclude_unset=True,
    dependencies=AUTHENTICATED,
)
def recycle_bin(
    app: str,
    form: str,
    engine: DbEngine,
    request: Request,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """Deleted records that can still be restored, most recently deleted first."""
    page = read(
        engine, request, app, form, lambda service: service.recycle_bin(limit=limit, offset=offset)
    )
    return record_answer({"items": page.items, "total": page.total})


@router.post(
    "/records", status_code=201, response_model=RecordOut, response_model_exclude_unset=True
)
def create_record(
    app: str,
    form: str,
    record: RecordBody,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> Response:
    """Create a record; returns it with computed fields filled (422 with every issue otherwise)."""
    # On SQLite the transaction holds the write lock, which every create in every process
    # queues for; when the caller sees every record of the form, the record is read back for
    # the answer after the commit (a read-only transaction, outside the lock). A caller with a
    # row scope reads it back inside the transaction, so a record they could not see is never
    # written (404), as before (docs/decisions.md "Shorter write lock per create").
    # A caller who may create but not view records (a 填报-only role) is answered the id and
    # the values they sent (`RecordService.created_answer`), never the stored record.
    with engine.connect() as conn:
        with conn.begin():
            service = _open(conn, app, form, principal, request)
            [record_id] = service.create_many([record])
            later = (
                conn.dialect.name == "sqlite"
                and not service.fill_only
                and service.sees_every_record()
            )
            if service.fill_only:
                created = service.created_answer(record_id, record)
            elif not later:
                created = service.read_back(record_id)
        if later:
            conn.execution_options(**{READ_ONLY: True})  # plain BEGIN: no write lock
            with conn.begin():
                try:
                    created = service.read_back(record_id)
                except ServiceError as exc:  # deleted by another writer since the commit
                    if exc.status != 404:
                        raise
                    created = {"_id": record_id}
    return record_answer(created, 201)


@router.post("/records/batch", response_model=BatchResult, response_model_exclude_unset=True)
def batch(
    app: str,
    form: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    records: Annotated[list[Any], Body(max_length=MAX_BATCH)],
    partial: bool = False,
) -> Response:
    """Create (no `_id`) or change (`_id` + `_version`) many records: all or nothing, or with
    `partial=true` each row on its own, with per-row results."""
    with engine.begin() as conn:
        service = _open(conn, app, form, principal, request)
        results = service.batch(records, partial=partial)
    return record_answer({"results": results})


@router.get(
    "/records/{record_id}",
    response_model=RecordOut,
    response_model_exclude_unset=True,
    dependencies=AUTHENTICATED,
    openapi_extra=openapi_extra(RecordPath),
)
def get_record(request: Request) -> Response:
    """One live record (404 when missing or deleted). Without a role that reaches it, an open,
    cc or done flow task on it lets its holder read it with the node's field access."""
    path = parse_path(request, RecordPath)
    found = read(
        engine_of(request),
        request,
        path.app,
        path.form,
        lambda service: service.get(path.record_id),
        path.record_id,
    )
    return record_answer(found)


@router.patch("/records/{record_id}", response_model=RecordOut, response_model_exclude_unset=True)
def patch_record(
    app: str,
    form: str,
    record_id: RecordId,
    record: RecordBody,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> Response:
    """Change some fields; `_version` must be the version read (409 when someone saved since)."""
    with engine.begin() as conn:
        changed = _open(conn, app, form, principal, request).update(record_id, record)
    return record_answer(changed)


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
        _open(conn, app, form, principal, request).delete(record_id)


@router.post(
    "/records/{record_id}/restore", response_model=RecordOut, response_model_exclude_unset=True
)
def restore_record(
    app: str,
    form: str,
    record_id: RecordId,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> Response:
    """Bring a record back from the recycle bin."""
    with engine.begin() as conn:
        restored = _open(conn, app, form, principal, request).restore(record_id)
    return record_answer(restored)


@router.get(
    "/records/{record_id}/history",
    response_model=list[HistoryEntry],
    dependencies=AUTHENTICATED,
)
def record_history(
    app: str,
    form: str,
    record_id: RecordId,
    engine: DbEngine,
    request: Request,
) -> Response:
    """Every change of a record, oldest first, with its field-level diff."""
    entries = read(engine, request, app, form, lambda service: service.history(record_id))
    return record_answer(entries)


@router.get("/permissions/me", response_model=Permissions, dependencies=AUTHENTICATED)
def my_permissions(app: str, form: str, engine: DbEngine, request: Request) -> dict[str, Any]:
    """What I may do with this form: actions, row scope per action, and field access."""
    opened = read(engine, request, app, form, lambda service: service)
    if not isinstance(opened.access, FormAccess):  # administrators: unrestricted
        return {"roles": [], "admin": True, "actions": list(ACTIONS), "scopes": {}, "fields": {}}
    return opened.access.summary()


class Transfer(BaseModel):
    """Records to hand over and their new owner."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[
        list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(min_length=1, max_length=MAX_BATCH)
    ]
    owner: Annotated[int, Field(ge=1, le=2**31 - 1)]


@router.post("/records/transfer", response_model=Transferred)
def transfer(
    app: str, form: str, body: Transfer, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """Give records to another owner (`_owner`), all or nothing; needs edit rights on each."""
    with engine.begin() as conn:
        changed = _open(conn, app, form, principal, request).transfer(body.ids, body.owner)
    return {"transferred": changed}
