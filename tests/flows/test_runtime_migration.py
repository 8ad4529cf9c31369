"""Migration 0012_flows: the flow runtime's tables come and go with it, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from engine.store.session import alembic_config

FLOW_TABLES = {"flow_instances", "flow_tokens", "flow_tasks", "flow_events", "notifications"}


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_0012_creates_and_drops_the_flow_tables(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0011_idxlive")
    before = _tables(store_engine)
    assert not FLOW_TABLES & before
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0012_flows")
    assert _tables(store_engine) == before | FLOW_TABLES
    indexes = {i["name"] for i in sa.inspect(store_engine).get_indexes("flow_tasks")}
    assert "ix_flow_tasks_assignee_id_state_created_at" in indexes
    with store_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0011_idxlive")
    assert _tables(store_engine) == before
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert _tables(store_engine) >= FLOW_TABLES
