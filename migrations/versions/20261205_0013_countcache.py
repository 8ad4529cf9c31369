"""Never-stale counts (issue 12): `table_versions` and the triggers that keep it.

`table_versions` holds one random token per record table; on SQLite every record table
(``r{form}``, ``r{form}_s{field}``, ``l{field}``) gets three triggers (after insert, update and
delete, for each row) that replace its token, so a count cached with the tokens it read is
known exact (`engine.forms.count_cache`). A publish installs them for the tables it makes
(`count_cache.watch`); this revision installs them on the tables of installs made before.
PostgreSQL gets the table only (no triggers, no cache there). Running it again (after a
`stamp` back) changes nothing but the tokens.

The trigger text is written out here rather than imported, so this revision keeps doing what
it did when the engine's code moves on.

Revision ID: 0013_countcache
Revises: 0012_flows
Create Date: 2026-12-05
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision: str = "0013_countcache"
down_revision: str | None = "0012_flows"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

RECORD_TABLE = re.compile(r"r\d+(_s\d+)?|l\d+")
KINDS = (("i", "INSERT"), ("u", "UPDATE"), ("d", "DELETE"))


def _record_tables(conn: sa.engine.Connection) -> list[str]:
    return sorted(t for t in sa.inspect(conn).get_table_names() if RECORD_TABLE.fullmatch(t))


def upgrade() -> None:
    """Create `table_versions`; on SQLite give every record table a token and its triggers."""
    conn = op.get_bind()
    if "table_versions" not in sa.inspect(conn).get_table_names():  # a rerun leaves it
        op.create_table(
            "table_versions",
            sa.Column("name", sa.String(length=63), nullable=False),
            sa.Column("token", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("name", name=op.f("pk_table_versions")),
        )
    if conn.dialect.name != "sqlite":
        return
    for table in _record_tables(conn):
        conn.execute(
            sa.text(
                "INSERT INTO table_versions (name, token) VALUES (:name, random()) "
                "ON CONFLICT (name) DO UPDATE SET token = random()"
            ),
            {"name": table},
        )
        for suffix, kind in KINDS:
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER IF NOT EXISTS tv_{table}_{suffix} AFTER {kind} ON {table} "
                    f"FOR EACH ROW BEGIN UPDATE table_versions SET token = random() "
                    f"WHERE name = '{table}'; END"
                )
            )


def downgrade() -> None:
    """Drop the triggers, then `table_versions`."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table in _record_tables(conn):
            for suffix, _ in KINDS:
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS tv_{table}_{suffix}"))
    op.drop_table("table_versions")
