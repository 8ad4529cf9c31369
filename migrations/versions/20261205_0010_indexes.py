"""Indexes as definition (issue 12): the default indexes on existing record tables.

Forms published before this revision get what a publish now plans for every form: an index on
`_owner`, on each relation column and on the title field's column (unless it is unique, whose
unique index serves). Names and columns are those of `engine.forms.indexes` (``idx_{table}_
{tokens}``, ending with `_id`), so the next publish sees them as present and plans nothing.
The live definition of each app says which field is the title; `form_fields` says which field
has which column. Only tables and columns that exist are touched; ``IF NOT EXISTS`` makes a
rerun harmless on both databases.

Revision ID: 0010_indexes
Revises: 0009_apps
Create Date: 2026-12-05
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_indexes"
down_revision: str | None = "0009_apps"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _default_indexes(conn: sa.engine.Connection) -> list[tuple[str, str, str]]:
    """(index name, table, column) of every default index the live forms should have."""
    tables = set(sa.inspect(conn).get_table_names())
    found: list[tuple[str, str, str]] = []
    apps = conn.execute(
        sa.text(
            "SELECT a.id, v.definition FROM apps a JOIN app_versions v"
            " ON v.app_id = a.id AND v.revision = a.current_revision"
        )
    ).all()
    for app_id, raw in apps:
        definition: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
        for form in definition.get("forms", []):
            row = conn.execute(
                sa.text(
                    "SELECT id FROM forms WHERE app_id = :a AND key = :k AND retired_at IS NULL"
                ),
                {"a": app_id, "k": form.get("key")},
            ).first()
            if row is None or f"r{row[0]}" not in tables:
                continue
            table = f"r{row[0]}"
            columns = {c["name"] for c in sa.inspect(conn).get_columns(table)}
            found.append((f"idx_{table}_owner", table, "_owner"))
            stored = {
                key: field_id
                for field_id, key in conn.execute(
                    sa.text(
                        "SELECT id, key FROM form_fields WHERE form_id = :f AND parent_id IS NULL"
                        " AND retired_at IS NULL AND storage IS NOT NULL"
                    ),
                    {"f": row[0]},
                )
            }
            for field in form.get("fields", []):
                key = field.get("key")
                wanted = field.get("type") == "relation" or key == form.get("title_field")
                if not wanted or field.get("unique") or key not in stored:
                    continue
                column = f"f{stored[key]}"
                if column in columns:
                    found.append((f"idx_{table}_{column}", table, column))
    return found


def upgrade() -> None:
    """Create the default indexes of every live form's record table."""
    conn = op.get_bind()
    for name, table, column in _default_indexes(conn):
        conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column}, _id)"))


def downgrade() -> None:
    """Drop the default indexes this revision created."""
    conn = op.get_bind()
    for name, _, _ in _default_indexes(conn):
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
