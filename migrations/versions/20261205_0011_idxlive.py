"""Declared indexes cover live rows (issue 12): `_deleted_at` at the end of record tables' indexes.

Every ``idx_`` index of a record table (``r{form_id}``: the default `_owner`, relation and
title indexes, `index: true` and a form's composite `indexes`) is rebuilt from ``(columns…,
_id)`` into ``(columns…, _id, _deleted_at)``, the shape a publish now creates
(`engine.forms.indexes`), so a live count is answered from the index alone. The name does not
change (it names the columns before `_id`), so the migrator sees nothing to plan: this revision
is the only path for existing installs. An index already ending with `_deleted_at` is left as
it is, so a rerun (or an install whose forms were published after this shape) changes nothing.
Columns and their direction are read back from the name as `engine.forms.indexes` writes it
(``f12``, ``owner``; ``d`` appended when descending). Subform row tables (``r{form}_s{field}``)
have no `_deleted_at` and keep their indexes.

Revision ID: 0011_idxlive
Revises: 0010_indexes
Create Date: 2026-12-05
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision: str = "0011_idxlive"
down_revision: str | None = "0010_indexes"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

LIVE = "_deleted_at"
RECORD_TABLE = re.compile(r"r\d+")


def _indexes(conn: sa.engine.Connection) -> list[tuple[str, str, list[str]]]:
    """(index name, table, its columns in order) of every ``idx_`` index of a record table."""
    inspector = sa.inspect(conn)
    found: list[tuple[str, str, list[str]]] = []
    for table in inspector.get_table_names():
        if not RECORD_TABLE.fullmatch(table):
            continue
        if LIVE not in {c["name"] for c in inspector.get_columns(table)}:
            continue
        for index in inspector.get_indexes(table):
            name = index["name"]
            if name is not None and name.startswith(f"idx_{table}_"):
                columns = [str(c) for c in index["column_names"]]
                found.append((name, table, columns))
    return found


def _create(conn: sa.engine.Connection, name: str, table: str, live: bool) -> None:
    """Create index `name` of `table` from the columns its name says, then `_id` (and
    `_deleted_at` when `live`); a descending column as `engine.forms.indexes` writes it."""
    parts = []
    for token in name[len(f"idx_{table}_") :].split("_"):
        descending = token.endswith("d") and token != "d"
        token = token[:-1] if descending else token
        column = token if token.startswith("f") else f"_{token}"
        if not descending:
            parts.append(column)
        elif conn.dialect.name == "postgresql":
            parts.append(f"{column} DESC NULLS LAST")
        else:
            parts.append(f"{column} DESC")
    parts.append("_id")
    if live:
        parts.append(LIVE)
    conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
    conn.execute(sa.text(f"CREATE INDEX {name} ON {table} ({', '.join(parts)})"))


def upgrade() -> None:
    """Rebuild each record table's ``idx_`` index that does not end with `_deleted_at`."""
    conn = op.get_bind()
    for name, table, columns in _indexes(conn):
        if columns[-1:] != [LIVE]:
            _create(conn, name, table, live=True)


def downgrade() -> None:
    """Rebuild each record table's ``idx_`` index that ends with `_deleted_at` without it."""
    conn = op.get_bind()
    for name, table, columns in _indexes(conn):
        if columns[-1:] == [LIVE]:
            _create(conn, name, table, live=False)
