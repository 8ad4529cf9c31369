"""The report engine against hand-written SQL (issue 15 "Benchmark"), one run per database.

One app, one form ``orders`` (default 1,000,000 rows, ``--rows`` to scale down): ``_owner`` one
of 200 users, ``region`` one of 30 options, ``product`` one of 500, ``status`` one of 6,
``amount`` money with 2 decimals, ``signed_at`` an instant spread over the last 3 years. The
form declares ``indexes: [["signed_at"], ["status", "-amount"]]`` (``_owner`` is indexed by
default); the baseline runs over the same tables and indexes. Rows are loaded through the bulk
path (`engine.store.records.bulk_insert`: one prepared INSERT on SQLite, COPY on PostgreSQL)
and ANALYZEd.

Shapes (the issue's): (a) pivot owner × status, sum and count, last 12 months; (a2) the same
with subtotals and the grand total; (b) month × region sum; (c) top 10 owners this month; (d)
a filtered, sorted page of 50 and its count (engine level: `Reader.list`); (e) count distinct
product by region.

Each shape runs as the administrator (every record) and as a member holding a role with the
``own`` scope (their ~1/200 of the records). Contenders per shape and viewer:

- **engine**: `engine.reports.runtime.run_report` on an open connection with the viewer's
  `FormSql` opened once (compile + one statement + cells; the API also opens the viewer's
  rights per request, which the HTTP column includes);
- **SQL**: the hand-written statement over Jimu's own record table (scaled integers on SQLite,
  epoch ms, months in Asia/Shanghai), the viewer's scope as ``_owner = :me``, giving the
  report's groups in the report's order with the owner's name where the report shows one, rows
  fetched (`Hand`). On SQLite the last-12-months range is written ``+signed_at >= …`` (the best
  rewrite: SQLite would walk the date index over a third of the table); (a) is also timed
  through the index, to show the rule (`DATE_INDEX_SHARE`) the compiler applies;
- **hand**: that statement and the report's answer written from its rows by hand
  (`HandAnswer`: the labels, money text, month labels and totals a person who knows this app
  writes) — the same answer as the engine's, compared whole before timing;
- **HTTP**: ``POST /api/v1/apps/bench/query`` through the ASGI app in process
  (`fastapi.testclient.TestClient`, httpx, on one event loop kept for every request as a
  server keeps it), sign-in and JSON included;
- **run HTTP**: the same shape saved as a report (``PUT …/reports/{key}`` once per bench run)
  and run by the report page's route, ``POST /api/v1/apps/bench/reports/{key}/run`` (no body);
- **hand HTTP**: the hand answer served through HTTP: a bench-only route
  (``POST /api/v1/bench-hand/{shape}``, mounted on the same app instance here, never in the
  product) that authenticates the request's token the way the product's dependency does
  (`engine.api.security.current_principal`: one statement), runs the hand SQL for that
  caller's scope, writes the answer and returns it with one ``orjson.dumps``; its JSON is
  asserted equal to the report route's. HTTP's and authentication's fixed cost per request is
  in both; HTTP/hand-HTTP is what the report route itself adds.

The issue asks for the baseline "with identical results": until 2026-12-06 the hand statements
were unordered and without names and the hand route answered bare tuples, so the answers were
compared as sets of values and the report's labels, order and larger JSON counted against it.
``--bare`` also times those (columns *bare SQL* and *bare hand HTTP*).

Before timing, every shape's engine answer is asserted identical to the hand answer (rows and
totals, in order, labels included) and the two routes' JSON equal. Medians over ``--runs``
rounds for the administrator's shapes and ``--member-runs`` for the member's (two warm-up rounds; each round starts one contender later, so none keeps a place);
printed: ms per contender and the ratios (target ≤ 1.15×).

Usage: ``python bench/report_bench.py [--rows N] [--runs R] [--member-runs M]
[--db sqlite|postgresql|both] [--viewer admin|member|both] [--bare]``.

Loading 1,000,000 rows takes minutes; ``--keep PATH`` keeps the SQLite database in the file
`PATH` and ``--url URL`` runs on an existing database (e.g. a PostgreSQL server you keep
running) instead of the throwaway ones: the first run loads it, later runs with the same
``--rows`` find the app and its rows there and only sign in (``--db`` then names the one
database the file or URL is).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database
from engine.store.records import SYSTEM_FIELDS

HandRun = Callable[[Connection], Any]

TZ = ZoneInfo("Asia/Shanghai")
USERS = 200
REGIONS = [f"r{n:02d}" for n in range(30)]
PRODUCTS = [f"p{n:03d}" for n in range(500)]
STATUSES = ["draft", "open", "won", "lost", "paused", "void"]
PASSWORD = "bench-member-pass-1"
TOKEN = "report-bench-admin-token"
API = "/api/v1"
WON = " = 'won'"
NOTES: list[str] = []
BARE: list[bool] = []  # `--bare`
PORTALS: list[Any] = []


def options(values: list[str]) -> list[dict[str, str]]:
    return [{"value": v, "label": v} for v in values]


APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "bench",
    "name": "bench",
    "version": "1",
    "forms": [
        {
            "key": "orders",
            "name": "订单",
            "indexes": [["signed_at"], ["status", "-amount"]],
            "fields": [
                {"key": "region", "type": "select", "label": "区域", "options": options(REGIONS)},
                {
                    "key": "product",
                    "type": "select",
                    "label": "产品",
                    "options": options(PRODUCTS),
                },
                {"key": "status", "type": "select", "label": "状态", "options": options(STATUSES)},
                {"key": "amount", "type": "money", "label": "金额", "precision": 2},
                {"key": "signed_at", "type": "datetime", "label": "签约时间"},
            ],
        }
    ],
    "roles": [
        {
            "key": "rep",
            "name": "销售代表",
            "forms": {"orders": {"actions": ["view", "export"], "scope": "own"}},
        }
    ],
}


# --- the shapes --------------------------------------------------------------------------
def month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def local_ms(day: dt.date) -> int:
    """Epoch ms of local midnight starting `day` in the organisation's time zone."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)


