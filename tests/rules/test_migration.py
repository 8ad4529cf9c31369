"""Migration 0014_rules: the run log and switch tables come and go with it, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from engine.store.session import alembic_config

RULE_TABLES = {"rule_runs", "rule_switches"}


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_0014_creates_and_drops_the_rule_tables(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0013_countcache")
    before = _tables(store_engine)
    assert not RULE_TABLES & before
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0014_rules")
    assert _tables(store_engine) == before | RULE_TABLES
    indexes = {i["name"] for i in sa.inspect(store_engine).get_indexes("rule_runs")}
    assert "ix_rule_runs_app_id_rule_key_id" in indexes
    with store_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0013_countcache")
    assert _tables(store_engine) == before
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert _tables(store_engine) >= RULE_TABLES
