"""The record pipeline (DESIGN §7): every write of every entry point goes through `Writer`.

coerce by field type -> references exist (relations, people, files, subform rows) -> defaults
-> stored formulas and serials -> unique -> write the row, its subform rows and links ->
required (unless hidden by `visible_when`) and cross-field validations, computed by SQL on the
written row so they may read lookups and rollups -> history with the field-level diff. All of
it runs in the caller's transaction; any issue raises `ServiceError` (422) before commit, so a
bad record writes nothing. Updates carry `_version`; a stale one is a 409.

The pipeline is split along its seams (issue 11, item 8), each step a class in
`engine.forms.writing` that `Writer` stacks: `base` (state), `defaults` (defaults, stored
formulas, serials), `convert` (input to `Prepared`), `checks` (rights, references, unique,
required, locks, validations), `writes` (rows, children, the unique-race guard); here the
public operations that run them in order and end in the change path (`engine.forms.changes`),
which writes history and announces `RecordChanged` events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from engine.core.context import CHANNELS, Actor
from engine.core.errors import ServiceError, invalid, not_found
from engine.core.moments import datetime_json
from engine.forms.changes import Change
from engine.forms.field_types.computed import FormulaField, SerialField
from engine.forms.field_types.links import RelationField
from engine.forms.layout import FieldLayout, FormLayout
from engine.forms.messages import issue
from engine.forms.sortkey import sort_key
from engine.forms.writing.base import _layout_cache
from engine.forms.writing.convert import (
    SYSTEM_WRITABLE_ON_IMPORT,
    Prepared,
    lone_surrogate_issue,
    lone_surrogates,
)
from engine.forms.writing.defaults import _fits
from engine.forms.writing.writes import Writing, _columns, reset_sequence
from engine.store.models import RecordHistory, User


class Writer(Writing):
    """Creates, changes, deletes and restores records of one form (see the module docstring)."""

    def create_many(
        self,
        conn: Connection,
        records: Sequence[Any],
        actor: Actor,
        *,
        preserve: bool = False,
        paths: Sequence[str] | None = None,
    ) -> list[int]:
        """Create records (all or nothing): returns their ids; raises 422 with every issue."""
        paths = (
            list(paths)
            if paths is not None
            else ([""] if len(records) == 1 else [f"[{i}]." for i in range(len(records))])
        )
        self.require("create")
        self.preserve_ids = preserve
        prepared = [self.prepare(data, creating=True, preserve=preserve) for data in records]
        for one, path in zip(prepared, paths, strict=True):
            if one.issues:
                one.issues = [i.under(path.rstrip(".")) for i in one.issues]
        self.fill_linkage(conn, records, prepared)
        self.check_references(conn, prepared, paths, actor)
        for one in prepared:
            self.compute(self.form, one.values)
            for key, rows in one.rows.items():
                rows_layout = self.form.fields[key].rows
                assert rows_layout is not None
                for row in rows:
                    self.compute(rows_layout, row)
        self.check_unique(conn, prepared, paths, [None] * len(prepared))
        self.check_required(prepared, paths)
        issues = [i for one in prepared for i in one.issues]
        if issues:
            raise invalid(issues)
        serials = [f for f in self.form.fields.values() if isinstance(f.spec, SerialField)]
        table = self.form.table
        main_rows: list[dict[str, Any]] = []
        columns_of = _columns(self.form)
        for one in prepared:
            row = {columns_of[key]: value for key, value in one.values.items()}
            for layout in serials:
                given = one.system.get("#serial:" + layout.key)
                row[layout.column] = given or self.next_serial(conn, layout)
            _add_sort_keys(self.form, row)
            row.update(self._system_values(one, actor))
            main_rows.append(row)
        columns = {name for row in main_rows for name in row}
        if any(len(row) != len(columns) for row in main_rows):  # executemany needs one shape
            main_rows = [{name: row.get(name) for name in columns} for row in main_rows]
        ids = self._unique_guard(
            conn,
            lambda: self._insert(conn, table, main_rows, preserve),
            prepared,
            paths,
            [None] * len(prepared),
        )
        for one, record_id in zip(prepared, ids, strict=True):
            self._write_children(conn, one, record_id, creating=True)
        if preserve:
            for layout in self.form.fields.values():
                if layout.rows is not None:
                    reset_sequence(conn, layout.rows.table.name)
        self.check_after_write(conn, prepared, paths, ids, create_scope=True)
        issues = [i for one in prepared for i in one.issues]
        if issues:
            raise invalid(issues)
        self.changes.record(
            conn,
            [
                Change("created", record_id, row["_version"], self._created_diff(one), actor, path)
                for one, record_id, row, path in zip(prepared, ids, main_rows, paths, strict=True)
            ],
        )
        return ids

    def update(self, conn: Connection, record_id: int, data: Any, actor: Actor) -> int:
        """Change a record; `data["_version"]` must be its current version (else 409)."""
        if not isinstance(data, Mapping):
            raise invalid([issue("", "expected_record")])
        version = data.get("_version")
        if version is None:
            raise invalid([issue("_version", "version_required")])
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise invalid([issue("_version", "expected_version")])
        self.require("edit")
        self.in_scope(conn, record_id, "edit")
        before = self._full.get(conn, record_id)
        if before["_version"] != version:
            raise ServiceError(409, "stale_version")
        prepared = self.prepare(data, creating=False)
        self.check_references(conn, [prepared], [""], actor, self._kept(before))
        locked = self.locked_fields(
            conn, record_id, [*prepared.values, *prepared.rows, *prepared.links]
        )
        table = self.form.table
        stored = self._stored_values(conn, record_id)
        merged = {**stored, **prepared.values}
        self.compute(self.form, merged)
        prepared.values = {
            k: v
            for k, v in merged.items()
            if k in prepared.values or isinstance(self.form.fields[k].spec, FormulaField)
        }
        for key, rows in prepared.rows.items():
            rows_layout = self.form.fields[key].rows
            assert rows_layout is not None
            for row in rows:
                self.compute(rows_layout, row)  # rows that keep their _id are sent whole
        self.check_unique(conn, [prepared], [""], [record_id])
        whole = Prepared(values=merged, rows=prepared.rows, links=prepared.links)
        if not prepared.rows:
            whole.rows = {
                k: [{"#unchanged": True}] * len(before.get(k) or [])
                for k, f in self.form.fields.items()
                if f.source == "rows"
            }
        if not prepared.links:
            whole.links = {
                k: [0] * len(before.get(k) or [])
                for k, f in self.form.fields.items()
                if f.source == "links"
            }
        self.check_required([whole], [""])
        prepared.issues.extend(whole.issues)
        if prepared.issues:
            raise invalid(prepared.issues)
        values = {self.form.fields[key].column: value for key, value in prepared.values.items()}
        _add_sort_keys(self.form, values)
        values.update(_updated_at=self.now, _updated_by=actor.user_id, _version=version + 1)
        statement = (
            update(table)
            .where(
                table.c._id == record_id, table.c._version == version, table.c._deleted_at.is_(None)
            )
            .values(values)
        )
        result = self._unique_guard(
            conn, lambda: conn.execute(statement), [prepared], [""], [record_id]
        )
        if result.rowcount != 1:
            raise ServiceError(409, "stale_version")
        self._write_children(conn, prepared, record_id, creating=False)
        whole.issues = []
        self.check_after_write(conn, [whole], [""], [record_id])
        if whole.issues:
            raise invalid(whole.issues)
        after = self._full.get(conn, record_id)
        diff = {
            key: [before.get(key), after.get(key)]
            for key in self.form.fields
            if key in after and before.get(key) != after.get(key)
        }
        if changed_locked := [key for key in locked if key in diff]:
            raise invalid([issue(key, "locked_field") for key in changed_locked])
        self.changes.record(conn, [Change("updated", record_id, version + 1, diff, actor)])
        return version + 1

    def delete(self, conn: Connection, record_id: int, actor: Actor) -> None:
        """Move a record to the recycle bin (soft delete)."""
        self._set_deleted(conn, record_id, actor, deleted=True)

    def restore(self, conn: Connection, record_id: int, actor: Actor) -> None:
        """Bring a record back from the recycle bin (a 422 if a unique value was taken since)."""
        self._set_deleted(conn, record_id, actor, deleted=False)

    def transfer(
        self, conn: Connection, record_ids: Sequence[int], owner: int, actor: Actor
    ) -> int:
        """Give records to `owner` (all or nothing): each must be editable by the caller."""
        self.require("edit")
        if owner not in self._existing(conn, ("user", ""), {owner}):
            raise invalid([issue("owner", "user_not_found", id=owner)])
        ids = list(dict.fromkeys(record_ids))
        for record_id in ids:
            self.in_scope(conn, record_id, "edit")
        table = self.form.table
        rows = conn.execute(
            select(table.c._id, table.c._owner, table.c._version).where(table.c._id.in_(ids))
        ).all()
        changes = []
        for record_id, before, version in rows:
            conn.execute(
                update(table)
                .where(table.c._id == record_id)
                .values(
                    _owner=owner,
                    _version=version + 1,
                    _updated_at=self.now,
                    _updated_by=actor.user_id,
                )
            )
            changes.append(
                Change("transferred", record_id, version + 1, {"_owner": [before, owner]}, actor)
            )
        self.changes.record(conn, changes)
        return len(rows)

    def _set_deleted(
        self, conn: Connection, record_id: int, actor: Actor, *, deleted: bool
    ) -> None:
        self.require("delete")
        self.in_scope(conn, record_id, "delete", deleted=not deleted)
        table = self.form.table
        current = conn.execute(
            select(table.c._version).where(
                table.c._id == record_id,
                table.c._deleted_at.is_(None) if deleted else table.c._deleted_at.is_not(None),
            )
        ).first()
        if current is None:
            raise not_found()
        if not deleted:
            stored = self._stored_values(conn, record_id)
            one = Prepared(values=stored)
            self.check_unique(conn, [one], [""], [record_id])
            if one.issues:
                raise invalid(one.issues)
        version = current[0] + 1
        conn.execute(
            update(table)
            .where(table.c._id == record_id)
            .values(
                _deleted_at=self.now if deleted else None,
                _version=version,
                _updated_at=self.now,
                _updated_by=actor.user_id,
            )
        )
        kind = "deleted" if deleted else "restored"
        self.changes.record(conn, [Change(kind, record_id, version, {}, actor)])

    def _created_diff(self, one: Prepared) -> dict[str, Any]:
        """A new record's history diff: `[None, value]` for every value it was created with."""
        if one.links or one.rows:
            return {
                key: [None, value]
                for key, value in self._json(one).items()
                if value not in (None, [])
            }
        writers = _history_writers(self.form)
        diff: dict[str, Any] = {}
        for key, value in one.values.items():
            if value is not None:
                written = writers[key](value)
                if written is not None and written != []:
                    diff[key] = (
                        None,
                        written,
                    )  # a JSON array, like [None, value]; tuples of atoms stay out of the GC's way
        return diff

    def _json(self, one: Prepared) -> dict[str, Any]:
        """A prepared record's values as record JSON (what a create's history diff holds)."""
        writers = _history_writers(self.form)
        result = {key: writers[key](value) for key, value in one.values.items()}
        for key, ids in one.links.items():
            result[key] = [{"_id": v} for v in ids]
        for key, rows in one.rows.items():
            rows_layout = self.form.fields[key].rows
            assert rows_layout is not None
            result[key] = [
                {
                    k: rows_layout.fields[k].write_json(v)
                    for k, v in row.items()
                    if not k.startswith(("_", "#"))
                }
                for row in rows
            ]
        return result


