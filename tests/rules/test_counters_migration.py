"""Migration 0015_rulecounters: `rule_counters` comes and goes with it, and a rerun after a
`stamp` back leaves its rows, on both databases."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from engine.rules import counters
from engine.store.models import App
from engine.store.session import alembic_config

REVISION = "0015_rulecounters"
AT = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_0015_creates_drops_and_reruns(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        config = alembic_config(conn)
        previous = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
        assert isinstance(previous, str)
        command.upgrade(config, previous)
    assert "rule_counters" not in _tables(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    assert "rule_counters" in _tables(store_engine)
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
    assert "rule_counters" not in _tables(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert "rule_counters" in _tables(store_engine)
