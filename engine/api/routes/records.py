"""`/apps/{app}/forms/{form}/records`: list, read, create, change, delete, restore, batch, history.

Every write goes through the forms engine's record pipeline (`engine.forms.records.Writer`);
this router only parses the request and picks the transaction.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query

from engine.api.deps import AdminActor, DbEngine, read_only
from engine.core.issues import Issue
from engine.core.sqltypes import INT64_MAX
from engine.forms import apps
from engine.forms.errors import ServiceError
from engine.forms.query import MAX_LIMIT, Reader
from engine.forms.records import Actor, Writer, history

router = APIRouter(prefix="/apps/{app}/forms/{form}", tags=["records"])

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RecordBody = Annotated[dict[str, Any], Body(description="Field key -> value (DESIGN §12 value table)")]
MAX_BATCH = 1000


@router.get("/records")
def list_records(
    app: str,
    form: str,
    engine: DbEngine,
    actor: AdminActor,
    filter: Annotated[str | None, Query(max_length=4000, description="A condition in the formula language")] = None,
    sort: Annotated[str | None, Query(max_length=1000, description="Keys, `-` for descending: -amount,title")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Search in the title field")] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    count: Literal["exact", "none"] = "exact",
) -> dict[str, Any]:
    """A page of live records, filtered, searched and sorted in the database, with the total."""
    with read_only(engine) as conn:
        loaded = apps.load(conn, app)
        page = Reader(loaded.layout, loaded.form(form)).list(
            conn, filter=filter, sort=sort, q=q, limit=limit, offset=offset, count=count == "exact"
        )
    return {"items": page.items, "total": page.total}


@router.get("/recycle-bin")
def recycle_bin(
    app: str,
    form: str,
    engine: DbEngine,
    actor: AdminActor,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """Deleted records that can still be restored, most recently deleted first."""
    with read_only(engine) as conn:
        loaded = apps.load(conn, app)
        page = Reader(loaded.layout, loaded.form(form)).list(conn, sort="", limit=limit, offset=offset, deleted=True)
    return {"items": page.items, "total": page.total}


@router.post("/records", status_code=201)
def create_record(app: str, form: str, record: RecordBody, engine: DbEngine, actor: AdminActor) -> dict[str, Any]:
    """Create a record; returns it with computed fields filled (422 with every issue otherwise)."""
    with engine.begin() as conn:
        loaded = apps.load(conn, app)
        writer = Writer(loaded.layout, loaded.id, loaded.form(form))
        [record_id] = writer.create_many(conn, [record], actor)
        return writer.reader.get(conn, record_id)


@router.post("/records/batch")
def batch(
    app: str,
    form: str,
    engine: DbEngine,
    actor: AdminActor,
    records: Annotated[list[Any], Body(max_length=MAX_BATCH)],
    partial: bool = False,
) -> dict[str, Any]:
    """Create (no `_id`) or change (`_id` + `_version`) many records: all or nothing, or with
    `partial=true` each row on its own, with per-row results."""
    with engine.begin() as conn:
        loaded = apps.load(conn, app)
        writer = Writer(loaded.layout, loaded.id, loaded.form(form))
        if not partial:
            return {"results": _batch_all(conn, writer, records, actor)}
        results = []
        for index, record in enumerate(records):
            savepoint = conn.begin_nested()
            try:
                [result] = _batch_all(conn, writer, [record], actor, offset=index)
            except ServiceError as exc:
                savepoint.rollback()
                results.append({"index": index, "ok": False, "error": {"code": exc.code, "issues": [i.to_dict() for i in exc.issues]}})
            else:
                savepoint.commit()
                results.append(result)
        return {"results": results}


def _batch_all(conn: Any, writer: Writer, records: list[Any], actor: Actor, offset: int = 0) -> list[dict[str, Any]]:
    creates = [(i, r) for i, r in enumerate(records) if not (isinstance(r, dict) and r.get("_id") is not None)]
    updates = [(i, r) for i, r in enumerate(records) if isinstance(r, dict) and r.get("_id") is not None]
    results: dict[int, dict[str, Any]] = {}
    issues: list[Issue] = []
    if creates:
        try:
            ids = writer.create_many(conn, [r for _, r in creates], actor, paths=[f"[{offset + i}]." for i, _ in creates])
        except ServiceError as exc:
            if exc.status != 422:
                raise
            issues.extend(exc.issues)
        else:
            for (i, _), record_id in zip(creates, ids, strict=True):
                results[i] = {"index": offset + i, "ok": True, "_id": record_id, "_version": 1}
    for i, record in updates:
        record_id = record["_id"]
        if not isinstance(record_id, int) or isinstance(record_id, bool) or not 1 <= record_id <= INT64_MAX:
            issues.append(Issue(f"[{offset + i}]._id", "expected_id", "应为编号（正整数）", "Expected an id (a positive whole number)"))
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
def get_record(app: str, form: str, record_id: RecordId, engine: DbEngine, actor: AdminActor) -> dict[str, Any]:
    """One live record (404 when missing or deleted)."""
    with read_only(engine) as conn:
        loaded = apps.load(conn, app)
        return Reader(loaded.layout, loaded.form(form)).get(conn, record_id)


@router.patch("/records/{record_id}")
def patch_record(
    app: str, form: str, record_id: RecordId, record: RecordBody, engine: DbEngine, actor: AdminActor
) -> dict[str, Any]:
    """Change some fields; `_version` must be the version read (409 when someone saved since)."""
    with engine.begin() as conn:
        loaded = apps.load(conn, app)
        writer = Writer(loaded.layout, loaded.id, loaded.form(form))
        writer.update(conn, record_id, record, actor)
        return writer.reader.get(conn, record_id)


@router.delete("/records/{record_id}", status_code=204)
def delete_record(app: str, form: str, record_id: RecordId, engine: DbEngine, actor: AdminActor) -> None:
    """Move a record to the recycle bin."""
    with engine.begin() as conn:
        loaded = apps.load(conn, app)
        Writer(loaded.layout, loaded.id, loaded.form(form)).delete(conn, record_id, actor)


@router.post("/records/{record_id}/restore")
def restore_record(app: str, form: str, record_id: RecordId, engine: DbEngine, actor: AdminActor) -> dict[str, Any]:
    """Bring a record back from the recycle bin."""
    with engine.begin() as conn:
        loaded = apps.load(conn, app)
        writer = Writer(loaded.layout, loaded.id, loaded.form(form))
        writer.restore(conn, record_id, actor)
        return writer.reader.get(conn, record_id)


@router.get("/records/{record_id}/history")
def record_history(app: str, form: str, record_id: RecordId, engine: DbEngine, actor: AdminActor) -> list[dict[str, Any]]:
    """Every change of a record, oldest first, with its field-level diff."""
    with read_only(engine) as conn:
        loaded = apps.load(conn, app)
        layout = loaded.form(form)
        entries = history(conn, layout, record_id)
    if not entries:
        raise ServiceError(404, "not_found")
    return entries
