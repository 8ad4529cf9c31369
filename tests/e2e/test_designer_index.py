"""The designer's switch 常用于筛选和排序 in Chromium: a builder switches it on for a field,
the publish plan shows the index it builds, and the server's database has that index after the
publish (read from the server's SQLite file, the database `jimu serve` uses there)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import text

from engine.store.session import engine_for_url
from tests.e2e.conftest import ADMIN_PASSWORD, Server, Shot, api_call, login, new_page
from tests.e2e.test_designer_properties import create_app, pick


def test_switching_index_on_plans_and_builds_it(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    create_app(
        fresh_server,
        "shop",
        [
            {
                "key": "orders",
                "name": {"zh": "订单", "en": "Orders"},
                "fields": [
                    {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}},
                    {"key": "region", "type": "text", "label": {"zh": "区域", "en": "Region"}},
                ],
            }
        ],
    )
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/shop/orders/design")
    pick(page, "region")
    switch = page.get_by_test_id("prop-index")
    expect(switch).to_be_visible()
    expect(page.get_by_text("常用于筛选和排序")).to_be_visible()
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    shot(page, "switched-on")

    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("plan-modal")).to_be_visible()
    expect(page.get_by_test_id("plan-step").filter(has_text="为 区域 建索引")).to_have_count(1)
    shot(page, "plan")
    page.get_by_test_id("plan-confirm").click()
    expect(page.get_by_test_id("plan-modal")).to_be_hidden()
    expect(page.locator(".ant-message-notice", has_text="已发布").last).to_be_visible()

    fields = api_call(fresh_server, "GET", "/apps/shop")["forms"][0]["fields"]
    assert next(f for f in fields if f["key"] == "region")["index"] is True
    engine = engine_for_url(f"sqlite:///{fresh_server.data_dir / 'jimu.db'}")
    try:
        with engine.connect() as conn:
            (form_id,) = conn.execute(text("SELECT id FROM forms WHERE key = 'orders'")).one()
            (field_id,) = conn.execute(
                text("SELECT id FROM form_fields WHERE key = 'region' AND form_id = :f"),
                {"f": form_id},
            ).one()
            found = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                {"n": f"idx_r{form_id}_f{field_id}"},
            ).scalar_one()
    finally:
        engine.dispose()
    assert f"(f{field_id}, _id)" in found
