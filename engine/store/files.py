"""Uploaded files: content stored once per SHA-256 under the data directory, one row per upload.

A blob lives at ``<data dir>/files/<sha[0:2]>/<sha[2:4]>/<sha>``; it is written to a temporary
file in the same directory first and renamed into place, so a crash never leaves a partial
blob under its final name, and two uploads of the same bytes share one blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from engine.store.models import StoredFile, utcnow

CHUNK = 1 << 20


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


class FileStore:
    """Content-addressed blobs under `root` and their `files` rows."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def save(self, conn: Connection, stream: BinaryIO, name: str, mime: str, user_id: int | None) -> FileInfo:
        """Store `stream`'s bytes (deduplicated) and record the upload in this transaction."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FileTooLarge
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            target = self.path_of(sha)
            if target.exists():
                os.unlink(temporary)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        file_id = conn.execute(
            insert(StoredFile)
            .values(sha256=sha, name=name[:255], size=size, mime=mime[:255], created_at=utcnow(), created_by=user_id)
            .returning(StoredFile.id)
        ).scalar_one()
        return FileInfo(file_id, name[:255], size, mime[:255], sha)

    def find(self, conn: Connection, file_id: int) -> tuple[FileInfo, Path] | None:
        """An upload's metadata and blob path, or None when there is no such upload."""
        row = conn.execute(select(StoredFile.__table__).where(StoredFile.id == file_id)).first()
        if row is None:
            return None
        return FileInfo(row.id, row.name, row.size, row.mime, row.sha256), self.path_of(row.sha256)


__all__ = ["FileInfo", "FileStore", "FileTooLarge"]
