"""Records at scale: the record pipeline, list pages and the HTTP API against hand-written baselines.

On a CRM-like app defined below (``customer`` with ten fields, ``product``, ``contact`` with a
relation and a lookup, ``deal`` with three relations and two lookups), for SQLite and for
PostgreSQL (a throwaway server started for the run, as ``bench/expr_sql_bench.py`` does):

  (a) bulk insert of N customers (default 1,000,000) through the full record pipeline
      (``Writer.create_many`` in batches inside transactions: coerce, reference and unique
      checks, insert, history) against SQLAlchemy Core ``executemany`` of the same rows, already
      typed, into a plain table with the same columns and indexes. The two alternate batch by
      batch, so both see the same machine and table sizes. On a slow database the pipeline stops
      after ``--pipeline-budget`` seconds and the rest is loaded by the raw path into the
      engine's own table, so (b) and (c) still run on N customers.
  (b) one filtered, sorted page of 50 (``Reader.list``) against the same query written by hand,
      on an index created by plain SQL on the engine's physical table, used by both; with and
      without the total count. Median of interleaved runs.
  (c) pages of 10, 50 and 200 deals (three relation titles, two lookups): the SQL statements
      issued (counted with a ``before_cursor_execute`` listener) must not grow with the page
      size; timed against one hand-written statement with LEFT JOINs.
  (e) a page of 50 customers sorted by name, Chinese text by pinyin (``ORDER BY`` the name's
      sort key column, then the name, then ``_id``), ``Reader.list`` and its SQL against the
      same ORDER BY written by hand, ascending and descending, on the title's sort index; by
      level (a select, option order); and contacts by their customer's name (a lookup).
  (d) HTTP: create-record requests per second and latency of concurrent clients against
      ``uvicorn`` serving ``engine.api.main.create_app`` in a subprocess, on loopback.

Usage: ``python bench/records_bench.py [--rows N] [--db sqlite|postgresql|both]``
(``--pinyin-only``: load by the raw path and run (e) alone); ``--analyze-after
ROWS`` runs ANALYZE once during (a), which the engine never does (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index, MetaData, Table, event, func, insert, select, text
from sqlalchemy.engine import Connection, Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database
from engine.core.context import Actor, ExecutionContext
from engine.forms import apps
from engine.forms.apps import LoadedApp
from engine.forms.layout import FormLayout
from engine.forms.query import Reader
from engine.forms.records import Writer
from engine.forms.sortkey import sort_key
from engine.store import engine_for_url, prepare_database
from engine.store.models import User
from engine.store.records import system_columns

SEED = 20261122
USERS = 20
ACTOR = Actor(1, "import")


def context() -> ExecutionContext:
    """A fresh context (now, in the default organisation time zone) for the pipeline."""
    return ExecutionContext.create(ACTOR, "Asia/Shanghai")


FILTER = 'level = "A" AND annual_purchase > 500000'
SORT = "-annual_purchase"
PAGE_SIZES = (10, 50, 200)
LEVELS = ["A", "B", "C", "D"]
LEVEL_WEIGHTS = [1, 2, 4, 3]
INDUSTRIES = [
    "manufacturing",
    "retail",
    "internet",
    "finance",
    "education",
    "healthcare",
    "logistics",
    "other",
]
TAGS = ["key_account", "long_term", "price_sensitive", "new_customer", "to_activate"]
STAGES = ["initial", "proposal", "negotiation", "won", "lost"]
FIRST_DAY = dt.date(2015, 1, 1)


CITIES = ["北京", "上海", "重庆", "长沙", "成都", "深圳", "西安", "广州", "杭州", "银川", "厦门"]
BRANDS = ["长城", "重工", "华夏", "银河", "乐天", "行健", "朝阳", "和平", "东方", "传奇"]
TRADES = ["科技", "贸易", "实业", "传媒", "物流", "银行"]


def _options(values: list[str]) -> list[dict[str, str]]:
    return [{"value": v, "label": v} for v in values]


APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "bench_crm",
    "name": {"zh": "客户管理（基准）", "en": "CRM (benchmark)"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "customer",
            "name": "客户",
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": "名称", "required": True, "max": 100},
                {
                    "key": "level",
                    "type": "select",
                    "label": "客户等级",
                    "options": _options(LEVELS),
                },
                {
                    "key": "industry",
                    "type": "select",
                    "label": "行业",
                    "options": _options(INDUSTRIES),
                },
                {"key": "phone", "type": "phone", "label": "手机", "unique": True},
                {"key": "email", "type": "email", "label": "邮箱"},
                {
                    "key": "annual_purchase",
                    "type": "number",
                    "label": "年采购额",
                    "precision": 2,
                    "min": 0,
                },
                {"key": "since", "type": "date", "label": "合作开始"},
                {"key": "owner", "type": "user", "label": "负责人"},
                {"key": "tags", "type": "multiselect", "label": "标签", "options": _options(TAGS)},
                {"key": "note", "type": "textarea", "label": "备注"},
            ],
        },
        {
            "key": "product",
            "name": "产品",
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": "名称", "required": True},
                {"key": "price", "type": "money", "label": "单价", "precision": 2},
            ],
        },
        {
            "key": "contact",
            "name": "联系人",
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": "姓名", "required": True},
                {
                    "key": "customer",
                    "type": "relation",
                    "label": "客户",
                    "target": "customer",
                    "required": True,
                },
                {
                    "key": "customer_level",
                    "type": "lookup",
                    "label": "客户等级",
                    "relation": "customer",
                    "field": "level",
                },
                {
                    "key": "customer_name",
                    "type": "lookup",
                    "label": "客户名称",
                    "relation": "customer",
                    "field": "name",
                },
                {"key": "phone", "type": "phone", "label": "手机"},
            ],
        },
        {
            "key": "deal",
            "name": "商机",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "label": "商机名称", "required": True},
                {
                    "key": "customer",
                    "type": "relation",
                    "label": "客户",
                    "target": "customer",
                    "required": True,
                },
                {"key": "contact", "type": "relation", "label": "联系人", "target": "contact"},
                {"key": "product", "type": "relation", "label": "产品", "target": "product"},
                {
                    "key": "customer_level",
                    "type": "lookup",
                    "label": "客户等级",
                    "relation": "customer",
                    "field": "level",
                },
                {
                    "key": "product_price",
                    "type": "lookup",
                    "label": "产品单价",
                    "relation": "product",
                    "field": "price",
                },
                {"key": "amount", "type": "money", "label": "金额", "precision": 2},
                {"key": "stage", "type": "select", "label": "阶段", "options": _options(STAGES)},
            ],
        },
    ],
}


# --- data ----------------------------------------------------------------------------------
def customer(
    rng: random.Random, i: int, phone_prefix: str = "13"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Customer `i` as API input (JSON) and as typed values (what the columns hold), by field key."""
    cents = None if rng.random() < 0.05 else rng.randint(0, 200_000_000)
    tags = rng.sample(TAGS, rng.randint(0, 2))
    typed: dict[str, Any] = {
        "name": f"{rng.choice(CITIES)}{rng.choice(BRANDS)}{rng.choice(TRADES)}{i:07d}",
        "level": rng.choices(LEVELS, LEVEL_WEIGHTS)[0],
        "industry": rng.choice(INDUSTRIES),
        "phone": f"{phone_prefix}{i:09d}",
        "email": f"c{i}@example.com",
        "annual_purchase": None if cents is None else Decimal(cents).scaleb(-2),
        "since": FIRST_DAY + dt.timedelta(days=rng.randint(0, 3650)),
        "owner": rng.randint(1, USERS),
        "tags": tags or None,
        "note": "老客户，年底回访" if rng.random() < 0.2 else None,
    }
    record = dict(typed)
    record["annual_purchase"] = None if cents is None else str(typed["annual_purchase"])
    record["since"] = typed["since"].isoformat()
    return record, typed


