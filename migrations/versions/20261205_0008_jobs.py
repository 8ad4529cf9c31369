"""Jobs (DESIGN §15): the jobs table and the named leases of the in-process worker.

Revision ID: 0008_jobs
Revises: 0007_limits
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.core.sqltypes

revision: str = "0008_jobs"
down_revision: str | None = "0007_limits"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _utc() -> engine.core.sqltypes.UtcDateTime:
    return engine.core.sqltypes.UtcDateTime()


def upgrade() -> None:
    """Create `jobs` (unique per kind and key, indexed by state with due time and lease) and
    `job_leases`."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("run_at", _utc(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_jobs_kind_key")),
    )
    op.create_index(op.f("ix_jobs_state_run_at"), "jobs", ["state", "run_at"])
    op.create_index(op.f("ix_jobs_state_lease_until"), "jobs", ["state", "lease_until"])
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("lease_until", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("job_leases")
    op.drop_index(op.f("ix_jobs_state_lease_until"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_state_run_at"), table_name="jobs")
    op.drop_table("jobs")
