"""The rule engine's counter rows (issue 14): `rule_counters`, one row per (app, rule, slot).

A round-robin assignment (`engine.rules.assign`) keeps its turn here rather than in memory, so
the turn survives restarts and is shared by every process. `advance` adds one to a counter and
returns the new value in a single statement (`INSERT … ON CONFLICT DO UPDATE SET value = value
+ 1 RETURNING value`) inside the caller's transaction: on PostgreSQL the row lock that the
update takes makes a concurrent save wait for this one's commit and then read the raised value,
on SQLite the write lock (`BEGIN IMMEDIATE`) runs saves one at a time, so two saves never get
the same turn, and a rolled-back save gives its turn back. Migration `0015_rulecounters`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import BigInteger, ForeignKey, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from engine.core.sqltypes import UtcDateTime
from engine.store.base import Base
from engine.store.models import KEY_LENGTH, utcnow


class RuleCounter(Base):
    """One counter of one rule of one app: `slot` names what counts (`actions[0].round_robin`),
    `value` how many turns were taken, `updated_at` when the last one was."""

    __tablename__ = "rule_counters"

    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    slot: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


_TABLE = cast(Table, RuleCounter.__table__)


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.app_id, _TABLE.c.rule, _TABLE.c.slot],
        set_={"value": _TABLE.c.value + 1, "updated_at": statement.excluded.updated_at},
    ).returning(_TABLE.c.value)


# Built once per dialect: parameters go with each execution.
_ADVANCE = {name: _upsert(name) for name in ("postgresql", "sqlite")}


def advance(conn: Connection, app_id: int, rule: str, slot: str, at: dt.datetime) -> int:
    """Take the next turn of counter (app, rule, slot) in this transaction: its new value (1 for
    the first turn ever). See the module docstring for why two saves never share a turn."""
    name = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    values = {"app_id": app_id, "rule": rule, "slot": slot, "value": 1, "updated_at": at}
    return int(conn.execute(_ADVANCE[name], values).scalar_one())


def current(conn: Connection, app_id: int, rule: str, slot: str) -> int:
    """How many turns counter (app, rule, slot) has taken (0: none yet)."""
    found = conn.execute(
        select(_TABLE.c.value).where(
            _TABLE.c.app_id == app_id, _TABLE.c.rule == rule, _TABLE.c.slot == slot
        )
    ).scalar()
    return int(found or 0)


__all__ = ["RuleCounter", "advance", "current"]
