"""Hot read statements sent straight to the driver (`engine.store.driver_exec`), on SQLite and
PostgreSQL: after its first two runs through SQLAlchemy a statement is sent to the DB-API
cursor with the same SQL and parameters, giving the rows SQLAlchemy gives; each statement keeps
its own literal values even where SQLAlchemy's cache compiled its shape from another; listeners
see every statement (the SQLite time limit restarts there); driver errors come wrapped as
SQLAlchemy wraps them; statements with expanded parameters are left to SQLAlchemy; and nothing
keeps a dropped statement alive."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    any_,
    bindparam,
    cast,
    event,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from engine.core.sqltypes import UtcDateTime
from engine.store import driver_exec
from engine.store.driver_exec import driver_rows
from engine.store.limits import QueryTimeout, Work, statement_limit

META = MetaData()
THINGS = Table(
    "dx_things",
    META,
    Column("id", Integer, primary_key=True),
    Column("name", String(50)),
    Column("kind", String(10)),
    Column("amount", Numeric(12, 2)),
    Column("big", BigInteger),
    Column("flag", Boolean),
    Column("at", UtcDateTime),
)
ROWS = [
    {
        "id": n,
        "name": f"名称{n}",
        "kind": "a" if n % 2 else "b",
        "amount": Decimal(n) / 4,
        "big": 2**40 + n,
        "flag": n % 3 == 0,
        "at": datetime(2026, 1, n, 8, 30, tzinfo=UTC),
    }
    for n in range(1, 9)
]


@pytest.fixture
def things(store_engine: Engine) -> Iterator[Engine]:
    META.create_all(store_engine)
    with store_engine.begin() as conn:
        conn.execute(insert(THINGS), ROWS)
    yield store_engine


def both_ways(conn: Connection, statement: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    """The rows sent straight to the driver (the second run) and SQLAlchemy's own rows."""
    for _ in range(2):  # the first runs go through SQLAlchemy
        driver_rows(conn, statement, params)
    direct = driver_rows(conn, statement, params)
    assert direct.cursor is not None  # this run went to the driver
    return direct, conn.execute(statement, params).all()


def test_the_driver_rows_are_sqlalchemys_rows(things: Engine) -> None:
    statement = (
        select(THINGS, (THINGS.c.amount * 2).label("twice"))
        .where(THINGS.c.kind == bindparam("kind"), THINGS.c.big > bindparam("above"))
        .order_by(THINGS.c.id)
    )
    with things.begin() as conn:
        direct, general = both_ways(conn, statement, {"kind": "a", "above": 2**40 + 2})
    assert [row.id for row in general] == [3, 5, 7]
    named = direct.named()
    assert [tuple(getattr(row, key) for key in direct.keys) for row in named] == [
        tuple(row) for row in general
    ]
    assert direct.keys == tuple(general[0]._fields)
    assert [row.flag for row in named] == [True, False, False]  # converted like SQLAlchemy's
    assert named[0].at == datetime(2026, 1, 3, 8, 30, tzinfo=UTC)


def test_each_statement_keeps_its_own_literal_values(things: Engine) -> None:
    # Same shape, other literals: SQLAlchemy compiles the second from its cache of the first.
    kind_a = select(THINGS.c.id).where(THINGS.c.kind == "a").order_by(THINGS.c.id)
    kind_b = select(THINGS.c.id).where(THINGS.c.kind == "b").order_by(THINGS.c.id)
    with things.begin() as conn:
        for _ in range(4):
            a = driver_rows(conn, kind_a, {})
            b = driver_rows(conn, kind_b, {})
            assert [row[0] for row in a.rows] == [1, 3, 5, 7]
            assert [row[0] for row in b.rows] == [2, 4, 6, 8]
        assert a.cursor is not None and b.cursor is not None


