"""The writes of the record pipeline: main rows (single, bulk, with kept ids), system values,
subform rows and link rows, the unique-race guard, and the stored values of a record. What
they change is recorded by the change path (`engine.forms.changes`), called by `Writer`.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.core.context import Actor
from engine.core.errors import ServiceError, invalid, not_found
from engine.core.issues import Issue
from engine.forms.layout import Container, RowsLayout
from engine.forms.messages import issue
from engine.forms.writing.base import _layout_cache
from engine.forms.writing.checks import Checking
from engine.forms.writing.convert import Prepared
from engine.store.records import bulk_insert, reserve_ids

_T = TypeVar("_T")

# One ``INSERT … RETURNING _id`` per record table, its values passed as parameters: building
# the statement per create (``insert(table).values(row)``) cost several times the insert itself,
# all of it under SQLite's write lock. Weak keys: a table goes with its app revision.
_INSERT_RETURNING: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _insert_returning(table: Any) -> Any:
    statement = _INSERT_RETURNING.get(table)
    if statement is None:
        statement = _INSERT_RETURNING[table] = insert(table).returning(table.c._id)
    return statement


class Writing(Checking):
    """Writes rows of records, their subform rows and links (see the module docstring)."""

    def _system_values(self, one: Prepared, actor: Actor) -> dict[str, Any]:
        system = one.system
        if not system:
            return {
                "_created_at": self.now,
                "_created_by": actor.user_id,
                "_updated_at": self.now,
                "_updated_by": actor.user_id,
                "_owner": actor.user_id if actor.owner is None else actor.owner,
                "_version": 1,
            }
        created = _moment(system.get("_created_at")) or self.now
        updated = _moment(system.get("_updated_at")) or created if system else self.now
        values = {
            "_created_at": created,
            "_created_by": system.get("_created_by", actor.user_id),
            "_updated_at": updated,
            "_updated_by": system.get("_updated_by", actor.user_id),
            "_owner": system.get("_owner", actor.user_id if actor.owner is None else actor.owner),
            "_version": int(system.get("_version") or 1),
        }
        if isinstance(system.get("_id"), int) and system["_id"] > 0:
            values["_id"] = system["_id"]
        return values

    def _insert(
        self, conn: Connection, table: Any, rows: list[dict[str, Any]], preserve: bool
    ) -> list[int]:
        if not rows:
            return []
        if preserve and all("_id" in row for row in rows):
            if not bulk_insert(conn, table, rows):
                conn.execute(insert(table), rows)
            reset_sequence(conn, table.name)
            return [row["_id"] for row in rows]
        if len(rows) == 1:
            return [conn.execute(_insert_returning(table), rows[0]).scalar_one()]
        ids = reserve_ids(conn, table, len(rows))
        if ids is None:
            result = conn.execute(
                insert(table).returning(table.c._id, sort_by_parameter_order=True), rows
            )
            return [row[0] for row in result]
        for row, record_id in zip(rows, ids, strict=True):
            row["_id"] = record_id
        if not bulk_insert(conn, table, rows):
            conn.execute(insert(table), rows)
        return ids

    def _unique_guard(
        self,
        conn: Connection,
        write: Callable[[], _T],
        prepared: Sequence[Prepared],
        paths: Sequence[str],
        ids: Sequence[int | None],
    ) -> _T:
        """Run `write`; a unique value a concurrent writer took after `check_unique` (PostgreSQL's
        unique index refuses the second one) is reported as `check_unique` reports it: a 422 at
        the field. A savepoint keeps the transaction usable for that second check; forms without
        unique fields need neither."""
        if not any(layout.unique for layout in self.form.fields.values()):
            return write()
        try:
            with conn.begin_nested():
                return write()
        except IntegrityError as exc:
            self.check_unique(
                conn, prepared, paths, ids
            )  # the winner has committed: it is seen now
            issues = [i for one in prepared for i in one.issues]
            if issues:
                raise invalid(issues) from exc
            raise ServiceError(
                409,
                "validation_failed",
                [Issue("", "unique", "取值已存在，不能重复", "A unique value already exists")],
            ) from exc

    def _write_children(
        self, conn: Connection, one: Prepared, record_id: int, *, creating: bool
    ) -> None:
        for key, ids in one.links.items():
            link = self.form.fields[key].link
            assert link is not None
            if not creating:
                conn.execute(delete(link).where(link.c._source_id == record_id))
            if ids:
                conn.execute(
                    insert(link),
                    [
                        {"_source_id": record_id, "_target_id": t, "_seq": i}
                        for i, t in enumerate(ids)
                    ],
                )
        for key, rows in one.rows.items():
            layout = self.form.fields[key]
            assert layout.rows is not None
            self._write_rows(conn, layout.rows, record_id, rows, creating=creating, path=key)

    def _write_rows(
        self,
        conn: Connection,
        rows_layout: RowsLayout,
        record_id: int,
        rows: list[dict[str, Any]],
        *,
        creating: bool,
        path: str,
    ) -> None:
        table = rows_layout.table
        kept: set[int] = set()
        if not creating:
            existing = set(
                conn.execute(select(table.c._id).where(table.c._parent_id == record_id)).scalars()
            )
            issues = [
                issue(f"{path}[{i}]._id", "row_not_found", id=row["_id"])
                for i, row in enumerate(rows)
                if row.get("_id") is not None and row["_id"] not in existing
            ]
            if issues:
                raise invalid(issues)
            kept = {row["_id"] for row in rows if row.get("_id") is not None}
            removed = existing - kept
            if removed:
                self._drop_row_links(conn, rows_layout, removed)
                conn.execute(delete(table).where(table.c._id.in_(removed)))
        for seq, row in enumerate(rows):
            values = {
                rows_layout.fields[k].column: v
                for k, v in row.items()
                if not k.startswith(("_", "#"))
            }
            values.update(_parent_id=record_id, _seq=seq)
            if creating and self.preserve_ids and row.get("_id") is not None:
                values["_id"] = row["_id"]
                conn.execute(insert(table).values(values))
                row_id = row["_id"]
            elif not creating and row.get("_id") is not None:
                conn.execute(update(table).where(table.c._id == row["_id"]).values(values))
                row_id = row["_id"]
            else:
                row_id = conn.execute(
                    insert(table).values(values).returning(table.c._id)
                ).scalar_one()
            for key, ids in row.get("#links", {}).items():
                link = rows_layout.fields[key].link
                assert link is not None
                conn.execute(delete(link).where(link.c._source_id == row_id))
                if ids:
                    conn.execute(
                        insert(link),
                        [
                            {"_source_id": row_id, "_target_id": t, "_seq": i}
                            for i, t in enumerate(ids)
                        ],
                    )

    @staticmethod
    def _drop_row_links(conn: Connection, rows_layout: RowsLayout, row_ids: set[int]) -> None:
        for layout in rows_layout.fields.values():
            if layout.link is not None:
                conn.execute(delete(layout.link).where(layout.link.c._source_id.in_(row_ids)))

    def _stored_values(self, conn: Connection, record_id: int) -> dict[str, Any]:
        table = self.form.table
        columns = [
            table.c[f.column].label(f.key)
            for f in self.form.fields.values()
            if f.source == "column"
        ]
        if not columns:
            return {}
        row = conn.execute(select(*columns).where(table.c._id == record_id)).first()
        if row is None:
            raise not_found()
        return dict(row._mapping)


def reset_sequence(conn: Connection, table: str) -> None:
    """After rows were inserted with explicit ids, make PostgreSQL's next id follow them."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', '_id'), (SELECT COALESCE(MAX(_id), 1) FROM {table}))"
        )


def _columns(container: Container) -> dict[str, str]:
    """Field key -> column name."""
    return _layout_cache(
        container, "columns", lambda: {key: f.column for key, f in container.fields.items()}
    )


def _moment(raw: Any) -> dt.datetime | None:
    if isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            # in UTC, as it is stored: a moment whose UTC date is outside years 1-9999 does not parse
            return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            return None
    return None
