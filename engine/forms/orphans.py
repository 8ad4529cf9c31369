"""The orphan-file sweep: remove uploads that nothing references and that are old enough.

An upload (`files` row and blob) is kept while anything may still need it: a value of an
attachment, image or signature field in any record table — live records and the recycle bin
(`_deleted_at` set), subform rows, fields retired from the definition (their columns stay until
an explicit purge), backup columns a type change left behind (`f12_b1`, see
`engine.forms.migrate`), forms retired from the definition — or a file reference anywhere in a
record's history. Everything else older than `older_than` (24 hours by default, so an upload
waiting for its form to be submitted is safe) is removed: the row, then the blob when no other
row shares its SHA-256. Blobs no row names (an upload whose transaction rolled back) and
interrupted temporary uploads are removed once they are as old.

The sweep runs at `jimu serve` start-up; `sweep_orphan_files` is the function a scheduled job
calls. On SQLite the scan and the removal hold the write lock, so no record can start using a
file in between; on PostgreSQL the probable orphans are locked and looked for again, while
record writes read the files they reference `FOR SHARE`, so a write in flight is either seen or
finds the file gone (422 `file_not_found`), never left pointing at a removed file. A blob
is removed only when its modification time is also older than the cutoff: an upload of the
same bytes rewrites the blob (`FileStore.save`), so a concurrent re-upload keeps it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, inspect, select
from sqlalchemy.engine import Connection, Engine

from engine.forms.field_types.files import is_file_type
from engine.store import records as physical
from engine.store.files import FileStore
from engine.store.models import FormField, RecordHistory, StoredFile, utcnow

DEFAULT_AGE = dt.timedelta(hours=24)
CHUNK = 500


@dataclass(frozen=True)
class SweepResult:
    """What a sweep removed: `files` rows, `blobs` on disk and the bytes those blobs held."""

    files: int
    blobs: int
    bytes: int


def sweep_orphan_files(
    engine: Engine,
    store: FileStore,
    *,
    older_than: dt.timedelta = DEFAULT_AGE,
    now: dt.datetime | None = None,
) -> SweepResult:
    """Remove the uploads nothing references that are older than `older_than` (see the module docstring)."""
    cutoff = (now or utcnow()) - older_than
    with engine.begin() as conn:
        candidates: dict[int, str] = {
            row.id: row.sha256
            for row in conn.execute(
                select(StoredFile.id, StoredFile.sha256).where(StoredFile.created_at < cutoff)
            )
        }
        if candidates:
            unused = set(candidates) - referenced_files(conn, set(candidates))
            if unused and conn.dialect.name == "postgresql":
                unused = _still_unused(conn, unused)
            for chunk in _chunks(sorted(unused)):
                conn.execute(delete(StoredFile).where(StoredFile.id.in_(chunk)))
        else:
            unused = set()
    blobs, freed = _remove_blobs(
        engine, store, {candidates[i] for i in unused} | _stray_blobs(store, cutoff), cutoff
    )
    _remove_stale_uploads(store.root, cutoff)
    return SweepResult(len(unused), blobs, freed)


def _still_unused(conn: Connection, unused: set[int]) -> set[int]:
    """Lock the probable orphans, then look again: a record write reads the files it references
    `FOR SHARE` (`Writer._files`), so a write in flight finishes before the lock is granted (and
    its reference is seen now), and a later one waits for the sweep and finds the file gone."""
    locked: set[int] = set()
    for chunk in _chunks(sorted(unused)):
        query = select(StoredFile.id).where(StoredFile.id.in_(chunk)).with_for_update()
        locked.update(conn.execute(query).scalars())
    return locked - referenced_files(conn, locked)


def referenced_files(conn: Connection, wanted: set[int]) -> set[int]:
    """Those of `wanted` that a record table column (of any age or state) or a history entry names."""
    found: set[int] = set()
    for table, column in _file_columns(conn):
        statement = (
            select(sa.column(column, sa.JSON()))
            .select_from(sa.table(table))
            .where(sa.column(column).is_not(None))
        )
        for (value,) in conn.execute(statement):
            found.update(i for i in _stored_ids(value) if i in wanted)
        if found >= wanted:
            return found
    history = (
        select(RecordHistory.diff)
        .where(sa.cast(RecordHistory.diff, sa.Text).like('%"file_id"%'))
        .execution_options(yield_per=1000)
    )
    for (diff,) in conn.execute(history):
        found.update(i for i in _history_ids(diff) if i in wanted)
    return found


def _file_columns(conn: Connection) -> Iterator[tuple[str, str]]:
    """(table, column) of every physical column that holds file references: file fields live or
    retired, of live or retired forms, and backup columns of fields that were file fields."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    existing: dict[str, set[str]] = {}
    rows = conn.execute(
        select(
            FormField.id, FormField.form_id, FormField.parent_id, FormField.type, FormField.backups
        )
    )
    for row in rows.all():
        names = [physical.column_name(row.id)] if is_file_type(row.type) else []
        names += [
            b["column"]
            for b in row.backups or []
            if isinstance(b, dict) and is_file_type(b.get("type"))
        ]
        if not names:
            continue
        table = (
            physical.table_name(row.form_id)
            if row.parent_id is None
            else physical.child_table_name(row.form_id, row.parent_id)
        )
        if table not in tables:
            continue  # purged
        if table not in existing:
            existing[table] = {c["name"] for c in inspector.get_columns(table)}
        for name in names:
            if name in existing[table]:
                yield table, name


