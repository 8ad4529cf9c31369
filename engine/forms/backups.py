"""Type-change backups of a form's fields: listing them and restoring one into its field.

A type change keeps the field's old column as a backup (`f12_b1`, see `engine.forms.migrate`)
and records it in `form_fields.backups` with the old type and storage — a subform's row field
too, in its row table, named `subform.field` here and restored into the same rows (the
record's `_version` is bumped once for its rows). `list_backups` names them
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
from engine.forms.layout import FieldLayout, FormLayout, RowsLayout
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
    """The form's live fields' rows that have backups, by key — `subform.field` for a row field
    of a subform (its type change backs up the row table's column the same way)."""
    subforms = {f.id: key for key, f in form.fields.items() if f.rows is not None}
    rows = conn.execute(
        select(FormField.__table__).where(
            FormField.form_id == form.id, FormField.retired_at.is_(None)
        )
    ).all()
    found: dict[str, Any] = {}
    for row in rows:
        if not row.backups:
            continue
        if row.parent_id is None:
            found[row.key] = row
        elif row.parent_id in subforms:
            found[f"{subforms[row.parent_id]}.{row.key}"] = row
    return found


def _field(form: FormLayout, key: str) -> tuple[FieldLayout | None, RowsLayout | None]:
    """The field `key` names (`subform.field`: a subform's row field) and, for a row field, its
    subform's rows."""
    if "." not in key:
        return form.fields.get(key), None
    subform, _, inner = key.partition(".")
    parent = form.fields.get(subform)
    rows = parent.rows if parent is not None else None
    return (rows.fields.get(inner) if rows is not None else None), rows


def list_backups(conn: Connection, form: FormLayout) -> list[dict[str, Any]]:
    """Every backup of the form's live fields (and its subforms' row fields, as
    `subform.field`): field key, backup column, old type, when, and how many values it holds
    (in live records)."""
    out: list[dict[str, Any]] = []
    table = form.table.name
    for key, row in sorted(_rows(conn, form).items()):
        layout, rows = _field(form, key)
        if layout is None:
            continue
        for backup in row.backups:
            column = backup["column"]
            if rows is None:
                counted = f"SELECT COUNT({column}) FROM {table} WHERE _deleted_at IS NULL"
            else:
                counted = (
                    f"SELECT COUNT(c.{column}) FROM {rows.table.name} c JOIN {table} p"
                    " ON p._id = c._parent_id WHERE p._deleted_at IS NULL"
                )
            count = conn.execute(text(counted)).scalar_one()
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
    """Copy backup `backup_column` of field `field_key` (`subform.field` for a subform's row
    field: into the same rows) into the field (see the module docstring); returns `restored`
    (count), `skipped` (count) and `not_restored` (up to SKIPPED_SHOWN: record id, title, the
    subform row's id for a row field, value, reason `not_converted` or `has_value`)."""
    row = _rows(conn, form).get(field_key)
    layout, rows = _field(form, field_key)
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
    record_columns: list[Column[Any]] = [
        Column("_id", physical.RecordId, primary_key=True),
        Column("_version", Integer()),
        Column("_deleted_at", sqltypes.UtcDateTime()),
    ]
    value_columns: list[Column[Any]] = [
        Column(backup_column, old_type),
        Column(layout.column, layout.column_type),
    ]
    if rows is None:  # the form's own field: the record table holds everything
        title_wanted = title is not None and title.column != layout.column
        if title is not None and title_wanted:
            value_columns.append(Column(title.column, title.column_type))
        records = target = Table(form.table.name, MetaData(), *record_columns, *value_columns)
        owner = target.c._id
    else:  # a row field: its subform's row table, each row of one record
        target = Table(
            rows.table.name,
            MetaData(),
            Column("_id", physical.RecordId, primary_key=True),
            Column("_parent_id", physical.RecordId),
            *value_columns,
        )
        if title is not None:
            record_columns.append(Column(title.column, title.column_type))
        records = Table(form.table.name, MetaData(), *record_columns)
        owner = target.c._parent_id
    backup_col, current_col = target.c[backup_column], target.c[layout.column]
    title_col = (
        (target.c[title.column] if rows is None else records.c[title.column])
        if title is not None
        else None
    )
    query = select(target.c._id.label("target"), owner.label("record"), backup_col, current_col)
    if title_col is not None:
        query = query.add_columns(title_col.label("title"))
    if rows is not None:
        query = query.join_from(target, records, records.c._id == target.c._parent_id)
    found_rows = conn.execute(
        query.where(backup_col.is_not(None), records.c._deleted_at.is_(None)).order_by(
            owner, target.c._id
        )
    ).all()
    changes: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for found in found_rows:
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
            changes.append({"rid": mapping["target"], "record": mapping["record"], "v": converted})
            continue
        named = generic_json(mapping["title"]) if title_col is not None else None
        skip = {
            "id": mapping["record"],
            "title": named if isinstance(named, str) else None,
            "value": _shown(value),
            "reason": reason,
        }
        if rows is not None:
            skip["row"] = mapping["target"]
        skipped.append(skip)
    if changes:
        values: dict[str, Any] = {layout.column: bindparam("v", type_=layout.column_type)}
        if rows is None:
            values["_version"] = records.c._version + 1
        statement = (
            update(target)
            .where(target.c._id == bindparam("rid"), current_col.is_(None))
            .values(values)
        )
        changed = sorted({change["record"] for change in changes})
        # On a refusal the caller's transaction rolls back: nothing is written.
        try:
            for start in range(0, len(changes), BATCH):
                conn.execute(
                    statement,
                    [{"rid": c["rid"], "v": c["v"]} for c in changes[start : start + BATCH]],
                )
            if rows is not None:  # a record whose rows changed is a new version of it
                for start in range(0, len(changed), BATCH):
                    conn.execute(
                        update(records)
                        .where(records.c._id.in_(changed[start : start + BATCH]))
                        .values(_version=records.c._version + 1)
                    )
            if layout.keyed:  # restored text gets its pinyin sort key (its key was empty)
                sortkey.backfill(conn, target.name, layout.column)
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
