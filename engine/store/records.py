"""Physical record tables (DESIGN §5): names from numeric ids, system columns, table builders.

A form's records live in ``r{form_id}``, each field in column ``f{field_id}``, a subform's rows
in ``r{form_id}_s{field_id}`` and a many-valued relation's links in ``l{field_id}``. Names never
come from keys or labels, so renaming is free and a retired key can be reused. Tables are
SQLAlchemy Core tables on a MetaData of their own (never ``Base.metadata``): Alembic owns the
platform tables, the schema migrator owns these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Index, MetaData, Table
from sqlalchemy.types import TypeEngine

from engine.core.sqltypes import ExactDecimal, UtcDateTime

RecordId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""A record's `_id`: 64-bit, INTEGER on SQLite where only that spelling is the rowid alias."""

SYSTEM_FIELDS = (
    "_id",
    "_created_at",
    "_created_by",
    "_updated_at",
    "_updated_by",
    "_owner",
    "_version",
    "_deleted_at",
)


def table_name(form_id: int) -> str:
    """The record table of a form."""
    return f"r{form_id}"


def column_name(field_id: int) -> str:
    """The column of a field."""
    return f"f{field_id}"


def child_table_name(form_id: int, field_id: int) -> str:
    """The row table of a subform field."""
    return f"r{form_id}_s{field_id}"


def link_table_name(field_id: int) -> str:
    """The link table of a many-valued relation field."""
    return f"l{field_id}"


def unique_index_name(table: str, column: str) -> str:
    """The partial unique index that keeps a column's live values distinct."""
    return f"ux_{table}_{column}"


def storage_of(type_: TypeEngine[Any] | None) -> str | None:
    """A dialect-neutral signature of a column type: equal signatures need no conversion."""
    if type_ is None:
        return None
    name = type(type_).__name__.lower()
    if isinstance(type_, ExactDecimal):
        return f"{name}({type_.scale})"
    return name


def system_columns() -> list[Column[Any]]:
    """The `_` columns every record table has."""
    return [
        Column("_id", RecordId, primary_key=True, autoincrement=True),
        Column("_created_at", UtcDateTime(), nullable=False),
        Column("_created_by", sa.Integer()),
        Column("_updated_at", UtcDateTime(), nullable=False),
        Column("_updated_by", sa.Integer()),
        Column("_owner", sa.Integer(), index=False),
        Column("_version", sa.Integer(), nullable=False, default=1),
        Column("_deleted_at", UtcDateTime()),
    ]


def unique_index(table: Table, column: str) -> Index:
    """A unique index over live rows only, so the recycle bin never blocks a new record."""
    live = table.c._deleted_at.is_(None)
    return Index(
        unique_index_name(table.name, column),
        table.c[column],
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


def record_table(
    metadata: MetaData, form_id: int, columns: Iterable[Column[Any]], unique: Sequence[str] = ()
) -> Table:
    """The Core table of a form: system columns, then `columns`, unique indexes for `unique`."""
    name = table_name(form_id)
    # AUTOINCREMENT: an id is never reused, even after a purge, so history stays unambiguous.
    table = Table(name, metadata, *system_columns(), *columns, sqlite_autoincrement=True)
    # No index on _deleted_at: with most rows live it never helps, and without statistics both
    # planners preferred it over the partial unique indexes for `f IN (...) AND _deleted_at IS
    # NULL`, turning each unique check into a scan of the table (bench/records_bench.py).
    for column in unique:
        unique_index(table, column)
    return table


def child_table(
    metadata: MetaData, form_id: int, field_id: int, columns: Iterable[Column[Any]]
) -> Table:
    """The Core table of a subform's rows: `_id`, `_parent_id`, `_seq`, then `columns`."""
    name = child_table_name(form_id, field_id)
    return Table(
        name,
        metadata,
        Column("_id", RecordId, primary_key=True, autoincrement=True),
        Column("_parent_id", sa.BigInteger(), nullable=False, index=True),
        Column("_seq", sa.Integer(), nullable=False),
        *columns,
        sqlite_autoincrement=True,
    )


def link_table(metadata: MetaData, field_id: int) -> Table:
    """The Core table of a many-valued relation: (source, target) pairs in order."""
    name = link_table_name(field_id)
    return Table(
        name,
        metadata,
        Column("_source_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        Column("_target_id", sa.BigInteger(), primary_key=True, autoincrement=False, index=True),
        Column("_seq", sa.Integer(), nullable=False),
    )


def reserve_ids(conn: sa.engine.Connection, table: Table, count: int) -> list[int] | None:
    """`count` new `_id`s for `table`, taken before the rows are inserted, so a batch can be
    written by a plain executemany (no `RETURNING`, which makes drivers handle one huge
    statement per batch). None when ids cannot be reserved safely on this connection.

    PostgreSQL: from the table's sequence (safe under concurrency). SQLite: after the largest id
    ever given (`sqlite_sequence`, the tables are AUTOINCREMENT), which is safe because the
    engine's write transactions hold SQLite's single write lock from `BEGIN IMMEDIATE`; a
    read-only (deferred) transaction gets None.
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence(:t, '_id')) FROM generate_series(1, :n)"
            ),
            {"t": table.name, "n": count},
        ).scalars()
        return sorted(int(v) for v in found)
    if conn.dialect.name != "sqlite" or conn.get_execution_options().get("jimu_read_only", False):
        return None
    if not conn.in_transaction():
        return None
    last = conn.execute(
        sa.text(
            "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = :t), 0),"
            f" COALESCE((SELECT max(_id) FROM {table.name}), 0))"
        ),
        {"t": table.name},
    ).scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + count))


def bulk_insert(conn: sa.engine.Connection, table: Table, rows: Sequence[dict[str, Any]]) -> bool:
    """Insert `rows` (all with the same keys) through the driver's bulk path: one prepared
    INSERT run by ``executemany`` on SQLite, ``COPY`` on PostgreSQL with psycopg. Values are
    converted by the columns' own bind processors, as SQLAlchemy would, but once per value
    instead of through its per-row parameter machinery. False when the driver has no such
    path (nothing is written then; the caller inserts another way). A unique or foreign key
    violation raises `sqlalchemy.exc.IntegrityError`."""
    if not rows:
        return True
    names = list(rows[0])
    dialect = conn.dialect
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    values = [
        tuple(
            row[name]
            if process is None
            else process(row[name])  # processors map None themselves (JSON null)
            for name, process in zip(names, processors, strict=True)
        )
        for row in rows
    ]
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    if dialect.name == "sqlite":
        placeholders = ", ".join("?" for _ in names)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({columns}) VALUES ({placeholders})", values
        )
        return True
    if dialect.name != "postgresql":
        return False
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    if not hasattr(cursor, "copy"):
        cursor.close()
        return False
    try:
        with cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    except dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
        raise sa.exc.IntegrityError(f"COPY {table.name}", None, exc) from exc
    return True


__all__ = [
    "SYSTEM_FIELDS",
    "RecordId",
    "bulk_insert",
    "child_table",
    "child_table_name",
    "column_name",
    "link_table",
    "link_table_name",
    "record_table",
    "reserve_ids",
    "storage_of",
    "system_columns",
    "table_name",
    "unique_index",
    "unique_index_name",
]
