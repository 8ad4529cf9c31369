"""Statement time limits per kind of work (engine.store.limits, issue 10 finding 3), on SQLite
and PostgreSQL: a statement past its limit is a QueryTimeout, the connection stays usable, and
the limit ends with its block."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from engine.settings import Settings
from engine.store.limits import QueryTimeout, Work, seconds_for, statement_limit


def slow(conn: Connection, rows: int = 30_000_000) -> int:
    """A statement that keeps the database busy for a long while (no sleep: CPU work)."""
    if conn.dialect.name == "postgresql":
        return int(
            conn.execute(
                text("SELECT count(*) FROM generate_series(1, :n)"), {"n": rows}
            ).scalar_one()
        )
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) SELECT count(*) FROM c"
    return int(conn.execute(text(sql), {"n": rows}).scalar_one())


def test_a_statement_past_its_limit_is_a_query_timeout(store_engine: Engine) -> None:
    with store_engine.connect() as conn:
        with pytest.raises(QueryTimeout) as raised, statement_limit(conn, Work.INTERACTIVE, 0.05):
            slow(conn)
        assert raised.value.code == "query_timeout"
        assert raised.value.work is Work.INTERACTIVE
        assert "0.05" in raised.value.message_en and "0.05" in raised.value.message_zh
        conn.rollback()
        assert conn.execute(text("SELECT 1")).scalar_one() == 1  # the connection is healthy


def test_the_limit_ends_with_its_block(store_engine: Engine) -> None:
    with store_engine.connect() as conn:
        with statement_limit(conn, Work.INTERACTIVE, 0.01):
            assert conn.execute(text("SELECT 2")).scalar_one() == 2
        assert slow(conn, 1_000_000) == 1_000_000  # far longer than 0.01 s, and not stopped
        if conn.dialect.name == "postgresql":
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    with store_engine.connect() as conn:  # the pooled connection carries no limit either
        assert slow(conn, 1_000_000) == 1_000_000


def test_each_statement_gets_the_full_limit(store_engine: Engine) -> None:
    """The limit is per statement, not per block: a request of many quick statements is fine."""
    with store_engine.connect() as conn, statement_limit(conn, Work.INTERACTIVE, 0.2):
        assert slow(conn, 10_000) == 10_000
        time.sleep(0.3)  # longer than the limit, between two statements
        assert slow(conn, 10_000) == 10_000


def test_no_limit_when_the_work_has_none(store_engine: Engine) -> None:
    with store_engine.connect() as conn, statement_limit(conn, Work.IMPORT, 0):
        assert slow(conn, 1_000_000) == 1_000_000


def test_each_kind_of_work_has_its_own_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert [seconds_for(defaults, work) for work in Work] == [5, 30, 120, 0, 0]
    monkeypatch.setenv("JIMU_STATEMENT_TIMEOUT_EXPORT", "7.5")
    changed = Settings()
    assert seconds_for(changed, Work.EXPORT) == 7.5
    assert seconds_for(changed, Work.INTERACTIVE) == 5
