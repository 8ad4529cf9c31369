"""Chinese text sorts by pinyin (issue 16): sort key columns and their indexes on existing forms.

Every live text field (`text`, `textarea`) of a form gets the column ``f{id}k`` beside its
value column, filled with `engine.forms.sortkey.sort_key` of each stored value in batches of
`BACKFILL_BATCH` rows (each batch picks the rows still without a key, so the fill resumes where
it stopped; the whole revision runs in one transaction on both databases, so an upgrade that
stops leaves nothing half done). Then the indexes a publish now wants: a sort index
``idx_{table}_f{id}k_f{id}`` (key, value, `_id`, `_deleted_at`) for each text field that is a
form's title, has `index: true` or is a combination of its own in the live definition, and each composite ``idx_`` index
holding a text field's column after its first rebuilt with that field's key before its value (its name gains the
``f{id}k`` token, as `engine.forms.indexes` names it), so the next publish plans nothing.
Existing columns and indexes are left as they are, so a rerun changes nothing. The key itself is
the engine's function (a key computed any other way would not sort with the ones written on
save). Downgrade drops the key columns and the sort indexes and rebuilds the composite indexes
as they were; no value is touched either way.

Revision ID: 0017_pinyin
Revises: 0016_ruleswitchstamp
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.forms.sortkey import backfill, ensure_key_column, is_key_column, key_column

revision: str = "0017_pinyin"
down_revision: str | None = "0016_ruleswitchstamp"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

KEYED_TYPES = ("text", "textarea")
LIVE = "_deleted_at"


def _keyed_fields(conn: sa.engine.Connection) -> dict[str, dict[str, str]]:
    """Record table -> {value column: field key} of every live text field of a live form."""
    tables = set(sa.inspect(conn).get_table_names())
    found: dict[str, dict[str, str]] = {}
    rows = conn.execute(
        sa.text(
            "SELECT ff.id, ff.form_id, ff.key FROM form_fields ff JOIN forms f ON f.id = ff.form_id"
            " WHERE ff.parent_id IS NULL AND ff.retired_at IS NULL AND ff.storage IS NOT NULL"
            " AND f.retired_at IS NULL AND ff.type IN ('text', 'textarea') ORDER BY ff.id"
        )
    ).all()
    for field_id, form_id, key in rows:
        table = f"r{form_id}"
        if table in tables:
            found.setdefault(table, {})[f"f{field_id}"] = key
    return found


def _sorted_keys(conn: sa.engine.Connection) -> dict[str, set[str]]:
    """Form id (as its table ``r{id}``) -> keys of the fields the live definition indexes
    alone: the title field, every `index: true` and every one-field ascending combination;
    under ``-{id}`` the keys of those combinations whose field has no value index wanted."""
    found: dict[str, set[str]] = {}
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
            if row is None:
                continue
            keys = {f.get("key") for f in form.get("fields", []) if f.get("index")}
            if form.get("title_field"):
                keys.add(form["title_field"])
            valued = set(keys)
            for combination in form.get("indexes", []):  # one field ascending: a sort by it
                if len(combination) == 1 and not str(combination[0]).startswith("-"):
                    keys.add(combination[0])
                    if combination[0] not in valued:  # its value index is no longer wanted
                        found.setdefault(f"-{row[0]}", set()).add(combination[0])
            found[f"r{row[0]}"] = {k for k in keys if isinstance(k, str)}
    return found


def _tokens(name: str, table: str) -> list[tuple[str, bool]]:
    """(column, descending) of an ``idx_`` index, read back from its name."""
    found = []
    for token in name[len(f"idx_{table}_") :].split("_"):
        descending = token.endswith("d") and token != "d"
        token = token[:-1] if descending else token
        found.append((token if token.startswith("f") else f"_{token}", descending))
    return found


def _create(conn: sa.engine.Connection, table: str, columns: list[tuple[str, bool]]) -> None:
    tokens = [c.lstrip("_") + ("d" if desc else "") for c, desc in columns]
    name = f"idx_{table}_{'_'.join(tokens)}"
    parts = []
    for column, desc in columns:
        if not desc:
            parts.append(column)
        elif conn.dialect.name == "postgresql":
            parts.append(f"{column} DESC NULLS LAST")
        else:
            parts.append(f"{column} DESC")
    parts += ["_id", LIVE]
    conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(parts)})"))


def _indexes(conn: sa.engine.Connection, table: str) -> list[str]:
    return [
        str(i["name"])
        for i in sa.inspect(conn).get_indexes(table)
        if i["name"] is not None and str(i["name"]).startswith(f"idx_{table}_")
    ]


def upgrade() -> None:
    """Key columns, filled; sort indexes; composite indexes with the key before the value."""
    conn = op.get_bind()
    sorted_keys = _sorted_keys(conn)
    for table, fields in _keyed_fields(conn).items():
        for column in fields:
            ensure_key_column(conn, table, column)
            backfill(conn, table, column)
        for name in _indexes(conn, table):
            tokens = _tokens(name, table)
            if any(is_key_column(c) for c, _ in tokens):
                continue  # already in the new shape
            alone = len(tokens) == 1
            if alone and not (tokens[0][1] and tokens[0][0] in fields):
                continue  # a value index (a descending one alone is a sort: keyed below)
            if not alone and not any(c in fields for c, _ in tokens[1:]):
                continue  # a text field first only: the combination is filtered by its value
            expanded: list[tuple[str, bool]] = []
            for column, desc in tokens:
                if column in fields and (expanded or alone):
                    expanded.append((key_column(column), desc))
                expanded.append((column, desc))
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
            _create(conn, table, expanded)
        for column, key in fields.items():
            if key in sorted_keys.get(table, set()):
                _create(conn, table, [(key_column(column), False), (column, False)])
            if key in sorted_keys.get(f"-{table[1:]}", set()):
                conn.execute(sa.text(f"DROP INDEX IF EXISTS idx_{table}_{column}"))


def downgrade() -> None:
    """Drop the sort indexes and key columns; composite indexes lose their key columns."""
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    for table in inspector.get_table_names():
        if not (table.startswith("r") and table[1:].isdigit()):
            continue
        for name in _indexes(conn, table):
            tokens = _tokens(name, table)
            if not any(is_key_column(c) for c, _ in tokens):
                continue
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
            plain = [(c, d) for c, d in tokens if not is_key_column(c)]
            if len(plain) > 1 or plain[0][1]:  # a combination as it was
                _create(conn, table, plain)
        for column in [c["name"] for c in sa.inspect(conn).get_columns(table)]:
            if is_key_column(column):
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
