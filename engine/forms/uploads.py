"""Upload rules shared by signed-in uploads (`POST /files`) and public-link uploads: the size
limit and its error, the upload quotas, and which stored types a file field accepts (checked
at upload time, so the person uploading sees the error at once, and again when a record
references the file).

Quotas count the `files` rows an uploader still has (uploads the orphan sweep removed no longer
count): a user's bytes within the last 24 hours (`JIMU_USER_UPLOAD_DAILY_BYTES`, 429
`upload_quota_daily`) and in total (`JIMU_USER_UPLOAD_TOTAL_BYTES`, 413 `upload_quota_total`),
and a public link's bytes within the last 24 hours (`JIMU_LINK_UPLOAD_DAILY_BYTES`, 429
`link_upload_quota`). A quota of 0 is no quota. Callers without a user (the admin token) have
no user quota. Two uploads at the same moment may both pass the check: a quota can be exceeded
by at most the uploads in flight, each bounded by the per-file limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from engine.core.errors import ServiceError, invalid
from engine.forms.field_types.files import mime_problem
from engine.forms.messages import issue
from engine.settings import Settings
from engine.store.models import StoredFile, utcnow

MB = 1024 * 1024
QUOTA_WINDOW = dt.timedelta(hours=24)


def size_text(size: int) -> str:
    """A byte count as people read it: whole MB, or KB below one MB."""
    if size >= MB:
        return f"{size / MB:.0f} MB" if size % MB == 0 else f"{size / MB:.1f} MB"
    return f"{max(1, size // 1024)} KB"


def too_large(limit: int) -> ServiceError:
    """413 `file_too_large` with the limit."""
    shown = size_text(limit)
    return ServiceError(
        413,
        "file_too_large",
        message_zh=f"文件不能超过 {shown}",
        message_en=f"Files may be at most {shown}",
    )


def read_limited(stream: BinaryIO, limit: int) -> bytes:
    """The whole of an uploaded file, refused with `too_large` as soon as it passes `limit`
    bytes (one byte more is read to tell)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit)
    return data


def _used(conn: Connection, *where: ColumnElement[bool]) -> int:
    return int(
        conn.execute(select(func.coalesce(func.sum(StoredFile.size), 0)).where(*where)).scalar_one()
    )


def check_user_quota(conn: Connection, settings: Settings, user_id: int | None, size: int) -> None:
    """Refuse an upload of `size` bytes that would take the user past a quota (see the module docstring)."""
    if user_id is None:
        return
    daily = settings.user_upload_daily_bytes
    if (
        daily
        and _used(
            conn, StoredFile.created_by == user_id, StoredFile.created_at >= utcnow() - QUOTA_WINDOW
        )
        + size
        > daily
    ):
        shown = size_text(daily)
        raise ServiceError(
            429,
            "upload_quota_daily",
            message_zh=f"24 小时内上传的文件已达上限 {shown}，请稍后再试",
            message_en=f"You may upload at most {shown} within 24 hours; try again later",
        )
    total = settings.user_upload_total_bytes
    if total and _used(conn, StoredFile.created_by == user_id) + size > total:
        shown = size_text(total)
        raise ServiceError(
            413,
            "upload_quota_total",
            message_zh=f"您上传的文件总量已达上限 {shown}，请联系管理员",
            message_en=f"Your uploads have reached the limit of {shown} in total; ask an administrator",
        )


def check_link_quota(conn: Connection, settings: Settings, link_id: int, size: int) -> None:
    """Refuse an anonymous upload that would take a public link past its daily quota."""
    daily = settings.link_upload_daily_bytes
    if (
        daily
        and _used(
            conn, StoredFile.link_id == link_id, StoredFile.created_at >= utcnow() - QUOTA_WINDOW
        )
        + size
        > daily
    ):
        shown = size_text(daily)
        raise ServiceError(
            429,
            "link_upload_quota",
            message_zh=f"该外链 24 小时内接收的文件已达上限 {shown}，请稍后再试",
            message_en=f"This public link accepts at most {shown} of files within 24 hours; try again later",
        )


def accepting(field_type: str | None) -> Callable[[str], None]:
    """A check of an upload's stored type for a `field_type` field (None: any file): raises
    422 with the issue at `file`."""

    def check(mime: str) -> None:
        problem = mime_problem(field_type, mime) if field_type else None
        if problem is not None:
            raise invalid([issue("file", problem)])

    return check


__all__ = [
    "QUOTA_WINDOW",
    "accepting",
    "check_link_quota",
    "check_user_quota",
    "size_text",
    "too_large",
]
