"""What the reader keeps per layout (page shapes, compiled filters and sorts) never goes stale
and is never shared wrongly: a publish starts from new layouts, callers with other hidden
fields get their own shape and are still refused a hidden field, and nothing that reads the
clock is frozen. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from engine.auth.permissions import FormAccess
from engine.core.errors import ServiceError
from engine.forms import apps
from engine.forms.cache import LruCache
from engine.forms.query import Reader
from engine.forms.records import Writer
from tests.contexts import context
from tests.forms.shop_app import ACTOR, install_shop, republish, shop_definition
from tests.store_fixtures import prepare_fresh


def definition(double: str = "price * 2") -> dict[str, Any]:
    return shop_definition(
        double, [{"key": "cost", "type": "money"}, {"key": "launched", "type": "date"}]
    )


@pytest.fixture
def shop(migrated_engine: Engine) -> Engine:
    return install_shop(
        migrated_engine,
        definition(),
        [
            {"name": "键盘", "price": "99.50", "cost": "60", "launched": "2025-03-01"},
            {"name": "鼠标", "price": "40", "cost": "20", "launched": "2026-09-01"},
            {"name": "显示器", "price": "1200", "cost": "900", "launched": "2027-01-01"},
        ],
    )


def viewer(hidden: tuple[str, ...] = ()) -> FormAccess:
    fields = {
        key: ("hidden" if key in hidden else "read_only")
        for key in ("name", "price", "cost", "double", "launched")
    }
    return FormAccess(7, (), scopes={"view": ("all",)}, fields=fields)


def names(reader: Reader, engine: Engine, **options: Any) -> list[str]:
    with engine.connect() as conn:
        return [item["name"] for item in reader.list(conn, **options).items]


def test_a_cached_filter_is_still_refused_to_a_caller_who_may_not_see_its_field(
    shop: Engine,
) -> None:
    with shop.connect() as conn:
        app = apps.load(conn, "shop")
    form = app.form("product")
    assert names(Reader(app.layout, form, context()), shop, filter="cost > 50", sort="cost") == [
        "键盘",
        "显示器",
    ]
    restricted = Reader(app.layout, form, context(), access=viewer(hidden=("cost",)))
    with shop.connect() as conn:
        for options in (
            {"filter": "cost > 50"},
            {"sort": "cost"},
            {"filter": "cost > 50", "sort": "-cost"},
        ):
            with pytest.raises(ServiceError) as caught:
                restricted.list(conn, **options)
            assert caught.value.status == 422
        # and a filter the restricted caller compiled first is not a way around it for others
        assert [i["name"] for i in restricted.list(conn, filter="price > 50").items] == [
            "键盘",
            "显示器",
        ]
    hidden_cost = Reader(app.layout, form, context(), access=viewer(hidden=("cost", "price")))
    with shop.connect() as conn, pytest.raises(ServiceError):
        hidden_cost.list(conn, filter="price > 50")


def test_callers_with_different_hidden_fields_never_share_a_page_shape(shop: Engine) -> None:
    with shop.connect() as conn:
        app = apps.load(conn, "shop")
        form = app.form("product")
        everything = Reader(app.layout, form, context()).list(conn, sort="name").items
        without_cost = (
            Reader(app.layout, form, context(), access=viewer(hidden=("cost",)))
            .list(conn, sort="name")
            .items
        )
        without_price = (
            Reader(app.layout, form, context(), access=viewer(hidden=("price", "double")))
            .list(conn, sort="name")
            .items
        )
        again = Reader(app.layout, form, context()).list(conn, sort="name").items
    assert {"cost", "price", "double"} <= everything[0].keys()
    assert "cost" not in without_cost[0] and "price" in without_cost[0]
    assert (
        "price" not in without_price[0]
        and "double" not in without_price[0]
        and "cost" in without_price[0]
    )
    assert again == everything


def test_after_a_publish_reads_use_the_new_definition(shop: Engine) -> None:
    with shop.connect() as conn:
        before = apps.load(conn, "shop")
        reader = Reader(before.layout, before.form("product"), context())
        assert [
            i["name"] for i in reader.list(conn, filter="double > 250", sort="-double").items
        ] == ["显示器"]
    with shop.begin() as conn:
        republish(conn, definition("price * 3"))
    with shop.connect() as conn:
        after = apps.load(conn, "shop")
        assert after.revision == before.revision + 1
        page = Reader(after.layout, after.form("product"), context()).list(
            conn, filter="double > 250", sort="-double"
        )
    assert [(i["name"], i["double"]) for i in page.items] == [
        ("显示器", "3600.00"),
        ("键盘", "298.50"),
    ]


def test_a_filter_that_reads_the_clock_is_not_frozen(shop: Engine) -> None:
    with shop.connect() as conn:
        app = apps.load(conn, "shop")
    form = app.form("product")
    launched = "launched <= TODAY()"
    at = [
        dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        dt.datetime(2027, 6, 1, tzinfo=dt.UTC),
    ]
    found = [
        names(Reader(app.layout, form, context(now=now)), shop, filter=launched, sort="launched")
        for now in at
    ]
    assert found == [["键盘"], ["键盘", "鼠标"], ["键盘", "鼠标", "显示器"]]
    # the same again, in the other order, after the filter was compiled
    found = [
        names(Reader(app.layout, form, context(now=now)), shop, filter=launched, sort="launched")
        for now in reversed(at)
    ]
    assert found == [["键盘", "鼠标", "显示器"], ["键盘", "鼠标"], ["键盘"]]


def test_read_time_formulas_that_read_the_clock_are_computed_for_each_read(
    migrated_engine: Engine,
) -> None:
    prepare_fresh(migrated_engine)
    app_definition = definition()
    fields = app_definition["forms"][0]["fields"]
    fields.append({"key": "age", "type": "formula", "expr": "DAYS(TODAY(), launched)"})
    with migrated_engine.begin() as conn:
        app, _ = apps.create(conn, app_definition, context(ACTOR))
        Writer(app.layout, app.id, app.form("product"), context()).create_many(
            conn, [{"name": "键盘", "launched": "2025-03-01"}], ACTOR
        )
    form = app.form("product")
    ages = []
    for now in (
        dt.datetime(2025, 3, 11, 4, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 21, 4, tzinfo=dt.UTC),
    ):
        with migrated_engine.connect() as conn:
            reader = Reader(app.layout, form, context(now=now))
            ages.append(reader.list(conn).items[0]["age"])
            assert [i["name"] for i in reader.list(conn, filter="age >= 15").items] == (
                [] if now.day == 11 else ["键盘"]
            )
    assert ages == ["10", "20"]


def test_the_layout_cache_keeps_a_bounded_number_of_entries() -> None:
    cache: LruCache[int] = LruCache(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)


def test_a_kept_page_statement_reads_the_record_asked_for_each_time(shop: Engine) -> None:
    with shop.connect() as conn:
        app = apps.load(conn, "shop")
        reader = Reader(app.layout, app.form("product"), context())
        ids = [item["_id"] for item in reader.list(conn, sort="name").items]
        assert [reader.get(conn, record_id)["_id"] for record_id in ids + ids[::-1]] == ids + ids[
            ::-1
        ]
        first = reader.list(conn, sort="name", limit=1, offset=0).items
        second = reader.list(conn, sort="name", limit=1, offset=1).items
        assert first[0]["_id"] == ids[0] and second[0]["_id"] == ids[1]


def test_blanks_sort_last_whatever_the_filter_says_about_them(shop: Engine) -> None:
    with shop.begin() as conn:
        app = apps.load(conn, "shop")
        Writer(app.layout, app.id, app.form("product"), context()).create_many(
            conn, [{"name": "赠品", "cost": "1"}, {"name": "样品"}], ACTOR
        )
    reader = Reader(app.layout, app.form("product"), context())
    # no filter on price: its blanks come last in both directions
    assert names(reader, shop, sort="-price,name")[-2:] == ["样品", "赠品"]
    assert names(reader, shop, sort="price,name")[-2:] == ["样品", "赠品"]
    # a filter that leaves no blank price: same order as without it, minus the blanks
    for sort in ("-price", "price"):
        everything = names(reader, shop, sort=sort + ",name")
        assert names(reader, shop, filter="price > 10", sort=sort) == [
            n for n in everything if n not in ("样品", "赠品")
        ]
        assert names(reader, shop, filter='AND(price >= 40, name <> "x")', sort=sort) == [
            n for n in everything if n not in ("样品", "赠品")
        ]
    # under OR the filter lets blanks through, and they still come last
    assert names(reader, shop, filter="price > 1000 OR cost = 1", sort="-price") == [
        "显示器",
        "赠品",
    ]
    assert names(reader, shop, filter="price > 1000 OR cost = 1", sort="price") == [
        "显示器",
        "赠品",
    ]
    assert names(reader, shop, filter="NOT(price < 50)", sort="price,name")[-2:] == ["样品", "赠品"]


def test_which_fields_a_filter_leaves_no_blank_in() -> None:
    from engine import expr
    from engine.forms.query import nonblank_keys

    def keys(source: str) -> set[str]:
        return set(nonblank_keys(expr.parse(source)))

    assert keys('level = "A" AND amount > 500000') == {"level", "amount"}
    assert keys("AND(1 <= amount, since < DATE(2025, 1, 1))") == {"amount", "since"}
    assert keys('level = "" AND amount <> 3') == set()
    assert keys('amount > 1 OR level = "A"') == set()
    assert keys("NOT(amount > 1)") == set()
    assert keys('customer.level = "A"') == set()
    assert keys("IF(amount > 1, TRUE, FALSE)") == set()
