"""The SQLite result processors of the store's column types (issue 12: a page reads them once per
value, so each is one plain function) give exactly what `process_result_value` gives, and a
row written and read back through SQLite is the value written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import sqlite

from engine.core.sqltypes import ExactDecimal, Text, UtcDateTime

DIALECT = sqlite.dialect()
UTC = dt.UTC


@pytest.mark.parametrize(
    ("type_", "stored"),
    [
        (UtcDateTime(), [None, 0, 1, -1, -86_400_001, 1_733_412_345_123, 253_402_300_799_999]),
        (ExactDecimal(0), [None, 0, 7, -7, 2**63 - 1, -(2**63) + 1]),
        (ExactDecimal(2), [None, 0, 1, -1, 150, -12_345, 2**63 - 1]),
        (ExactDecimal(10), [None, 1, -10_000_000_001, 2**62]),
        (Text(), [None, "", "a", "积木"]),
    ],
)
def test_processor_equals_process_result_value(type_: Any, stored: list[Any]) -> None:
    process = type_.result_processor(DIALECT, None)
    assert process is not None
    for value in stored:
        assert process(value) == type_.process_result_value(value, DIALECT), value


def test_round_trip_through_sqlite(tmp_path: Path) -> None:
    metadata = MetaData()
    table = Table(
        "t",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime()),
        Column("amount", ExactDecimal(2)),
        Column("note", Text()),
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'types.db'}")
    metadata.create_all(engine)
    rows = [
        {
            "at": dt.datetime(2026, 12, 5, 18, 30, 1, 123000, tzinfo=UTC),
            "amount": Decimal("-0.01"),
            "note": "x",
        },
        {
            "at": dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            "amount": Decimal("12.5"),
            "note": "",
        },
        {"at": None, "amount": None, "note": None},
    ]
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
        read = conn.execute(
            select(table.c.at, table.c.amount, table.c.note).order_by(table.c.id)
        ).all()
    engine.dispose()
    assert [tuple(r) for r in read] == [
        (rows[0]["at"], Decimal("-0.01"), "x"),
        (rows[1]["at"], Decimal("12.50"), None),
        (None, None, None),
    ]
    assert isinstance(read[1][1], Decimal) and read[0][0].tzinfo is not None
