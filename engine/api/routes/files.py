"""`/files`: upload a file (multipart) for attachment, image and signature fields; download it.

Downloads need the admin token for now; once identity lands they are checked through the
records that reference the file (DESIGN §12).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import FileResponse

from engine.api.deps import AdminActor, DbEngine, read_only
from engine.forms.errors import ServiceError, not_found
from engine.store.files import FileStore, FileTooLarge

router = APIRouter(prefix="/files", tags=["files"])

MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def _store(request: Request) -> FileStore:
    return FileStore(request.app.state.settings.data_dir / "files", MAX_UPLOAD_BYTES)


@router.post("", status_code=201)
def upload(request: Request, engine: DbEngine, actor: AdminActor, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """Store one file; put the returned `file_id` into a record's attachment/image/signature field."""
    name = file.filename or "file"
    mime = file.content_type or "application/octet-stream"
    try:
        with engine.begin() as conn:
            info = _store(request).save(conn, file.file, name, mime, actor.user_id)
    except FileTooLarge:
        raise ServiceError(
            413,
            "file_too_large",
            message_zh=f"文件不能超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
            message_en=f"Files may be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
        ) from None
    return asdict(info)


@router.get("/{file_id}", response_class=FileResponse)
def download(
    request: Request, engine: DbEngine, actor: AdminActor, file_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> FileResponse:
    """The file's bytes with its name and type."""
    with read_only(engine) as conn:
        found = _store(request).find(conn, file_id)
    if found is None or not found[1].exists():
        raise not_found()
    info, path = found
    return FileResponse(path, media_type=info.mime, filename=info.name)