def shapes(today: dt.date) -> dict[str, dict[str, Any]]:
    year_ago, this_month = month_start(today, 11), month_start(today)
    since = f"DATEVALUE(signed_at) >= DATE({year_ago.year}, {year_ago.month}, 1)"
    month = f"DATEVALUE(signed_at) >= DATE({this_month.year}, {this_month.month}, 1)"
    count_sum = [
        {"key": "total", "agg": "sum", "field": "amount"},
        {"key": "n", "agg": "count"},
    ]
    pivot = {
        "form": "orders",
        "filter": since,
        "rows": [{"field": "_owner"}],
        "columns": [{"field": "status"}],
        "measures": count_sum,
    }
    return {
        "a": {**pivot, "chart": {"type": "table"}},
        "a2": {
            **pivot,
            "chart": {"type": "pivot", "settings": {"subtotals": True, "totals": True}},
        },
        "b": {
            "form": "orders",
            "rows": [{"field": "signed_at", "bucket": "month"}],
            "columns": [{"field": "region"}],
            "measures": [{"key": "total", "agg": "sum", "field": "amount"}],
        },
        "c": {
            "form": "orders",
            "filter": month,
            "rows": [{"field": "_owner"}],
            "measures": [{"key": "total", "agg": "sum", "field": "amount"}],
            "sort": [{"key": "total", "desc": True}],
            "limit": 10,
            "chart": {"type": "ranking"},
        },
        "e": {
            "form": "orders",
            "rows": [{"field": "region"}],
            "measures": [{"key": "products", "agg": "count_distinct", "field": "product"}],
        },
    }


