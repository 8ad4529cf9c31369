"""Must change the password (issue 16): `users.must_change_password`, set when an administrator
gives someone a password (a new user's, a reset or an import) and cleared when the person
changes it themselves; while set, their sessions may only read `/me`, change the password and
sign out (`engine.api.security`). Users already there keep their passwords (false).

Revision ID: 0018_mustchange
Revises: 0017_pinyin
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018_mustchange"
down_revision: str | None = "0017_pinyin"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _columns() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("users")}


def upgrade() -> None:
    """Add `users.must_change_password` (false for every user; a rerun after a `stamp` back
    leaves it)."""
    if "must_change_password" not in _columns():
        op.add_column(
            "users",
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            ),
        )


def downgrade() -> None:
    """Drop `users.must_change_password`."""
    # A plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): a batch copy of `users` would drop the
    # table that sessions, tokens and records refer to, which SQLite's foreign keys refuse.
    op.drop_column("users", "must_change_password")
