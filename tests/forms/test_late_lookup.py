"""Late row lookup (issue 12), on SQLite and PostgreSQL.

A page whose sort no index serves is read as an inner statement (`_id` and the sort keys,
filtered, ordered, limited) and an outer one reading the page's rows whole, relation titles
included. These tests check that such pages answer exactly what the straightforward statement
(``SELECT … WHERE … ORDER BY … LIMIT … OFFSET …`` on the table) answers: with ties, blanks
(last, both directions), offsets, the recycle bin and an "own" row scope; that the page's
records are the ones the reader gives by id; that a sort an index serves keeps the direct
statement; and that the count selects from the table alone, without joins or ORDER BY.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from engine.auth.permissions import FormAccess
from engine.core.context import Actor
from engine.forms import apps
from engine.forms.query import Reader
from engine.forms.records import Writer
from tests.contexts import context
from tests.forms.test_indexes import definition
from tests.store_fixtures import prepare_fresh

ACTOR = Actor(None, "api")


@pytest.fixture
def sales(migrated_engine: Engine) -> Engine:
    """The sales app (no declared index) with 3 customers and 300 deals: amounts in 7 values
    (many ties), every 11th blank; every 9th deal in the recycle bin; owned by 5 users."""
    prepare_fresh(migrated_engine)
    with migrated_engine.begin() as conn:
        apps.create(conn, definition(), context(ACTOR))
        app = apps.load(conn, "sales")
        customers = Writer(app.layout, app.id, app.form("customer"), context()).create_many(
            conn, [{"name": f"客户{n}"} for n in range(3)], ACTOR
        )
        writer = Writer(app.layout, app.id, app.form("deal"), context())
        ids = writer.create_many(
            conn,
            [
                {
                    "title": f"商机{n}",
                    "status": "open" if n % 3 else "won",
                    "amount": None if n % 11 == 0 else str(n % 7 * 10),
                    "customer": customers[n % 3] if n % 4 else None,
                }
                for n in range(300)
            ],
            ACTOR,
        )
        for record_id in ids[::9]:
            writer.delete(conn, record_id, ACTOR)
        conn.execute(text(f"UPDATE {app.form('deal').table.name} SET _owner = _id % 5 + 1"))
    return migrated_engine


def _straight(
    conn: Connection,
    app: Any,
    *,
    where: str,
    sort: str,
    limit: int,
    offset: int,
) -> list[int]:
    """The page's ids by the straightforward statement on the deal table."""
    deal = app.form("deal")
    amount, status = deal.fields["amount"].column, deal.fields["status"].column
    order = {
        "-amount": f"{amount} DESC NULLS LAST, _id",
        "amount": f"{amount} ASC NULLS LAST, _id",
        "status,-amount": f"{status} ASC NULLS LAST, {amount} DESC NULLS LAST, _id",
    }[sort]
    sql = (
        f"SELECT _id FROM {deal.table.name} WHERE {where.format(status=status)}"
        f" ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    )
    return list(conn.execute(text(sql)).scalars())


def _sql(conn: Connection, statement: Any) -> str:
    return str(statement.compile(dialect=conn.dialect))


CASES = [
    # (filter, sort, deleted, own, the same filter by hand)
    (None, "-amount", False, False, "_deleted_at IS NULL"),
    (None, "amount", False, False, "_deleted_at IS NULL"),
    ('status = "won"', "-amount", False, False, "_deleted_at IS NULL AND {status} = 'won'"),
    (None, "status,-amount", False, False, "_deleted_at IS NULL"),
    (None, "-amount", True, False, "_deleted_at IS NOT NULL"),
    (None, "-amount", False, True, "_deleted_at IS NULL AND _owner = 3"),
    (
        'status = "open"',
        "amount",
        False,
        True,
        "_deleted_at IS NULL AND _owner = 3 AND {status} = 'open'",
    ),
]


@pytest.mark.parametrize(("filter", "sort", "deleted", "own", "where"), CASES)
def test_late_pages_answer_as_the_straightforward_statement(
    sales: Engine, filter: str | None, sort: str, deleted: bool, own: bool, where: str
) -> None:
    access = FormAccess(3, (), scopes={"view": ("own",)}) if own else None
    with sales.begin() as conn:
        app = apps.load(conn, "sales")
        reader = Reader(app.layout, app.form("deal"), context(), access=access)
        statement = reader.sql.page_statements(filter=filter, sort=sort, deleted=deleted)
        assert "jimu_page" in _sql(conn, statement.page), "the page is read by a late row lookup"
        total = None
        for limit, offset in [(25, 0), (25, 25), (7, 3), (40, 60), (25, 10_000)]:
            page = reader.list(
                conn, filter=filter, sort=sort, limit=limit, offset=offset, deleted=deleted
            )
            ids = [item["_id"] for item in page.items]
            assert ids == _straight(conn, app, where=where, sort=sort, limit=limit, offset=offset)
            total = page.total if total is None else total
            assert page.total == total
            if offset == 0:  # the page shows relation titles (read through the outer join)
                assert any(item.get("customer") for item in page.items)
            if ids:  # the rows whole, titles included, as the reader gives them by id
                by_id = reader.list(conn, ids=ids, limit=len(ids), deleted=deleted).items
                assert sorted(page.items, key=lambda i: i["_id"]) == sorted(
                    by_id, key=lambda i: i["_id"]
                )
        assert total is not None and total > 0


def test_a_sort_an_index_serves_keeps_the_direct_statement(sales: Engine) -> None:
    """The title field is indexed by default and `_id` is the key: no late lookup."""
    with sales.begin() as conn:
        app = apps.load(conn, "sales")
        reader = Reader(app.layout, app.form("deal"), context())
        for sort in ("-title", "title,-amount", "_id", "-_id"):
            statement = reader.sql.page_statements(sort=sort)
            assert "jimu_page" not in _sql(conn, statement.page), sort
        assert "jimu_page" in _sql(conn, reader.sql.page_statements(sort="-amount").page)


def test_the_count_reads_the_table_alone(sales: Engine) -> None:
    """The count with a filter: no relation-title joins, no ORDER BY, just the table."""
    with sales.begin() as conn:
        app = apps.load(conn, "sales")
        deal = app.form("deal")
        reader = Reader(app.layout, deal, context())
        found = reader.sql.page_statements(filter='status = "won"', sort="-amount", count=True)
        assert found.count is not None
        sql = str(found.count.compile(dialect=conn.dialect)).upper()
        assert "JOIN" not in sql and "ORDER BY" not in sql, sql
        assert sql.count("FROM") == 1 and f"FROM {deal.table.name.upper()}" in sql, sql
        assert "JOIN" in _sql(conn, found.page).upper()  # the page does join the customer's title
