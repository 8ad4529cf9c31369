"""The record pipeline through the forms engine's services, on SQLite and PostgreSQL:
relations one and many, lookups and rollups in SQL, subform rows, defaults, conditional
required fields, stored formulas recomputed on publish, and serials under concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.core.errors import ServiceError
from engine.forms import apps
from engine.forms.query import Reader
from engine.forms.records import Writer
from tests.contexts import context
from tests.forms.shop_app import ACTOR, install_shop, republish, shop_definition


def definition(formula: str = "price * 2") -> dict[str, Any]:
    return shop_definition(
        formula,
        [
            {
                "key": "grade",
                "type": "select",
                "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
                "default": "a",
            }
        ],
        {
            "key": "order",
            "name": "订单",
            "title_field": "code",
            "fields": [
                {"key": "code", "type": "serial", "pattern": "DD-{YYYY}-{000}"},
                {"key": "main", "type": "relation", "target": "product"},
                {"key": "main_price", "type": "lookup", "relation": "main", "field": "price"},
                {"key": "extras", "type": "relation", "target": "product", "many": True},
                {"key": "extra_names", "type": "lookup", "relation": "extras", "field": "name"},
                {
                    "key": "extras_total",
                    "type": "rollup",
                    "relation": "extras",
                    "field": "price",
                    "aggregate": "sum",
                },
                {"key": "rush", "type": "checkbox"},
                {"key": "reason", "type": "text", "required": True, "visible_when": "rush"},
                {
                    "key": "note",
                    "type": "text",
                    "default": {"expr": '"下单于 " & TEXT(TODAY(), "YYYY")'},
                },
                {"key": "closed", "type": "checkbox"},
                {
                    "key": "discount",
                    "type": "integer",
                    "readonly_when": "closed AND main_price > 0",
                },
                {
                    "key": "lines",
                    "type": "subform",
                    "fields": [
                        {"key": "item", "type": "relation", "target": "product"},
                        {"key": "qty", "type": "integer", "min": 1, "required": True},
                        {
                            "key": "item_price",
                            "type": "lookup",
                            "relation": "item",
                            "field": "price",
                        },
                        {
                            "key": "amount",
                            "type": "formula",
                            "expr": "qty * item_price",
                            "precision": 2,
                        },
                    ],
                },
                {
                    "key": "lines_total",
                    "type": "rollup",
                    "relation": "lines",
                    "field": "amount",
                    "aggregate": "sum",
                },
            ],
        },
    )


@pytest.fixture
def shop(migrated_engine: Engine) -> Engine:
    return install_shop(
        migrated_engine,
        definition(),
        [
            {"name": "键盘", "price": "99.50"},
            {"name": "鼠标", "price": "40"},
            {"name": "显示器", "price": "1200"},
        ],
    )


def _writer(conn: Any, form: str) -> Writer:
    app = apps.load(conn, "shop")
    return Writer(app.layout, app.id, app.form(form), context())


def test_relations_lookups_rollups_and_subform_rows(shop: Engine) -> None:
    with shop.begin() as conn:
        writer = _writer(conn, "order")
        [order_id] = writer.create_many(
            conn,
            [
                {
                    "main": 1,
                    "extras": [3, 2],
                    "lines": [{"item": 1, "qty": 2}, {"item": {"_id": 3}, "qty": 1}],
                }
            ],
            ACTOR,
        )
        order = writer.reader.get(conn, order_id)
    assert order["main"] == {"_id": 1, "title": "键盘"}
    assert order["main_price"] == "99.50"
    assert order["extras"] == [{"_id": 3, "title": "显示器"}, {"_id": 2, "title": "鼠标"}]
    assert order["extra_names"] == ["显示器", "鼠标"]
    assert order["extras_total"] == "1240.00"
    assert [line["amount"] for line in order["lines"]] == ["199.00", "1200.00"]
    assert order["lines_total"] == "1399.00"
    assert order["note"].startswith("下单于 ")
    assert order["code"].startswith("DD-") and order["code"].endswith("-001")


def test_a_page_costs_the_same_statements_whatever_its_size(shop: Engine) -> None:
    with shop.begin() as conn:
        writer = _writer(conn, "order")
        writer.create_many(
            conn,
            [
                {"main": 1 + i % 3, "extras": [1, 2], "lines": [{"item": 2, "qty": i + 1}]}
                for i in range(30)
            ],
            ACTOR,
        )
    counts = []
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    for size in (2, 10, 30):
        event.listen(shop, "before_cursor_execute", count)
        try:
            with shop.connect() as conn:
                app = apps.load(conn, "shop")
                statements.clear()
                page = Reader(app.layout, app.form("order"), context()).list(
                    conn, limit=size, count=False
                )
        finally:
            event.remove(shop, "before_cursor_execute", count)
        assert len(page.items) == size
        counts.append(len(statements))
    assert counts[0] == counts[1] == counts[2]


def test_references_must_exist(shop: Engine) -> None:
    with shop.begin() as conn, pytest.raises(ServiceError) as caught:
        _writer(conn, "order").create_many(
            conn, [{"main": 99, "extras": [1, 77], "lines": [{"item": 55, "qty": 1}]}], ACTOR
        )
    paths = sorted(i.path for i in caught.value.issues)
    assert paths == ["extras[1]", "lines[0].item", "main"]
    assert {i.code for i in caught.value.issues} == {"record_not_found"}


def test_required_only_when_visible(shop: Engine) -> None:
    with shop.begin() as conn:
        writer = _writer(conn, "order")
        writer.create_many(conn, [{"rush": False}], ACTOR)
        with pytest.raises(ServiceError) as caught:
            writer.create_many(conn, [{"rush": True}], ACTOR)
    assert [(i.path, i.code) for i in caught.value.issues] == [("reason", "required")]


def test_subform_rows_are_kept_changed_and_removed_by_id(shop: Engine) -> None:
    with shop.begin() as conn:
        writer = _writer(conn, "order")
        [order_id] = writer.create_many(
            conn, [{"lines": [{"item": 1, "qty": 1}, {"item": 2, "qty": 2}]}], ACTOR
        )
        before = writer.reader.get(conn, order_id)
        first, second = before["lines"]
        writer.update(
            conn,
            order_id,
            {
                "_version": 1,
                "lines": [{"_id": second["_id"], "item": 2, "qty": 5}, {"item": 3, "qty": 1}],
            },
            ACTOR,
        )
        after = writer.reader.get(conn, order_id)
        with pytest.raises(ServiceError) as caught:
            writer.update(
                conn, order_id, {"_version": 2, "lines": [{"_id": first["_id"], "qty": 1}]}, ACTOR
            )
    assert [(line["_id"] == second["_id"], line["qty"]) for line in after["lines"]] == [
        (True, 5),
        (False, 1),
    ]
    assert after["lines_total"] == "1400.00"
    assert caught.value.issues[0].code == "row_not_found"


def test_stored_formulas_are_recomputed_when_their_definition_changes(shop: Engine) -> None:
    with shop.begin() as conn:
        republish(conn, definition("price * 3"))
    with shop.connect() as conn:
        app = apps.load(conn, "shop")
        items = Reader(app.layout, app.form("product"), context()).list(conn, sort="_id").items
    assert [p["double"] for p in items] == ["298.50", "120.00", "3600.00"]
    assert [p["grade"] for p in items] == ["a", "a", "a"]


def test_a_stale_plan_hash_is_refused(shop: Engine) -> None:
    with shop.begin() as conn, pytest.raises(ServiceError) as caught:
        current = apps.load(conn, "shop")
        apps.publish(
            conn,
            "shop",
            definition("price * 3"),
            revision=current.revision,
            plan_hash="0" * 64,
            ctx=context(ACTOR),
        )
    assert (caught.value.status, caught.value.code) == (409, "plan_changed")


def test_serials_stay_unique_under_concurrent_inserts(shop: Engine) -> None:
    codes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def insert() -> None:
        try:
            for _ in range(5):
                with shop.begin() as conn:
                    writer = _writer(conn, "order")
                    [record_id] = writer.create_many(conn, [{}], ACTOR)
                    code = writer.reader.get(conn, record_id)["code"]
                with lock:
                    codes.append(code)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=insert) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(codes) == 20 and len(set(codes)) == 20
    assert sorted(int(code.rsplit("-", 1)[1]) for code in codes) == list(range(1, 21))


def test_readonly_when_is_enforced_on_the_record_as_stored(shop: Engine) -> None:
    with shop.begin() as conn:
        app = apps.load(conn, "shop")
        orders = Writer(app.layout, app.id, app.form("order"), context())
        [order_id] = orders.create_many(conn, [{"main": 1, "discount": 5}], ACTOR)
        read = Reader(app.layout, app.form("order"), context())
        # closing and setting the final discount in one save is allowed: the rule reads the stored record
        version = orders.update(
            conn, order_id, {"_version": 1, "closed": True, "discount": 8}, ACTOR
        )
        record = read.get(conn, order_id)
        assert (record["closed"], record["discount"]) == (True, 8)
        # once closed, the discount may be sent back unchanged, but not changed
        version = orders.update(conn, order_id, {**record, "note": "已结"}, ACTOR)
    with pytest.raises(ServiceError) as refused, shop.begin() as conn:
        orders.update(conn, order_id, {"_version": version, "discount": 9, "note": "改折扣"}, ACTOR)
    assert refused.value.status == 422
    assert [(i.path, i.code) for i in refused.value.issues] == [("discount", "locked_field")]
    with shop.begin() as conn:
        record = read.get(conn, order_id)
        assert (record["discount"], record["note"], record["_version"]) == (
            8,
            "已结",
            version,
        )  # nothing written
        # reopening unlocks it again
        version = orders.update(conn, order_id, {"_version": version, "closed": False}, ACTOR)
        orders.update(conn, order_id, {"_version": version, "discount": 9}, ACTOR)
        assert read.get(conn, order_id)["discount"] == 9
