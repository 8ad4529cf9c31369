"""The same UI on PostgreSQL: install the CRM from the catalog, search and filter the grid, fill
and edit a record — the server runs on a database of its own on the test PostgreSQL server."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, Server, Shot, login, new_page, records, select_option


def test_crm_on_postgresql(browser: Browser, postgres_server: Server, shot: Shot) -> None:
    page = new_page(browser, postgres_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/catalog")
    page.get_by_test_id("pack-crm").get_by_role("button", name=re.compile("安 ?装")).click()
    expect(page).to_have_url(re.compile(r"/apps/crm$"), timeout=120_000)
    page.get_by_test_id("menu-customer").click()
    expect(page.get_by_test_id("grid-total")).to_have_text("共 240 条")

    expected = records(postgres_server, "customer", q="博元", limit="0")["total"]
    assert 1 <= expected < 240
    page.get_by_test_id("grid-search").locator("input").fill("博元")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("grid-total")).to_have_text(f"共 {expected} 条")
    page.get_by_test_id("grid-search").locator("input").fill("西安市博元广告传媒有限公司")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("grid-total")).to_have_text("共 1 条")
    page.get_by_test_id("records-grid").locator("tbody tr.ant-table-row").first.click()
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("西安市博元广告传媒有限公司")
    shot(page, "search-and-drawer")

    # Edit through the fill page: the change is saved with the record's _version.
    drawer.get_by_test_id("record-edit").click()
    expect(page).to_have_url(re.compile(r"/apps/crm/customer/\d+/edit"))
    select_option(page, page.get_by_test_id("field-source").locator(".ant-select"), "展会")
    page.get_by_label("备注").fill("在 PostgreSQL 上修改")
    # 负责人: the member directory is searched as one types.
    page.get_by_label("负责人").fill("吴敏")
    page.locator(
        ".ant-select-dropdown:visible .ant-select-item-option", has_text="吴敏（销售总监）"
    ).click()
    page.get_by_test_id("fill-submit").click()
    expect(page.get_by_test_id("record-drawer")).to_contain_text("在 PostgreSQL 上修改")
    page.get_by_test_id("record-drawer").get_by_role("tab", name="变更历史").click()
    expect(page.get_by_test_id("history")).to_contain_text("修改")
    shot(page, "edited")
    saved = records(postgres_server, "customer", q="西安市博元广告传媒有限公司")["items"][0]
    assert saved["note"] == "在 PostgreSQL 上修改"
    assert saved["source"] == "trade_show"
    assert saved["_version"] == 2
    assert saved["owner"]["name"] == "吴敏（销售总监）"
