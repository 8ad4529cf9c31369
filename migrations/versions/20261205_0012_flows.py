"""The flow runtime (issue 13): instances, tokens, tasks, the event timeline, notifications.

Revision ID: 0012_flows
Revises: 0011_idxlive
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.core.sqltypes

revision: str = "0012_flows"
down_revision: str | None = "0011_idxlive"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _utc() -> engine.core.sqltypes.UtcDateTime:
    return engine.core.sqltypes.UtcDateTime()


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create `flow_instances`, `flow_tokens`, `flow_tasks`, `flow_events`, `notifications`."""
    op.create_table(
        "flow_instances",
        sa.Column("id", _id(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("flow_key", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("initiator_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("urged_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_flow_instances_app_id_apps")
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_flow_instances_form_id_forms")
        ),
        sa.ForeignKeyConstraint(
            ["initiator_id"], ["users.id"], name=op.f("fk_flow_instances_initiator_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_instances")),
    )
    op.create_index(
        op.f("ix_flow_instances_form_id_record_id"), "flow_instances", ["form_id", "record_id"]
    )
    op.create_index(
        op.f("ix_flow_instances_initiator_id_state"), "flow_instances", ["initiator_id", "state"]
    )
    op.create_table(
        "flow_tokens",
        sa.Column("id", _id(), nullable=False),
        sa.Column("instance_id", _id(), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["flow_instances.id"],
            name=op.f("fk_flow_tokens_instance_id_flow_instances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_tokens")),
    )
    op.create_index(
        op.f("ix_flow_tokens_instance_id_state"), "flow_tokens", ["instance_id", "state"]
    )
    op.create_table(
        "flow_tasks",
        sa.Column("id", _id(), nullable=False),
        sa.Column("instance_id", _id(), nullable=False),
        sa.Column("token_id", _id(), nullable=True),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.Column("acted_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("transferred_from", _id(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_flow_tasks_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["flow_instances.id"],
            name=op.f("fk_flow_tasks_instance_id_flow_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["flow_tokens.id"], name=op.f("fk_flow_tasks_token_id_flow_tokens")
        ),
        sa.ForeignKeyConstraint(
            ["transferred_from"],
            ["flow_tasks.id"],
            name=op.f("fk_flow_tasks_transferred_from_flow_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_tasks")),
    )
    op.create_index(
        op.f("ix_flow_tasks_assignee_id_state_created_at"),
        "flow_tasks",
        ["assignee_id", "state", "created_at"],
    )
    op.create_index(op.f("ix_flow_tasks_instance_id_state"), "flow_tasks", ["instance_id", "state"])
    op.create_table(
        "flow_events",
        sa.Column("id", _id(), nullable=False),
        sa.Column("instance_id", _id(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_flow_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["flow_instances.id"],
            name=op.f("fk_flow_events_instance_id_flow_instances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_events")),
    )
    op.create_index(op.f("ix_flow_events_instance_id_id"), "flow_events", ["instance_id", "id"])
    op.create_table(
        "notifications",
        sa.Column("id", _id(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("task_id", _id(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("read_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_notifications_app_id_apps")),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_notifications_form_id_forms")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["flow_tasks.id"], name=op.f("fk_notifications_task_id_flow_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        op.f("ix_notifications_user_id_read_at_created_at"),
        "notifications",
        ["user_id", "read_at", "created_at"],
    )


def downgrade() -> None:
    """Drop the five tables (their rows go with them)."""
    op.drop_index(op.f("ix_notifications_user_id_read_at_created_at"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_flow_events_instance_id_id"), table_name="flow_events")
    op.drop_table("flow_events")
    op.drop_index(op.f("ix_flow_tasks_instance_id_state"), table_name="flow_tasks")
    op.drop_index(op.f("ix_flow_tasks_assignee_id_state_created_at"), table_name="flow_tasks")
    op.drop_table("flow_tasks")
    op.drop_index(op.f("ix_flow_tokens_instance_id_state"), table_name="flow_tokens")
    op.drop_table("flow_tokens")
    op.drop_index(op.f("ix_flow_instances_initiator_id_state"), table_name="flow_instances")
    op.drop_index(op.f("ix_flow_instances_form_id_record_id"), table_name="flow_instances")
    op.drop_table("flow_instances")
