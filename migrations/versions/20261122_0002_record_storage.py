"""Record storage: subform fields, physical column state and shared file blobs.

``form_fields`` gains ``parent_id`` (a subform's own fields), ``storage`` (the physical column
type in place) and ``backups`` (columns keeping values from before a type change); a live key
is unique per form and parent, which the service checks, so the unique constraint becomes an
index (a retired field keeps its key and a new field may reuse it). ``files.sha256`` is no
longer unique: two uploads of the same bytes are two rows sharing one stored blob.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the record-storage columns and relax the two unique constraints."""
    with op.batch_alter_table("form_fields") as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("storage", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("backups", sa.JSON(), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_form_fields_form_id_key"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_form_fields_form_id_key"), ["form_id", "key"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_form_fields_parent_id_form_fields"), "form_fields", ["parent_id"], ["id"]
        )
    with op.batch_alter_table("files") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_files_sha256"), type_="unique")
        batch_op.create_index(batch_op.f("ix_files_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    """Restore revision 0001's shape (fails if a retired and a live field share a key)."""
    with op.batch_alter_table("files") as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_sha256"))
        batch_op.create_unique_constraint(batch_op.f("uq_files_sha256"), ["sha256"])
    with op.batch_alter_table("form_fields") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_form_fields_parent_id_form_fields"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_form_fields_form_id_key"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_form_fields_form_id_key"), ["form_id", "key"]
        )
        batch_op.drop_column("backups")
        batch_op.drop_column("storage")
        batch_op.drop_column("parent_id")
