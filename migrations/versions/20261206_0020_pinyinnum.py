"""Numbers inside text sort by value (issue 16): 客户9 before 客户10 in the pinyin sort keys.

The key (`engine.forms.sortkey.sort_key`) now reads a run of digits as one number; keys written
before read each digit alone (客户10 before 客户9). Every sort key column of every record table
(``f{id}k``, live or retired field alike, so a field restored later sorts right too) is
rewritten from its value column by `engine.forms.sortkey.rekey`: 2,000 rows read at a time in
`_id` order, only the rows whose key changes written (values without digits keep theirs), in
the upgrade's one transaction. Values are never touched, no column or index changes, and a
rerun writes nothing. Downgrade writes the keys back in the earlier form
(`sortkey.digit_sort_key`), which the code of ``0018_mustchange`` expects.

Revision ID: 0020_pinyinnum
Revises: 0018_mustchange
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.forms.sortkey import digit_sort_key, is_key_column, rekey, sort_key

revision: str = "0020_pinyinnum"
down_revision: str | None = "0018_mustchange"
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


def upgrade() -> None:
    """Rewrite every sort key whose value holds a number (see the module)."""
    _rewrite(sort_key)


def downgrade() -> None:
    """Write the keys back digit by digit, as ``0017_pinyin`` did."""
    _rewrite(digit_sort_key)