def test_listeners_see_every_statement_sent_to_the_driver(things: Engine) -> None:
    seen: list[tuple[str, str]] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(("before", statement))

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(("after", statement))

    statement = select(THINGS.c.name).where(THINGS.c.id == bindparam("id"))
    event.listen(things, "before_cursor_execute", before)
    event.listen(things, "after_cursor_execute", after)
    try:
        with things.begin() as conn:
            for record in (1, 2, 3, 4):
                assert driver_rows(conn, statement, {"id": record}).rows[0][0] == f"名称{record}"
    finally:
        event.remove(things, "before_cursor_execute", before)
        event.remove(things, "after_cursor_execute", after)
    mine = [entry for entry in seen if "dx_things" in entry[1]]
    assert [kind for kind, _ in mine] == ["before", "after"] * 4


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(things: Engine) -> None:
    statement: Any
    good: dict[str, Any]
    bad: dict[str, Any]
    if things.dialect.name == "postgresql":
        statement = select(cast(bindparam("value", type_=String), Integer))
        good, bad = {"value": "12"}, {"value": "十二"}
    else:  # SQLite: abs() of the smallest integer overflows
        statement = select(func.abs(bindparam("value", type_=BigInteger)))
        good, bad = {"value": -12}, {"value": -(2**63)}
    with things.connect() as conn:
        with conn.begin():
            for _ in range(2):
                driver_rows(conn, statement, good)
            assert driver_rows(conn, statement, good).rows[0][0] == 12
        with pytest.raises(DBAPIError), conn.begin():
            driver_rows(conn, statement, bad)
        with conn.begin():  # the connection is still usable
            assert driver_rows(conn, statement, good).rows[0][0] == 12


def test_the_time_limit_stops_a_statement_sent_to_the_driver(things: Engine) -> None:
    """The SQLite limit restarts its deadline in ``before_cursor_execute``, PostgreSQL's is
    the server's: both stop a slow statement on its direct runs, and each run gets the full
    limit."""
    if things.dialect.name == "postgresql":
        statement = select(func.count()).select_from(
            func.generate_series(1, bindparam("n", type_=Integer)).table_valued("x")
        )
    else:
        counting = select(literal_column("1").label("x")).cte("c", recursive=True)
        counting = counting.union_all(
            select(counting.c.x + 1).where(counting.c.x < bindparam("n", type_=Integer))
        )
        statement = select(func.count()).select_from(counting)
    with things.connect() as conn:
        with conn.begin():
            for _ in range(2):  # the first runs go through SQLAlchemy
                driver_rows(conn, statement, {"n": 10})
        with conn.begin(), statement_limit(conn, Work.INTERACTIVE, 0.3):
            for _ in range(3):
                time.sleep(0.2)  # past the limit in all, but each statement gets it in full
                found = driver_rows(conn, statement, {"n": 1000})
                assert found.cursor is not None and found.rows[0][0] == 1000
        with (
            pytest.raises(QueryTimeout),
            conn.begin(),
            statement_limit(conn, Work.INTERACTIVE, 0.1),
        ):
            driver_rows(conn, statement, {"n": 100_000_000})
        with conn.begin():
            assert driver_rows(conn, statement, {"n": 10}).rows[0][0] == 10


def test_expanded_parameters_and_connections_outside_a_transaction_go_through_sqlalchemy(
    things: Engine,
) -> None:
    listed = select(THINGS.c.id).where(THINGS.c.id.in_(bindparam("ids", expanding=True)))
    with things.begin() as conn:
        for ids in ([1, 2], [3, 4, 5], [6]):
            found = driver_rows(conn, listed, {"ids": ids})
            assert found.cursor is None
            assert sorted(row[0] for row in found.rows) == ids
    single = select(THINGS.c.name).where(THINGS.c.id == bindparam("id"))
    with things.connect() as conn:
        for _ in range(2):
            driver_rows(conn, single, {"id": 1})
        conn.rollback()
        assert not conn.in_transaction()
        outside = driver_rows(conn, single, {"id": 2})  # SQLAlchemy begins the transaction
        assert outside.cursor is None and outside.rows[0][0] == "名称2"
        assert conn.in_transaction()


