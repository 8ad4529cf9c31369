"""Migration 0015_rulecounters: `rule_counters` comes and goes with it, and a rerun after a
`stamp` back leaves its rows, on both databases."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from engine.rules import counters
from engine.store.models import App
from engine.store.session import alembic_config
from tests.migration_checks import previous_revision, table_names

REVISION = "0015_rulecounters"
AT = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)


def test_0015_creates_drops_and_reruns(store_engine: Engine) -> None:
    previous = previous_revision(store_engine, REVISION)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), previous)
    assert "rule_counters" not in table_names(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    assert "rule_counters" in table_names(store_engine)
    with store_engine.begin() as conn:
        app_id = conn.execute(
            sa.insert(App).values(key="a", name={"zh": "甲"}).returning(App.id)
        ).scalar_one()
        assert counters.advance(conn, app_id, "r", "actions[0]", AT) == 1
        assert counters.advance(conn, app_id, "r", "actions[0]", AT) == 2
        assert counters.advance(conn, app_id, "r", "actions[1]", AT) == 1
    with store_engine.begin() as conn:  # a rerun after a stamp back keeps the rows
        command.stamp(alembic_config(conn), previous)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    with store_engine.begin() as conn:
        assert counters.current(conn, app_id, "r", "actions[0]") == 2
        command.downgrade(alembic_config(conn), previous)
    assert "rule_counters" not in table_names(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert "rule_counters" in table_names(store_engine)
