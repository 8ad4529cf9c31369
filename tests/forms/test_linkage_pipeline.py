"""Data linkage defaults in the record pipeline, on SQLite and PostgreSQL: several matches take
the most recently updated record, a batch costs one query per linkage field, and values that
do not convert stay empty."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.core.context import Actor
from engine.forms import apps
from engine.forms.query import Reader
from engine.forms.records import Writer
from tests.contexts import context
from tests.forms.linkage_app import link, shop_app
from tests.store_fixtures import prepare_fresh

ACTOR = Actor(None, "api")
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def shop(migrated_engine: Engine) -> Engine:
    prepare_fresh(migrated_engine)
    definition = shop_app()
    definition["forms"][1]["fields"].append(
        {"key": "grade", "type": "integer", "default": link("credit", ("_id", "customer"))}
    )
    with migrated_engine.begin() as conn:
        apps.create(conn, definition, context(ACTOR))
    return migrated_engine


def writer(engine: Engine, form: str, minutes: int) -> tuple[Any, Writer]:
    with engine.connect() as conn:
        app = apps.load(conn, "shop")
    return app, Writer(
        app.layout, app.id, app.form(form), context(now=T0 + dt.timedelta(minutes=minutes))
    )


def create(
    engine: Engine, form: str, records: list[dict[str, Any]], minutes: int = 0
) -> list[dict[str, Any]]:
    app, write = writer(engine, form, minutes)
    with engine.begin() as conn:
        ids = write.create_many(conn, records, ACTOR)
        return (
            Reader(app.layout, app.form(form), context())
            .list(conn, ids=ids, sort="_id", limit=len(ids), count=False)
            .items
        )


def test_several_matches_take_the_most_recently_updated(shop: Engine) -> None:
    first, second = create(
        shop,
        "customer",
        [
            {"name": "甲", "city": "杭州", "level": "A"},
            {"name": "甲", "city": "杭州", "level": "B"},
        ],
    )
    [order] = create(shop, "order", [{"customer_name": "甲", "city": "杭州"}], minutes=1)
    assert order["level_by_name"] == "B"  # same moment: the higher _id
    _, change = writer(shop, "customer", 2)
    with shop.begin() as conn:
        change.update(conn, first["_id"], {"_version": first["_version"], "level": "C"}, ACTOR)
    [later] = create(shop, "order", [{"customer_name": "甲", "city": "杭州"}], minutes=3)
    assert later["level_by_name"] == "C"  # the record updated last wins, though its _id is lower
    assert second["_id"] > first["_id"]


def test_deleted_source_records_are_not_matched(shop: Engine) -> None:
    [customer] = create(shop, "customer", [{"name": "乙", "level": "A"}])
    _, remove = writer(shop, "customer", 1)
    with shop.begin() as conn:
        remove.delete(conn, customer["_id"], ACTOR)
    [order] = create(shop, "order", [{"customer_name": "乙"}], minutes=2)
    assert order["level_by_name"] is None


def test_a_batch_costs_one_query_per_linkage_field(shop: Engine) -> None:
    customers = create(
        shop,
        "customer",
        [{"name": f"客户{n}", "level": "ABC"[n % 3], "credit": n * 10} for n in range(10)],
    )
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "row_number" in statement.lower():
            statements.append(statement)

    event.listen(shop, "before_cursor_execute", count)
    try:
        orders = create(shop, "order", [{"customer": c["_id"]} for c in customers * 3], minutes=1)
    finally:
        event.remove(shop, "before_cursor_execute", count)
    # level, phone, manager, credit and grade read the customer; level_by_name has no condition values
    assert len(statements) == 5
    assert [o["level"] for o in orders] == [c["level"] for c in customers] * 3
    assert [o["credit"] for o in orders[:3]] == ["0.00", "10.00", "20.00"]


def test_a_value_that_does_not_convert_stays_empty(shop: Engine) -> None:
    whole, fraction = create(
        shop, "customer", [{"name": "整", "credit": "12"}, {"name": "零", "credit": "12.5"}]
    )
    orders = create(
        shop, "order", [{"customer": whole["_id"]}, {"customer": fraction["_id"]}], minutes=1
    )
    assert [o["grade"] for o in orders] == [12, None]  # money -> integer only when whole
