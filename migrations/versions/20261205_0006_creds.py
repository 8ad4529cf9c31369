"""API tokens expire: a token created before expiry became the default gets 90 more days.

Revision ID: 0006_creds
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import engine.core.sqltypes

revision: str = "0006_creds"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

GRACE = dt.timedelta(days=90)


def upgrade() -> None:
    """Give every live API token without an expiry one, 90 days from the upgrade."""
    tokens = sa.table(
        "api_tokens",
        sa.column("expires_at", engine.core.sqltypes.UtcDateTime()),
        sa.column("revoked_at", engine.core.sqltypes.UtcDateTime()),
    )
    expires = dt.datetime.now(dt.UTC) + GRACE
    op.execute(
        tokens.update()
        .where(tokens.c.expires_at.is_(None), tokens.c.revoked_at.is_(None))
        .values(expires_at=expires)
    )


def downgrade() -> None:
    """Nothing to undo: an expiry is valid data for the older schema too."""