class Hand:
    """The hand-written statements over the form's own table, for one viewer (`me`: None for
    the administrator) and dialect. Each gives the report's rows in the report's order, with
    the owner's name where the report shows it: the same answer, the best way a person who
    knows this app would write it (region codes sort in their option order; a status rank is
    a CASE; on PostgreSQL the groups are a MATERIALIZED CTE ordered outside, since an ORDER BY
    over the grouping makes the planner sort every record). `bare`: the statements measured
    until 2026-12-06 — unordered, without names (`--bare`)."""

    def __init__(
        self, table: str, col: dict[str, str], dialect: str, me: int | None, bare: bool = False
    ) -> None:
        self.t, self.c, self.pg, self.me = table, col, dialect == "postgresql", me
        self.bare = bare

    def where(self, extra: str = "") -> str:
        parts = ["_deleted_at IS NULL"]
        if self.me is not None:
            parts.append(f"_owner = {self.me}")
        if extra:
            parts.append(extra)
        return " AND ".join(parts)

    def since(self, day: dt.date, scan: bool = False) -> str:
        if self.pg:
            return f"{self.c['signed_at']} >= '{day.isoformat()} 00:00:00+08'"
        plus = "+" if scan else ""  # SQLite: keep the index out of a wide range
        return f"{plus}{self.c['signed_at']} >= {local_ms(day)}"

    def groups(self, grouped: str, outer: str) -> str:
        """`outer` over the groups `grouped` named ``g``."""
        materialized = "MATERIALIZED " if self.pg else ""
        return f"WITH g AS {materialized}({grouped}) {outer}"

    def status_rank(self, column: str) -> str:
        ranks = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STATUSES))
        return f"CASE {column} {ranks} ELSE 10000 END"

    def a(self, today: dt.date, scan: bool = True) -> str:
        c = self.c
        grouped = (
            f"SELECT _owner, {c['status']} AS st, sum({c['amount']}) AS s, count(*) AS n"
            f" FROM {self.t} WHERE {self.where(self.since(month_start(today, 11), scan))}"
            f" GROUP BY _owner, {c['status']}"
        )
        if self.bare:
            return grouped
        return self.groups(
            grouped,
            "SELECT g._owner, g.st, g.s, g.n, u.display_name FROM g"
            " LEFT JOIN users u ON u.id = g._owner"
            f" ORDER BY u.display_name, g._owner, {self.status_rank('g.st')}",
        )

    def a2(self, today: dt.date) -> str:
        c = self.c
        grouped = (
            f"SELECT _owner, {c['status']} AS st, sum({c['amount']}) AS s, count(*) AS n,"
            f" grouping(_owner, {c['status']}) AS k FROM {self.t}"
            f" WHERE {self.where(self.since(month_start(today, 11)))}"
            f" GROUP BY GROUPING SETS ((_owner, {c['status']}), ({c['status']}), (_owner), ())"
        )
        if self.bare:
            return grouped
        return self.groups(
            grouped,
            "SELECT g._owner, g.st, g.s, g.n, g.k, u.display_name FROM g"
            " LEFT JOIN users u ON u.id = g._owner"
            f" ORDER BY u.display_name, g._owner, {self.status_rank('g.st')}",
        )

    def b(self) -> str:
        c = self.c
        if self.pg:
            month = f"date_trunc('month', {c['signed_at']} AT TIME ZONE 'Asia/Shanghai')::date"
        else:  # Shanghai's fixed +08:00 since 1991; the rows are all later
            month = f"strftime('%Y-%m-01', {c['signed_at']} / 1000 + 28800, 'unixepoch')"
        grouped = (
            f"SELECT {month} AS m, {c['region']} AS r, sum({c['amount']}) AS s FROM {self.t}"
            f" WHERE {self.where()} GROUP BY m, {c['region']}"
        )
        if self.bare:
            return grouped
        if self.pg:
            return self.groups(grouped, "SELECT m, r, s FROM g ORDER BY m, r")
        return f"{grouped} ORDER BY m, r"  # SQLite groups in this order: no sort of its own

    def c_(self, today: dt.date) -> str:
        c = self.c
        if self.bare:
            return (
                f"SELECT _owner, sum({c['amount']}) AS s FROM {self.t}"
                f" WHERE {self.where(self.since(month_start(today)))}"
                f" GROUP BY _owner ORDER BY s DESC LIMIT 10"
            )
        # the top ten first, then their names (display names follow the users' ids here)
        return (
            f"SELECT g._owner, g.s, u.display_name FROM (SELECT _owner, sum({c['amount']}) AS s"
            f" FROM {self.t} WHERE {self.where(self.since(month_start(today)))}"
            " GROUP BY _owner ORDER BY s DESC, _owner LIMIT 10) g"
            " LEFT JOIN users u ON u.id = g._owner ORDER BY g.s DESC, g._owner"
        )

    def d_page(self) -> str:
        c = self.c
        system = "_id, _owner" if self.bare else ", ".join(SYSTEM_FIELDS)
        return (
            f"SELECT {system}, {c['region']}, {c['product']}, {c['status']}, {c['amount']},"
            f" {c['signed_at']} FROM {self.t} WHERE {self.where(c['status'] + WON)}"
            f" ORDER BY {c['amount']} DESC NULLS LAST, _id LIMIT 50"
        )

    def d_count(self) -> str:
        return f"SELECT count(*) FROM {self.t} WHERE {self.where(self.c['status'] + WON)}"

    def e(self) -> str:
        c = self.c
        order = "" if self.bare else " ORDER BY r"
        if self.pg:  # the measured rewrite: GROUP BY over SELECT DISTINCT pairs
            grouped = (
                f"SELECT r, count(p) AS n FROM (SELECT DISTINCT {c['region']} AS r,"
                f" {c['product']} AS p FROM {self.t} WHERE {self.where()}) x GROUP BY r"
            )
            return grouped if self.bare else self.groups(grouped, "SELECT r, n FROM g" + order)
        return (
            f"SELECT {c['region']} AS r, count(DISTINCT {c['product']}) FROM {self.t}"
            f" WHERE {self.where()} GROUP BY {c['region']}{order}"
        )