def test_switched_off_every_statement_goes_through_sqlalchemy(
    things: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    statement = select(THINGS.c.name).where(THINGS.c.id == bindparam("id"))
    monkeypatch.setattr(driver_exec, "DIRECT", False)
    with things.begin() as conn:
        for record in (1, 2):
            found = driver_rows(conn, statement, {"id": record})
            assert found.cursor is None and found.rows[0][0] == f"名称{record}"


def test_a_dropped_statement_is_not_kept_alive(things: Engine) -> None:
    statement = select(THINGS.c.id).where(THINGS.c.id == bindparam("id"))
    # SQLAlchemy's own cache of compiled statements (bounded) would keep it: not used here.
    with things.connect() as connection, connection.begin():
        conn = connection.execution_options(compiled_cache=None)
        for _ in range(2):
            assert driver_rows(conn, statement, {"id": 1}).cursor is None
        assert driver_rows(conn, statement, {"id": 1}).cursor is not None
    gone = weakref.ref(statement)
    del statement
    gc.collect()
    assert gone() is None


TRICKY = ["O'Brien", "back\\slash", "50% off", "x' OR '1'='1", "名称 ’引号‘"]


def test_literal_values_are_written_into_the_sql_on_postgresql(things: Engine) -> None:
    """`literal`: on PostgreSQL the statement goes to the driver without parameters, its values
    quoted by psycopg (a quote, a backslash, a percent sign, an injection attempt and Chinese
    text find exactly their own row); on SQLite its parameters are sent as always."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    with things.begin() as conn:
        conn.execute(
            insert(THINGS),
            [
                {"id": 100 + n, "name": name, "kind": "t", "at": since}
                for n, name in enumerate(TRICKY)
            ],
        )
    statement = select(THINGS.c.id, THINGS.c.name).where(
        THINGS.c.name == bindparam("name"), THINGS.c.at >= bindparam("since")
    )
    sent: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, sql: str, parameters: Any, *args: Any) -> None:
        if "dx_things" in sql:
            sent.append((sql, parameters))

    event.listen(things, "before_cursor_execute", before)
    try:
        with things.begin() as conn:
            for n, name in enumerate(TRICKY):
                for _ in range(3):
                    found = driver_rows(
                        conn, statement, {"name": name, "since": since}, literal=True
                    )
                assert found.cursor is not None
                assert [tuple(row) for row in found.rows] == [(100 + n, name)]
            missing = driver_rows(conn, statement, {"name": "nobody", "since": since}, literal=True)
            assert list(missing.rows) == []
    finally:
        event.remove(things, "before_cursor_execute", before)
    sql, parameters = sent[-2]  # the last run of the last tricky name, sent to the driver
    if things.dialect.name == "postgresql":
        assert parameters is None
        assert "'名称 ’引号‘'" in sql and "2026-01-01" in sql
    else:
        assert parameters is not None and "名称 ’引号‘" in list(parameters)


def test_literal_sql_is_kept_per_value_set_within_a_bound(
    things: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if things.dialect.name != "postgresql":
        pytest.skip("values are written into the SQL on PostgreSQL only")
    monkeypatch.setattr(driver_exec, "LITERAL_KEPT", 2)
    statement = select(THINGS.c.name).where(THINGS.c.id == bindparam("id"))
    with things.begin() as conn:
        for record in (1, 2, 3, 4, 5, 1):
            for _ in range(3):
                found = driver_rows(conn, statement, {"id": record}, literal=True)
            assert found.rows[0][0] == f"名称{record}"
    kept = driver_exec._SENT[statement]["postgresql"]
    assert 1 <= len(kept.literal) <= 2


def test_a_value_that_cannot_be_kept_is_sent_as_a_parameter(things: Engine) -> None:
    if things.dialect.name != "postgresql":
        pytest.skip("an array parameter: PostgreSQL")
    statement = (
        select(THINGS.c.id)
        .where(THINGS.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(Integer))))
        .order_by(THINGS.c.id)
    )
    sent: list[Any] = []

    def before(conn: Any, cursor: Any, sql: str, parameters: Any, *args: Any) -> None:
        if "dx_things" in sql:
            sent.append(parameters)

    event.listen(things, "before_cursor_execute", before)
    try:
        with things.begin() as conn:
            for _ in range(3):
                found = driver_rows(conn, statement, {"ids": [2, 5]}, literal=True)
    finally:
        event.remove(things, "before_cursor_execute", before)
    assert found.cursor is not None and [row[0] for row in found.rows] == [2, 5]
    assert sent[-1] == {"ids": [2, 5]}


def test_equal_values_of_other_types_are_written_as_their_own(things: Engine) -> None:
    """1 and True are equal Python keys; the SQL kept for one is never sent for the other
    (PostgreSQL writes True as ``true``, 1 as ``1``)."""
    postgres = things.dialect.name == "postgresql"
    statement = (
        select(THINGS.c.id)
        .where(cast(bindparam("value"), String) == ("true" if postgres else "1"))
        .order_by(THINGS.c.id)
    )
    with things.begin() as conn:
        for value in (True, 1, True, 1):
            for _ in range(3):
                found = driver_rows(conn, statement, {"value": value}, literal=True)
            matches = value is True or not postgres
            assert len(found.rows) == (len(ROWS) if matches else 0), (value, things.dialect.name)
