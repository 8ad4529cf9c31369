"""Page and exact total in one scan (issue 12, not adopted): the late-lookup page of the peer
list phase (``status = 'won'``, a quarter of N rows; ``-amount`` with blanks last, then ``-_id``;
25 rows at offset 0 and 1000) read three ways, timed in interleaved rounds (median):

- ``two``: ``SELECT count(*) … WHERE …`` then the late-lookup page (what the engine runs);
- ``window``: one statement, ``count(*) OVER ()`` in the inner ``_id`` query;
- ``subquery``: one statement, the count as an uncorrelated scalar subquery (SQLite only).

The statements are hand-written in the shape `FormSql` builds for a form with primary key and a
``status`` index (no index on ``amount``); each round checks that all forms give the same ids
and total. SQLite (a temporary file) and PostgreSQL (a throwaway server).

Usage: ``python bench/onescan_bench.py [--rows N] [--runs R] [--db sqlite|postgresql|both]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database

WHERE = "WHERE _deleted_at IS NULL AND status = 'won'"
ORDER = {
    "sqlite": "amount IS NULL, amount DESC, _id DESC",
    "postgresql": "amount DESC NULLS LAST, _id DESC",
}


def load(engine: Engine, rows: int) -> None:
    random.seed(1)
    stages = ["won", "lost", "open", "new"]
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE t (_id INTEGER PRIMARY KEY, _deleted_at TEXT, status TEXT,"
                " amount FLOAT, title TEXT, n1 TEXT, n2 TEXT, n3 TEXT)"
            )
        )
        conn.execute(
            text("INSERT INTO t VALUES (:i, NULL, :s, :a, :t, :x, :x, :x)"),
            [
                {
                    "i": i,
                    "s": random.choice(stages),
                    "a": random.random() * 1000 if random.random() > 0.1 else None,
                    "t": f"deal {i}",
                    "x": "x" * 30,
                }
                for i in range(1, rows + 1)
            ],
        )
        conn.execute(text("CREATE INDEX t_status ON t (status)"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE t"))


def statements(dialect: str) -> dict[str, str]:
    order = ORDER[dialect]
    outer = ", ".join(f"t.{part}" for part in order.split(", "))
    page = (
        "SELECT t.*{extra} FROM (SELECT _id{inner} FROM t "
        f"{WHERE} ORDER BY {order} LIMIT 25 OFFSET :o) AS p "
        f"JOIN t ON t._id = p._id ORDER BY {outer}"
    )
    found = {
        "two": page.format(extra="", inner=""),
        "window": page.format(extra=", p.total", inner=", count(*) OVER () AS total"),
    }
    if dialect == "sqlite":
        found["subquery"] = page.format(extra=f", (SELECT count(*) FROM t {WHERE})", inner="")
    return found


def run_database(name: str, url: str, rows: int, runs: int) -> None:
    engine = create_engine(url)
    load(engine, rows)
    forms = statements(engine.dialect.name)
    count = text(f"SELECT count(*) FROM t {WHERE}")
    print(f"{name}, {rows} rows, {runs} rounds (median ms)")
    with engine.connect() as conn:
        for offset in (0, 1000):
            times: dict[str, list[float]] = {key: [] for key in forms}
            for _ in range(runs):
                for key, sql in forms.items():
                    start = time.perf_counter()
                    if key == "two":
                        total = conn.execute(count).scalar_one()
                        got = conn.execute(text(sql), {"o": offset}).all()
                    else:
                        got = conn.execute(text(sql), {"o": offset}).all()
                        total = got[0][-1]
                    times[key].append(time.perf_counter() - start)
                    ids = [row[0] for row in got]
                    if key == "two":
                        expected = (ids, total)
                    assert (ids, total) == expected, key
            base = statistics.median(times["two"])
            cells = [
                f"{key} {statistics.median(v) * 1e3:.2f} ({base / statistics.median(v):.2f}×)"
                for key, v in times.items()
            ]
            print(f"  offset {offset}: " + " | ".join(cells))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    add_database_option(parser)
    args = parser.parse_args()
    for name, url in each_database(args.db, "bench.db"):
        run_database(name, url, args.rows, args.runs)


if __name__ == "__main__":
    main()
