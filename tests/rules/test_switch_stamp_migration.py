"""Migration 0016_ruleswitchstamp: `apps.rule_switch_stamp` (0 for apps already there) and the
index on `rule_runs.job_id` come and go with it, and a rerun after a `stamp` back keeps its values, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from engine.store.models import App
from engine.store.session import alembic_config

REVISION = "0016_ruleswitchstamp"


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("apps")}


def _indexed(engine: Engine) -> bool:
    return "ix_rule_runs_job_id" in {i["name"] for i in sa.inspect(engine).get_indexes("rule_runs")}


def test_0016_adds_drops_and_reruns(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        config = alembic_config(conn)
        previous = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
        assert isinstance(previous, str)
        command.upgrade(config, previous)
        conn.execute(sa.insert(App).values(key="a", name={"zh": "甲"}))
    assert "rule_switch_stamp" not in _columns(store_engine)
    assert not _indexed(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    assert "rule_switch_stamp" in _columns(store_engine)
    assert _indexed(store_engine)
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
    assert not _indexed(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert "rule_switch_stamp" in _columns(store_engine)
