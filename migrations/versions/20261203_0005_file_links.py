"""Uploads through public links: `files.link_id` names the link an anonymous upload came through.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add `files.link_id`."""
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_files_link_id_public_links"),
            "public_links",
            ["link_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Drop `files.link_id`."""
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_files_link_id_public_links"), type_="foreignkey")
        batch_op.drop_column("link_id")
