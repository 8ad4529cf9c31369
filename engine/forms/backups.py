"""Type-change backups of a form's fields: listing them and restoring one into its field.

A type change keeps the field's old column as a backup (`f12_b1`, see `engine.forms.migrate`)
and records it in `form_fields.backups` with the old type and storage. `list_backups` names them
with how many values each holds; `restore_backup` copies a backup's values into the field as it
is now — on records whose field is empty, where the value converts to the current type — and
reports the others: values that do not convert, and records that have a value of their own
since (never overwritten). Restoring writes one UPDATE per batch, bumps the records' `_version`
and recomputes stored formulas; it is refused (nothing written) for an unknown field or backup,
a field that keeps no value of its own, or when restored values would break the field's
uniqueness.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, bindparam, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from engine.core import sqltypes
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.forms import sortkey
from engine.forms.field_types.values import generic_json
from engine.forms.layout import FieldLayout, FormLayout
from engine.store import records as physical
from engine.store.models import FormField

SKIPPED_SHOWN = 50
"""Records a restore names among those it could not restore (the rest: a count)."""
BATCH = 1000


def _column_type(storage: str | None) -> TypeEngine[Any] | None:
    """The SQL type of a backup column from its recorded storage (`text`, `exactdecimal(2)`)."""
    if storage is None:
        return None
    if storage.startswith("exactdecimal(") and storage.endswith(")"):
        return sqltypes.ExactDecimal(int(storage[len("exactdecimal(") : -1]))
    makers: dict[str, type[TypeEngine[Any]]] = {
        "text": sqltypes.Text,
        "boolean": sqltypes.Boolean,
        "date": sqltypes.Date,
        "time": sqltypes.Time,
        "utcdatetime": sqltypes.UtcDateTime,
    }
    maker = makers.get(storage)
    return maker() if maker is not None else None


def _rows(conn: Connection, form: FormLayout) -> dict[str, Any]:
    """The form's own (not subform) fields' rows that have backups, by key."""
    rows = conn.execute(
        select(FormField.__table__).where(
            FormField.form_id == form.id,
            FormField.parent_id.is_(None),
            FormField.retired_at.is_(None),
        )
    ).all()
    return {row.key: row for row in rows if row.backups}


def list_backups(conn: Connection, form: FormLayout) -> list[dict[str, Any]]:
    """Every backup of the form's live fields: field key, backup column, old type, when, and
    how many values it holds (live records)."""
    out: list[dict[str, Any]] = []
    table = form.table.name
    for key, row in sorted(_rows(conn, form).items()):
        if key not in form.fields:
            continue
        for backup in row.backups:
            column = backup["column"]
            count = conn.execute(
                text(f"SELECT COUNT({column}) FROM {table} WHERE _deleted_at IS NULL")
            ).scalar_one()
            out.append(
                {
                    "field": key,
                    "backup": column,
                    "type": backup.get("type"),
                    "at": backup.get("at"),
                    "values": int(count),
                }
            )
    return out


def _convert(layout: FieldLayout, value: Any) -> tuple[Any, bool]:
    """A backed-up value as the field stores it now, via its JSON form; (None, False) if not."""
    raw = generic_json(value)
    raw = layout.kind.convert_from(layout.spec, raw)
    converted, issues = layout.kind.coerce(layout.spec, raw)
    return converted, not issues and converted is not None


def _shown(value: Any) -> str:
    value = generic_json(value)
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))[:200]


def restore_backup(
    conn: Connection, form: FormLayout, field_key: str, backup_column: str
) -> dict[str, Any]:
    """Copy backup `backup_column` of field `field_key` into the field (see the module
    docstring); returns `restored` (count), `skipped` (count) and `not_restored` (up to
    SKIPPED_SHOWN records: id, title, value, reason `not_converted` or `has_value`)."""
    row = _rows(conn, form).get(field_key)
    layout = form.fields.get(field_key)
    backup = next((b for b in (row.backups if row else []) if b["column"] == backup_column), None)
    if row is None or layout is None or backup is None:
        raise not_found()
    if layout.source != "column" or layout.column_type is None or not layout.writable:
        raise ServiceError(
            422,
            "not_restorable",
            [
                Issue(
                    "field",
                    "not_restorable",
                    "这个字段不保存自己的值，不能恢复备份",
                    "This field keeps no value of its own; its backup cannot be restored",
                )
            ],
        )
    old_type = _column_type(backup.get("storage"))
    if old_type is None:
        raise not_found()
    title_key = form.title_field
    title = form.fields.get(title_key) if title_key else None
    if title is None or title.source != "column" or title.column_type is None:
        title = None
    columns: list[Column[Any]] = [
        Column("_id", physical.RecordId, primary_key=True),
        Column("_version", Integer()),
        Column("_deleted_at", sqltypes.UtcDateTime()),
        Column(backup_column, old_type),
        Column(layout.column, layout.column_type),
    ]
    if title is not None and title.column != layout.column:
        columns.append(Column(title.column, title.column_type))
    reader = Table(form.table.name, MetaData(), *columns)
    backup_col, current_col = reader.c[backup_column], reader.c[layout.column]
    title_col = reader.c[title.column] if title is not None else None
    rows = conn.execute(
        select(*reader.c)
        .where(backup_col.is_not(None), reader.c._deleted_at.is_(None))
        .order_by(reader.c._id)
    ).all()
    changes: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for found in rows:
        mapping = found._mapping
        value = mapping[backup_col]
        reason = None
        if mapping[current_col] is not None:
            converted, ok = _convert(layout, value)
            if ok and converted == mapping[current_col]:
                continue  # already there
            reason = "has_value"
        else:
            converted, ok = _convert(layout, value)
            if not ok:
                reason = "not_converted"
        if reason is None:
            changes.append({"rid": mapping["_id"], "v": converted})
            continue
        named = generic_json(mapping[title_col]) if title_col is not None else None
        skipped.append(
            {
                "id": mapping["_id"],
                "title": named if isinstance(named, str) else None,
                "value": _shown(value),
                "reason": reason,
            }
        )
    if changes:
        statement = (
            update(reader)
            .where(reader.c._id == bindparam("rid"), current_col.is_(None))
            .values(
                {
                    layout.column: bindparam("v", type_=layout.column_type),
                    "_version": reader.c._version + 1,
                }
            )
        )
        # On a refusal the caller's transaction rolls back: nothing is written.
        try:
            for start in range(0, len(changes), BATCH):
                conn.execute(statement, changes[start : start + BATCH])
            if layout.keyed:  # restored text gets its pinyin sort key (its key was empty)
                sortkey.backfill(conn, reader.name, layout.column)
        except IntegrityError:
            raise ServiceError(
                422,
                "unique_violation",
                [
                    Issue(
                        "field",
                        "unique_violation",
                        "恢复的值与其他记录重复（此字段要求唯一），没有恢复任何值",
                        "Restored values would repeat other records' (the field is unique); "
                        "nothing was restored",
                    )
                ],
            ) from None
    return {
        "field": field_key,
        "backup": backup_column,
        "restored": len(changes),
        "skipped": len(skipped),
        "not_restored": skipped[:SKIPPED_SHOWN],
    }


__all__ = ["list_backups", "restore_backup"]