def _stored_ids(value: Any) -> Iterator[int]:
    """File ids in a file column's value: a JSON list of ids (or of `{"file_id": ...}`)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return
    if not isinstance(value, list):
        return
    for item in value:
        candidate = item.get("file_id") if isinstance(item, dict) else item
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            yield candidate


def _history_ids(value: Any) -> Iterator[int]:
    """Every `file_id` in a history diff, however deep (subform rows hold their own files)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            candidate = item.get("file_id")
            if isinstance(candidate, int) and not isinstance(candidate, bool):
                yield candidate
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _stray_blobs(store: FileStore, cutoff: dt.datetime) -> set[str]:
    """SHA-256s of blobs older than the cutoff (whether a row names them is checked later)."""
    found: set[str] = set()
    if not store.root.is_dir():
        return found
    limit = cutoff.timestamp()
    for path in store.root.glob("??/??/*"):
        if len(path.name) == 64 and path.is_file() and path.stat().st_mtime < limit:
            found.add(path.name)
    return found


def _remove_blobs(
    engine: Engine, store: FileStore, shas: Iterable[str], cutoff: dt.datetime
) -> tuple[int, int]:
    """Delete the blobs of `shas` that no `files` row names and that were last written before the cutoff."""
    removed = freed = 0
    limit = cutoff.timestamp()
    for chunk in _chunks(sorted(shas)):
        with engine.connect() as conn:
            named = set(
                conn.execute(
                    select(StoredFile.sha256).where(StoredFile.sha256.in_(chunk))
                ).scalars()
            )
        for sha in chunk:
            if sha in named:
                continue
            path = store.path_of(sha)
            try:
                info = path.stat()
                if info.st_mtime >= limit:
                    continue  # written again since: an upload of the same bytes is under way
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            freed += info.st_size
    return removed, freed


def _remove_stale_uploads(root: Path, cutoff: dt.datetime) -> None:
    """Temporary files of uploads interrupted before they were renamed into place."""
    if not root.is_dir():
        return
    for path in root.glob(".upload-*"):
        try:
            if path.stat().st_mtime < cutoff.timestamp():
                path.unlink()
        except FileNotFoundError:
            continue


__all__ = ["DEFAULT_AGE", "SweepResult", "referenced_files", "sweep_orphan_files"]
