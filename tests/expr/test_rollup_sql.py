"""SUM, MIN and MAX over a fixed-scale number column of a list (a rollup over subform rows or
related records) run as plain SQL aggregates on SQLite (issue 12): no ``jimu_*`` Python
function in the SQL, and the same value as the Python evaluation and PostgreSQL — exact
decimals at every scale, blanks skipped, an empty list (SUM 0, MIN/MAX blank), totals that
cross 64 bits in scaled units and totals past the number limit (blank)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine

from engine.expr import evaluate, numbers, to_sql
from engine.expr.types import normalize_schema
from tests.conformance.cases import same_value
from tests.expr.sql_harness import _build, _resolver, evaluate_sql

SCHEMA: dict[str, Any] = {
    "items": {"type": "subform", "fields": {"p": "money", "q": "number"}},
}
FORMULAS = [
    "SUM(items.p)",
    "MIN(items.p)",
    "MAX(items.q)",
    "SUM(items.q)",
    "MAX(items.p)",
    "SUM(items.q * items.p)",
]


def amounts() -> st.SearchStrategy[Decimal | None]:
    """Blanks, small amounts at every scale, and amounts whose sums pass 64-bit scaled integers
    or the number limit."""
    return st.one_of(
        st.none(),
        st.builds(
            lambda units, places: Decimal(units).scaleb(-places),
            st.integers(-(10**12), 10**12),
            st.integers(0, 10),
        ),
        st.builds(
            lambda units, places: Decimal(units).scaleb(-places),
            st.integers(-(10**18) + 1, 10**18 - 1),
            st.integers(0, 2),
        ),
        st.sampled_from(
            [Decimal(0), Decimal("-0.01"), Decimal("999999999999999999"), Decimal("-0.5")]
        ),
    )


items = st.lists(st.fixed_dictionaries({"p": amounts(), "q": amounts()}), max_size=6)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=items)
def test_sqlite_postgresql_and_python_agree(
    formula_engine_sqlite: Engine, formula_engine_postgresql: Engine, rows: list[dict[str, Any]]
) -> None:
    record = {"items": rows}
    for source in FORMULAS:
        expected = evaluate(source, record, SCHEMA)
        for engine in (formula_engine_sqlite, formula_engine_postgresql):
            actual = evaluate_sql(engine, source, record, SCHEMA)
            assert same_value(actual, expected), (
                f"{engine.dialect.name} disagrees on {source}: {actual!r} != python {expected!r}"
                f"\n  rows {rows!r}"
            )


@pytest.mark.parametrize("scale", [0, 2, 10])
@pytest.mark.parametrize(
    "source", ["SUM(items.p)", "MIN(items.p)", "MAX(items.p)", "SUM(items.q * items.p)"]
)
def test_sqlite_sql_calls_no_python_function(
    formula_engine_sqlite: Engine, source: str, scale: int
) -> None:
    """The compiled SQL of an aggregate over a scaled column holds only SQLite's own functions,
    but for SUM's fallback (a total or product past 64 bits) to the general path."""
    scales = {(("items",), "p"): scale, (("items",), "q"): 0}
    layout = _build(formula_engine_sqlite, normalize_schema(SCHEMA), scales)
    sql = to_sql(source, _resolver(layout), SCHEMA)
    text = str(select(sql).compile(dialect=sqlite.dialect()))
    if source.startswith("SUM"):  # the general path only as the CASE's fallback
        assert text.count("jimu_sumagg(") == 1 and "typeof(" in text, text
    else:
        assert "jimu_" not in text, text
    assert "sum(" in text or "min(" in text or "max(" in text


@pytest.mark.parametrize(
    ("values", "sum_", "min_"),
    [
        ([], "0", None),
        ([None, None], "0", None),
        (["1.10", "2.25", None], "3.35", "1.1"),
        (["-0.01"], "-0.01", "-0.01"),
        (["0.5", "-0.5"], "0", "-0.5"),
        (["999999999999999999", "1"], None, "1"),  # past the limit: blank
        (["-999999999999999999", "-999999999999999999"], None, "-999999999999999999"),
        # 10^19 in cents: past 64 bits as one scaled sum, exact as two
        (["50000000000000000.25", "50000000000000000.5"], "100000000000000000.75", None),
        (["-50000000000000000.25", "-50000000000000000.5", "0.01"], "-100000000000000000.74", None),
    ],
)
def test_edges(
    formula_engine_sqlite: Engine,
    formula_engine_postgresql: Engine,
    values: list[str | None],
    sum_: str | None,
    min_: str | None,
) -> None:
    record = {"items": [{"p": None if v is None else Decimal(v), "q": None} for v in values]}
    for engine in (formula_engine_sqlite, formula_engine_postgresql):
        total = evaluate_sql(engine, "SUM(items.p)", record, SCHEMA)
        assert total == (None if sum_ is None else Decimal(sum_)), engine.dialect.name
        assert same_value(total, evaluate("SUM(items.p)", record, SCHEMA))
        if min_ is not None:
            low = evaluate_sql(engine, "MIN(items.p)", record, SCHEMA)
            assert low == Decimal(min_), engine.dialect.name
    assert Decimal(10) ** 18 == numbers.LIMIT


@pytest.mark.parametrize(
    ("rows", "total"),
    [
        ([], "0"),
        ([(None, "1.5"), ("2", None)], "0"),
        ([("3", "1.25"), ("-2", "0.5")], "2.75"),
        # 10^19 in cents: one product past 64 bits, still below the limit (the general path)
        ([("1000", "100000000000000.01"), ("1", "0.01")], "100000000000000010.01"),
        ([("1000000", "1000000000000"), ("1", "2")], "2"),  # 10^18: past the limit, skipped
    ],
)
def test_sum_of_products(
    formula_engine_sqlite: Engine,
    formula_engine_postgresql: Engine,
    rows: list[tuple[str | None, str | None]],
    total: str | None,
) -> None:
    record = {
        "items": [
            {"q": None if q is None else Decimal(q), "p": None if p is None else Decimal(p)}
            for q, p in rows
        ]
    }
    expected = evaluate("SUM(items.q * items.p)", record, SCHEMA)
    assert expected == (None if total is None else Decimal(total))
    for engine in (formula_engine_sqlite, formula_engine_postgresql):
        actual = evaluate_sql(engine, "SUM(items.q * items.p)", record, SCHEMA)
        assert same_value(actual, expected), (engine.dialect.name, actual, expected)
