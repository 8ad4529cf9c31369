"""The records grid and drawer in Chromium: server-side filter, sort, column chooser, history,
and permissions — a 销售代表 sees only their customers, 财务 never sees 手机, and no button is
shown for an action the role may not take."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    Server,
    Shot,
    api_call,
    column_texts,
    login,
    new_page,
    records,
    select_option,
    settle,
    user_token,
)

FILTER = 'level = "A" AND annual_purchase >= 1000000'


def test_filter_sort_columns_and_record_drawer(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    expected = records(crm_server, "customer", filter=FILTER, limit="1")["total"]
    assert 0 < expected < 240
    page = new_page(browser, crm_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm/customer")
    expect(page.get_by_test_id("grid-total")).to_have_text("共 240 条")

    page.get_by_test_id("grid-filter").click()
    builder = page.get_by_test_id("filter-builder")
    builder.get_by_test_id("filter-add").click()
    condition = builder.get_by_test_id("condition-0")
    select_option(page, condition.get_by_test_id("filter-field"), "客户等级")
    select_option(page, condition.get_by_test_id("filter-value"), "A 类（重点）")
    builder.get_by_test_id("filter-add").click()
    condition = builder.get_by_test_id("condition-1")
    select_option(page, condition.get_by_test_id("filter-field"), "年采购额")
    select_option(page, condition.get_by_test_id("filter-op"), "大于等于")
    condition.get_by_test_id("filter-value").fill("1000000")
    shot(page, "filter-builder")
    builder.get_by_test_id("filter-apply").click()
    expect(page.get_by_test_id("filter-expr")).to_have_text(FILTER)
    expect(page.get_by_test_id("grid-total")).to_have_text(f"共 {expected} 条")
    grid = page.get_by_test_id("records-grid")
    expect(grid.locator("tbody tr.ant-table-row")).to_have_count(min(expected, 20))
    assert set(column_texts(grid, "客户等级")) == {"A 类（重点）"}
    shot(page, "filtered")

    # Column chooser: add 年采购额, then sort by it, largest first (sorted by the server).
    page.get_by_test_id("grid-columns").click()
    # The chooser pops up with an animation (placed, then zoomed in): on a loaded machine a
    # click aimed while it moves can land beside the box, so wait until nothing moves.
    settle(page)
    chooser = page.get_by_test_id("column-chooser")
    chooser.get_by_text("年采购额").click()
    expect(chooser.get_by_role("checkbox", name="年采购额")).to_be_checked()
    page.keyboard.press("Escape")
    header = grid.locator("th", has_text="年采购额")
    expect(header).to_be_visible()
    # Each click changes the sort in the URL; the second must see the first's (asc → desc).
    header.click()
    expect(page).to_have_url(re.compile(r"sort=annual_purchase"))
    header.click()
    expect(page).to_have_url(re.compile(r"sort=-annual_purchase"))
    top = records(crm_server, "customer", filter=FILTER, sort="-annual_purchase", limit="1")[
        "items"
    ][0]
    expect(grid.locator("tbody tr.ant-table-row").first).to_contain_text(top["name"])
    expect(grid.locator("tbody tr.ant-table-row").first).to_contain_text(
        f"{Decimal(top['annual_purchase']):,}"
    )  # 7,849,500.00
    shot(page, "sorted")

    grid.locator("tbody tr.ant-table-row").first.click()
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer.get_by_text(top["name"]).first).to_be_visible()
    fields = drawer.get_by_test_id("record-fields")
    expect(fields).to_contain_text("备注")  # every field, not only the grid's columns
    expect(fields).to_contain_text(top["region"]["province"])
    expect(drawer.get_by_test_id("record-edit")).to_be_visible()
    expect(drawer.get_by_test_id("record-delete")).to_be_visible()
    shot(page, "drawer")
    drawer.get_by_role("tab", name="变更历史").click()
    expect(drawer.get_by_test_id("history")).to_contain_text("创建")
    shot(page, "history")


def test_sales_rep_sees_only_their_customers(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    token = user_token(crm_server, "rep_a1")
    mine = records(crm_server, "customer", token=token, limit="500")
    assert 0 < mine["total"] < 240
    assert {r["owner"]["id"] for r in mine["items"]} == {4}
    page = new_page(browser, crm_server)
    login(page, "rep_a1", "Jimu@2026")
    page.get_by_test_id("app-crm").click()
    page.get_by_test_id("menu-customer").click()
    expect(page.get_by_test_id("grid-total")).to_have_text(f"共 {mine['total']} 条")
    grid = page.get_by_test_id("records-grid")
    expect(grid.locator("tbody tr.ant-table-row")).to_have_count(min(mine["total"], 20))
    assert set(column_texts(grid, "负责人")) == {"郑浩（销售一组）"}
    expect(page.get_by_test_id("nav-catalog")).to_have_count(0)  # not an administrator
    shot(page, "rep-customers")

    # 销售代表 may edit but not delete contracts: the drawer shows no delete button.
    page.get_by_test_id("menu-contract").click()
    page.get_by_test_id("records-grid").locator("tbody tr.ant-table-row").first.click()
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer.get_by_test_id("record-edit")).to_be_visible()
    expect(drawer.get_by_test_id("record-delete")).to_have_count(0)
    shot(page, "contract-without-delete")

    # A rep hands a new customer to a colleague: the member directory is open to everyone.
    page.goto(f"{crm_server.url}/apps/crm/customer/new")
    page.get_by_label("负责人").fill("吴敏")
    expect(
        page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text="吴敏")
    ).to_be_visible()
    shot(page, "rep-picks-a-colleague")


def test_hidden_fields_are_absent(browser: Browser, crm_server: Server, shot: Shot) -> None:
    token = user_token(crm_server, "finance")
    mine = api_call(crm_server, "GET", "/apps/crm/forms/customer/permissions/me", token=token)
    assert mine["fields"]["phone"] == "hidden"
    page = new_page(browser, crm_server)
    login(page, "finance", "Jimu@2026")
    page.goto("/apps/crm/customer")
    grid = page.get_by_test_id("records-grid")
    expect(grid.locator("th", has_text="名称")).to_be_visible()
    expect(grid.locator("th", has_text="手机")).to_have_count(0)
    page.get_by_test_id("grid-columns").click()
    expect(page.get_by_test_id("column-chooser")).not_to_contain_text("手机")
    page.keyboard.press("Escape")
    grid.locator("tbody tr.ant-table-row").first.click()
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer.get_by_test_id("record-fields")).to_contain_text("名称")
    expect(drawer.get_by_test_id("record-fields")).not_to_contain_text("手机")
    expect(page.get_by_test_id("add-record")).to_have_count(1 if "create" in mine["actions"] else 0)
    shot(page, "finance-customer")


def test_english_grid(browser: Browser, crm_server: Server, shot: Shot) -> None:
    page = new_page(browser, crm_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.get_by_test_id("language-switch").click()
    page.goto("/apps/crm/customer")
    expect(page.get_by_test_id("grid-total")).to_have_text("240 records")
    expect(
        page.get_by_test_id("records-grid").locator("th", has_text=re.compile("^Customer level$"))
    ).to_be_visible()
    shot(page, "english-grid")


TASKS = {
    "format": "jimu.app/1",
    "key": "tasks",
    "name": {"zh": "任务", "en": "Tasks"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "task",
            "name": {"zh": "任务", "en": "Task"},
            "title_field": "title",
            "fields": [{"key": "title", "type": "text", "label": "标题"}],
        }
    ],
}


def test_bulk_delete_and_inline_edit(browser: Browser, crm_server: Server, shot: Shot) -> None:
    api_call(crm_server, "POST", "/apps", TASKS)
    api_call(
        crm_server,
        "POST",
        "/apps/tasks/forms/task/records/batch",
        [{"title": f"任务{i}"} for i in range(1, 6)],
    )
    page = new_page(browser, crm_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/tasks/task")
    grid = page.get_by_test_id("records-grid")
    expect(page.get_by_test_id("grid-total")).to_have_text("共 5 条")
    rows = grid.locator("tbody tr.ant-table-row")
    for index in (0, 1, 2):
        rows.nth(index).locator(".ant-table-selection-column input").check()
    expect(page.get_by_test_id("record-drawer")).to_have_count(0)  # ticking a row does not open it
    page.get_by_test_id("delete-selected").click()
    shot(page, "confirm-bulk-delete")
    page.get_by_role("button", name=re.compile("^确 ?定$")).click()
    expect(page.get_by_test_id("grid-total")).to_have_text("共 2 条")
    assert api_call(crm_server, "GET", "/apps/tasks/forms/task/records")["total"] == 2
    page.get_by_test_id("open-recycle-bin").click()
    bin_drawer = page.get_by_test_id("recycle-bin")
    expect(bin_drawer.locator(".ant-list-item")).to_have_count(3)
    shot(page, "recycle-bin")

    # Edit a title in the grid: Enter saves it (a PATCH with the row's _version).
    page.keyboard.press("Escape")
    # Closing, the drawer gives the focus back to the button that opened it: let it finish.
    expect(bin_drawer).to_be_hidden()
    page.get_by_test_id("inline-toggle").click()
    first = api_call(crm_server, "GET", "/apps/tasks/forms/task/records?sort=-_id&limit=1")[
        "items"
    ][0]
    cell = (
        grid.locator("tbody tr.ant-table-row")
        .filter(has_text=first["title"])
        .locator('td[data-field="title"]')
    )
    cell.click()
    editor = page.locator(f"#inline-{first['_id']}-title")
    expect(editor).to_be_focused()
    editor.fill("改过的任务")
    shot(page, "inline-edit")
    page.keyboard.press("Enter")
    expect(grid.locator('td[data-field="title"]', has_text="改过的任务")).to_be_visible()
    expect(page.get_by_test_id("record-drawer")).to_have_count(0)
    saved = api_call(crm_server, "GET", f"/apps/tasks/forms/task/records/{first['_id']}")
    assert saved["title"] == "改过的任务" and saved["_version"] == first["_version"] + 1