class HandAnswer:
    """What a hand-written endpoint answers for a shape: the report's JSON (columns, rows,
    totals) written from the hand statement's rows, as a person who knows this app writes it —
    its labels (an option's label is its value here), its money scale (2 places), its month
    label (``YYYY-MM``) and its totals' cells known in advance; each distinct dimension value
    written once. `columns` is the report's column list, a constant of the endpoint."""

    TOTAL: ClassVar[dict[str, Any]] = {"value": None, "label": "合计", "total": True}
    OPTIONS: ClassVar[dict[str, dict[str, Any]]] = {
        v: {"value": v, "label": v} for v in [*REGIONS, *STATUSES]
    }

    def __init__(self, shape: str, pg: bool, columns: list[dict[str, Any]]) -> None:
        self.shape, self.pg, self.columns = shape, pg, columns

    def money(self, value: Any) -> str | None:
        if value is None:
            return None
        if self.pg:  # numeric(…, 2): its sum keeps the 2 places
            return format(value, "f")
        whole, cents = divmod(abs(int(value)), 100)  # SQLite: cents
        return f"{'-' if value < 0 else ''}{whole}.{cents:02d}"

    def of(self, rows: Any) -> dict[str, Any]:
        """The answer for the hand statement's `rows`."""
        self.people: dict[int, dict[str, Any]] = {}
        self.months: dict[Any, dict[str, Any]] = {}
        person, month, option, money, total = (
            self.person,
            self.month,
            self.OPTIONS,
            self.money,
            self.TOTAL,
        )
        found: list[list[Any]] = []
        totals: list[list[Any]] = []
        shape = self.shape
        if shape == "a" or (shape == "a2" and not self.pg):
            rows = list(rows)
            found = [[person(o, name), option[st], money(s), n] for o, st, s, n, name in rows]
            if shape == "a2":
                totals = self.summed(rows)
        elif shape == "a2":
            for o, st, s, n, k, name in rows:
                cells = [
                    total if k & 2 else person(o, name),
                    total if k & 1 else option[st],
                    money(s),
                    n,
                ]
                (totals if k else found).append(cells)
        elif shape == "b":
            found = [[month(m), option[r], money(s)] for m, r, s in rows]
        elif shape == "c":
            found = [[person(o, name), money(s)] for o, s, name in rows]
        else:
            found = [[option[r], n] for r, n in rows]
        return {
            "columns": self.columns,
            "rows": found,
            "totals": totals,
            "previous": None,
            "periods": None,
        }

    def person(self, owner: int, name: str) -> dict[str, Any]:
        cell = self.people.get(owner)
        if cell is None:
            cell = self.people[owner] = {"value": owner, "label": name}
        return cell

    def month(self, value: Any) -> dict[str, Any]:
        cell = self.months.get(value)
        if cell is None:
            day = value.isoformat() if self.pg else value
            cell = self.months[value] = {"value": day, "label": day[:7]}
        return cell

    def summed(self, rows: list[Any]) -> list[list[Any]]:
        """SQLite: the pivot's totals summed from its groups' cents — per status, per owner,
        then all — each in the order first met (how the report lists them)."""
        by_status: dict[str, list[int]] = {}
        by_owner: dict[int, list[Any]] = {}
        grand = [0, 0]
        for o, st, s, n, name in rows:
            for acc in (by_status.setdefault(st, [0, 0]), by_owner.setdefault(o, [0, 0, name])):
                acc[0] += s
                acc[1] += n
            grand[0] += s
            grand[1] += n
        total, option, money = self.TOTAL, self.OPTIONS, self.money
        return [
            *([total, option[st], money(s), n] for st, (s, n) in by_status.items()),
            *([self.person(o, name), total, money(s), n] for o, (s, n, name) in by_owner.items()),
            [total, total, money(grand[0]), grand[1]],
        ]


MOMENTS = {"_created_at", "_updated_at", "_deleted_at", "signed_at"}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def hand_page(rows: Any, count: int, pg: bool) -> tuple[list[dict[str, Any]], int]:
    """(d)'s page as record JSON, written by hand from `Hand.d_page`'s rows: moments as UTC
    text to the millisecond, money as text at 2 places, the rest as stored."""
    keys = [*SYSTEM_FIELDS, "region", "product", "status", "amount", "signed_at"]

    def moment(value: Any) -> str | None:
        if value is None:
            return None
        if pg:
            day = value.astimezone(dt.UTC)
            ms = day.microsecond // 1000
        else:  # epoch ms
            seconds, ms = divmod(value, 1000)
            day = EPOCH + dt.timedelta(seconds=seconds)
        return f"{day:%Y-%m-%dT%H:%M:%S}.{ms:03d}Z"

    items = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        for key in MOMENTS:
            item[key] = moment(item[key])
        item["amount"] = money(item["amount"], pg)
        items.append(item)
    return items, count


# --- normalising answers -------------------------------------------------------------------
def money(value: Any, pg: bool) -> str | None:
    if value is None:
        return None
    found = Decimal(value) if pg else Decimal(int(value)) / 100
    return f"{found:.2f}"


def engine_cells(result: dict[str, Any], totals: bool = False) -> list[tuple[Any, ...]]:
    """A report answer's rows (or totals) as plain tuples: dimension values (None for a total),
    then measures."""
    found = []
    for row in result["totals" if totals else "rows"]:
        found.append(tuple(cell["value"] if isinstance(cell, dict) else cell for cell in row))
    return found


def hand_cells(shape: str, rows: list[Any], pg: bool) -> list[tuple[Any, ...]]:
    if shape == "a":
        return [(r[0], r[1], money(r[2], pg), r[3]) for r in rows]
    if shape == "b":
        return [(str(r[0])[:10], r[1], money(r[2], pg)) for r in rows]
    if shape == "c":
        return [(r[0], money(r[1], pg)) for r in rows]
    if shape == "e":
        return [(r[0], r[1]) for r in rows]
    raise ValueError(shape)


