"""Migration 0014_rules: the run log and switch tables come and go with it, on both databases."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.migration_checks import check_adds_tables


def test_0014_creates_and_drops_the_rule_tables(store_engine: Engine) -> None:
    check_adds_tables(
        store_engine,
        "0014_rules",
        {"rule_runs", "rule_switches"},
        index=("rule_runs", "ix_rule_runs_app_id_rule_key_id"),
    )
