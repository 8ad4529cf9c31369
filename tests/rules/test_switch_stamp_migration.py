"""Migration 0016_ruleswitchstamp: `apps.rule_switch_stamp` comes (0 for apps already there) and
goes with it, and a rerun after a `stamp` back keeps its values, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from engine.store.session import alembic_config

REVISION = "0016_ruleswitchstamp"


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("apps")}


def test_0016_adds_drops_and_reruns(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        config = alembic_config(conn)
        previous = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
        assert isinstance(previous, str)
        command.upgrade(config, previous)
        conn.execute(sa.text("INSERT INTO apps (key, name) VALUES ('a', '{}')"))
    assert "rule_switch_stamp" not in _columns(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    assert "rule_switch_stamp" in _columns(store_engine)
    with store_engine.begin() as conn:
        assert conn.execute(sa.text("SELECT rule_switch_stamp FROM apps")).scalar_one() == 0
        conn.execute(sa.text("UPDATE apps SET rule_switch_stamp = 7"))
    with store_engine.begin() as conn:  # a rerun after a stamp back keeps the values
        command.stamp(alembic_config(conn), previous)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    with store_engine.begin() as conn:
        assert conn.execute(sa.text("SELECT rule_switch_stamp FROM apps")).scalar_one() == 7
        command.downgrade(alembic_config(conn), previous)
    assert "rule_switch_stamp" not in _columns(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert "rule_switch_stamp" in _columns(store_engine)