def summed(cells: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The totals of a pivot owner × status, summed from its cells (SQLite's baseline)."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for owner, status, total, n in cells:
        for key in ((None, status), (owner, None), (None, None)):
            acc = groups.setdefault(key, [0, 0])
            acc[0] += int(total or 0)
            acc[1] += n
    return [(k[0], k[1], v[0], v[1]) for k, v in groups.items()]


def ordered(cells: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(cells, key=repr)


# --- timing ----------------------------------------------------------------------------------
def interleaved(contenders: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """Median ms of each contender over `runs` rounds (two warm-up rounds first). Each round
    starts one contender later: a call right after another on the same server connection finds
    it warm, one after a call elsewhere pays its wake-up, so no contender keeps one place."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for run in range(runs + 2):
        shift = run % len(order)
        for name, call in order[shift:] + order[:shift]:
            started = time.perf_counter()
            call()
            if run >= 2:
                samples[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(found) for name, found in samples.items()}


# --- setup -------------------------------------------------------------------------------------
def loaded_rows(engine: Engine) -> int | None:
    """How many orders a kept database already holds (None: no bench app there)."""
    from sqlalchemy import inspect

    from engine.core.errors import ServiceError
    from engine.forms import apps

    if "apps" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as conn:
        try:
            layout = apps.load(conn, "bench").layout.forms["orders"]
        except ServiceError:  # no bench app in this database yet
            return None
        found: int = conn.execute(text(f"SELECT count(*) FROM {layout.table.name}")).scalar_one()
        return found


def setup(
    engine: Engine, tmp: Path, reuse: bool = False
) -> tuple[Any, Any, dict[str, Any], list[int]]:
    """The app published, 200 users (the first signs in and holds `rep`), the ASGI app and
    its clients; `reuse`: they exist already (a kept database), only sign in."""
    import anyio.from_thread
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from engine.api.main import create_app
    from engine.auth.directory import create_user, ensure_admin
    from engine.settings import Settings
    from engine.store import prepare_database

    if reuse:
        with engine.connect() as conn:
            ids: dict[str, int] = dict(conn.execute(text("SELECT username, id FROM users")).all())
        users = [int(ids[f"rep{n:03d}"]) for n in range(USERS)]
    else:
        prepare_database(engine)
        with engine.begin() as conn:
            ensure_admin(conn, "bench-admin-pass-1")
            users = [
                create_user(
                    conn,
                    {"username": f"rep{n:03d}", "display_name": f"代表{n:03d}"},
                    password=PASSWORD if n == 0 else None,
                    actor_id=None,
                )["id"]
                for n in range(USERS)
            ]
    # no statement limit: on a loaded machine SQLite's 1,000,000-row admin shapes passed the
    # report limit's 30 s; the bench times them rather than stopping them
    settings = Settings(data_dir=tmp, admin_token=SecretStr(TOKEN), statement_timeout_report=0)
    app = create_app(settings)
    app.state.engine = engine
    app.state.bench_hand = mount_hand_route(app)
    admin = TestClient(app, raise_server_exceptions=True)
    admin.headers["Authorization"] = f"Bearer {TOKEN}"
    if not reuse:
        created = admin.post(f"{API}/apps", json=APP)
        assert created.status_code in (200, 201), created.text
        role = next(r for r in admin.get(f"{API}/roles", params={"app": "bench"}).json())
        added = admin.post(f"{API}/roles/{role['id']}/members", json={"user_id": users[0]})
        assert added.status_code == 201, added.text
    member = TestClient(app, raise_server_exceptions=True)
    login = member.post(f"{API}/auth/login", json={"username": "rep000", "password": PASSWORD})
    assert login.status_code == 200, login.text
    member.headers["Authorization"] = f"Bearer {login.json()['token']}"
    # One event loop for every request, as a server has (without it TestClient starts a thread
    # and a loop per request: ~2–3 ms that no deployment pays); the app's lifespan is not run.
    PORTALS.append(anyio.from_thread.start_blocking_portal())  # kept: closed when collected
    admin.portal = member.portal = PORTALS[-1].__enter__()
    return app, admin, {"admin": admin, "member": member}, users


def _paths(route: Any) -> list[str]:
    """The paths `route` answers: its own, or those of the router it includes (FastAPI 0.165
    keeps an included router as one entry of the app's routes)."""
    inner = getattr(route, "original_router", None)
    found = [getattr(r, "path", "") for r in getattr(inner, "routes", [])]
    return [getattr(route, "path", ""), *found]


def mount_hand_route(app: Any) -> dict[tuple[str, int | None], HandRun]:
    """The "hand SQL through HTTP" contender: ``POST /api/v1/bench-hand/{shape}`` on the bench's
    app instance only. It authenticates like the product (the one credential statement; on
    PostgreSQL on the report read pool's autocommit connection, as the report routes), runs the hand SQL of `shape` for the caller's scope (the returned
    map, filled per shape and viewer: None for the administrator, else the member's id) and
    answers its rows as JSON bytes."""
    import orjson
    from fastapi import APIRouter

    from engine.api.deps import engine_of, read_only
    from engine.api.security import credential_of, current_principal, settle
    from engine.store.limits import Work, seconds_for
    from engine.store.read_pool import read_engine

    handlers: dict[tuple[str, int | None], HandRun] = {}
    router = APIRouter()

    @router.post(f"{API}/bench-hand/{{shape}}")
    def hand_route(shape: str, request: Request) -> Response:
        engine = engine_of(request)
        reads = read_engine(engine, seconds_for(request.app.state.settings, Work.REPORT))
        if reads is None:  # SQLite: a read-only transaction, as the report routes
            principal = current_principal(request)
            me = None if principal.is_admin else principal.user_id
            with read_only(engine) as conn:
                found = handlers[(shape, me)](conn)
        else:
            # PostgreSQL: what the report routes have — one autocommit connection of the read
            # pool (no BEGIN/ROLLBACK; psycopg keeps its prepared statements), the credential's
            # own statement on it, then the hand SQL.
            with reads.connect() as conn:
                credential = credential_of(request)
                row = conn.execute(credential.query.statement, credential.query.params).first()
                principal = settle(request, credential, row)
                me = None if principal.is_admin else principal.user_id
                found = handlers[(shape, me)](conn)
        return Response(orjson.dumps(found, default=str), media_type="application/json")

    app.include_router(router)
    # matched at the report routes' place, so both pay the same route scan (appended, it was
    # tried after every route of the app: ~0.1 ms the report routes do not pay)
    routes = app.router.routes
    hand = routes.pop()
    at = next(i for i, r in enumerate(routes) if "/apps/{app}/query" in _paths(r))
    routes.insert(at, hand)
    return handlers


def load(engine: Engine, rows: int, users: list[int]) -> None:
    from engine.forms import apps
    from engine.store.records import bulk_insert

    with engine.connect() as conn:
        layout = apps.load(conn, "bench").layout.forms["orders"]
    col = {k: layout.fields[k].column for k in ("region", "product", "status", "amount")}
    col["signed_at"] = layout.fields["signed_at"].column
    rng = random.Random(15)
    now = dt.datetime.now(dt.UTC)
    span = 3 * 365 * 86400
    batch = 50_000
    for start in range(0, rows, batch):
        chunk = []
        for _ in range(start, min(rows, start + batch)):
            chunk.append(
                {
                    "_created_at": now,
                    "_updated_at": now,
                    "_version": 1,
                    "_owner": users[rng.randrange(USERS)],
                    col["region"]: rng.choice(REGIONS),
                    col["product"]: rng.choice(PRODUCTS),
                    col["status"]: rng.choice(STATUSES),
                    col["amount"]: Decimal(rng.randint(100, 10_000_000)) / 100,
                    col["signed_at"]: now - dt.timedelta(seconds=rng.randrange(span)),
                }
            )
        with engine.begin() as conn:
            assert bulk_insert(conn, layout.table, chunk)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {layout.table.name}"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def form_sql(conn: Connection, user: int | None) -> Any:
    """The forms engine's SQL half opened for the viewer, as the API opens it."""
    from engine.auth.permissions import form_access
    from engine.auth.principal import Principal
    from engine.core.context import Actor, ExecutionContext
    from engine.forms import apps
    from engine.forms.sql import FormSql

    loaded = apps.load(conn, "bench")
    layout = loaded.layout.forms["orders"]
    ctx = ExecutionContext.create(Actor(user, "api"), "Asia/Shanghai")
    if user is None:
        return FormSql(loaded.layout, layout, ctx, access=None), loaded, ctx
    principal = Principal(user, "rep000", False, "session")
    access = form_access(conn, principal, loaded.id, loaded.layout.spec, layout)
    return FormSql(loaded.layout, layout, ctx, access=access), loaded, ctx


def run_database(name: str, url: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    import tempfile

    from engine.forms.query import Reader
    from engine.reports.runtime import run_report
    from engine.reports.spec import ReportSpec
    from engine.store import engine_for_url

    print(f"\n===== {name}: {args.rows:,} orders =====", flush=True)
    engine = engine_for_url(url)
    tmp = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    held = loaded_rows(engine)
    if held is not None and held != args.rows:
        raise SystemExit(f"the kept database holds {held:,} orders, not --rows {args.rows:,}")
    app, admin, clients, users = setup(engine, tmp, reuse=held is not None)
    if held is None:
        load(engine, args.rows, users)
        print(f"loaded in {time.perf_counter() - started:.1f} s", flush=True)
    else:
        print(f"reused the kept {held:,} orders", flush=True)
    with engine.connect() as conn:
        layout = form_sql(conn, None)[1].layout.forms["orders"]
    col = {k: layout.fields[k].column for k in ("region", "product", "status", "amount")}
    col["signed_at"] = layout.fields["signed_at"].column
    pg = engine.dialect.name == "postgresql"
    today = dt.datetime.now(TZ).date()
    specs = shapes(today)
    for shape, spec in specs.items():  # saved, for the report page's route (`…/run`)
        revision = admin.get(f"{API}/apps/bench").json()["_revision"]
        saved = admin.put(
            f"{API}/apps/bench/reports/{shape}",
            json={"key": shape, "name": shape, **spec, "_revision": revision},
        )
        assert saved.status_code == 200, saved.text
    lines: list[tuple[str, ...]] = []
    for viewer, me in (("admin", None), ("member", users[0])):
        if args.viewer not in ("both", viewer):
            continue
        runs = args.runs if me is None else args.member_runs
        hand = Hand(layout.table.name, col, engine.dialect.name, me)
        bare = Hand(layout.table.name, col, engine.dialect.name, me, bare=True)
        client = clients[viewer]
        with engine.connect() as conn:
            for shape in ("a", "a2", "b", "c", "d", "e"):
                if shape == "d":
                    timings = bench_page(conn, hand, me, runs, Reader)
                    lines.append(row(name, viewer, shape, timings))
                    continue
                body = {"key": shape, "name": shape, **specs[shape]}
                report = ReportSpec.model_validate(body)
                sql = form_sql(conn, me)[0]

                def by_engine(report: Any = report, sql: Any = sql) -> Any:
                    return run_report(conn, sql, report).model_dump()

                def by_http(body: dict[str, Any] = body, client: Any = client) -> Any:
                    response = client.post(f"{API}/apps/bench/query", json=body)
                    assert response.status_code == 200, response.text
                    return response.json()

                def by_run(shape: str = shape, client: Any = client) -> Any:
                    response = client.post(f"{API}/apps/bench/reports/{shape}/run")
                    assert response.status_code == 200, response.text
                    return response.json()

                found = by_engine()
                answer = HandAnswer(shape, pg, found["columns"])
                assert by_run() == by_http(), f"{shape}: the saved report answers otherwise"
                contenders: dict[str, Callable[[], Any]] = {
                    "engine": by_engine,
                    "http": by_http,
                    "run": by_run,
                }
                for suffix, statements in (("", hand), ("_bare", bare)):
                    if suffix and not args.bare:
                        continue
                    name_ = {"c": "c_", "a2": "a2" if pg else "a"}.get(shape, shape)
                    hand_sql = getattr(statements, name_)
                    statement = text(hand_sql(today) if shape in ("a", "a2", "c") else hand_sql())

                    def hand_on(on: Connection, statement: Any = statement) -> Any:
                        return on.execute(statement).all()

                    def by_hand(hand_on: HandRun = hand_on) -> Any:
                        return hand_on(conn)

                    if suffix:  # the rows as they come (with SQLite a2's totals summed)

                        def bare_rows(
                            on: Connection, hand_on: HandRun = hand_on, shape: str = shape
                        ) -> Any:
                            found = [tuple(r) for r in hand_on(on)]
                            if shape == "a2" and not pg:
                                return [found, summed(found)]
                            return found

                        check_bare(shape, found, bare_rows(conn), pg)
                        hand_rows: HandRun = bare_rows
                    else:  # the report's answer, written by hand

                        def answer_rows(
                            on: Connection, hand_on: HandRun = hand_on, answer: Any = answer
                        ) -> Any:
                            return answer.of(hand_on(on))

                        want = answer_rows(conn)
                        hand_rows = answer_rows

                        def by_hand_answer(answer_rows: HandRun = answer_rows) -> Any:
                            return answer_rows(conn)

                        contenders["hand"] = by_hand_answer
                        assert (found["rows"], found["totals"]) == (want["rows"], want["totals"]), (
                            f"{shape}: the engine's answer is not the hand SQL's"
                        )
                    app.state.bench_hand[(shape + suffix, me)] = hand_rows

                    def by_hand_http(shape: str = shape + suffix, client: Any = client) -> Any:
                        response = client.post(f"{API}/bench-hand/{shape}")
                        assert response.status_code == 200, response.text
                        return response.json()  # read by the client, as `by_http`'s answer is

                    if not suffix:
                        assert by_http() == by_hand_http(), f"{shape}: HTTP answers differ"
                    contenders[f"hand_http{suffix}"] = by_hand_http
                    contenders[f"sql{suffix}"] = by_hand
                if shape == "a" and not pg:  # the same statement through the date index
                    through_index = text(hand.a(today, scan=False))

                    def by_index(s: Any = through_index) -> Any:
                        return conn.execute(s).all()

                    contenders["index"] = by_index
                timings = interleaved(contenders, runs)
                if "index" in timings:
                    NOTES.append(
                        f"{name} {viewer} a: hand SQL scanning {timings['sql']:.1f} ms, the same"
                        f" through the signed_at index {timings['index']:.1f} ms"
                        f" ({timings['index'] / timings['sql']:.2f}x)"
                    )
                lines.append(row(name, viewer, shape, timings))
    engine.dispose()
    return lines


def check_bare(shape: str, found: Any, hand: Any, pg: bool) -> None:
    """The engine's answer holds the bare hand statement's groups (`--bare`: compared as sets
    of value tuples, labels and order aside)."""
    if shape == "a2":
        cells = hand if pg else hand[0]
        details = [tuple(r[:4]) for r in cells if not pg or r[4] == 0]
        want = hand_cells("a", details, pg)
        assert ordered(engine_cells(found)) == ordered(want), shape
        if pg:
            rolled = [(r[0], r[1], r[2], r[3]) for r in cells if r[4] != 0]
            totals = [(o, s, money(t, pg), n) for o, s, t, n in rolled]
        else:
            totals = [(o, s, money(t, pg), n) for o, s, t, n in hand[1]]
        assert ordered(engine_cells(found, totals=True)) == ordered(totals), shape
        return
    want = hand_cells(shape, list(hand), pg)
    got = engine_cells(found)
    if shape == "c":  # the order is the answer
        assert got == want, (got, want)
    else:
        assert ordered(got) == ordered(want), shape


def bench_page(conn: Connection, hand: Hand, me: int | None, runs: int, reader: Any) -> Any:
    """(d): `Reader.list` (page of 50 with its exact count) against the two statements."""
    sql, loaded, ctx = form_sql(conn, me)

    def by_engine() -> Any:
        found = reader(loaded.layout, loaded.layout.forms["orders"], ctx, access=sql.access)
        return found.list(conn, filter='status = "won"', sort="-amount", limit=50)

    pg = conn.dialect.name == "postgresql"
    statements = (text(hand.d_page()), text(hand.d_count()))

    def by_hand() -> Any:
        return conn.execute(statements[0]).all(), conn.execute(statements[1]).scalar_one()

    def by_hand_page() -> Any:
        rows, count = by_hand()
        return hand_page(rows, count, pg)

    page = by_engine()
    assert (page.items, page_total(page)) == by_hand_page(), "(d): the pages differ"
    contenders = {"engine": by_engine, "sql": by_hand, "hand": by_hand_page}
    if BARE:
        bare = Hand(hand.t, hand.c, conn.dialect.name, me, bare=True)
        bare_statements = (text(bare.d_page()), text(bare.d_count()))

        def by_bare() -> Any:
            page = conn.execute(bare_statements[0]).all()
            return page, conn.execute(bare_statements[1]).scalar_one()

        rows, count = by_bare()
        assert page_ids(page) == [r[0] for r in rows] and page_total(page) == count
        contenders["sql_bare"] = by_bare
    return interleaved(contenders, runs)


def page_ids(page: Any) -> list[int]:
    return [int(r["_id"]) for r in page.items]


def page_total(page: Any) -> int:
    return int(page.total)


def row(db: str, viewer: str, shape: str, t: dict[str, float]) -> tuple[str, ...]:
    """One table line: ms per contender and the ratios; with `--bare` also against the bare
    hand statement and route (the earlier baseline)."""

    def ms(key: str) -> str:
        return f"{t[key]:.1f}" if key in t else "—"

    def ratio(a: str, b: str) -> str:
        return f"{t[a] / t[b]:.2f}" if a in t and b in t else "—"

    line: tuple[str, ...] = (
        db,
        viewer,
        shape,
        ms("engine"),
        ms("hand"),
        ms("sql"),
        ratio("engine", "hand"),
        ratio("engine", "sql"),
        ms("http"),
        ms("run"),
        ms("hand_http"),
        ratio("http", "hand_http"),
        ratio("run", "hand_http"),
        ratio("http", "sql"),
    )
    if BARE:
        line += (
            ms("sql_bare"),
            ratio("engine", "sql_bare"),
            ms("hand_http_bare"),
            ratio("http", "hand_http_bare"),
        )
    print(" | ".join(line), flush=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="rounds of the administrator's shapes")
    parser.add_argument(
        "--member-runs",
        type=int,
        default=61,
        help="rounds of the member's shapes (a few ms each: more rounds steady their medians)",
    )
    add_database_option(parser)
    parser.add_argument("--keep", type=Path, help="a SQLite file kept (and reused) between runs")
    parser.add_argument("--url", help="an existing database to load once and reuse")
    parser.add_argument(
        "--viewer", choices=["admin", "member", "both"], default="both", help="whose shapes run"
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="also time the bare hand statements and route (unordered rows, no names)",
    )
    args = parser.parse_args()
    if args.bare:
        BARE.append(True)
    print(f"load average: {os.getloadavg()}")
    lines: list[tuple[str, ...]] = []
    if args.keep is not None or args.url is not None:
        url = args.url or f"sqlite:///{args.keep.resolve()}"
        name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        lines += run_database(name, url, args)
    for name, url in [] if lines else each_database(args.db, "report_bench.db"):
        lines += run_database(name, url, args)
    head = (
        "| database | viewer | shape | engine ms | hand ms | SQL ms | engine/hand | engine/SQL"
        " | HTTP ms | run HTTP ms | hand HTTP ms | HTTP/hand-HTTP | run/hand-HTTP | HTTP/SQL |"
    )
    if BARE:
        head += " bare SQL ms | engine/bare-SQL | bare hand HTTP ms | HTTP/bare-hand-HTTP |"
    print("\n" + head)
    print("|---" * head.count(" | ") + "|---|")
    for line in lines:
        print("| " + " | ".join(line) + " |")
    for note in NOTES:
        print(note)
    for portal in PORTALS:  # their threads would keep the process alive
        portal.__exit__(None, None, None)
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
