"""Public links (外链): per form, an anonymous fill link or a query link by exact key fields.

The link's token is stored in clear (it is the published part of the URL); its optional
password only as an argon2 hash.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.core.sqltypes

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create the `public_links` table."""
    op.create_table(
        "public_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("key_fields", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("expires_at", engine.core.sqltypes.UtcDateTime(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rate_limit", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", engine.core.sqltypes.UtcDateTime(), nullable=False),
        sa.Column("updated_at", engine.core.sqltypes.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_public_links_app_id_apps")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_public_links_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_public_links_form_id_forms")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_public_links_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_links")),
        sa.UniqueConstraint("token", name=op.f("uq_public_links_token")),
    )
    with op.batch_alter_table("public_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_public_links_app_id_form_id"), ["app_id", "form_id"], unique=False
        )


def downgrade() -> None:
    """Drop the `public_links` table."""
    with op.batch_alter_table("public_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_links_app_id_form_id"))

    op.drop_table("public_links")