def history(
    conn: Connection, form: FormLayout, record_id: int, *, hidden: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """A record's changes, oldest first: version, event, who, through what, when, field diff
    (without the fields in `hidden`)."""
    rows = conn.execute(
        select(RecordHistory.__table__, User.display_name)
        .join(User, User.id == RecordHistory.actor_id, isouter=True)
        .where(RecordHistory.form_id == form.id, RecordHistory.record_id == record_id)
        .order_by(RecordHistory.id)
    ).all()
    return [
        {
            "version": entry.version,
            "event": entry.diff.get("event"),
            "actor": None
            if entry.actor_id is None
            else {"id": entry.actor_id, "name": entry.display_name},
            "channel": entry.channel,
            "at": datetime_json(entry.created_at),
            "changes": {k: v for k, v in entry.diff.get("fields", {}).items() if k not in hidden},
        }
        for entry in rows
    ]


def _add_sort_keys(form: FormLayout, row: dict[str, Any]) -> None:
    """The pinyin sort key beside each text value `row` writes (`engine.forms.sortkey`)."""
    keyed = _layout_cache(
        form,
        "sort_keys",
        lambda: [(f.column, f.sort_column) for f in form.fields.values() if f.sort_column],
    )
    for column, key in keyed:
        if column in row:
            row[key] = sort_key(row[column])


def _history_writers(form: FormLayout) -> dict[str, Callable[[Any], Any]]:
    """Field key -> how a prepared value is written into a create's history diff."""

    def writer(layout: FieldLayout) -> Callable[[Any], Any]:
        if isinstance(layout.spec, RelationField):
            return lambda value: None if value is None else {"_id": value}
        if layout.kind.traits.is_file:
            return lambda value: None if not value else [{"file_id": v} for v in value]
        return layout.write_json

    return _layout_cache(
        form, "history_writers", lambda: {key: writer(f) for key, f in form.fields.items()}
    )


__all__ = [
    "CHANNELS",
    "SYSTEM_WRITABLE_ON_IMPORT",
    "Actor",
    "Prepared",
    "Writer",
    "_fits",
    "history",
    "lone_surrogate_issue",
    "lone_surrogates",
    "reset_sequence",
]
