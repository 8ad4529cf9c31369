"""Files for attachment, image and signature fields: upload, and download where allowed.

Any signed-in user may upload (audited as `file.upload`, at most `JIMU_MAX_UPLOAD_BYTES` per
file and within the user's quotas, see `engine.forms.uploads`); the optional `field_type`
refuses at once what an image or signature field would not accept. Its request body may be
larger than other requests' (`engine.api.limits`).
`GET /files/{id}` gives a file to its uploader (and administrators) only; everyone else
downloads through a record that references it: `GET /apps/{app}/forms/{form}/records/{id}/
files/{file_id}` reads the record through the `Reader` with the caller's rights (row scope and
hidden fields) — or a flow task's on that record (`engine.flows.access`) — so the file must sit
in a field the caller can see. Refusals are 404, never
the bytes. Public-link uploads live in `routes/public.py`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse

from engine.api.deps import DbEngine, read_only
from engine.api.routes.records import RecordId, open_form
from engine.api.schemas.records import FileOut
from engine.api.security import CurrentUser, client_ip
from engine.auth import audit
from engine.core.errors import forbidden, not_found
from engine.forms.layout import Container
from engine.forms.uploads import accepting, check_user_quota, too_large
from engine.store.files import IMAGE_MIMES, FileInfo, FileStore, FileTooLarge, StoredInfo

router = APIRouter(tags=["files"])

FileId = Annotated[int, Path(ge=1, le=2**31 - 1)]
FieldType = Literal["attachment", "image", "signature"]
"""The file field types (`traits.is_file`; a test keeps the two in step)."""


def file_store(request: Request) -> FileStore:
    """The installation's file store (under the data directory)."""
    settings = request.app.state.settings
    return FileStore(settings.data_dir / "files", settings.max_upload_bytes)


def upload_json(info: FileInfo) -> dict[str, Any]:
    return asdict(info)


def serve(stored: StoredInfo, path: Any) -> FileResponse:
    """The bytes with their name: raster images inline (for previews), everything else as a
    download, and never sniffed by the browser into something else (e.g. HTML)."""
    info = stored.info
    inline = info.mime in IMAGE_MIMES
    return FileResponse(
        path,
        media_type=info.mime,
        filename=info.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )


@router.post("/files", status_code=201, response_model=FileOut)
def upload(
    request: Request,
    engine: DbEngine,
    principal: CurrentUser,
    file: Annotated[UploadFile, File()],
    field_type: Annotated[
        FieldType | None, Query(description="Refuse what a field of this type would not accept")
    ] = None,
) -> dict[str, Any]:
    """Store one file; put `{"file_id": ...}` into a record's attachment/image/signature field
    (a user may only reference their own uploads)."""
    if not principal.can_write:
        raise forbidden()
    name = file.filename or "file"
    mime = file.content_type or "application/octet-stream"
    store = file_store(request)
    size = upload_size(file)
    if size > store.max_bytes:
        raise too_large(store.max_bytes)
    try:
        with engine.begin() as conn:
            check_user_quota(conn, request.app.state.settings, principal.user_id, size)
            info = store.save(
                conn, file.file, name, mime, principal.user_id, accept=accepting(field_type)
            )
            audit.record(
                conn,
                "file.upload",
                actor_id=principal.user_id,
                ip=client_ip(request),
                subject=f"file:{info.file_id}",
                detail={"name": info.name, "size": info.size, "mime": info.mime},
            )
    except FileTooLarge:
        raise too_large(store.max_bytes) from None
    return upload_json(info)


def upload_size(file: UploadFile) -> int:
    """The size of an upload the server has received (multipart parts are spooled whole first)."""
    if file.size is not None:
        return file.size
    position = file.file.tell()
    size = file.file.seek(0, 2)
    file.file.seek(position)
    return size


@router.get("/files/{file_id}", response_class=FileResponse)
def download(
    request: Request, engine: DbEngine, principal: CurrentUser, file_id: FileId
) -> FileResponse:
    """One's own upload (administrators: any); others download through a record."""
    with read_only(engine) as conn:
        found = file_store(request).find(conn, file_id)
    if found is None or not found[1].exists():
        raise not_found()
    stored, path = found
    unlimited_admin = (
        principal.is_admin and principal.apps is None
    )  # an app-limited token reads through records
    if not unlimited_admin and (
        principal.user_id is None or stored.created_by != principal.user_id
    ):
        raise not_found()
    return serve(stored, path)


def file_ids(container: Container, record: dict[str, Any]) -> set[int]:
    """Ids of the files in a record's JSON (as the caller sees it), subform rows included."""
    found: set[int] = set()
    for layout in container.fields.values():
        value = record.get(layout.key)
        if not value:
            continue
        if layout.kind.traits.is_file:
            found.update(ref["file_id"] for ref in value)
        elif layout.rows is not None:
            for row in value:
                found |= file_ids(layout.rows, row)
    return found


@router.get(
    "/apps/{app}/forms/{form}/records/{record_id}/files/{file_id}", response_class=FileResponse
)
def download_from_record(
    app: str,
    form: str,
    record_id: RecordId,
    file_id: FileId,
    request: Request,
    engine: DbEngine,
    principal: CurrentUser,
) -> FileResponse:
    """A file referenced by a field of this record that the caller may see (else 404)."""
    with read_only(engine) as conn:
        opened = open_form(conn, app, form, principal, request, record_id)
        record = opened.get(record_id)
        if file_id not in file_ids(opened.form, record):
            raise not_found()
        found = file_store(request).find(conn, file_id)
    if found is None or not found[1].exists():
        raise not_found()
    return serve(*found)


__all__ = ["FieldType", "file_store", "router", "serve", "upload_json", "upload_size"]
