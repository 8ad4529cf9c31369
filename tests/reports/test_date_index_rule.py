"""SQLite's date-index rule (issue 15, `engine.reports.compile.DATE_INDEX_SHARE`): a report
filtered to a range over more than ~12% of an indexed instant's span scans the table (SQLite
would walk the index over a third of the table, measured 2.6–3.1× slower); a narrow range
keeps the index (EXPLAIN QUERY PLAN of the statement the report runs). Either way the answer
is the one counted from the rows in Python; PostgreSQL's statement is left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.forms import apps
from engine.forms.sql import FormSql
from engine.reports import runtime
from engine.reports.compile import ReportCompiler
from engine.reports.runtime import run_report
from engine.reports.spec import ReportSpec
from engine.store.records import bulk_insert
from engine.store.session import engine_for_url
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

TZ = ZoneInfo("Asia/Shanghai")
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "bench",
    "name": "bench",
    "version": "1",
    "forms": [
        {
            "key": "orders",
            "name": "订单",
            "indexes": [["signed_at"]],
            "fields": [
                {"key": "amount", "type": "money", "label": "金额", "precision": 2},
                {"key": "signed_at", "type": "datetime", "label": "签约时间"},
            ],
        }
    ],
}
START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
DAYS = 3 * 365
ROWS = 3000


@pytest.fixture
def orders(tmp_path: Path) -> Iterator[Engine]:
    """ROWS orders, one every ~9 hours over three years from 2023, amount = index cents."""
    engine = engine_for_url(f"sqlite:///{tmp_path}/rule.db")
    prepare_fresh(engine)
    with engine.begin() as conn:
        apps.create(conn, APP, context())
        layout = apps.load(conn, "bench").layout.forms["orders"]
        amount, signed = (layout.fields[k].column for k in ("amount", "signed_at"))
        now = dt.datetime.now(dt.UTC)
        rows = [
            {
                "_created_at": now,
                "_updated_at": now,
                "_version": 1,
                amount: Decimal(n) / 100,
                signed: START + dt.timedelta(seconds=n * DAYS * 86_400 // ROWS),
            }
            for n in range(ROWS)
        ]
        assert bulk_insert(conn, layout.table, rows)
        conn.exec_driver_sql("ANALYZE")
    runtime._spans.clear()
    try:
        yield engine
    finally:
        engine.dispose()


def _report(since: dt.date) -> ReportSpec:
    return ReportSpec.model_validate(
        {
            "key": "r",
            "name": "r",
            "form": "orders",
            "filter": f"DATEVALUE(signed_at) >= DATE({since.year}, {since.month}, {since.day})",
            "measures": [
                {"key": "n", "agg": "count"},
                {"key": "total", "agg": "sum", "field": "amount"},
            ],
        }
    )


def _expected(since: dt.date) -> tuple[int, str]:
    picked = [
        n
        for n in range(ROWS)
        if (START + dt.timedelta(seconds=n * DAYS * 86_400 // ROWS)).astimezone(TZ).date() >= since
    ]
    return len(picked), f"{Decimal(sum(picked)) / 100:.2f}"


def _plan_and_answer(engine: Engine, since: dt.date) -> tuple[str, list[Any]]:
    """The EXPLAIN QUERY PLAN of the report's statement, and the report's row."""
    seen: list[tuple[str, Any]] = []
    with engine.connect() as conn:
        loaded = apps.load(conn, "bench")
        sql = FormSql(loaded.layout, loaded.layout.forms["orders"], context(), access=None)

        def keep(conn_: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            seen.append((statement, parameters))

        event.listen(conn, "before_cursor_execute", keep)
        try:
            result = run_report(conn, sql, _report(since))
        finally:
            event.remove(conn, "before_cursor_execute", keep)
        statement, parameters = seen[-1]
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return " / ".join(str(row[-1]) for row in plan), result.rows[0]


def test_a_wide_range_scans_and_a_narrow_one_keeps_the_index(orders: Engine) -> None:
    wide, narrow = dt.date(2024, 6, 1), dt.date(2025, 11, 1)  # ~55% and ~5% of the span
    plan, row = _plan_and_answer(orders, wide)
    assert "SCAN" in plan and "idx_" not in plan, plan
    assert tuple(row) == _expected(wide)
    plan, row = _plan_and_answer(orders, narrow)
    assert "idx_" in plan, plan
    assert tuple(row) == _expected(narrow)


def test_the_rule_reads_the_column_span_once_and_leaves_postgresql_alone(
    orders: Engine,
) -> None:
    wide = dt.date(2024, 6, 1)
    _plan_and_answer(orders, wide)
    statements: list[str] = []
    with orders.connect() as conn:
        loaded = apps.load(conn, "bench")
        sql = FormSql(loaded.layout, loaded.layout.forms["orders"], context(), access=None)

        def keep(conn_: Any, cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(conn, "before_cursor_execute", keep)
        try:
            run_report(conn, sql, _report(wide))
        finally:
            event.remove(conn, "before_cursor_execute", keep)
        assert len(statements) == 1  # the span is kept: one statement per run
        pg = ReportCompiler(sql, _report(wide)).compile("postgresql", lambda c: (0, 1))
        from sqlalchemy.dialects import postgresql

        assert "+ " not in str(pg.statement.compile(dialect=postgresql.dialect()))


def test_a_month_bucket_drops_its_guard_only_while_no_instant_precedes_the_fixed_offset(
    orders: Engine,
) -> None:
    """SQLite buckets an instant by Shanghai's fixed +08:00 alone (no per-record CASE falling
    back to DATEVALUE) while the column's first live value is after 1991; an order signed in
    China's summer time of 1990 switches the very next run back to the guarded statement,
    which puts it in July (00:30 local on 1 July, not 23:30 on 30 June)."""
    report = ReportSpec.model_validate(
        {
            "key": "m",
            "name": "m",
            "form": "orders",
            "rows": [{"field": "signed_at", "bucket": "month"}],
            "measures": [{"key": "n", "agg": "count"}],
        }
    )
    stamps = [START + dt.timedelta(seconds=n * DAYS * 86_400 // ROWS) for n in range(ROWS)]

    def run() -> tuple[str, dict[str, int]]:
        seen: list[str] = []
        with orders.connect() as conn:
            loaded = apps.load(conn, "bench")
            sql = FormSql(loaded.layout, loaded.layout.forms["orders"], context(), access=None)

            def keep(conn_: Any, cursor: Any, statement: str, *_: Any) -> None:
                seen.append(statement)

            event.listen(conn, "before_cursor_execute", keep)
            try:
                result = run_report(conn, sql, report)
            finally:
                event.remove(conn, "before_cursor_execute", keep)
        return seen[-1], {row[0]["value"]: row[1] for row in result.rows}

    def months(found: list[dt.datetime]) -> dict[str, int]:
        counted: dict[str, int] = {}
        for stamp in found:
            key = stamp.astimezone(TZ).date().replace(day=1).isoformat()
            counted[key] = counted.get(key, 0) + 1
        return counted

    statement, answer = run()
    assert "jimu_call" not in statement and "CASE" not in statement, statement
    assert answer == months(stamps)
    early = dt.datetime(1990, 6, 30, 15, 30, tzinfo=dt.UTC)  # UTC+9 then: 1 July 00:30
    with orders.begin() as conn:
        layout = apps.load(conn, "bench").layout.forms["orders"]
        now = dt.datetime.now(dt.UTC)
        row = {"_created_at": now, "_updated_at": now, "_version": 1}
        assert bulk_insert(conn, layout.table, [{**row, layout.fields["signed_at"].column: early}])
    statement, answer = run()
    assert "jimu_call" in statement, statement
    assert answer["1990-07-01"] == 1 and "1990-06-01" not in answer
    assert answer == months([*stamps, early])
