"""The rule runtime (issue 14): the run log (`rule_runs`) and rule switches (`rule_switches`).

Revision ID: 0014_rules
Revises: 0013_countcache
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.core.sqltypes

revision: str = "0014_rules"
down_revision: str | None = "0013_countcache"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _utc() -> engine.core.sqltypes.UtcDateTime:
    return engine.core.sqltypes.UtcDateTime()


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create `rule_runs` and `rule_switches`."""
    op.create_table(
        "rule_runs",
        sa.Column("id", _id(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("condition", sa.Boolean(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_rule_runs_app_id_apps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_runs")),
    )
    op.create_index(
        op.f("ix_rule_runs_app_id_rule_key_id"), "rule_runs", ["app_id", "rule_key", "id"]
    )
    op.create_table(
        "rule_switches",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_rule_switches_app_id_apps")),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_rule_switches_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("app_id", "rule_key", name=op.f("pk_rule_switches")),
    )


def downgrade() -> None:
    """Drop both tables (their rows go with them)."""
    op.drop_table("rule_switches")
    op.drop_index(op.f("ix_rule_runs_app_id_rule_key_id"), table_name="rule_runs")
    op.drop_table("rule_runs")
