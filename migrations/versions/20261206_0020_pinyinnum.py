"""Numbers inside text sort by value, stored text formulas by pinyin (issue 16).

The key (`engine.forms.sortkey.sort_key`) now reads a run of digits as one number; keys written
before read each digit alone (客户10 before 客户9). Every sort key column of every record table
(``f{id}k``, live or retired field alike, so a field restored later sorts right too) is
rewritten from its value column by `engine.forms.sortkey.rekey`: 2,000 rows read at a time in
`_id` order, only the rows whose key changes written (values without digits keep theirs), in
the upgrade's one transaction. Values are never touched, no column or index changes, and a
rerun writes nothing.

A stored formula whose result is text (a live ``formula`` field of a live form stored as
``text``) gets its key column too, filled by `sortkey.backfill` like a text field's in
``0017_pinyin``. Its sort index, when the definition indexes it, is left to the app's next
publish (which plans it). Downgrade drops those formula key columns and writes the other keys
back in the earlier form (`sortkey.digit_sort_key`), which the code of ``0018_mustchange``
expects.

Revision ID: 0020_pinyinnum
Revises: 0019_createdindex
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.forms.sortkey import (
    backfill,
    digit_sort_key,
    ensure_key_column,
    has_column,
    is_key_column,
    key_column,
    rekey,
    sort_key,
)

revision: str = "0020_pinyinnum"
down_revision: str | None = "0019_createdindex"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _rewrite(key: Callable[[Any], str | None]) -> None:
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    for table in inspector.get_table_names():
        if not (table.startswith("r") and table[1:].isdigit()):
            continue
        columns = {c["name"] for c in inspector.get_columns(table)}
        for column in sorted(columns):
            if is_key_column(column) and column[:-1] in columns:
                rekey(conn, table, column[:-1], key=key)


def _text_formulas(conn: sa.engine.Connection) -> list[tuple[str, str]]:
    """(record table, value column) of every stored text formula of a live form."""
    tables = set(sa.inspect(conn).get_table_names())
    rows = conn.execute(
        sa.text(
            "SELECT ff.id, ff.form_id FROM form_fields ff JOIN forms f ON f.id = ff.form_id"
            " WHERE ff.parent_id IS NULL AND ff.retired_at IS NULL AND ff.type = 'formula'"
            " AND ff.storage = 'text' AND f.retired_at IS NULL ORDER BY ff.id"
        )
    ).all()
    return [
        (f"r{form_id}", f"f{field_id}") for field_id, form_id in rows if f"r{form_id}" in tables
    ]


def upgrade() -> None:
    """Rewrite every sort key whose value holds a number; key stored text formulas."""
    _rewrite(sort_key)
    conn = op.get_bind()
    for table, column in _text_formulas(conn):
        if has_column(conn, table, column):
            ensure_key_column(conn, table, column)
            backfill(conn, table, column)


def downgrade() -> None:
    """Drop the stored text formulas' key columns (and indexes on them); write the other keys
    back digit by digit, as ``0017_pinyin`` did."""
    conn = op.get_bind()
    for table, column in _text_formulas(conn):
        key = key_column(column)
        if not has_column(conn, table, key):
            continue
        for index in sa.inspect(conn).get_indexes(table):
            if key in index["column_names"] and index["name"]:
                conn.execute(sa.text(f"DROP INDEX IF EXISTS {index['name']}"))
        conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {key}"))
    _rewrite(digit_sort_key)
