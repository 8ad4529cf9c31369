"""A location field on a phone: the fill page takes the device's position (with the browser's
permission), the place is typed, and the saved record holds the coordinates."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    REDUCED_MOTION,
    Server,
    Shot,
    api_call,
    login,
    watch,
)

SITE_CHECKS = {
    "format": "jimu.app/1",
    "key": "sites",
    "name": {"zh": "巡店", "en": "Store visits"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "check",
            "name": {"zh": "巡店记录", "en": "Store check"},
            "title_field": "store",
            "fields": [
                {
                    "key": "store",
                    "type": "text",
                    "label": {"zh": "门店", "en": "Store"},
                    "required": True,
                },
                {
                    "key": "where",
                    "type": "location",
                    "label": {"zh": "签到位置", "en": "Check-in location"},
                    "required": True,
                },
            ],
        }
    ],
}


def test_check_in_with_the_devices_position(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    api_call(fresh_server, "POST", "/apps", SITE_CHECKS)
    context = browser.new_context(
        viewport={"width": 375, "height": 740},
        base_url=fresh_server.url,
        locale="zh-CN",
        geolocation={"latitude": 22.543096, "longitude": 114.057865},
        permissions=["geolocation"],
        reduced_motion=REDUCED_MOTION,
    )
    watch(context)
    page = context.new_page()
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/sites/check/new")
    page.get_by_label("门店").fill("福田中心店")
    page.get_by_test_id("location-where-locate").click()
    expect(page.get_by_test_id("location-where-lat")).to_have_value("22.543096")
    expect(page.get_by_test_id("location-where-lng")).to_have_value("114.057865")
    page.get_by_test_id("location-where-address").fill("深圳市福田区市民中心")
    shot(page, "located")
    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/sites/check\?open=\d+"))
    expect(page.get_by_test_id("record-drawer")).to_contain_text("深圳市福田区市民中心")
    shot(page, "saved")
    saved = api_call(fresh_server, "GET", "/apps/sites/forms/check/records")["items"][0]
    assert saved["where"] == {
        "lat": 22.543096,
        "lng": 114.057865,
        "address": "深圳市福田区市民中心",
    }

    # Without the position, half a pair is refused at the field and nothing is written.
    page.goto("/apps/sites/check/new")
    page.get_by_label("门店").fill("罗湖店")
    page.get_by_test_id("location-where-lat").fill("22.5")
    page.get_by_test_id("fill-submit").click()
    expect(
        page.get_by_test_id("field-where").locator(".ant-form-item-explain-error")
    ).to_be_visible()
    shot(page, "half-a-pair")
    assert api_call(fresh_server, "GET", "/apps/sites/forms/check/records")["total"] == 1
    context.close()
