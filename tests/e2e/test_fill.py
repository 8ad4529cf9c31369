"""The fill page in Chromium: a 跟进记录 added from the app home in at most 3 clicks, and a form
filled on a 375 px wide screen where a formula and a show/hide rule react as the user types and
the server's field-level errors appear at their fields."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    Server,
    Shot,
    api_call,
    login,
    new_page,
    records,
    user_token,
)

# Counts pointer presses the user makes (keyboard activation is not a click).
COUNT_CLICKS = "window.__clicks = 0; addEventListener('pointerdown', (e) => { if (e.isTrusted) window.__clicks++; }, true);"


def clicks(page: Page) -> int:
    count: int = page.evaluate("window.__clicks")
    return count


def test_add_a_followup_from_the_app_home_in_three_clicks(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    page = new_page(browser, crm_server)
    login(page, "rep_a1", "Jimu@2026")
    page.add_init_script(COUNT_CLICKS)
    page.goto("/apps/crm")
    expect(page.get_by_test_id("quick-add-followup")).to_be_visible()
    assert clicks(page) == 0
    shot(page, "app-home")

    page.get_by_test_id("quick-add-followup").click()  # click 1
    picker = page.get_by_test_id("field-customer")
    expect(picker.locator("input")).to_be_focused()  # the first field has the focus
    page.keyboard.type("西安市博元")  # searches titles on the server (q=)
    # Enter picks the active option: wait until the search results (not the list shown before
    # the search came back) put this customer there.
    active = page.locator(
        ".ant-select-dropdown:visible .ant-select-item-option-active",
        has_text="西安市博元广告传媒有限公司",
    )
    expect(active).to_be_visible()
    page.keyboard.press("Enter")
    expect(picker).to_contain_text("西安市博元广告传媒有限公司")
    page.get_by_test_id("field-method").get_by_role("radio", name="电话").focus()
    page.keyboard.press("Space")
    page.get_by_label("内容").fill("电话沟通了新报价，客户下周回复。")
    shot(page, "filled")
    page.get_by_test_id("fill-submit").click()  # click 2
    expect(page).to_have_url(re.compile(r"/apps/crm/followup\?open=\d+"))
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("电话沟通了新报价")
    expect(drawer).to_contain_text("西安市博元广告传媒有限公司")
    shot(page, "saved")
    assert clicks(page) <= 3, clicks(page)

    token = user_token(crm_server, "rep_a1")
    found = records(
        crm_server, "followup", token=token, filter='content = "电话沟通了新报价，客户下周回复。"'
    )
    assert found["total"] == 1
    saved = found["items"][0]
    assert saved["customer"]["title"] == "西安市博元广告传媒有限公司"
    assert saved["method"] == "phone"
    assert saved["_created_by"] == 4


DEMO: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "orders",
    "name": {"zh": "订货", "en": "Orders"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "order",
            "name": {"zh": "订单", "en": "Order"},
            "title_field": "customer_name",
            "fields": [
                {
                    "key": "customer_name",
                    "type": "text",
                    "label": {"zh": "客户名称", "en": "Customer"},
                    "required": True,
                },
                {
                    "key": "phone",
                    "type": "phone",
                    "label": {"zh": "手机", "en": "Mobile"},
                    "width": "half",
                },
                {
                    "key": "qty",
                    "type": "integer",
                    "label": {"zh": "数量", "en": "Quantity"},
                    "width": "half",
                },
                {
                    "key": "price",
                    "type": "money",
                    "label": {"zh": "单价", "en": "Unit price"},
                    "precision": 2,
                    "width": "half",
                },
                {
                    "key": "total",
                    "type": "formula",
                    "label": {"zh": "总价", "en": "Total"},
                    "expr": "qty * price",
                    "precision": 2,
                    "width": "half",
                },
                {
                    "key": "approval_note",
                    "type": "textarea",
                    "label": {"zh": "大额说明", "en": "Large order note"},
                    "required": True,
                    "visible_when": "total >= 10000",
                },
                {
                    "key": "channel",
                    "type": "select",
                    "label": {"zh": "渠道", "en": "Channel"},
                    "options": [
                        {"value": "online", "label": {"zh": "线上", "en": "Online"}},
                        {"value": "store", "label": {"zh": "门店", "en": "Store"}},
                    ],
                },
            ],
        }
    ],
    "menu": [{"form": "order", "label": {"zh": "订单", "en": "Orders"}}],
}


def test_fill_on_a_phone_sized_screen(browser: Browser, crm_server: Server, shot: Shot) -> None:
    api_call(crm_server, "POST", "/apps", DEMO)
    page = new_page(browser, crm_server, width=375, height=740)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/orders/order/new")
    form = page.get_by_test_id("fill-form")
    expect(form).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
    note = page.get_by_test_id("field-approval_note")
    total = page.get_by_test_id("computed-total")
    expect(note).to_have_count(0)
    shot(page, "empty")

    page.get_by_label("客户名称").fill("深圳市前海贸易有限公司")
    page.get_by_label("手机").fill("12345")
    page.get_by_label("数量").fill("3")
    page.get_by_label("单价").fill("400.50")
    expect(total).to_have_text("¥1,201.50")  # computed in the browser, shown as money
    expect(note).to_have_count(0)
    shot(page, "small-order")
    page.get_by_label("数量").fill("30")
    expect(total).to_have_text("¥12,015.00")
    expect(note).to_be_visible()  # total >= 10000 shows the note
    # ...without taking the focus (or the typed value) from the field being typed into.
    expect(page.get_by_label("数量")).to_be_focused()
    expect(page.get_by_label("数量")).to_have_value("30")
    shot(page, "large-order-shows-note")

    # The server refuses, and says why at the field: first the malformed phone number...
    page.get_by_test_id("fill-submit").click()
    phone_error = page.get_by_test_id("field-phone").locator(".ant-form-item-explain-error")
    expect(phone_error).to_contain_text("电话号码格式不正确")
    shot(page, "server-error-phone")
    page.get_by_label("手机").fill("13800138000")
    expect(phone_error).to_have_count(0)
    # ...then the note, required because the rule shows it.
    page.get_by_test_id("fill-submit").click()
    expect(note.locator(".ant-form-item-explain-error")).to_contain_text("必填")
    shot(page, "server-error-required")
    assert api_call(crm_server, "GET", "/apps/orders/forms/order/records")["total"] == 0

    page.get_by_label("大额说明").fill("年度框架采购")
    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/orders/order\?open=\d+"))
    expect(page.get_by_test_id("record-drawer")).to_contain_text("¥12,015.00")
    shot(page, "saved")
    saved = api_call(crm_server, "GET", "/apps/orders/forms/order/records")["items"][0]
    assert saved["total"] == "12015.00"
    assert saved["approval_note"] == "年度框架采购"

    # Delete from the drawer, then bring it back from the recycle bin.
    page.get_by_test_id("record-delete").click()
    page.get_by_role("button", name=re.compile("^确 ?定$")).click()
    expect(page.get_by_test_id("grid-total")).to_have_text("共 0 条")
    page.get_by_test_id("open-recycle-bin").click()
    bin_drawer = page.get_by_test_id("recycle-bin")
    expect(bin_drawer).to_contain_text("深圳市前海贸易有限公司")
    shot(page, "recycle-bin")
    bin_drawer.get_by_test_id(f"restore-{saved['_id']}").click()
    expect(bin_drawer).to_contain_text("回收站是空的")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("grid-total")).to_have_text("共 1 条")
    assert api_call(crm_server, "GET", "/apps/orders/forms/order/records")["total"] == 1


def test_add_a_followup_from_a_customer(browser: Browser, crm_server: Server, shot: Shot) -> None:
    page = new_page(browser, crm_server)
    login(page, "rep_a1", "Jimu@2026")
    page.goto("/apps/crm/customer")
    page.get_by_test_id("grid-search").locator("input").fill("西安市博元广告传媒有限公司")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("grid-total")).to_have_text("共 1 条")
    page.get_by_test_id("records-grid").locator("tbody tr.ant-table-row").first.click()
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer.get_by_test_id("add-related-contact")).to_be_visible()
    drawer.get_by_test_id("add-related-followup").click()
    expect(page).to_have_url(re.compile(r"/apps/crm/followup/new$"))
    expect(page.get_by_test_id("field-customer")).to_contain_text("西安市博元广告传媒有限公司")
    page.get_by_test_id("field-method").get_by_role("radio", name="微信").focus()
    page.keyboard.press("Space")
    page.get_by_label("内容").fill("微信发送了产品目录。")
    shot(page, "prefilled")
    page.get_by_test_id("fill-submit").click()
    expect(page.get_by_test_id("record-drawer")).to_contain_text("微信发送了产品目录。")
    token = user_token(crm_server, "rep_a1")
    saved = records(crm_server, "followup", token=token, filter='content = "微信发送了产品目录。"')[
        "items"
    ][0]
    assert saved["customer"]["title"] == "西安市博元广告传媒有限公司"
    assert saved["method"] == "wechat"


def test_contract_with_line_items(browser: Browser, crm_server: Server, shot: Shot) -> None:
    page = new_page(browser, crm_server)
    login(page, "rep_a1", "Jimu@2026")
    page.goto("/apps/crm/contract/new")
    page.get_by_label("合同名称").fill("博元 2027 年度采购")
    page.get_by_test_id("field-customer").locator("input").fill("西安市博元")
    page.locator(
        ".ant-select-dropdown:visible .ant-select-item-option",
        has_text="西安市博元广告传媒有限公司",
    ).click()
    page.get_by_label("开始日期").fill("2027-01-01")
    page.keyboard.press("Enter")
    page.get_by_label("结束日期").fill("2027-12-31")
    page.keyboard.press("Enter")
    shot(page, "header")

    items = page.get_by_test_id("subform-items")
    page.get_by_test_id("subform-items-add").click()
    page.get_by_test_id("subform-items-add").click()
    page.locator("#field-input-items-0-product").fill("笔记本电脑")
    page.locator("#field-input-items-0-qty").fill("2")
    page.locator("#field-input-items-0-price").fill("4999.50")
    expect(items.get_by_test_id("computed-items-0-subtotal")).to_have_text("9,999")  # live, per row
    page.locator("#field-input-items-1-product").fill("上门安装")
    page.locator("#field-input-items-1-qty").fill("1")
    page.locator("#field-input-items-1-price").fill("300")
    expect(items.get_by_test_id("computed-items-1-subtotal")).to_have_text("300")
    shot(page, "line-items")
    page.get_by_test_id("fill-submit").click()
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("上门安装")
    expect(drawer).to_contain_text("¥10,299.00")  # the rollup, computed by the server
    shot(page, "saved")
    token = user_token(crm_server, "rep_a1")
    saved = records(crm_server, "contract", token=token, q="博元 2027 年度采购")["items"][0]
    assert [(r["product"], r["subtotal"]) for r in saved["items"]] == [
        ("笔记本电脑", "9999.00"),
        ("上门安装", "300.00"),
    ]
    assert saved["amount"] == "10299.00"


def test_opportunity_in_english_with_a_live_weighted_amount(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    page = new_page(browser, crm_server, lang="en")
    login(page, "rep_b1", "Jimu@2026")
    page.get_by_test_id("language-switch").click()
    page.goto("/apps/crm")
    page.get_by_test_id("quick-add-opportunity").click()
    expect(page.get_by_text("Opportunity name")).to_be_visible()
    page.get_by_label("Opportunity name").fill("Cloud migration")
    page.get_by_test_id("field-customer").locator(".ant-select").click()
    page.locator(".ant-select-dropdown:visible .ant-select-item-option").first.click()
    page.get_by_label("Amount").fill("80000")
    page.get_by_label("Win rate").fill("35")  # typed as a percentage, stored as 0.35
    expect(page.get_by_test_id("computed-weighted_amount")).to_have_text("¥28,000.00")
    shot(page, "english-opportunity")
    page.get_by_test_id("fill-submit").click()
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("Cloud migration")
    expect(drawer).to_contain_text("35%")
    expect(drawer).to_contain_text("¥28,000.00")
    token = user_token(crm_server, "rep_b1")
    saved = records(crm_server, "opportunity", token=token, q="Cloud migration")["items"][0]
    assert saved["win_rate"].rstrip("0") == "0.35"
    assert saved["weighted_amount"] == "28000.00"
