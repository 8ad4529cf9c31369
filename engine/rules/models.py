"""The rule runtime's platform tables (issue 14, DESIGN §9/§15): the run log and the switches.

- `rule_runs`: one row per run of a rule — what fired it (the `RuleEvent` JSON), the record,
  the app revision the rule was read from, its state (`queued` → `succeeded` / `failed` /
  `skipped`), the condition's result, each action's outcome (`[{type, state, outcome, error,
  ms}]`), the error, how long it took, and for an async run its job and the snapshot the job
  carries (`snapshot`: the record and old values as the rule saw them when it fired), so a
  retry runs again on the same data.
- `rule_switches`: a builder's enable/disable of a rule, which takes effect at once without a
  publish; a rule with no row here is as its definition says (`enabled`).

The models live on the platform `Base.metadata` (migration `0014_rules`); the Alembic
environment imports this module so autogenerate and `alembic check` see them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.core.sqltypes import UtcDateTime
from engine.store.base import Base
from engine.store.models import KEY_LENGTH, BigId, utcnow

RUN_STATES = ("queued", "succeeded", "failed", "skipped")


class RuleRun(Base):
    """One run of one rule (see the module docstring)."""

    __tablename__ = "rule_runs"
    # job_id: a queued run's job finds its run by it (migration 0016_ruleswitchstamp).
    __table_args__ = (Index(None, "app_id", "rule_key", "id"), Index(None, "job_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    rule_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    revision: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(8))
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    condition: Mapped[bool | None] = mapped_column(Boolean)
    actions: Mapped[list[Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class RuleSwitch(Base):
    """A rule switched on or off by a builder, without a publish (see the module docstring)."""

    __tablename__ = "rule_switches"

    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = ["RUN_STATES", "RuleRun", "RuleSwitch"]
