"""A formula filter over N rows (default 1,000,000) runs as one SQL statement.

For SQLite and PostgreSQL (a throwaway server started for the run), one table of N records
(money, integer, text, date columns with Jimu's record column types) is filled, then the same
question is answered three ways and timed (best of 3):
  - Jimu: ``to_sql`` of the formula in ``WHERE``, compiled to a single statement;
  - hand-written SQL for the same filter on the same table;
  - (``--python``) fetching every row and evaluating the formula in Python, for scale.
The counts must agree. Usage: ``python bench/expr_sql_bench.py [--rows N] [--python]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, func, select, text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.sqltypes import Date, ExactDecimal, Text
from engine.expr import compile_formula, to_sql
from engine.expr.backends.sql import create_engine, install_postgres_functions

FORMULA = 'amount * qty > 5000 AND status <> "closed" AND due <= DATE(2025, 6, 30)'
SCHEMA = {
    "amount": {"type": "money", "precision": 2},
    "qty": "integer",
    "status": "select",
    "due": "date",
}
STATUSES = ["open", "closed", "pending", None]


def table(metadata: MetaData) -> Table:
    return Table(
        "r1",
        metadata,
        Column("_id", Integer, primary_key=True),
        Column("f1", ExactDecimal(2)),
        Column("f2", ExactDecimal(0)),
        Column("f3", Text()),
        Column("f4", Date()),
    )


def rows(n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(11)
    start = dt.date(2024, 1, 1)
    return [
        (
            i,
            rng.randint(0, 10_000_00),  # cents
            rng.randint(1, 50),
            rng.choice(STATUSES),
            (start + dt.timedelta(days=rng.randint(0, 900))).isoformat(),
        )
        for i in range(1, n + 1)
    ]


def load(engine: Engine, t: Table, data: list[tuple[Any, ...]]) -> None:
    """Bulk load with the driver's fastest path (DESIGN §5): executemany / COPY."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.executemany("INSERT INTO r1 VALUES (?, ?, ?, ?, ?)", data)
        else:
            with cursor.copy("COPY r1 (_id, f1, f2, f3, f4) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for _id, cents, qty, status, due in data:
                    copy.write_row((_id, f"{cents // 100}.{cents % 100:02d}", qty, status, due))
        raw.commit()
    finally:
        raw.close()


def best(run: Callable[[], int], repeat: int = 3) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def measure(engine: Engine, n: int, with_python: bool) -> None:
    metadata = MetaData()
    t = table(metadata)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            install_postgres_functions(conn)
    started = time.perf_counter()
    load(engine, t, rows(n))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE r1") if engine.dialect.name == "postgresql" else text("ANALYZE"))
    print(f"\n[{engine.dialect.name}] {n:,} rows loaded in {time.perf_counter() - started:.1f} s")

    columns = {"amount": t.c.f1, "qty": t.c.f2, "status": t.c.f3, "due": t.c.f4}
    where = to_sql(FORMULA, columns, SCHEMA)
    jimu_query = select(func.count()).select_from(t).where(where)
    statement = str(jimu_query.compile(engine, compile_kwargs={"literal_binds": True}))
    print("Jimu SQL:", " ".join(statement.split()))
    if engine.dialect.name == "sqlite":
        hand = (
            "SELECT count(*) FROM r1 WHERE f1 * f2 > 500000 AND f3 IS NOT 'closed'"
            " AND f4 <= '2025-06-30'"
        )
    else:
        hand = (
            "SELECT count(*) FROM r1 WHERE f1 * f2 > 5000 AND f3 IS DISTINCT FROM 'closed'"
            " AND f4 <= DATE '2025-06-30'"
        )
    print("hand SQL:", hand)

    with engine.connect() as conn:
        jimu_time, jimu_count = best(lambda: int(conn.execute(jimu_query).scalar_one()))
        hand_time, hand_count = best(lambda: int(conn.execute(text(hand)).scalar_one()))
        assert jimu_count == hand_count, (jimu_count, hand_count)
        print(f"matching rows: {jimu_count:,}")
        print(f"{'jimu (one statement)':28} {jimu_time * 1000:9.1f} ms")
        print(
            f"{'hand-written SQL':28} {hand_time * 1000:9.1f} ms   jimu/hand = {jimu_time / hand_time:.2f}x"
        )
        if with_python:
            formula = compile_formula(FORMULA, SCHEMA)
            fetch = select(t.c.f1, t.c.f2, t.c.f3, t.c.f4)

            def python_loop() -> int:
                count = 0
                for amount, qty, status, due in conn.execute(fetch):
                    if formula({"amount": amount, "qty": qty, "status": status, "due": due}):
                        count += 1
                return count

            py_time, py_count = best(python_loop, repeat=1)
            assert py_count == hand_count, (py_count, hand_count)
            print(
                f"{'fetch + Python evaluation':28} {py_time * 1000:9.1f} ms   python/jimu = {py_time / jimu_time:.1f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--python", action="store_true", help="also time a Python loop")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    import tempfile

    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            measure(create_engine(f"sqlite:///{tmp}/bench.db"), args.rows, args.python)
    if args.only != "sqlite":
        from tests.postgres_server import PostgresServer

        server = PostgresServer()
        server.start()
        try:
            measure(create_engine(server.url), args.rows, args.python)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
