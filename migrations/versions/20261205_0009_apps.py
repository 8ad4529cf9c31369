"""App assembly (issue 11, item 5): the engines' plans stored with each published revision.

Revision ID: 0009_apps
Revises: 0008_jobs
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_apps"
down_revision: str | None = "0008_jobs"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add `app_versions.plans` (JSON, empty for revisions published before)."""
    with op.batch_alter_table("app_versions") as batch:
        batch.add_column(sa.Column("plans", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop `app_versions.plans`."""
    with op.batch_alter_table("app_versions") as batch:
        batch.drop_column("plans")
