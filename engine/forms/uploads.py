"""Upload rules shared by signed-in uploads (`POST /files`) and public-link uploads: the size
limit and its error, and which stored types a file field accepts (checked at upload time, so
the person uploading sees the error at once, and again when a record references the file)."""

from __future__ import annotations

from collections.abc import Callable

from engine.forms.errors import ServiceError, invalid
from engine.forms.field_types.files import mime_problem
from engine.forms.messages import issue

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
FILE_FIELD_TYPES = ("attachment", "image", "signature")


def too_large(limit: int = MAX_UPLOAD_BYTES) -> ServiceError:
    """413 `file_too_large` with the limit in MB."""
    megabytes = limit // (1024 * 1024)
    return ServiceError(
        413,
        "file_too_large",
        message_zh=f"文件不能超过 {megabytes} MB",
        message_en=f"Files may be at most {megabytes} MB",
    )


def accepting(field_type: str | None) -> Callable[[str], None]:
    """A check of an upload's stored type for a `field_type` field (None: any file): raises
    422 with the issue at `file`."""

    def check(mime: str) -> None:
        problem = mime_problem(field_type, mime) if field_type else None
        if problem is not None:
            raise invalid([issue("file", problem)])

    return check


__all__ = ["FILE_FIELD_TYPES", "MAX_UPLOAD_BYTES", "accepting", "too_large"]
