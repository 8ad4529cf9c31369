"""Upload quotas: indexes for a user's and a public link's uploads over time.

Revision ID: 0007_limits
Revises: 0006_creds
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision: str = "0007_limits"
down_revision: str | None = "0006_creds"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Index `files` by uploader and by public link, each with the upload time."""
    op.create_index(op.f("ix_files_created_by_created_at"), "files", ["created_by", "created_at"])
    op.create_index(op.f("ix_files_link_id_created_at"), "files", ["link_id", "created_at"])


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index(op.f("ix_files_link_id_created_at"), table_name="files")
    op.drop_index(op.f("ix_files_created_by_created_at"), table_name="files")
