"""≤ 3 taps for daily entries on a 375 × 760 phone (issue 16 items 2 and 3), in real Chromium.

A tap is every trusted `pointerdown` on the document (capture phase), counted in
sessionStorage by an init script so the count survives navigations; typing is not counted.
From the app home a 销售代表 saves a 跟进记录 (the customer of their latest follow-up filled in,
a method picked, the content typed) and a 工作简报, each in at most 3 taps; the main controls
are 44 px touch targets; a new rep's empty 客户 picker says why and adds one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    REDUCED_MOTION,
    SAMPLE_PASSWORD,
    Server,
    ServerTemplates,
    Shot,
    api_call,
    login,
    new_page,
    records,
    settle,
    stop_server,
    user_token,
    watch,
)

COUNT_TAPS = """(() => {
  addEventListener("pointerdown", (e) => {
    if (!e.isTrusted) return;
    sessionStorage.setItem("__taps", String(Number(sessionStorage.getItem("__taps") || "0") + 1));
  }, true);
})();"""
REP = "rep_old"
NEW_REP = "rep_new"
PLACE = "深圳市福田区福中三路市民中心"


class Regeo(BaseHTTPRequestHandler):
    """A local reverse geocoder in AMap's `regeo` shape: every position is the 市民中心."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "1", "regeocode": {"formatted_address": PLACE}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


CHECK_INS = {
    "format": "jimu.app/1",
    "key": "checkins",
    "name": {"zh": "签到", "en": "Check-ins"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "checkin",
            "name": {"zh": "签到", "en": "Check-in"},
            "title_field": "note",
            "fields": [
                {"key": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}},
                {"key": "where", "type": "location", "label": {"zh": "位置", "en": "Where"}},
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def server(server_templates: ServerTemplates) -> Iterator[Server]:
    """One Jimu for this file: the CRM with its sample data, a sales rep who owns nothing, a
    check-in app with a location field, and a local reverse geocoder configured."""
    regeo = ThreadingHTTPServer(("127.0.0.1", 0), Regeo)
    threading.Thread(target=regeo.serve_forever, daemon=True).start()
    os.environ["JIMU_GEOCODER_URL"] = f"http://127.0.0.1:{regeo.server_address[1]}/regeo"
    try:
        started = server_templates.start(
            "crm-no-samples", Path(tempfile.mkdtemp(prefix="jimu-phone-"))
        )
    finally:
        del os.environ["JIMU_GEOCODER_URL"]
    try:
        api_call(started, "POST", "/apps", CHECK_INS)
        # The CRM without sample data (the template): the two reps are made here.
        role = next(
            r for r in api_call(started, "GET", "/roles?app=crm") if r["key"] == "sales_rep"
        )
        for username, name in ((REP, "老销售"), (NEW_REP, "新销售")):
            user = api_call(
                started,
                "POST",
                "/users",
                {"username": username, "display_name": name, "password": SAMPLE_PASSWORD},
            )
            api_call(started, "POST", f"/roles/{role['id']}/members", {"user_id": user["id"]})
        yield started
    finally:
        stop_server(started)
        regeo.shutdown()
        regeo.server_close()


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
    token = user_token(server, REP)
    for name in ("上海远景科技有限公司", "广州群英建筑工程有限公司"):
        mine = api_call(
            server, "POST", "/apps/crm/forms/customer/records", {"name": name}, token=token
        )
    # The customer the rep last worked with: their latest follow-up is about it.
    api_call(
        server,
        "POST",
        "/apps/crm/forms/followup/records",
        {"customer": mine["_id"], "method": "wechat", "content": "微信确认了需求。"},
        token=token,
    )
    page = phone(browser, server, REP)
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
    created = dt.datetime.fromisoformat(report["_created_at"])  # its own day, not the test's
    assert report["date"] == created.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
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
    settle(page)  # the dropdown has finished opening (it grows into place)
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


def test_the_place_of_a_check_in_comes_from_the_geocoder(browser: Browser, server: Server) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 760},
        base_url=server.url,
        locale="zh-CN",
        geolocation={"latitude": 22.543096, "longitude": 114.057865},
        permissions=["geolocation"],
        reduced_motion=REDUCED_MOTION,
    )
    watch(context)
    page = context.new_page()
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/checkins/checkin/new")
    at_least_44(page.get_by_test_id("location-where-locate"))
    page.get_by_test_id("location-where-locate").click()
    address = page.get_by_test_id("location-where-address")
    expect(address).to_have_value(PLACE)
    expect(page.get_by_test_id("location-where-place")).to_have_text("请确认地点，或直接修改")
    address.fill(PLACE + "东门")  # the user corrects the place
    page.get_by_test_id("fill-submit").click()
    expect(page.get_by_test_id("record-drawer")).to_contain_text(PLACE + "东门")
    saved = api_call(server, "GET", "/apps/checkins/forms/checkin/records")["items"][0]
    assert saved["where"] == {"lat": 22.543096, "lng": 114.057865, "address": PLACE + "东门"}
    context.close()
