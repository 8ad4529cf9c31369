"""The `shop` app the reader-cache and record-pipeline tests install: a `product` form titled
by `name`, with a price and a formula `double`, plus the fields and forms each test adds; and
the steps both take with it (install it with products, publish a changed definition)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, Engine

from engine.core.context import Actor
from engine.forms import apps
from engine.forms.records import Writer
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

ACTOR = Actor(None, "api")


def shop_definition(
    double: str, fields: list[dict[str, Any]], *forms: dict[str, Any]
) -> dict[str, Any]:
    """The app: `product` with `name`, `price`, `double` (the formula `double`, 2 places) and
    `fields`, then `forms`."""
    return {
        "format": "jimu.app/1",
        "key": "shop",
        "name": {"zh": "商店", "en": "Shop"},
        "version": "1",
        "forms": [
            {
                "key": "product",
                "name": "产品",
                "title_field": "name",
                "fields": [
                    {"key": "name", "type": "text", "required": True},
                    {"key": "price", "type": "money"},
                    {"key": "double", "type": "formula", "expr": double, "precision": 2},
                    *fields,
                ],
            },
            *forms,
        ],
    }


def install_shop(
    engine: Engine, definition: dict[str, Any], products: list[dict[str, Any]]
) -> Engine:
    """`engine`'s store made afresh with the app `definition` and `products` as its products."""
    prepare_fresh(engine)
    with engine.begin() as conn:
        apps.create(conn, definition, context(ACTOR))
        app = apps.load(conn, "shop")
        Writer(app.layout, app.id, app.form("product"), context()).create_many(
            conn, products, ACTOR
        )
    return engine


def republish(conn: Connection, definition: dict[str, Any]) -> None:
    """Publish `definition` over the shop's live revision, with the plan it makes now."""
    revision = apps.load(conn, "shop").revision
    plan_hash = apps.plan(conn, "shop", definition).hash
    apps.publish(
        conn, "shop", definition, revision=revision, plan_hash=plan_hash, ctx=context(ACTOR)
    )
