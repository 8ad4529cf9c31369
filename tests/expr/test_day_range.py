"""``DATEVALUE(<instant>) op <fixed date>`` compiles to a range on the instant's column (issue 15's
report bench: "last 12 months" over a datetime is written this way, and a function per row kept
every index out): the same answer as the Python reference on SQLite and PostgreSQL around
local midnight, in a zone without and a zone with summer time (where the day's midnight is
near an offset change the general comparison stays), and SQL that compares the column itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from engine.core import sqltypes
from engine.expr import evaluate, to_sql
from tests.expr.sql_harness import evaluate_sql

NOW = dt.datetime(2024, 6, 15, 18, 30, tzinfo=dt.UTC)
SCHEMA = {"at": "datetime"}
FORMULAS = [
    "DATEVALUE(at) >= DATE(2024, 3, 10)",
    "DATEVALUE(at) > DATE(2024, 3, 10)",
    "DATEVALUE(at) < DATE(2024, 3, 10)",
    "DATEVALUE(at) <= DATE(2024, 3, 10)",
    "DATEVALUE(at) = DATE(2024, 3, 10)",
    "DATE(2024, 3, 10) <= DATEVALUE(at)",
    "DATEVALUE(at) <> DATE(2024, 3, 10)",
    "DATEVALUE(at) >= EDATE(DATE(2024, 4, 10), -1)",
]
# Around local midnight of 10 and 11 March 2024 in each zone (New York springs forward on
# 10 March at 02:00, within two days of both midnights), and a blank.
INSTANTS: list[dt.datetime | None] = [
    None,
    *(
        dt.datetime(2024, 3, day, hour, minute, tzinfo=dt.UTC)
        for day in (9, 10, 11, 12)
        for hour, minute in ((3, 59), (4, 0), (4, 59), (5, 0), (15, 59), (16, 0))
    ),
]


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/New_York"])
@pytest.mark.parametrize("formula", FORMULAS)
def test_a_day_compared_with_a_fixed_date_agrees_with_python(
    sql_engine: Engine, formula: str, tz: str
) -> None:
    for at in INSTANTS:
        record = {"at": at}
        expected = evaluate(formula, record, SCHEMA, now=NOW, tz=tz)
        actual = evaluate_sql(sql_engine, formula, record, SCHEMA, now=NOW, tz=tz)
        assert actual == expected, (formula, tz, at)


def _where(formula: str, dialect: Any, tz: str = "Asia/Shanghai") -> str:
    table = Table("r", MetaData(), Column("_id", Integer), Column("at", sqltypes.UtcDateTime()))
    condition = to_sql(formula, {"at": table.c.at}, SCHEMA, now=NOW, tz=tz)
    statement = select(table.c._id).where(condition)
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": False}))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_the_column_is_compared_itself(dialect: Any) -> None:
    ranged = _where("DATEVALUE(at) >= DATE(2024, 3, 1)", dialect)
    assert "r.at >=" in ranged and "jimu_" not in ranged and "AT TIME ZONE" not in ranged
    between = _where("DATEVALUE(at) = DATE(2024, 3, 1)", dialect)
    assert "r.at >=" in between and "r.at <" in between
    # a clock or a field on the other side keeps the general comparison (cached statements
    # must not freeze TODAY(); a field differs per row)
    today = _where("DATEVALUE(at) >= TODAY()", dialect)
    assert "r.at >=" not in today
    # New York's midnight two days from its 10 March change: the general comparison
    near = _where("DATEVALUE(at) >= DATE(2024, 3, 10)", dialect, "America/New_York")
    assert "r.at >=" not in near
    far = _where("DATEVALUE(at) >= DATE(2024, 6, 1)", dialect, "America/New_York")
    assert "r.at >=" in far
