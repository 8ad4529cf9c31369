"""Relation titles on a page (issue 12): LEFT JOIN (what a page does now) against the correlated
subqueries it used before, and against hand-written SQL.

One app: ``customer`` (title ``name``) and ``deal`` (title, a to-one relation ``customer``, an
amount), ``--customers`` and ``--deals`` rows, one customer in 20 deleted. On SQLite and on
PostgreSQL (a throwaway server), interleaved rounds (median of ``--runs``), a page of
``--limit`` deals sorted by id, rows fetched:

- **JOIN**: the engine's page statement (``FormSql.page_statements``), titles through one LEFT
  JOIN per relation;
- **subqueries**: the same statement with the titles as per-row correlated subqueries (the
  page statement before issue 12, built with ``scalar_columns(..., joins=None)``);
- **hand SQL**: ``SELECT d.*, c.name FROM deal d LEFT JOIN customer c ON ... LIMIT n``.

Each as two callers: the engine itself (no row scope) and a member whose role reads only their
own deals and customers (scope ``own`` on both forms: a title of another member's customer is
blank and marked restricted; hand SQL then reads ``CASE WHEN c._owner = :me ...``). Owners are
spread over five members. The three give the same titles (checked before timing).

Usage: ``python bench/title_bench.py [--deals N] [--customers N] [--limit N] [--runs R]
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

from sqlalchemy import select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database
from bench.index_bench import context, interleaved
from engine.auth.permissions import FormAccess
from engine.forms import apps
from engine.forms.query import Reader
from engine.store import engine_for_url, prepare_database
from engine.store.records import SYSTEM_FIELDS, bulk_insert

APP = {
    "format": "jimu.app/1",
    "key": "titles",
    "name": "titles",
    "version": "1",
    "forms": [
        {
            "key": "customer",
            "name": "customer",
            "title_field": "name",
            "fields": [{"key": "name", "type": "text", "label": "名称"}],
        },
        {
            "key": "deal",
            "name": "deal",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "label": "标题"},
                {"key": "customer", "type": "relation", "label": "客户", "target": "customer"},
                {"key": "amount", "type": "money", "label": "金额"},
            ],
        },
    ],
}


def run_database(name: str, url: str, args: argparse.Namespace) -> None:
    print(f"\n===== {name}: {args.deals:,} deals, {args.customers:,} customers =====", flush=True)
    engine = engine_for_url(url)
    prepare_database(engine)
    with engine.begin() as conn:
        apps.create(conn, APP, context())
        app = apps.load(conn, "titles")
    customer, deal = app.form("customer"), app.form("deal")
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    system = {"_created_at": now, "_updated_at": now, "_version": 1}
    name_col = customer.fields["name"].column
    with engine.begin() as conn:
        bulk_insert(
            conn,
            customer.table,
            [
                {**system, "_owner": rng.randint(1, 5), name_col: f"客户{n}"}
                for n in range(args.customers)
            ],
        )
        conn.execute(
            update(customer.table)
            .where(customer.table.c._id % 20 == 0)
            .values(_deleted_at=customer.table.c._created_at)
        )
    columns = {k: deal.fields[k].column for k in ("title", "customer", "amount")}
    for start in range(0, args.deals, 20_000):
        with engine.begin() as conn:
            bulk_insert(
                conn,
                deal.table,
                [
                    {
                        **system,
                        "_owner": rng.randint(1, 5),
                        columns["title"]: f"商机{n}",
                        columns["customer"]: rng.randint(1, args.customers),
                        columns["amount"]: Decimal(rng.randint(0, 10**7)) / 100,
                    }
                    for n in range(start, min(args.deals, start + 20_000))
                ],
            )
    with engine.begin() as conn:
        for table in (customer.table, deal.table):
            conn.execute(text(f"ANALYZE {table.name}"))
    conn = engine.connect()
    for caller in ("engine", "member"):
        access = None if caller == "engine" else member(app.layout.forms.values())
        measure(conn, app, access, name_col, columns, args, caller)
    conn.close()
    engine.dispose()


def member(forms: Any) -> FormAccess:
    """Member 3 reading only their own records of every form (every field visible)."""

    def on(form: Any) -> FormAccess:
        return FormAccess(
            3,
            (),
            scopes={"view": ("own",)},
            fields={key: "editable" for key in form.fields},
            peers=on,
            fingerprint=("bench-member",),
        )

    found = {form.key: form for form in forms}
    return on(found["deal"])


def measure(
    conn: Any,
    app: Any,
    access: FormAccess | None,
    name_col: str,
    columns: dict[str, str],
    args: argparse.Namespace,
    caller: str,
) -> None:
    customer, deal = app.form("customer"), app.form("deal")
    reader = Reader(app.layout, deal, context(), access=access)
    sql = reader.sql
    joined = sql.page_statements(sort="_id", limit=args.limit, count=False)
    resolver = sql.resolver()
    system_columns = [deal.table.c[n].label(n) for n in SYSTEM_FIELDS]
    before = (
        select(*system_columns, *sql.scalar_columns(deal, resolver))
        .where(sql.visible(resolver))
        .order_by(deal.table.c._id)
        .limit(args.limit)
    )
    me = "" if access is None else " AND d._owner = 3"
    title = f"c.{name_col}" if access is None else f"CASE WHEN c._owner = 3 THEN c.{name_col} END"
    restricted = "" if access is None else ", CASE WHEN c._owner = 3 THEN 0 ELSE 1 END"
    hand = text(
        f"SELECT d._id, d._created_at, d._updated_at, d._owner, d._version, d._deleted_at,"
        f" d.{columns['title']}, d.{columns['customer']}, {title}, d.{columns['amount']}"
        f"{restricted}"
        f" FROM {deal.table.name} d LEFT JOIN {customer.table.name} c"
        f" ON c._id = d.{columns['customer']} AND c._deleted_at IS NULL"
        f" WHERE d._deleted_at IS NULL{me} ORDER BY d._id LIMIT {args.limit}"
    )
    titles_join = [r._mapping["customer#title"] for r in conn.execute(joined.page, joined.params)]
    titles_before = [r._mapping["customer#title"] for r in conn.execute(before)]
    titles_hand = [r[8] for r in conn.execute(hand)]
    assert titles_join == titles_before == titles_hand, "the three pages differ"
    assert None in titles_join, "no blank title on the page"
    assert len(titles_join) == args.limit

    def page_join() -> Any:
        return conn.execute(joined.page, joined.params).all()

    def page_before() -> Any:
        return conn.execute(before).all()

    def page_hand() -> Any:
        return conn.execute(hand).all()

    times = interleaved(
        {"JOIN": page_join, "subqueries": page_before, "hand": page_hand}, args.runs
    )
    print(
        f"  {caller:6} page of {args.limit}: JOIN {times['JOIN']:7.2f} ms   subqueries"
        f" {times['subqueries']:7.2f} ms   hand SQL {times['hand']:7.2f} ms"
        f"   subqueries/JOIN {times['subqueries'] / times['JOIN']:5.2f}x"
        f"   JOIN/hand {times['JOIN'] / times['hand']:5.2f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    add_database_option(parser)
    args = parser.parse_args()
    for name, url in each_database(args.db, "titles.db"):
        run_database(name, url, args)


if __name__ == "__main__":
    main()
