"""What the count cache's token row would cost PostgreSQL's writers (issue 12): concurrent
single-row insert transactions into one table, without and with a trigger that renews the
table's token row in the writing transaction (`engine.forms.count_cache` does this on SQLite
only). Each writer's transaction holds the token row's lock until it commits, so writers of one
table queue behind each other; this measures by how much. A throwaway PostgreSQL server (the
tests' `PostgresServer`); rounds alternate; prints inserts/s and the ratio.

Usage: ``python bench/count_cache_pg_bench.py [--clients 8] [--duration 5] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store.session import engine_for_url

SCHEMA = """
DROP TABLE IF EXISTS r1; DROP TABLE IF EXISTS table_versions;
CREATE TABLE r1 (_id bigserial PRIMARY KEY, title text, status text, amount numeric(14, 2),
                 _deleted_at timestamptz);
CREATE TABLE table_versions (name varchar(63) PRIMARY KEY, token bigint NOT NULL);
INSERT INTO table_versions VALUES ('r1', 0);
CREATE OR REPLACE FUNCTION tv_renew() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE table_versions SET token = (random() * 9e18)::bigint WHERE name = TG_TABLE_NAME;
  RETURN NULL;
END $$;
"""
TRIGGER = (
    "CREATE TRIGGER tv_r1 AFTER INSERT OR UPDATE OR DELETE ON r1 "
    "FOR EACH STATEMENT EXECUTE FUNCTION tv_renew()"
)


def prepare(engine: Engine, trigger: bool) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA)
        if trigger:
            conn.execute(text(TRIGGER))


def load(engine: Engine, clients: int, seconds: float) -> float:
    """Insert transactions per second of `clients` threads for `seconds`."""
    stop = time.monotonic() + seconds
    counts = [0] * clients
    insert = text("INSERT INTO r1 (title, status, amount) VALUES (:t, 'won', 12.5)")

    def client(index: int) -> None:
        with engine.connect() as conn:
            while time.monotonic() < stop:
                with conn.begin():
                    conn.execute(insert, {"t": f"order {index}"})
                counts[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from tests.postgres_server import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        engine = engine_for_url(server.url, pool_size=args.clients, max_overflow=0)
        rates: dict[bool, list[float]] = {False: [], True: []}
        for round_no in range(args.rounds):
            for trigger in (False, True) if round_no % 2 == 0 else (True, False):
                prepare(engine, trigger)
                load(engine, args.clients, 1.0)  # warm-up
                rates[trigger].append(load(engine, args.clients, args.duration))
                name = "with the token trigger" if trigger else "without"
                print(f"round {round_no + 1} {name:23} {rates[trigger][-1]:8.0f} inserts/s")
        ratios = [t / n for t, n in zip(rates[True], rates[False], strict=True)]
        print(
            f"{args.clients} clients, {args.duration:g} s: without "
            f"{statistics.median(rates[False]):.0f}/s, with {statistics.median(rates[True]):.0f}/s,"
            f" with/without min {min(ratios):.2f}x median {statistics.median(ratios):.2f}x"
        )
        engine.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
