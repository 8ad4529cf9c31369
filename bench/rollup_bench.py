"""Rollups over subform rows on a page (issue 12): the page statement of a form whose ``total``
sums, and ``top`` maximises, a money field of its subform rows.

``--records`` orders with ``--items`` rows each; a page of ``--limit`` orders (statement and
rows fetched, `FormSql.page_statements`) against hand-written SQL with the same correlated
aggregates over the stored scaled integers (SQLite) or NUMERIC (PostgreSQL). Run it on two
checkouts to compare them (``PYTHONPATH=<checkout> python bench/rollup_bench.py``): before
issue 12 SQLite added the amounts with Python aggregates, now with its own.

Usage: ``python bench/rollup_bench.py [--records N] [--items N] [--limit N] [--runs R]
[--db sqlite|postgresql|both]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database
from bench.index_bench import context, interleaved
from engine.forms import apps
from engine.forms.query import Reader
from engine.store import engine_for_url, prepare_database
from engine.store.records import bulk_insert

APP = {
    "format": "jimu.app/1",
    "key": "rollups",
    "name": "rollups",
    "version": "1",
    "forms": [
        {
            "key": "order",
            "name": "order",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "label": "标题"},
                {
                    "key": "items",
                    "type": "subform",
                    "label": "明细",
                    "fields": [
                        {"key": "product", "type": "text", "label": "产品"},
                        {"key": "price", "type": "money", "label": "价格"},
                    ],
                },
                {
                    "key": "total",
                    "type": "rollup",
                    "label": "合计",
                    "relation": "items",
                    "field": "price",
                    "aggregate": "sum",
                },
                {
                    "key": "top",
                    "type": "rollup",
                    "label": "最高",
                    "relation": "items",
                    "field": "price",
                    "aggregate": "max",
                },
            ],
        }
    ],
}


def run_database(name: str, url: str, args: argparse.Namespace) -> None:
    print(f"\n===== {name}: {args.records:,} orders x {args.items} items =====", flush=True)
    engine = engine_for_url(url)
    prepare_database(engine)
    with engine.begin() as conn:
        apps.create(conn, APP, context())
        app = apps.load(conn, "rollups")
    order = app.form("order")
    rows_layout = order.fields["items"].rows
    assert rows_layout is not None
    rng = random.Random(3)
    now = dt.datetime.now(dt.UTC)
    title = order.fields["title"].column
    price = rows_layout.fields["price"].column
    with engine.begin() as conn:
        bulk_insert(
            conn,
            order.table,
            [
                {"_created_at": now, "_updated_at": now, "_version": 1, title: f"订单{n}"}
                for n in range(args.records)
            ],
        )
        items = [
            {
                "_parent_id": parent,
                "_seq": seq,
                price: None if rng.random() < 0.1 else Decimal(rng.randint(0, 10**7)) / 100,
            }
            for parent in range(1, args.records + 1)
            for seq in range(args.items)
        ]
        conn.execute(rows_layout.table.insert(), items)
        for table in (order.table, rows_layout.table):
            conn.execute(text(f"ANALYZE {table.name}"))
    reader = Reader(app.layout, order, context())
    page = reader.sql.page_statements(sort="_id", limit=args.limit, count=False)
    child = rows_layout.table.name
    hand = text(
        f"SELECT o._id, o.{title}, (SELECT sum(i.{price}) FROM {child} i WHERE i._parent_id ="
        f" o._id), (SELECT max(i.{price}) FROM {child} i WHERE i._parent_id = o._id)"
        f" FROM {order.table.name} o WHERE o._deleted_at IS NULL ORDER BY o._id LIMIT {args.limit}"
    )
    conn = engine.connect()
    engine_rows = conn.execute(page.page, page.params).all()
    hand_rows = conn.execute(hand).all()
    scale = Decimal(100) if engine.dialect.name == "sqlite" else Decimal(1)
    for mine, theirs in zip(engine_rows, hand_rows, strict=True):
        total = mine._mapping["total"]
        expected = Decimal(theirs[2] or 0) / scale
        assert Decimal(total) == expected, (mine._id, total, expected)

    def jimu() -> Any:
        return conn.execute(page.page, page.params).all()

    def by_hand() -> Any:
        return conn.execute(hand).all()

    times = interleaved({"Jimu": jimu, "hand": by_hand}, args.runs)
    conn.close()
    engine.dispose()
    print(
        f"  page of {args.limit}: Jimu SQL {times['Jimu']:7.2f} ms   hand SQL {times['hand']:7.2f} ms"
        f"   Jimu/hand {times['Jimu'] / times['hand']:5.2f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    add_database_option(parser)
    args = parser.parse_args()
    for name, url in each_database(args.db, "rollups.db"):
        run_database(name, url, args)


if __name__ == "__main__":
    main()