def raw_row(form: FormLayout, typed: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """A typed record as the column values of a physical row (text with its pinyin sort key),
    system columns as the pipeline sets them."""
    row = {form.fields[key].column: value for key, value in typed.items()}
    for key, value in typed.items():
        keyed = form.fields[key].sort_column
        if keyed is not None:
            row[keyed] = sort_key(value)
    row.update(
        _created_at=now, _created_by=ACTOR.user_id, _updated_at=now, _updated_by=ACTOR.user_id
    )
    row.update(_owner=ACTOR.user_id, _version=1)
    return row


def plain_table(form: FormLayout) -> Table:
    """A table with the customer table's columns, its live index and unique phone index, no engine."""
    metadata = MetaData()
    columns = [Column(c.name, c.type) for c in form.table.columns if not c.name.startswith("_")]
    table = Table(
        "plain_customer", metadata, *system_columns(), *columns, sqlite_autoincrement=True
    )
    Index("ix_plain_customer_live", table.c._deleted_at, table.c._id)
    live = table.c._deleted_at.is_(None)
    phone = table.c[form.fields["phone"].column]
    Index("ux_plain_customer_phone", phone, unique=True, sqlite_where=live, postgresql_where=live)
    return table


# --- helpers -------------------------------------------------------------------------------
def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def interleaved(contenders: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """Median milliseconds of each contender, run in turns (one warm-up round first)."""
    for run in contenders.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: median_ms(samples) for name, samples in times.items()}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (a `before_cursor_execute` listener)."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def analyze(engine: Engine, tables: list[str]) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for name in tables:
                conn.execute(text(f"ANALYZE {name}"))
        else:
            conn.execute(text("ANALYZE"))


def literal_sql(statement: Any, engine: Engine) -> str:
    return str(statement.compile(engine, compile_kwargs={"literal_binds": True}))


def one_line(sql: str) -> str:
    return " ".join(sql.split())


# --- (a) bulk insert -----------------------------------------------------------------------
@dataclass
class InsertResult:
    pipeline_rows: int = 0
    pipeline_seconds: float = 0.0
    raw_rows: int = 0
    raw_seconds: float = 0.0
    filled_rows: int = 0
    filled_seconds: float = 0.0

    @property
    def pipeline_rate(self) -> float:
        return self.pipeline_rows / self.pipeline_seconds if self.pipeline_seconds else 0.0

    @property
    def raw_rate(self) -> float:
        return self.raw_rows / self.raw_seconds if self.raw_seconds else 0.0


def bench_insert(
    engine: Engine, app: LoadedApp, total: int, batch: int, budget: float, analyze_after: int = 0
) -> InsertResult:
    form = app.layout.forms["customer"]
    plain = plain_table(form)
    plain.metadata.create_all(engine)
    rng = random.Random(SEED)
    result = InsertResult()
    report_every = max(batch, total // 20)
    next_report = report_every
    started = time.perf_counter()
    done = 0
    print(
        f"(a) inserting {total:,} customers in batches of {batch:,}: pipeline and raw Core executemany in turns"
    )
    while done < total and result.pipeline_seconds < budget:
        n = min(batch, total - done)
        pairs = [customer(rng, done + k) for k in range(n)]
        records = [record for record, _ in pairs]
        now = dt.datetime.now(dt.UTC)
        rows = [raw_row(form, typed, now) for _, typed in pairs]

        def through_pipeline(records: list[dict[str, Any]] = records) -> None:
            with engine.begin() as conn:
                Writer(app.layout, app.id, form, context()).create_many(conn, records, ACTOR)

        def raw(rows: list[dict[str, Any]] = rows) -> None:
            with engine.begin() as conn:
                conn.execute(insert(plain), rows)

        order = [(through_pipeline, "pipeline"), (raw, "raw")]
        if (done // batch) % 2:
            order.reverse()
        for run, name in order:
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            if name == "pipeline":
                result.pipeline_seconds += elapsed
            else:
                result.raw_seconds += elapsed
        done += n
        result.pipeline_rows = result.raw_rows = done
        if analyze_after and done - n < analyze_after <= done:
            analyze(engine, [form.table.name, plain.name])
            print(f"    ANALYZE after {done:,} rows (--analyze-after)", flush=True)
        if done >= next_report or done == total:
            next_report += report_every
            print(
                f"    {done:>10,} rows  pipeline {result.pipeline_rate:>8,.0f} rows/s  raw {result.raw_rate:>8,.0f} rows/s"
                f"  ({time.perf_counter() - started:,.0f} s)",
                flush=True,
            )
    if done < total:
        print(
            f"    pipeline budget of {budget:,.0f} s used after {done:,} rows; loading the other {total - done:,}"
            " into the engine's table by the raw Core path (no history rows)",
            flush=True,
        )
        start = time.perf_counter()
        while done < total:
            n = min(batch * 5, total - done)
            now = dt.datetime.now(dt.UTC)
            rows = [raw_row(form, customer(rng, done + k)[1], now) for k in range(n)]
            with engine.begin() as conn:
                conn.execute(insert(form.table), rows)
            done += n
            result.filled_rows += n
        result.filled_seconds = time.perf_counter() - start
        print(
            f"    filled {result.filled_rows:,} rows in {result.filled_seconds:,.0f} s", flush=True
        )
    return result


# --- (b) a filtered, sorted page -----------------------------------------------------------
@dataclass
class PageResult:
    index: str
    index_sql: str
    matching: int
    times: dict[str, float]
    jimu_sql: str
    hand_sql: str
    statements: dict[str, int]


def jimu_page_statement(reader: Reader, filter: str, sort: str, limit: int) -> Any:
    """The page statement `Reader.list` runs (built with the Reader's own public pieces)."""
    statement, resolver = reader.base_select()
    statement = statement.where(reader.filter_sql(filter, resolver)).order_by(
        *reader.order_by(sort, resolver, filter)
    )
    return statement.limit(limit)


def page_variants(
    engine: Engine, table: str, level: str, amount: str
) -> list[tuple[str, str, str]]:
    """(index label, CREATE INDEX, hand-written ORDER BY) to measure on this database."""
    natural = (
        f"({level}, {amount})",
        f"CREATE INDEX ix_bench_page ON {table} ({level}, {amount})",
        f"c.{amount} DESC, c._id",
    )
    if engine.dialect.name != "postgresql":
        return [natural]  # SQLite sorts NULLs first, so DESC is already "blanks last"
    matching = (
        f"({level}, {amount} DESC NULLS LAST)",
        f"CREATE INDEX ix_bench_page ON {table} ({level}, {amount} DESC NULLS LAST)",
        f"c.{amount} DESC NULLS LAST, c._id",
    )
    return [natural, matching]


def hand_json_writer(dialect: str, scale: int) -> Callable[[Any], dict[str, Any]]:
    """The second baseline's plain Python: one row of the hand-written page (system columns, the
    customer fields in form order, the owner's name) as the record JSON `Reader.list` returns."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    quantum = Decimal(1).scaleb(-scale)

    def moment(value: Any) -> str | None:
        if value is None:
            return None
        if dialect == "sqlite":
            value = epoch + dt.timedelta(milliseconds=value)
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"

    def number(value: Any) -> str | None:
        if value is None:
            return None
        return format(
            Decimal(value).scaleb(-scale) if dialect == "sqlite" else value.quantize(quantum), "f"
        )

    def day(value: Any) -> str | None:
        return value if value is None or isinstance(value, str) else value.isoformat()

    def listed(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def write(row: Any) -> dict[str, Any]:
        return {
            "_id": row[0],
            "_created_at": moment(row[1]),
            "_created_by": row[2],
            "_updated_at": moment(row[3]),
            "_updated_by": row[4],
            "_owner": row[5],
            "_version": row[6],
            "_deleted_at": moment(row[7]),
            "name": row[8],
            "level": row[9],
            "industry": row[10],
            "phone": row[11],
            "email": row[12],
            "annual_purchase": number(row[13]),
            "since": day(row[14]),
            "owner": None if row[15] is None else {"id": row[15], "name": row[18]},
            "tags": listed(row[16]),
            "note": row[17],
        }

    return write


def measure_page(
    engine: Engine,
    conn: Connection,
    reader: Reader,
    jimu: tuple[str, str],
    hand: tuple[str, str],
    runs: int,
    hand_json: Callable[[Any], dict[str, Any]],
) -> tuple[int, dict[str, int], dict[str, float]]:
    """Check Jimu's page against the hand-written one, count its statements, time both ways."""
    jimu_sql, jimu_count = jimu
    hand_page, hand_count = hand
    jimu_page = reader.list(conn, filter=FILTER, sort=SORT, limit=50, count=True)
    hand_rows = conn.exec_driver_sql(hand_page).all()
    total = int(conn.exec_driver_sql(hand_count).scalar_one())
    assert [item["_id"] for item in jimu_page.items] == [row[0] for row in hand_rows], (
        "pages differ"
    )
    assert jimu_page.items == [hand_json(row) for row in hand_rows], (
        "record JSON differs from the plain-Python baseline"
    )
    assert jimu_page.total == total, (jimu_page.total, total)
    counts = {}
    for with_count in (False, True):
        with statements(engine) as seen:
            reader.list(conn, filter=FILTER, sort=SORT, limit=50, count=with_count)
        counts["list, count" if with_count else "list"] = len(seen)

    def hand_page_count() -> None:
        conn.exec_driver_sql(hand_page).all()
        conn.exec_driver_sql(hand_count).scalar_one()

    times = interleaved(
        {
            "jimu list": lambda: reader.list(conn, filter=FILTER, sort=SORT, limit=50, count=False),
            "jimu SQL": lambda: conn.exec_driver_sql(jimu_sql).all(),
            "hand page": lambda: conn.exec_driver_sql(hand_page).all(),
            "hand page+JSON": lambda: [
                hand_json(row) for row in conn.exec_driver_sql(hand_page).all()
            ],
            "jimu list+count": lambda: reader.list(
                conn, filter=FILTER, sort=SORT, limit=50, count=True
            ),
            "hand page+count": hand_page_count,
            "jimu count SQL": lambda: conn.exec_driver_sql(jimu_count).scalar_one(),
            "hand count SQL": lambda: conn.exec_driver_sql(hand_count).scalar_one(),
        },
        runs,
    )
    return total, counts, times


def bench_page(engine: Engine, app: LoadedApp, runs: int) -> list[PageResult]:
    form = app.layout.forms["customer"]
    table = form.table.name
    column = {key: layout.column for key, layout in form.fields.items()}
    scale = getattr(form.fields["annual_purchase"].column_type, "scale", 0)
    threshold = 500000 * 10**scale if engine.dialect.name == "sqlite" else 500000
    system = ", ".join(
        f"c.{name}"
        for name in (
            "_id",
            "_created_at",
            "_created_by",
            "_updated_at",
            "_updated_by",
            "_owner",
            "_version",
            "_deleted_at",
        )
    )
    fields = ", ".join(f"c.{column[key]}" for key in column)
    where = f"c._deleted_at IS NULL AND c.{column['level']} = 'A' AND c.{column['annual_purchase']} > {threshold}"
    hand_count = f"SELECT count(*) FROM {table} c WHERE {where}"
    reader = Reader(app.layout, form, context())
    results = []
    for label, create_index, order_by in page_variants(
        engine, table, column["level"], column["annual_purchase"]
    ):
        with engine.begin() as conn:
            conn.execute(text(create_index))
        analyze(engine, [table])
        hand_page = (
            f"SELECT {system}, {fields}, u.display_name FROM {table} c LEFT JOIN users u ON u.id = c.{column['owner']}"
            f" WHERE {where} ORDER BY {order_by} LIMIT 50"
        )
        jimu_sql = literal_sql(jimu_page_statement(reader, FILTER, SORT, 50), engine)
        jimu_count = literal_sql(
            select(func.count())
            .select_from(form.table)
            .where(
                form.table.c._deleted_at.is_(None), reader.filter_sql(FILTER, reader.resolver())
            ),
            engine,
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # begin the transaction outside the measured calls
            writer = hand_json_writer(engine.dialect.name, scale)
            total, counts, times = measure_page(
                engine, conn, reader, (jimu_sql, jimu_count), (hand_page, hand_count), runs, writer
            )
            conn.rollback()
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_bench_page"))
        results.append(
            PageResult(label, create_index, total, times, one_line(jimu_sql), hand_page, counts)
        )
    return results


def print_page(result: PageResult) -> None:
    t = result.times
    print(
        f"(b) index {result.index} (plain SQL: {result.index_sql}); {result.matching:,} matching records"
    )
    print("    jimu SQL:", result.jimu_sql)
    print("    hand SQL:", result.hand_sql)
    print(f"    statements per Reader.list: {result.statements}")
    print(
        f"    {'Reader.list, count=False':28} {t['jimu list']:9.2f} ms   list/hand = {t['jimu list'] / t['hand page']:.2f}x"
    )
    print(
        f"    {'  its page SQL alone':28} {t['jimu SQL']:9.2f} ms   SQL/hand  = {t['jimu SQL'] / t['hand page']:.2f}x"
    )
    print(f"    {'hand page (+ owner join)':28} {t['hand page']:9.2f} ms")
    print(
        f"    {'hand page + plain-Python JSON':28} {t['hand page+JSON']:9.2f} ms"
        f"   list/(hand+JSON) = {t['jimu list'] / t['hand page+JSON']:.2f}x (second baseline)"
    )
    print(
        f"    {'Reader.list, count=True':28} {t['jimu list+count']:9.2f} ms   list/hand = {t['jimu list+count'] / t['hand page+count']:.2f}x"
    )
    print(f"    {'hand page + hand COUNT':28} {t['hand page+count']:9.2f} ms")
    print(
        f"    {'jimu COUNT SQL alone':28} {t['jimu count SQL']:9.2f} ms   vs hand = {t['jimu count SQL'] / t['hand count SQL']:.2f}x"
    )
    print(f"    {'hand COUNT':28} {t['hand count SQL']:9.2f} ms", flush=True)


# --- (c) related records -------------------------------------------------------------------
def load_related(
    engine: Engine, app: LoadedApp, customers: int, count: int, batch: int
) -> dict[str, float]:
    """Products, contacts and deals through the pipeline; returns rows/s per form."""
    rng = random.Random(SEED + 1)
    with engine.connect() as conn:
        low, high = conn.execute(
            select(
                func.min(app.layout.forms["customer"].table.c._id),
                func.max(app.layout.forms["customer"].table.c._id),
            )
        ).one()
    assert high - low + 1 == customers, (low, high, customers)
    products = [
        {"name": f"产品{i}", "price": f"{rng.randint(100, 999999) / 100:.2f}"} for i in range(200)
    ]
    rates: dict[str, float] = {}

    def load(form_key: str, make: Callable[[int], dict[str, Any]], n: int) -> None:
        form = app.layout.forms[form_key]
        elapsed = 0.0
        for first in range(0, n, batch):
            records = [make(i) for i in range(first, min(n, first + batch))]
            start = time.perf_counter()
            with engine.begin() as conn:
                Writer(app.layout, app.id, form, context()).create_many(conn, records, ACTOR)
            elapsed += time.perf_counter() - start
        rates[form_key] = n / elapsed
        print(
            f"    {n:,} {form_key} records through the pipeline: {n / elapsed:,.0f} rows/s",
            flush=True,
        )

    load("product", lambda i: products[i], len(products))
    load(
        "contact",
        lambda i: {"name": f"联系人{i}", "customer": rng.randint(low, high), "phone": f"18{i:09d}"},
        count,
    )
    load(
        "deal",
        lambda i: {
            "title": f"商机{i}",
            "customer": rng.randint(low, high),
            "contact": rng.randint(1, count),
            "product": rng.randint(1, len(products)),
            "amount": f"{rng.randint(1000, 99999900) / 100:.2f}",
            "stage": rng.choice(STAGES),
        },
        count,
    )
    analyze(engine, [app.layout.forms[key].table.name for key in ("product", "contact", "deal")])
    return rates


@dataclass
class RelationResult:
    size: int
    statements: int
    statements_with_count: int
    jimu_ms: float
    hand_ms: float


def bench_relations(engine: Engine, app: LoadedApp, runs: int) -> tuple[list[RelationResult], str]:
    forms = app.layout.forms
    deal, customer_form, contact, product = (
        forms["deal"],
        forms["customer"],
        forms["contact"],
        forms["product"],
    )
    col = {
        key: layout.column for key, layout in deal.fields.items() if layout.column_type is not None
    }
    reader = Reader(app.layout, deal, context())
    results = []
    hand = ""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        for size in PAGE_SIZES:
            hand = (
                f"SELECT d.*, cu.{customer_form.fields['name'].column} AS customer_title,"
                f" co.{contact.fields['name'].column} AS contact_title, p.{product.fields['name'].column} AS product_title,"
                f" cu.{customer_form.fields['level'].column} AS customer_level, p.{product.fields['price'].column} AS product_price"
                f" FROM {deal.table.name} d"
                f" LEFT JOIN {customer_form.table.name} cu ON cu._id = d.{col['customer']} AND cu._deleted_at IS NULL"
                f" LEFT JOIN {contact.table.name} co ON co._id = d.{col['contact']} AND co._deleted_at IS NULL"
                f" LEFT JOIN {product.table.name} p ON p._id = d.{col['product']} AND p._deleted_at IS NULL"
                f" WHERE d._deleted_at IS NULL ORDER BY d._id LIMIT {size}"
            )
            page = reader.list(conn, limit=size, count=False)
            rows = conn.exec_driver_sql(hand).mappings().all()
            assert [item["_id"] for item in page.items] == [row["_id"] for row in rows]
            assert [item["customer"]["title"] for item in page.items] == [
                row["customer_title"] for row in rows
            ]
            assert [item["customer_level"] for item in page.items] == [
                row["customer_level"] for row in rows
            ]
            with statements(engine) as seen:
                reader.list(conn, limit=size, count=False)
            with statements(engine) as seen_count:
                reader.list(conn, limit=size, count=True)

            def jimu(size: int = size) -> None:
                reader.list(conn, limit=size, count=False)

            def by_hand(sql: str = hand) -> None:
                conn.exec_driver_sql(sql).all()

            times = interleaved({"jimu": jimu, "hand": by_hand}, runs)
            results.append(
                RelationResult(size, len(seen), len(seen_count), times["jimu"], times["hand"])
            )
            print(
                f"(c) page of {size:>3} deals: {len(seen)} statement(s) ({len(seen_count)} with the count)"
                f"  Reader.list {times['jimu']:7.2f} ms  hand JOIN {times['hand']:7.2f} ms"
                f"  list/hand = {times['jimu'] / times['hand']:.2f}x",
                flush=True,
            )
        conn.rollback()
    return results, hand


# --- (d) HTTP ------------------------------------------------------------------------------
@dataclass
class HttpResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(url: str, data_dir: str, token: str, port: int) -> None:
    """The subprocess side of (d): the Jimu API on 127.0.0.1:`port` (one uvicorn process)."""
    import uvicorn
    from pydantic import SecretStr

    from engine.api.main import create_app
    from engine.settings import Settings

    settings = Settings(data_dir=Path(data_dir), admin_token=SecretStr(token), database_url=url)
    app = create_app(settings)
    gc.freeze()  # as `jimu serve` does once the app is built
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bench_http(url: str, app_key: str, clients: int, seconds: float) -> HttpResult:
    import httpx

    token = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        log_path = Path(data_dir) / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    f"--serve={url}",
                    f"--data-dir={data_dir}",
                    f"--token={token}",
                    f"--port={port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the API server did not start:\n{log_path.read_text(errors='replace')}"
                    )
                time.sleep(0.1)
            target = f"{base}/apps/{app_key}/forms/customer/records"
            latencies: list[list[float]] = [[] for _ in range(clients)]
            errors = [0] * clients
            barrier = threading.Barrier(clients + 1)
            stop = threading.Event()

            def client(n: int) -> None:
                rng = random.Random(SEED + 100 + n)
                with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
                    counter = 0

                    def post() -> int:
                        nonlocal counter
                        record, _ = customer(rng, n * 10_000_000 + counter, phone_prefix="15")
                        counter += 1
                        return http.post(target, json=record).status_code

                    for _ in range(3):  # warm-up: connection, app layout cache
                        post()
                    barrier.wait()
                    while not stop.is_set():
                        start = time.perf_counter()
                        status = post()
                        latencies[n].append(time.perf_counter() - start)
                        if status != 201:
                            errors[n] += 1

            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for thread in threads:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            time.sleep(seconds)
            stop.set()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    flat = [latency for per_client in latencies for latency in per_client]
    return HttpResult(len(flat), sum(errors), elapsed, flat)


# --- one database --------------------------------------------------------------------------
@dataclass
class DatabaseResult:
    name: str
    rows: int
    insert: InsertResult
    pages: list[PageResult]
    related: dict[str, float]
    relations: list[RelationResult]
    http: HttpResult


# --- (e) a page sorted by Chinese text (pinyin) ---------------------------------------------
@dataclass
class PinyinResult:
    sort: str
    times: dict[str, float]
    jimu_sql: str
    hand_sql: str
    plan: str


def bench_pinyin(engine: Engine, app: LoadedApp, runs: int) -> list[PinyinResult]:
    """Pages of 50 sorted by Chinese text (pinyin, `engine.forms.sortkey`) through `Reader.list`
    and its page SQL, against hand-written SQL giving the same page, on the engine's tables:
    customers by name ascending (the title's sort index) and descending (the same index walked
    backwards; no descending index declared), by level (a select: option order), and contacts
    by their customer's name (a lookup of text: the target's key; the hand SQL joins)."""
    customer = app.layout.forms["customer"]
    contact = app.layout.forms["contact"]
    table = customer.table.name
    name = customer.fields["name"]
    key = name.sort_column
    assert key is not None
    level = customer.fields["level"].column
    places = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(LEVELS))
    level_order = (
        f"CASE WHEN c.{level} IS NULL THEN NULL ELSE CASE c.{level} {places} ELSE {len(LEVELS)}"
        f" END END NULLS LAST, c.{level} NULLS LAST, c._id"
    )
    via = contact.fields["customer"].column
    lookup_order = f"cu.{key} NULLS LAST, cu.{name.column} NULLS LAST, t._id"
    live = "c._deleted_at IS NULL"
    cases = [
        (customer, "name", f"c.{key} ASC NULLS LAST, c.{name.column} ASC NULLS LAST, c._id"),
        (customer, "-name", f"c.{key} DESC NULLS LAST, c.{name.column} DESC NULLS LAST, c._id"),
        (customer, "level", level_order),
        (contact, "customer_name", lookup_order),
    ]
    results = []
    for form, sort, order in cases:
        if form is contact:
            hand = (
                f"SELECT t.* FROM {contact.table.name} t LEFT JOIN {table} cu"
                f" ON cu._id = t.{via} AND cu._deleted_at IS NULL"
                f" WHERE t._deleted_at IS NULL ORDER BY {order} LIMIT 50"
            )
        else:
            hand = f"SELECT c.* FROM {table} c WHERE {live} ORDER BY {order} LIMIT 50"
        reader = Reader(app.layout, form, context())
        page_sql = reader.sql.page_statements(sort=sort, limit=50, count=False).page
        jimu_sql = literal_sql(page_sql, engine)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            page = reader.list(conn, sort=sort, limit=50, count=False)
            hand_rows = conn.exec_driver_sql(hand).all()
            assert [item["_id"] for item in page.items] == [row[0] for row in hand_rows], (
                f"pinyin pages differ ({sort})"
            )
            if form is customer and sort.endswith("name"):
                expected = sorted(
                    conn.execute(text(f"SELECT {name.column}, _id FROM {table}")).all(),
                    key=lambda row: (sort_key(row[0]), row[0]),
                    reverse=sort.startswith("-"),
                )
                assert [item["name"] for item in page.items] == [r[0] for r in expected[:50]]
            explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
            plan = " | ".join(
                " ".join(str(v) for v in row)
                for row in conn.exec_driver_sql(explain + jimu_sql).all()
            )
            times = interleaved(
                {
                    "jimu list": lambda sort=sort, reader=reader: reader.list(
                        conn, sort=sort, limit=50, count=False
                    ),
                    "jimu SQL": lambda sql=jimu_sql: conn.exec_driver_sql(sql).all(),
                    "hand SQL": lambda sql=hand: conn.exec_driver_sql(sql).all(),
                },
                runs,
            )
            conn.rollback()
        label = sort if form is customer else f"contact {sort}"
        results.append(PinyinResult(label, times, one_line(jimu_sql), hand, plan))
    return results


def print_pinyin(result: PinyinResult) -> None:
    t = result.times
    print(f"(e) page of 50 sorted by {result.sort}")
    print("    hand SQL:", result.hand_sql)
    print("    engine SQL plan:", result.plan)
    print(
        f"    Reader.list {t['jimu list']:.2f} ms, its SQL {t['jimu SQL']:.2f} ms, hand SQL"
        f" {t['hand SQL']:.2f} ms: list/hand = {t['jimu list'] / t['hand SQL']:.2f}x,"
        f" SQL/hand = {t['jimu SQL'] / t['hand SQL']:.2f}x",
        flush=True,
    )


def setup(engine: Engine) -> LoadedApp:
    prepare_database(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [{"username": f"user{i}", "display_name": f"员工{i}"} for i in range(1, USERS + 1)],
        )
        loaded, _ = apps.create(conn, APP, context())
    return loaded


def run_database(name: str, url: str, args: argparse.Namespace) -> DatabaseResult | None:
    frozen = " (gc.freeze() after setup)" if args.freeze_gc else ""
    print(f"\n===== {name}: {args.rows:,} customers{frozen} =====", flush=True)
    engine = engine_for_url(url)
    app = setup(engine)
    if args.pinyin_only:
        return run_pinyin_only(engine, app, args)
    if args.freeze_gc:
        gc.freeze()  # what `jimu serve` does after startup; default off (a plain library call)
    customer_table = app.layout.forms["customer"].table.name
    inserted = bench_insert(
        engine, app, args.rows, args.batch, args.pipeline_budget, args.analyze_after
    )
    analyze(engine, [customer_table, "plain_customer"])
    with engine.connect() as conn:
        assert (
            conn.execute(text(f"SELECT count(*) FROM {customer_table}")).scalar_one() == args.rows
        )
    print(
        f"(a) pipeline {inserted.pipeline_rate:,.0f} rows/s over {inserted.pipeline_rows:,} rows,"
        f" raw Core executemany {inserted.raw_rate:,.0f} rows/s: pipeline/raw = {inserted.pipeline_rate / inserted.raw_rate:.2f}x",
        flush=True,
    )
    pages = bench_page(engine, app, args.runs)
    for page in pages:
        print_page(page)
    pinyin = bench_pinyin(engine, app, args.runs)
    for result in pinyin:
        print_pinyin(result)
    related_count = min(100_000, max(1000, args.rows // 10))
    print(
        f"(c) loading 200 products, {related_count:,} contacts and {related_count:,} deals",
        flush=True,
    )
    related = load_related(engine, app, args.rows, related_count, args.batch)
    relations, hand = bench_relations(engine, app, args.runs)
    print("    hand SQL:", hand)
    engine.dispose()
    print(f"(d) HTTP: {args.clients} clients creating customers for {args.seconds:g} s", flush=True)
    http = bench_http(url, app.key, args.clients, args.seconds)
    print(
        f"    {http.requests:,} requests ({http.errors} errors) in {http.seconds:.1f} s: {http.rate:,.0f} requests/s,"
        f" p50 {http.percentile(0.50):.1f} ms, p99 {http.percentile(0.99):.1f} ms",
        flush=True,
    )
    engine = engine_for_url(url)
    with engine.connect() as conn:
        stored = conn.execute(text(f"SELECT count(*) FROM {customer_table}")).scalar_one()
    engine.dispose()
    assert stored == args.rows + http.requests - http.errors + args.clients * 3, (
        stored,
        http.requests,
    )
    return DatabaseResult(name, args.rows, inserted, pages, related, relations, http)


def run_pinyin_only(engine: Engine, app: LoadedApp, args: argparse.Namespace) -> None:
    """(e) alone: the customers loaded by the raw Core path (with their sort keys), then the
    pinyin-sorted pages."""
    form = app.layout.forms["customer"]
    rng = random.Random(SEED)
    done = 0
    while done < args.rows:
        n = min(args.batch * 5, args.rows - done)
        now = dt.datetime.now(dt.UTC)
        rows = [raw_row(form, customer(rng, done + k)[1], now) for k in range(n)]
        with engine.begin() as conn:
            conn.execute(insert(form.table), rows)
        done += n
    contact = app.layout.forms["contact"]
    contacts = max(args.rows // 10, 1)
    now = dt.datetime.now(dt.UTC)
    for start in range(0, contacts, args.batch * 5):
        rows = [
            raw_row(contact, {"name": f"联系人{i}", "customer": rng.randint(1, args.rows)}, now)
            for i in range(start, min(start + args.batch * 5, contacts))
        ]
        with engine.begin() as conn:
            conn.execute(insert(contact.table), rows)
    analyze(engine, [form.table.name, contact.table.name])
    for result in bench_pinyin(engine, app, args.runs):
        print_pinyin(result)
    engine.dispose()


def summary(results: list[DatabaseResult]) -> None:
    print("\n===== summary =====")
    for r in results:
        a = r.insert
        print(f"[{r.name}] {r.rows:,} customers")
        print(
            f"  (a) insert   pipeline {a.pipeline_rate:,.0f} rows/s ({a.pipeline_rows:,} rows)   raw {a.raw_rate:,.0f} rows/s"
            f"   ratio {a.pipeline_rate / a.raw_rate:.2f}x (target >= 0.3x)"
        )
        for p in r.pages:
            t = p.times
            print(
                f"  (b) page     index {p.index}: list {t['jimu list']:.2f} ms vs hand {t['hand page']:.2f} ms"
                f" = {t['jimu list'] / t['hand page']:.2f}x (SQL alone {t['jimu SQL'] / t['hand page']:.2f}x;"
                f" vs hand SQL + plain-Python JSON {t['hand page+JSON']:.2f} ms = {t['jimu list'] / t['hand page+JSON']:.2f}x);"
                f" with count {t['jimu list+count']:.2f} vs {t['hand page+count']:.2f} ms = {t['jimu list+count'] / t['hand page+count']:.2f}x"
                " (target <= 1.3x)"
            )
        counts = ", ".join(f"{x.size}: {x.statements}" for x in r.relations)
        print(
            f"  (c) deals    statements per page size {{{counts}}}; "
            + ", ".join(f"{x.size}: {x.jimu_ms:.2f} ms vs {x.hand_ms:.2f} ms" for x in r.relations)
        )
        h = r.http
        print(
            f"  (d) HTTP     {h.rate:,.0f} creates/s, p50 {h.percentile(0.5):.1f} ms, p99 {h.percentile(0.99):.1f} ms, {h.errors} errors"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="customers to create (default 1,000,000)"
    )
    add_database_option(parser)
    parser.add_argument(
        "--batch", type=int, default=1000, help="records per create_many transaction"
    )
    parser.add_argument(
        "--pipeline-budget",
        type=float,
        default=900.0,
        help="seconds of pipeline inserting before the rest is loaded raw",
    )
    parser.add_argument(
        "--analyze-after",
        type=int,
        default=0,
        metavar="ROWS",
        help="run ANALYZE once after this many rows of (a) (default: never, as the engine does not)",
    )
    parser.add_argument(
        "--freeze-gc",
        action="store_true",
        help="gc.freeze() after setup, as `jimu serve` does after startup (default: the interpreter's plain GC)",
    )
    parser.add_argument("--runs", type=int, default=15, help="timed rounds for (b) and (c)")
    parser.add_argument(
        "--pinyin-only",
        action="store_true",
        help="load the customers by the raw path and run (e) alone (pages sorted by pinyin)",
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the HTTP run")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir, args.token, args.port)
        return
    results = []
    for name, url in each_database(args.db, "bench.db"):
        result = run_database(name, url, args)
        if result is not None:
            results.append(result)
    if results:
        summary(results)


if __name__ == "__main__":
    main()
