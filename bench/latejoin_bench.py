"""Late row lookup (issue 12): a filtered page sorted by an unindexed field, read directly
(``SELECT <all columns> … ORDER BY … LIMIT``) and by a late row lookup (the sort over `_id` and
the sort keys, then the page's rows whole), and the filtered count, at N rows.

The forms of `bench/index_bench.py` (``plain``: primary key and default indexes only;
``declared``: ``indexes: [["status", "-amount"]]``) plus ``wide``: ``plain`` with ten more text
fields and a relation to a customer form (its title read through a LEFT JOIN). The page is
``filter='status = "won"'`` (a quarter of the rows), ``sort="-amount"``, 25 rows at offset 0
and 1000; both forms of each statement are built by `FormSql` (the module switch
`engine.forms.sql.LATE_LOOKUP`), checked to answer the same rows, and timed in interleaved
rounds (median). SQLite and PostgreSQL (a throwaway server started for the run).

Usage: ``python bench/latejoin_bench.py [--rows N] [--runs R] [--db sqlite|postgresql|both]``.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database

sys.path.insert(0, str(Path(__file__).resolve().parent))

import index_bench as ib

from engine.forms import apps
from engine.forms import sql as form_sql
from engine.forms.query import Reader
from engine.store import engine_for_url, prepare_database

FORMS = ("plain", "declared", "wide")
EXTRA = [f"note{n}" for n in range(10)]


def app_definition() -> dict[str, Any]:
    wide = ib.form("wide", [])
    wide["fields"] += [{"key": key, "type": "text", "label": key} for key in EXTRA]
    wide["fields"].append(
        {"key": "customer", "type": "relation", "target": "customer", "label": "customer"}
    )
    customer = {
        "key": "customer",
        "name": "customer",
        "title_field": "name",
        "fields": [{"key": "name", "type": "text", "label": "name"}],
    }
    forms = [ib.form("plain", []), ib.form("declared", [["status", "-amount"]]), wide, customer]
    return {**ib.APP, "key": "late", "forms": forms}


def load(engine: Engine, app: Any, rows: int) -> None:
    customers = app.form("customer")
    name = customers.fields["name"].column
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {customers.table.name} (_created_at, _updated_at, _version, {name})"
                " VALUES (CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, :name)"
            ),
            [{"name": f"客户{n}"} for n in range(1000)],
        )
    for seed, key in enumerate(FORMS):
        ib.load(engine, app, key, rows, seed)
    wide = app.form("wide")
    rng = random.Random(7)
    sets = ", ".join(f"{wide.fields[key].column} = :{key}" for key in EXTRA)
    relation = wide.fields["customer"].column
    with engine.begin() as conn:
        words = {key: "说明文字 " * rng.randint(2, 6) + key for key in EXTRA}
        conn.execute(text(f"UPDATE {wide.table.name} SET {sets}"), words)
        conn.execute(text(f"UPDATE {wide.table.name} SET {relation} = _id % 1000 + 1"))
        for key in FORMS:
            conn.execute(
                text(
                    f"UPDATE {app.form(key).table.name} SET _deleted_at = _created_at WHERE _id % 50 = 0"
                )
            )
    tables = [app.form(key).table.name for key in (*FORMS, "customer")]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    else:
        with engine.begin() as conn:
            for table in tables:
                conn.execute(text(f"ANALYZE {table}"))


def run_database(name: str, url: str, args: argparse.Namespace) -> None:
    print(f"\n===== {name}: {args.rows:,} rows per form =====", flush=True)
    engine = engine_for_url(url)
    prepare_database(engine)
    with engine.begin() as conn:
        apps.create(conn, app_definition(), ib.context())
        app = apps.load(conn, "late")
    load(engine, app, args.rows)
    conn = engine.connect()
    contenders: dict[str, Any] = {}
    for key in FORMS:
        reader = Reader(app.layout, app.form(key), ib.context())
        for late in (False, True):
            form_sql.LATE_LOOKUP = late
            for offset in (0, 1000):
                page = reader.sql._page_statements(
                    ib.FILTER, ib.SORT, None, None, True, False, "view", 25, offset
                )
                contenders[f"{key} page off {offset:4} {'late' if late else 'direct'}"] = (
                    lambda page=page: conn.execute(page.page).all()
                )
        contenders[f"{key} count"] = lambda page=page: conn.execute(page.count).scalar_one()
        for offset in (0, 1000):
            direct, late_rows = (
                contenders[f"{key} page off {offset:4} {how}"]() for how in ("direct", "late")
            )
            assert direct == late_rows, f"{key}: the late page differs"
    form_sql.LATE_LOOKUP = True
    times = ib.interleaved(contenders, args.runs)
    conn.close()
    engine.dispose()
    for what, ms in times.items():
        print(f"  {what:32} {ms:8.2f} ms")
    for key in FORMS:
        for offset in (0, 1000):
            direct = times[f"{key} page off {offset:4} direct"]
            late = times[f"{key} page off {offset:4} late"]
            print(f"  {key:9} offset {offset:4}: late lookup {direct / late:4.2f}x the direct page")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows per form")
    parser.add_argument("--runs", type=int, default=15, help="timed interleaved rounds")
    add_database_option(parser)
    args = parser.parse_args()
    for name, url in each_database(args.db, "bench.db"):
        run_database(name, url, args)


if __name__ == "__main__":
    main()
