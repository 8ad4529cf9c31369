"""Rule switch stamp (issue 14): `apps.rule_switch_stamp`, changed whenever a rule of the app is
switched on or off, and an index on `rule_runs.job_id`.

A save reads it with the app's live revision (the one SELECT it sends for the app anyway), so
the rules runtime keeps the app's rule switches in memory per revision and stamp and reads
`rule_switches` again only when the stamp changed — in any process (`engine.rules.runtime`).
A queued run's `rules.run` job finds its run by `rule_runs.job_id` (the index), so queueing a
run writes the run and its job and nothing more.

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


def _indexes() -> set[str | None]:
    return {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("rule_runs")}


def upgrade() -> None:
    """Add `apps.rule_switch_stamp` (0 for every app) and the index on `rule_runs.job_id` (a
    rerun after a `stamp` back leaves both)."""
    if "rule_switch_stamp" not in _columns():
        with op.batch_alter_table("apps") as batch:
            batch.add_column(
                sa.Column("rule_switch_stamp", sa.BigInteger(), nullable=False, server_default="0")
            )
    if "ix_rule_runs_job_id" not in _indexes():
        op.create_index(op.f("ix_rule_runs_job_id"), "rule_runs", ["job_id"])


def downgrade() -> None:
    """Drop the index and `apps.rule_switch_stamp`."""
    op.drop_index(op.f("ix_rule_runs_job_id"), table_name="rule_runs")
    # A plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): a batch copy of `apps` would drop the
    # table that records, versions and rules refer to, which SQLite's foreign keys refuse.
    op.drop_column("apps", "rule_switch_stamp")
