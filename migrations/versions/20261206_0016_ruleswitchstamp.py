"""Rule switch stamp (issue 14): `apps.rule_switch_stamp`, changed whenever a rule of the app is
switched on or off.

A save reads it with the app's live revision (the one SELECT it sends for the app anyway), so
the rules runtime keeps the app's rule switches in memory per revision and stamp and reads
`rule_switches` again only when the stamp changed — in any process (`engine.rules.runtime`).

Revision ID: 0016_ruleswitchstamp
Revises: 0015_rulecounters
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016_ruleswitchstamp"
down_revision: str | None = "0015_rulecounters"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _columns() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("apps")}


def upgrade() -> None:
    """Add `apps.rule_switch_stamp` (0 for every app; a rerun after a `stamp` back leaves it)."""
    if "rule_switch_stamp" in _columns():
        return
    with op.batch_alter_table("apps") as batch:
        batch.add_column(
            sa.Column("rule_switch_stamp", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    """Drop `apps.rule_switch_stamp`."""
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("rule_switch_stamp")
