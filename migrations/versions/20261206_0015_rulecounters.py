"""Rule counters (issue 14): `rule_counters`, the turn of each round-robin assignment.

One row per (app, rule, slot) holding how many turns were taken, so a round robin survives
restarts and is shared by every process (`engine.rules.counters`).

Revision ID: 0015_rulecounters
Revises: 0013_countcache
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.core.sqltypes

revision: str = "0015_rulecounters"
# The rule runtime's `0014_rules` is built alongside; whoever merges both points this at it.
down_revision: str | None = "0014_rules"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create `rule_counters` (a rerun after a `stamp` back leaves it as it is)."""
    if "rule_counters" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "rule_counters",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", engine.core.sqltypes.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_rule_counters_app_id_apps")),
        sa.PrimaryKeyConstraint("app_id", "rule", "slot", name=op.f("pk_rule_counters")),
    )


def downgrade() -> None:
    """Drop `rule_counters`."""
    op.drop_table("rule_counters")
