"""Uploaded files: content stored once per SHA-256 under the data directory, one row per upload.

The stored type of an image is what its first bytes say (PNG, JPEG, GIF, WebP, BMP), never
the browser's claim: a non-image sent as ``image/png`` is kept as ``application/octet-stream``,
so image and signature fields (which accept only those types) cannot be given anything else,
and downloads can serve exactly these types inline.

A blob lives at ``<data dir>/files/<sha[0:2]>/<sha[2:4]>/<sha>``; it is written to a temporary
file in the same directory first and renamed into place, so a crash never leaves a partial
blob under its final name, and two uploads of the same bytes share one blob (each upload
renames its copy into place, so the blob's modification time is that of its latest upload).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from engine.store.models import StoredFile, utcnow

CHUNK = 1 << 20
# Raster image types recognised by their signature; SVG is deliberately absent (it can carry script).
IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})


def sniff_image(head: bytes) -> str | None:
    """The image type that `head` (a file's first bytes) starts like, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(head) >= 26:
        return "image/bmp"
    return None


def stored_mime(declared: str, head: bytes) -> str:
    """The type kept for an upload: the sniffed image type, else the declared type unless it
    claims to be one of the recognised image types."""
    sniffed = sniff_image(head)
    if sniffed is not None:
        return sniffed
    declared = declared.split(";")[0].strip().lower()[:255] or "application/octet-stream"
    return "application/octet-stream" if declared in IMAGE_MIMES else declared


class FileTooLarge(Exception):
    """The upload is larger than the configured limit."""


@dataclass(frozen=True)
class FileInfo:
    """An upload's metadata as the API returns it."""

    file_id: int
    name: str
    size: int
    mime: str
    sha256: str


@dataclass(frozen=True)
class StoredInfo:
    """An upload's metadata with who may use it: its uploader, or the public link it came through."""

    info: FileInfo
    created_by: int | None
    link_id: int | None


class FileStore:
    """Content-addressed blobs under `root` and their `files` rows."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def save(
        self,
        conn: Connection,
        stream: BinaryIO,
        name: str,
        mime: str,
        user_id: int | None,
        *,
        link_id: int | None = None,
        accept: Callable[[str], None] | None = None,
    ) -> FileInfo:
        """Store `stream`'s bytes (deduplicated) and record the upload in this transaction.

        `accept` sees the stored type before anything is written and raises to refuse it."""
        head = stream.read(64)
        mime = stored_mime(mime, head)
        if accept is not None:
            accept(mime)
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(head)
        size = len(head)
        if size > self.max_bytes:
            raise FileTooLarge
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(head)
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FileTooLarge
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            target = self.path_of(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Replaced even when the same bytes are stored already: the blob's fresh modification
            # time tells the orphan sweep (engine.forms.orphans) that an upload is using it.
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        file_id = conn.execute(
            insert(StoredFile)
            .values(
                sha256=sha,
                name=name[:255],
                size=size,
                mime=mime,
                created_at=utcnow(),
                created_by=user_id,
                link_id=link_id,
            )
            .returning(StoredFile.id)
        ).scalar_one()
        return FileInfo(file_id, name[:255], size, mime, sha)

    def find(self, conn: Connection, file_id: int) -> tuple[StoredInfo, Path] | None:
        """An upload's metadata and blob path, or None when there is no such upload."""
        row = conn.execute(select(StoredFile.__table__).where(StoredFile.id == file_id)).first()
        if row is None:
            return None
        info = FileInfo(row.id, row.name, row.size, row.mime, row.sha256)
        return StoredInfo(info, row.created_by, row.link_id), self.path_of(row.sha256)


__all__ = [
    "IMAGE_MIMES",
    "FileInfo",
    "FileStore",
    "FileTooLarge",
    "StoredInfo",
    "sniff_image",
    "stored_mime",
]
