"""The flow runtime's platform tables (issue 13, DESIGN §5/§8): instances, tokens, tasks, the
append-only event timeline and the notification inbox.

Every table is a set of small rows updated per action — never a serialised blob of the whole
instance: an action updates its task row, the instance row (state, `version`) and appends
events, so two people acting at once conflict on the instance row's `version` and exactly one
wins. The models live on the platform `Base.metadata` (migration `0012_flows`); the Alembic
environment imports this module so autogenerate and `alembic check` see them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.core.sqltypes import UtcDateTime
from engine.store.base import Base
from engine.store.models import KEY_LENGTH, BigId, utcnow

NODE_LENGTH = 64
COMMENT_LENGTH = 2000


class FlowInstance(Base):
    """One run of a flow on one record: the app revision it started on (and keeps using), its
    state (running, approved, rejected, withdrawn, cancelled, returned), who started it, and
    `version`, raised by every action (the optimistic check that serialises actions)."""

    __tablename__ = "flow_instances"
    __table_args__ = (Index(None, "form_id", "record_id"), Index(None, "initiator_id", "state"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    record_id: Mapped[int] = mapped_column(BigInteger)
    flow_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    revision: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    initiator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    urged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class FlowToken(Base):
    """Where an instance is: one row per branch at a node (active), waiting at a parallel join
    for its sibling branches (waiting), or passed on (done)."""

    __tablename__ = "flow_tokens"
    __table_args__ = (Index(None, "instance_id", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("flow_instances.id"))
    node: Mapped[str] = mapped_column(String(NODE_LENGTH))
    state: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class FlowTask(Base):
    """One person's part at a node: kind approve, handle or cc; state open, done, cancelled or
    waiting (依次: not their turn yet, `seq` is the turn); what they did (`action`: approve,
    reject, handle, transferred, …), their comment and when; `transferred_from` is the task this
    one was transferred (转交) from."""

    __tablename__ = "flow_tasks"
    __table_args__ = (
        Index(None, "assignee_id", "state", "created_at"),
        Index(None, "instance_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("flow_instances.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("flow_tokens.id"))
    node: Mapped[str] = mapped_column(String(NODE_LENGTH))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(String(COMMENT_LENGTH))
    acted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    transferred_from: Mapped[int | None] = mapped_column(ForeignKey("flow_tasks.id"))


class FlowEvent(Base):
    """One line of an instance's timeline (append-only): what happened (`kind`), at which node,
    who did it, when, and its details."""

    __tablename__ = "flow_events"
    __table_args__ = (Index(None, "instance_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("flow_instances.id"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    node: Mapped[str | None] = mapped_column(String(NODE_LENGTH))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Notification(Base):
    """One entry of a user's inbox (the bell): its kind (assigned, cc, urged, finished,
    returned), what it links to and the data to render it in zh or en; unread while `read_at`
    is empty."""

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "user_id", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id"))
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("flow_tasks.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = ["FlowEvent", "FlowInstance", "FlowTask", "FlowToken", "Notification"]
