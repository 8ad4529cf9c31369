"""Migration 0012_flows: the flow runtime's tables come and go with it, on both databases."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.migration_checks import check_adds_tables


def test_0012_creates_and_drops_the_flow_tables(store_engine: Engine) -> None:
    check_adds_tables(
        store_engine,
        "0012_flows",
        {"flow_instances", "flow_tokens", "flow_tasks", "flow_events", "notifications"},
        index=("flow_tasks", "ix_flow_tasks_assignee_id_state_created_at"),
    )
