"""The designer's switch 常用于筛选和排序 and its form settings' 常用筛选与排序组合 in Chromium: a
builder switches an index on for a field or declares a combination of fields, the publish plan
shows the index it builds, and the server's database has that index after the publish (read
from the server's SQLite file, the database `jimu serve` uses there); the server's refusal of a
combination shows at that combination; a field removed from the form leaves its combinations."""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import text

from engine.store.session import engine_for_url
from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    Server,
    Shot,
    api_call,
    login,
    new_page,
    select_option,
)
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
    assert f"(f{field_id}, _id, _deleted_at)" in found


ORDERS = {
    "key": "orders",
    "name": {"zh": "订单", "en": "Orders"},
    "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}},
        {
            "key": "status",
            "type": "select",
            "label": {"zh": "状态", "en": "Status"},
            "options": [{"value": "open", "label": "进行中"}, {"value": "won", "label": "赢单"}],
        },
        {"key": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}},
        {
            "key": "today",
            "type": "formula",
            "expr": "TODAY()",
            "label": {"zh": "今天", "en": "Today"},
        },
    ],
}


def server_indexes(server: Server, form: str) -> tuple[int, dict[str, int], dict[str, str]]:
    """The form's id, its field ids by key and the CREATE INDEX of each index of its record
    table by name, read from the server's SQLite file."""
    engine = engine_for_url(f"sqlite:///{server.data_dir / 'jimu.db'}")
    try:
        with engine.connect() as conn:
            (form_id,) = conn.execute(
                text("SELECT id FROM forms WHERE key = :k"), {"k": form}
            ).one()
            ids = conn.execute(
                text("SELECT key, id FROM form_fields WHERE form_id = :f"), {"f": form_id}
            ).all()
            indexes = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
                {"t": f"r{form_id}"},
            ).all()
    finally:
        engine.dispose()
    return form_id, {key: id_ for key, id_ in ids}, {name: sql for name, sql in indexes}


def test_declaring_a_combination_plans_and_builds_its_index(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    create_app(fresh_server, "shop", [ORDERS])
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/shop/orders/design")
    page.get_by_test_id("designer-tab-form").click()
    expect(page.get_by_text("常用筛选与排序组合")).to_be_visible()
    page.get_by_test_id("form-combination-add").click()
    combination = page.get_by_test_id("form-combination-0")
    expect(combination).to_be_visible()
    select_option(page, combination.get_by_test_id("form-combination-0-field-0"), "金额")
    combination.get_by_test_id("form-combination-0-add-field").click()
    select_option(page, combination.get_by_test_id("form-combination-0-field-1"), "状态")
    # Status first, then amount from high to low.
    combination.get_by_test_id("form-combination-0-up-1").click()
    expect(combination.get_by_test_id("form-combination-0-field-0")).to_contain_text("状态")
    expect(combination.get_by_test_id("form-combination-0-field-1")).to_contain_text("金额")
    combination.get_by_test_id("form-combination-0-dir-1").get_by_text("降序").click()
    expect(page.get_by_test_id("designer-dirty")).to_be_visible()
    shot(page, "combination")

    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("plan-modal")).to_be_visible()
    step = page.get_by_test_id("plan-step").filter(has_text="为 状态、金额（降序） 建索引")
    expect(step).to_have_count(1)
    shot(page, "plan")
    page.get_by_test_id("plan-confirm").click()
    expect(page.get_by_test_id("plan-modal")).to_be_hidden()
    expect(page.locator(".ant-message-notice", has_text="已发布").last).to_be_visible()

    form = api_call(fresh_server, "GET", "/apps/shop")["forms"][0]
    assert form["indexes"] == [["status", "-amount"]]
    form_id, ids, indexes = server_indexes(fresh_server, "orders")
    status, amount = ids["status"], ids["amount"]
    assert (
        f"(f{status}, f{amount} DESC, _id, _deleted_at)"
        in indexes[f"idx_r{form_id}_f{status}_f{amount}d"]
    )

    # A field removed from the form leaves its combination, with a notice; publishing drops the
    # old index and builds the one left.
    page.get_by_test_id("designer-remove-amount").click()
    expect(
        page.locator(".ant-message-notice", has_text="已从常用筛选与排序组合中移除：金额").last
    ).to_be_visible()
    page.get_by_test_id("designer-tab-form").click()
    expect(combination.get_by_test_id("form-combination-0-field-0")).to_contain_text("状态")
    expect(combination.get_by_test_id("form-combination-0-field-1")).to_have_count(0)
    shot(page, "field-removed")
    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("plan-modal")).to_be_visible()
    steps = page.get_by_test_id("plan-step")
    expect(steps.filter(has_text="取消索引：状态、金额（降序）")).to_have_count(1)
    expect(steps.filter(has_text="为 状态 建索引")).to_have_count(1)
    page.get_by_test_id("plan-confirm").click()
    expect(page.get_by_test_id("plan-modal")).to_be_hidden()
    form = api_call(fresh_server, "GET", "/apps/shop")["forms"][0]
    assert form["indexes"] == [["status"]]
    _, _, indexes = server_indexes(fresh_server, "orders")
    assert f"idx_r{form_id}_f{status}" in indexes
    assert f"idx_r{form_id}_f{status}_f{amount}d" not in indexes


def test_a_refused_combination_shows_the_error_at_it(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    create_app(fresh_server, "shop", [ORDERS])
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/shop/orders/design")
    page.get_by_test_id("designer-tab-form").click()
    add = page.get_by_test_id("form-combination-add")
    # 1: a formula computed when read (no column of its own); 2 and 3: the same combination.
    add.click()
    select_option(page, page.get_by_test_id("form-combination-0-field-0"), "今天")
    add.click()
    add.click()
    expect(page.get_by_test_id("form-combination-2")).to_be_visible()

    page.get_by_test_id("designer-publish").click()
    expect(page.locator(".ant-message-notice", has_text="定义有错误").last).to_be_visible()
    expect(page.get_by_test_id("plan-modal")).to_be_hidden()
    first = page.get_by_test_id("form-combination-0")
    expect(first.get_by_test_id("form-combination-0-field-0-error")).to_contain_text("没有自己的列")
    third = page.get_by_test_id("form-combination-2")
    expect(third.get_by_test_id("form-combination-2-error")).to_contain_text("重复")
    expect(page.get_by_test_id("form-combination-1-error")).to_have_count(0)
    # Only at their combinations, not at the top of the form settings.
    expect(page.get_by_test_id("form-settings").locator(".ant-alert")).to_have_count(1)
    shot(page, "refused")
    assert not api_call(fresh_server, "GET", "/apps/shop")["forms"][0].get("indexes")
