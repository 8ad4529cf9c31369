"""≤ 3 taps for daily entries on a 375 × 760 phone (issue 16 items 2 and 3), in real Chromium.

A tap is every trusted `pointerdown` on the document (capture phase), counted in
sessionStorage by an init script so the count survives navigations; typing is not counted.
From the app home a 销售代表 saves a 跟进记录 (the customer of their latest follow-up filled in,
a method picked, the content typed) and a 工作简报, each in at most 3 taps; the main controls
are 44 px touch targets; a new rep's empty 客户 picker says why and adds one.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import (
    SAMPLE_PASSWORD,
    Server,
    Shot,
    api_call,
    login,
    new_page,
    records,
    start_server,
    stop_server,
    user_token,
)

COUNT_TAPS = """(() => {
  addEventListener("pointerdown", (e) => {
    if (!e.isTrusted) return;
    sessionStorage.setItem("__taps", String(Number(sessionStorage.getItem("__taps") || "0") + 1));
  }, true);
})();"""
NEW_REP = "rep_new"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One Jimu for this file: the CRM with its sample data, and a sales rep who owns nothing."""
    started = start_server(Path(tempfile.mkdtemp(prefix="jimu-phone-")))
    try:
        api_call(started, "POST", "/catalog/crm/install", {"sample_data": True})
        user = api_call(
            started,
            "POST",
            "/users",
            {"username": NEW_REP, "display_name": "新销售", "password": SAMPLE_PASSWORD},
        )
        role = next(
            r for r in api_call(started, "GET", "/roles?app=crm") if r["key"] == "sales_rep"
        )
        api_call(started, "POST", f"/roles/{role['id']}/members", {"user_id": user["id"]})
        yield started
    finally:
        stop_server(started)


def phone(browser: Browser, server: Server, username: str) -> Page:
    page = new_page(browser, server, width=375, height=760)
    page.context.add_init_script(COUNT_TAPS)
    login(page, username, SAMPLE_PASSWORD)
    return page


def taps(page: Page) -> int:
    count: int = page.evaluate("Number(sessionStorage.getItem('__taps') || '0')")
    return count


def from_the_app_home(page: Page) -> None:
    """Open the CRM's home (an address typed or bookmarked: no tap) and start counting."""
    page.goto("/apps/crm")
    expect(page.get_by_test_id("quick-add-followup")).to_be_visible()
    page.evaluate("sessionStorage.setItem('__taps', '0')")


def at_least_44(locator: Locator) -> None:
    box = locator.bounding_box()
    assert box is not None
    assert box["height"] >= 44 and box["width"] >= 44, box


def test_a_followup_and_a_work_report_in_three_taps_each(
    browser: Browser, server: Server, shot: Shot
) -> None:
    token = user_token(server, "rep_a1")
    mine = records(server, "customer", token=token, sort="-_id", limit="1")["items"][0]
    # The customer rep_a1 last worked with: their latest follow-up is about it.
    api_call(
        server,
        "POST",
        "/apps/crm/forms/followup/records",
        {"customer": mine["_id"], "method": "wechat", "content": "微信确认了需求。"},
        token=token,
    )
    page = phone(browser, server, "rep_a1")
    from_the_app_home(page)
    entry = page.get_by_test_id("quick-add-followup")
    at_least_44(entry)
    at_least_44(page.get_by_test_id("language-switch"))
    at_least_44(page.locator(".ant-layout-sider-zero-width-trigger"))
    # On a phone the quick-add entries come first, above the forms' cards.
    cards = page.locator(".jimu-home .ant-card").first.bounding_box()
    quick = page.get_by_test_id("quick-add").bounding_box()
    assert cards is not None and quick is not None and quick["y"] < cards["y"]
    shot(page, "app-home")

    entry.click()  # tap 1
    customer = page.get_by_test_id("field-customer")
    expect(customer).to_contain_text(mine["name"])
    expect(page.get_by_test_id("usual-values")).to_contain_text("客户")
    visit = page.get_by_test_id("field-method").locator(
        ".ant-radio-button-wrapper", has_text="拜访"
    )
    at_least_44(visit)
    # The submit bar is on screen before anything scrolls (sticky at the bottom of the phone).
    submit = page.get_by_test_id("fill-submit")
    bar = submit.bounding_box()
    assert bar is not None and bar["y"] + bar["height"] <= 760 and bar["height"] >= 44, bar
    # The menu button does not cover the form card.
    trigger = page.locator(".ant-layout-sider-zero-width-trigger").bounding_box()
    card = page.locator(".jimu-fill .ant-card").bounding_box()
    assert trigger is not None and card is not None
    assert trigger["y"] + trigger["height"] <= card["y"], (trigger, card)
    visit.click()  # tap 2
    page.get_by_label("内容").fill("上门拜访，演示了新版本。")
    shot(page, "followup-filled")
    submit.click()  # tap 3
    expect(page).to_have_url(re.compile(r"/apps/crm/followup\?open=\d+"))
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("上门拜访，演示了新版本。")
    at_least_44(drawer.locator(".ant-drawer-close"))
    assert taps(page) == 3, taps(page)
    shot(page, "followup-saved")
    saved = records(server, "followup", token=token, filter='content = "上门拜访，演示了新版本。"')
    assert saved["total"] == 1
    followup = saved["items"][0]
    assert (followup["customer"]["_id"], followup["method"]) == (mine["_id"], "visit")
    assert followup["_created_by"] == mine["_owner"]

    from_the_app_home(page)
    page.get_by_test_id("quick-add-work_report").click()  # tap 1
    page.get_by_label("今日工作").fill("拜访 2 家客户，更新 3 个商机。")
    page.get_by_label("明日计划").fill("准备合同。")
    page.get_by_test_id("fill-submit").click()  # tap 2
    expect(page.get_by_test_id("record-drawer")).to_contain_text("拜访 2 家客户")
    assert taps(page) <= 3 and taps(page) == 2, taps(page)
    shot(page, "work-report-saved")
    reports = records(
        server, "work_report", token=token, filter='today = "拜访 2 家客户，更新 3 个商机。"'
    )
    assert reports["total"] == 1
    report = reports["items"][0]
    assert report["date"] == dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert report["tomorrow"] == "准备合同。"


def test_a_new_reps_empty_customer_picker_says_why_and_adds_one(
    browser: Browser, server: Server, shot: Shot
) -> None:
    page = phone(browser, server, NEW_REP)
    from_the_app_home(page)
    page.get_by_test_id("quick-add-followup").click()
    page.get_by_test_id("relation-customer").click()
    empty = page.get_by_test_id("relation-customer-empty")
    expect(empty).to_contain_text("你只能看到自己负责的客户，目前还没有")
    shot(page, "empty-picker")
    add = page.get_by_test_id("relation-customer-add")
    at_least_44(add)
    add.click()
    expect(page).to_have_url(f"{server.url}/apps/crm/customer/new")
    page.get_by_label("名称", exact=True).fill("新销售的第一个客户")
    page.get_by_test_id("fill-submit").click()
    # Back on the follow-up, with the new customer picked.
    expect(page).to_have_url(f"{server.url}/apps/crm/followup/new")
    expect(page.get_by_test_id("field-customer")).to_contain_text("新销售的第一个客户")
    shot(page, "customer-picked")
    token = user_token(server, NEW_REP)
    assert [c["name"] for c in records(server, "customer", token=token)["items"]] == [
        "新销售的第一个客户"
    ]
