"""Newest first from an index (issue 16): `_created_at` on every record table.

A grid lists a form's records newest first when no sort is asked for (``-_created_at,-_id``,
`engine.forms.service.NEWEST_FIRST`). Publishing now gives every record table the index of that
order (`engine.forms.indexes.NEWEST_FIRST_COLUMNS`): ``(_created_at DESC, _id DESC,
_deleted_at)`` — ``DESC NULLS LAST`` on PostgreSQL, the generated ORDER BY exactly —, so the
first page is read from the index rather than by sorting every live row. This revision gives
it to the record tables of forms published before, under the name a publish gives it, so the
next plan has no index step. ``IF NOT EXISTS``/``IF EXISTS`` make a rerun harmless.

Revision ID: 0019_createdindex
Revises: 0018_mustchange
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019_createdindex"
down_revision: str | None = "0018_mustchange"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _tables(conn: sa.engine.Connection) -> list[str]:
    """The record tables of live forms that exist (subform row tables have no `_created_at`)."""
    present = set(sa.inspect(conn).get_table_names())
    ids = conn.execute(sa.text("SELECT id FROM forms WHERE retired_at IS NULL ORDER BY id"))
    return [f"r{form_id}" for (form_id,) in ids if f"r{form_id}" in present]


def upgrade() -> None:
    """Create ``idx_r{id}_createdd_idd`` on every live form's record table."""
    conn = op.get_bind()
    last = " NULLS LAST" if conn.dialect.name == "postgresql" else ""
    for table in _tables(conn):
        conn.execute(
            sa.text(
                f"CREATE INDEX IF NOT EXISTS idx_{table}_createdd_idd ON {table}"
                f" (_created_at DESC{last}, _id DESC{last}, _deleted_at)"
            )
        )


def downgrade() -> None:
    """Drop the newest-first indexes (of every record table: forms retired since too)."""
    conn = op.get_bind()
    present = sa.inspect(conn).get_table_names()
    for table in present:
        if table[:1] == "r" and table[1:].isdigit():
            conn.execute(sa.text(f"DROP INDEX IF EXISTS idx_{table}_createdd_idd"))
