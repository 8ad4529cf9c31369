"""Data linkage (数据联动) on the fill page in Chromium at 375 px: choosing a customer fills the
linked fields live (asked from the server as the signed-in user), a field the user typed into
is left alone when the customer changes, and the saved record holds what the page showed."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    SAMPLE_PASSWORD,
    Server,
    Shot,
    api_call,
    login,
    new_page,
    records,
    user_token,
)
from tests.forms.linkage_app import shop_app


def linkage_app() -> dict[str, Any]:
    app = shop_app()
    app["key"] = "linkshop"
    app["menu"] = [{"form": "customer"}, {"form": "order"}]
    return app


def test_choosing_a_customer_fills_linked_fields(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    api_call(crm_server, "POST", "/apps", linkage_app())
    records = "/apps/linkshop/forms/customer/records"
    api_call(
        crm_server,
        "POST",
        records,
        {"name": "甲公司", "city": "杭州", "level": "A", "phone": "13800000001", "credit": "5000"},
    )
    api_call(
        crm_server,
        "POST",
        records,
        {"name": "乙公司", "city": "苏州", "level": "B", "phone": "13800000002", "credit": "800"},
    )
    page = new_page(browser, crm_server, width=375, height=740)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/linkshop/order/new")
    expect(page.get_by_test_id("fill-form")).to_be_visible()
    phone = page.get_by_label("联系电话")
    credit = page.get_by_label("额度")
    expect(phone).to_have_value("")
    shot(page, "empty")

    def choose(name: str) -> None:
        page.get_by_test_id("field-customer").locator("input").fill(name[:1])
        page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=name).click()

    choose("甲公司")
    expect(page.get_by_test_id("field-level").get_by_role("radio", name="A")).to_be_checked()
    expect(phone).to_have_value("13800000001")
    expect(credit).to_have_value(re.compile(r"^5,?000(\.00)?$"))
    shot(page, "filled-from-customer")

    phone.fill("13900000000")  # the user's own value is kept from now on
    choose("乙公司")
    expect(page.get_by_test_id("field-level").get_by_role("radio", name="B")).to_be_checked()
    expect(credit).to_have_value(re.compile(r"^800(\.00)?$"))
    expect(phone).to_have_value("13900000000")
    page.get_by_label("标题").fill("第一张订单")
    shot(page, "customer-changed")

    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/linkshop/order\?open=\d+"))
    expect(page.get_by_test_id("record-drawer")).to_contain_text("第一张订单")
    shot(page, "saved")
    saved = api_call(crm_server, "GET", "/apps/linkshop/forms/order/records")["items"][0]
    assert saved["customer"]["title"] == "乙公司"
    assert (saved["level"], saved["phone"], saved["credit"]) == ("B", "13900000000", "800.00")


def test_a_crm_follow_up_takes_the_customer_owner(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    page = new_page(browser, crm_server)
    login(page, "rep_a1", SAMPLE_PASSWORD)
    page.goto("/apps/crm/followup/new")
    owner = page.get_by_test_id("field-customer_owner")
    expect(owner).not_to_contain_text("郑浩")
    page.get_by_test_id("field-customer").locator("input").fill("博元")
    page.locator(
        ".ant-select-dropdown:visible .ant-select-item-option",
        has_text="西安市博元广告传媒有限公司",
    ).click()
    expect(owner).to_contain_text("郑浩（销售一组）")
    page.get_by_test_id("field-method").get_by_role("radio", name="拜访").focus()
    page.keyboard.press("Space")
    page.get_by_label("内容").fill("上门拜访，确认负责人。")
    shot(page, "follow-up-owner-filled")
    page.get_by_test_id("fill-submit").click()
    expect(page.get_by_test_id("record-drawer")).to_contain_text("上门拜访，确认负责人。")
    saved = records(
        crm_server,
        "followup",
        token=user_token(crm_server, "rep_a1"),
        filter='content = "上门拜访，确认负责人。"',
    )["items"][0]
    assert saved["customer_owner"]["name"] == "郑浩（销售一组）"
