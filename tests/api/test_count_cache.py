"""The never-stale count cache (issue 12, `engine.forms.count_cache`), on SQLite and PostgreSQL:
the total of a list is exact right after a write through every door — create, batch, update,
delete, restore, spreadsheet import, a public fill link, `jimu records import`, the record
pipeline on another engine (as a job would), a hand-written SQL statement on another engine, a
publish that
recomputes a stored formula or converts a field's type — and after a write to another table the
filter reads (a lookup, a rollup over a to-many relation, a rollup over subform rows). On SQLite
a second identical count is served from memory (no count statement is sent); PostgreSQL has no
cache, and the same answers prove nothing changed there. Every count is checked against a
`count(*)` run by hand."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, column, event, func, select, table, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from engine.cli import app as cli
from engine.core.context import Actor, ExecutionContext
from engine.forms.count_cache import COUNTS, CountCache, _shape
from engine.forms.service import open_form, system_caller
from engine.store.read_pool import read_engines
from engine.store.session import engine_for_url
from tests.api.records_client import API

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "cc",
    "name": "计数缓存 / count cache",
    "version": "1",
    "forms": [
        {
            "key": "client",
            "name": "客户",
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text"},
                {"key": "level", "type": "text"},
                {"key": "orders", "type": "relation", "target": "order", "many": True},
                {
                    "key": "ordered",
                    "type": "rollup",
                    "relation": "orders",
                    "field": "qty",
                    "aggregate": "sum",
                },
            ],
        },
        {
            "key": "order",
            "name": "订单",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text"},
                {"key": "qty", "type": "number"},
                {"key": "code", "type": "text"},
                {"key": "due", "type": "date"},
                {"key": "double", "type": "formula", "expr": "qty * 2"},
                {"key": "client", "type": "relation", "target": "client"},
                {"key": "client_level", "type": "lookup", "relation": "client", "field": "level"},
                {
                    "key": "lines",
                    "type": "subform",
                    "fields": [{"key": "n", "type": "number"}],
                },
                {
                    "key": "lines_sum",
                    "type": "rollup",
                    "relation": "lines",
                    "field": "n",
                    "aggregate": "sum",
                },
            ],
        },
    ],
}
PASSWORD = "Count-Cache-Pass-1"


def url(form: str, suffix: str = "/records") -> str:
    return f"{API}/apps/cc/forms/{form}{suffix}"


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(re.sub(r"\s+", " ", statement).strip())

    watched = [engine, *read_engines(engine)]  # PostgreSQL's reads have a pool of their own
    for each in watched:
        event.listen(each, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for each in watched:
            event.remove(each, "before_cursor_execute", before)


@pytest.fixture
def app(client: TestClient) -> TestClient:
    made = client.post(f"{API}/apps", json=APP)
    assert made.status_code == 201, made.text
    return client


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def sqlite(client: TestClient) -> bool:
    return engine_of(client).dialect.name == "sqlite"


def table_of(client: TestClient, form: str) -> str:
    with engine_of(client).connect() as conn:
        form_id = conn.execute(
            text("SELECT id FROM forms WHERE key = :k"), {"k": form}
        ).scalar_one()
    return f"r{form_id}"


def total(client: TestClient, form: str, filter: str, *, again: bool = True) -> int:
    """The list's total for `filter`, asked twice: both answers are the same, and on SQLite the
    second is served from memory without a count statement (unless not `again`: a filter whose
    bound values differ between the two requests, like NOW()'s moment)."""
    params = {"filter": filter, "limit": 0}
    first = client.get(url(form), params=params)
    assert first.status_code == 200, first.text
    with statements(engine_of(client)) as seen:
        second = client.get(url(form), params=params)
    assert second.status_code == 200, second.text
    counted = [s for s in seen if s.startswith("SELECT count(*)")]
    if again:
        assert len(counted) == (0 if sqlite(client) else 1), seen
    answer: int = first.json()["total"]
    assert second.json()["total"] == answer
    return answer


def patched(client: TestClient, form: str, record_id: int, body: dict[str, Any]) -> None:
    """Update a record (at its current `_version`)."""
    version = client.get(url(form, f"/records/{record_id}")).json()["_version"]
    response = client.patch(url(form, f"/records/{record_id}"), json={**body, "_version": version})
    assert response.status_code == 200, response.text


def by_hand(client: TestClient, sql: str) -> int:
    with engine_of(client).connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def created(client: TestClient, form: str, body: dict[str, Any]) -> int:
    response = client.post(url(form), json=body)
    assert response.status_code == 201, response.text
    record_id: int = response.json()["_id"]
    return record_id


def test_the_total_is_exact_after_a_write_through_every_door(app: TestClient) -> None:
    big = "qty >= 2"
    batch = app.post(url("order", "/records/batch"), json=[{"qty": n} for n in (1, 2, 3)])
    assert batch.status_code == 200, batch.text
    assert total(app, "order", big) == 2
    live = f"SELECT count(*) FROM {table_of(app, 'order')} WHERE _deleted_at IS NULL"
    assert by_hand(app, live) == 3

    five = created(app, "order", {"qty": 5, "title": "五"})  # create
    assert total(app, "order", big) == 3

    patched(app, "order", five, {"qty": 0})  # update
    assert total(app, "order", big) == 2

    three = next(
        i["_id"] for i in app.get(url("order"), params={"filter": "qty = 3"}).json()["items"]
    )
    assert app.delete(url("order", f"/records/{three}")).status_code == 204  # delete
    assert total(app, "order", big) == 1
    restored = app.post(url("order", f"/records/{three}/restore"))  # restore from the bin
    assert restored.status_code == 200, restored.text
    assert total(app, "order", big) == 2

    batch = app.post(url("order", "/records/batch"), json=[{"qty": 8}, {"qty": 9}])  # batch
    assert batch.status_code == 200, batch.text
    assert total(app, "order", big) == 4

    imported = app.post(  # spreadsheet import
        url("order", "/records/import"), files={"file": ("o.csv", b"qty,title\n7,seven\n1,one\n")}
    )
    assert imported.status_code in (200, 201), imported.text
    assert total(app, "order", big) == 5

    link = app.post(
        url("order", "/links"), json={"kind": "fill", "name": "外链", "fields": ["qty"]}
    )
    assert link.status_code == 201, link.text
    anonymous = TestClient(app.app, raise_server_exceptions=False)
    sent = anonymous.post(f"{API}/public/{link.json()['token']}", json={"qty": 6})  # public link
    assert sent.status_code == 200, sent.text
    assert total(app, "order", big) == 6

    other = another_engine(app)  # another engine on the same database: another process
    try:
        with other.begin() as conn:  # the record pipeline, as the CLI or a job runs it
            service = open_form(
                ExecutionContext.create(Actor(None, "cli"), "Asia/Shanghai"),
                conn,
                "cc",
                "order",
                system_caller(via="cli"),
            )
            service.create({"qty": 4})
        assert total(app, "order", big) == 7
        orders, qty = table_of(app, "order"), qty_column(app)
        with other.begin() as conn:  # a hand-written statement: no pipeline at all
            conn.execute(text(f"UPDATE {orders} SET {qty} = 0 WHERE _id = :i"), {"i": three})
        assert total(app, "order", big) == 6
    finally:
        other.dispose()
    two = 200 if sqlite(app) else 2  # SQLite keeps numbers in hundredths
    assert total(app, "order", big) == by_hand(app, f"{live} AND {qty_column(app)} >= {two}") == 6


def another_engine(app: TestClient) -> Engine:
    """A second engine (its own pool) on the app's database (on PostgreSQL, its schema)."""
    return engine_for_url(database_url(app))


def database_url(app: TestClient) -> str:
    """The URL of the app's database, read from its engine (a test's PostgreSQL database may
    be a copy of its own or a schema of the session's database: the URL names the schema)."""
    engine = engine_of(app)
    url = engine.url.render_as_string(hide_password=False)
    if sqlite(app):
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{url}?options={quote(f'-c search_path={schema}')}"


def qty_column(app: TestClient) -> str:
    with engine_of(app).connect() as conn:
        field_id = conn.execute(
            text(
                "SELECT form_fields.id FROM form_fields JOIN forms ON forms.id = form_fields.form_id "
                "WHERE forms.key = 'order' AND form_fields.key = 'qty'"
            )
        ).scalar_one()
    return f"f{field_id}"


def publish(app: TestClient, change: Any) -> None:
    definition = app.get(f"{API}/apps/cc").json()
    change(definition)
    done = app.put(f"{API}/apps/cc", json=definition)
    assert done.status_code == 200, done.text


def order_field(definition: dict[str, Any], key: str) -> dict[str, Any]:
    form = next(f for f in definition["forms"] if f["key"] == "order")
    found: dict[str, Any] = next(f for f in form["fields"] if f["key"] == key)
    return found


def test_a_publish_that_recomputes_or_converts_makes_the_total_exact(app: TestClient) -> None:
    for qty, code in ((1, "1"), (2, "7"), (3, "x")):
        created(app, "order", {"qty": qty, "code": code})
    assert total(app, "order", "double >= 4") == 2
    assert total(app, "order", "NOT ISBLANK(code)") == 3

    publish(app, lambda d: order_field(d, "double").update(expr="qty * 10"))  # a recompute
    assert total(app, "order", "double >= 4") == 3

    def to_number(definition: dict[str, Any]) -> None:
        order_field(definition, "code")["type"] = "number"

    definition = app.get(f"{API}/apps/cc").json()
    to_number(definition)
    planned = app.post(f"{API}/apps/cc/plan", json=definition)
    assert planned.status_code == 200, planned.text
    publish(app, to_number)  # a type conversion: "x" does not convert and is blank
    assert total(app, "order", "NOT ISBLANK(code)") == 2


def test_filters_over_other_tables_follow_writes_to_them(app: TestClient) -> None:
    gold = created(app, "client", {"name": "甲", "level": "gold"})
    plain = created(app, "client", {"name": "乙", "level": "plain"})
    first = created(app, "order", {"qty": 1, "client": gold, "lines": [{"n": 1}]})
    second = created(app, "order", {"qty": 2, "client": plain, "lines": [{"n": 5}]})
    assert total(app, "order", 'client_level = "gold"') == 1  # a lookup: reads client's table
    patched(app, "client", plain, {"level": "gold"})
    assert total(app, "order", 'client_level = "gold"') == 2
    assert app.delete(url("client", f"/records/{gold}")).status_code == 204
    assert total(app, "order", 'client_level = "gold"') == 1

    patched(app, "client", plain, {"orders": [first, second]})
    assert total(app, "client", "ordered >= 3") == 1  # a rollup over a to-many relation
    patched(app, "order", second, {"qty": 0})  # the other table
    assert total(app, "client", "ordered >= 3") == 0
    assert total(app, "client", "ordered = 0") == 0  # 1 + 0
    patched(app, "client", plain, {"orders": []})  # the link table alone
    assert total(app, "client", "ordered = 0") == 1  # a sum over no orders

    assert total(app, "order", "lines_sum >= 3") == 1  # a rollup over subform rows
    patched(app, "order", first, {"lines": [{"n": 2}, {"n": 2}]})
    assert total(app, "order", "lines_sum >= 3") == 2


def test_a_time_dependent_filter_is_counted_for_its_moment(app: TestClient) -> None:
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    created(app, "order", {"qty": 1, "due": yesterday})
    assert total(app, "order", "due < TODAY()") == 1  # TODAY() is bound: keyed by the date
    now = "_created_at <= NOW()"
    assert total(app, "order", now, again=False) == 1  # NOW(): a new moment each request
    created(app, "order", {"qty": 1, "due": yesterday})
    assert total(app, "order", "due < TODAY()") == 2
    assert total(app, "order", now, again=False) == 2


def test_a_count_is_served_again_only_while_nothing_was_written(app: TestClient) -> None:
    created(app, "order", {"qty": 1})
    COUNTS.clear()
    assert total(app, "order", "qty = 1") == 1
    expected = (1, 1) if sqlite(app) else (0, 0)
    assert (COUNTS.hits, COUNTS.misses) == expected
    created(app, "order", {"qty": 1})
    assert total(app, "order", "qty = 1") == 2
    assert (COUNTS.hits, COUNTS.misses) == (expected[0] * 2, expected[1] * 2)


def test_statements_over_other_tables_or_sql_text_are_not_cached() -> None:
    record = table("r1", column("_id"))
    assert _shape(select(func.count()).select_from(record)).tables == ("r1",)
    users = table("users", column("id"))
    joined = select(func.count()).select_from(record).where(record.c._id.in_(select(users.c.id)))
    assert _shape(joined).tables is None
    assert _shape(select(func.count()).select_from(record).where(text("1 = 1"))).tables is None
    metadata = MetaData()
    aliased = Table("r2_s3", metadata).alias()
    assert _shape(select(func.count()).select_from(aliased)).tables == ("r2_s3",)


def test_the_cache_keeps_at_most_its_size(app: TestClient) -> None:
    small = CountCache(max_entries=2)
    engine = engine_of(app)
    reader_table = Table(table_of(app, "order"), MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        for n in range(4):
            statement = select(func.count()).select_from(reader_table).where(reader_table.c._id > n)
            assert small.count(conn, statement, {}) == 0
    assert len(small) == (2 if sqlite(app) else 0)  # PostgreSQL: nothing is kept


def test_the_total_is_exact_after_a_command_line_import(
    app: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jimu records import` is its own process in real life, with its own engine."""
    created(app, "order", {"qty": 5})
    assert total(app, "order", "qty >= 2") == 1
    monkeypatch.setenv("JIMU_DATABASE_URL", database_url(app))
    sheet = tmp_path / "orders.csv"
    sheet.write_text("qty,title\n3,three\n4,four\n1,one\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["records", "import", "cc", "order", str(sheet)])
    assert result.exit_code == 0, result.output
    assert total(app, "order", "qty >= 2") == 3
