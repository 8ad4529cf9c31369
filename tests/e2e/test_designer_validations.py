"""Form-level validations (表单校验) in the designer: an administrator adds a cross-field rule
on the form settings tab (checked live), publishes it, and the fill page refuses a record that
breaks it with the rule's own message, then saves one that keeps it."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, Server, Shot, api_call, login, new_page
from tests.e2e.test_designer import publish

BOOKING = {
    "format": "jimu.app/1",
    "key": "rooms",
    "name": {"zh": "会议室", "en": "Rooms"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "booking",
            "name": {"zh": "预订", "en": "Booking"},
            "title_field": "topic",
            "fields": [
                {"key": "topic", "type": "text", "label": {"zh": "会议主题", "en": "Topic"}},
                {
                    "key": "starts",
                    "type": "integer",
                    "label": {"zh": "开始（点）", "en": "Starts (hour)"},
                },
                {
                    "key": "ends",
                    "type": "integer",
                    "label": {"zh": "结束（点）", "en": "Ends (hour)"},
                },
            ],
        }
    ],
}


def test_a_cross_field_rule_is_designed_published_and_enforced(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    api_call(fresh_server, "POST", "/apps", BOOKING)
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/rooms/booking/design")
    page.get_by_test_id("designer-tab-form").click()
    page.get_by_test_id("form-validation-add").click()
    expr = page.get_by_test_id("form-validation-0-expr")
    expr.fill("ends > stars")
    expect(page.get_by_test_id("form-validation-0-expr-check")).to_have_attribute(
        "data-state", "error"
    )  # a typo, caught live
    expr.fill("ends > starts")
    expect(page.get_by_test_id("form-validation-0-expr-check")).to_have_attribute(
        "data-state", "ok"
    )
    page.get_by_test_id("form-validation-0-zh").fill("结束时间必须晚于开始时间")
    page.get_by_test_id("form-validation-0-en").fill("The meeting must end after it starts")
    expect(page.get_by_test_id("designer-dirty")).to_be_visible()
    shot(page, "rule")
    page.get_by_test_id("designer-publish").click()
    publish(page)
    rules = api_call(fresh_server, "GET", "/apps/rooms")["forms"][0]["validations"]
    assert rules == [
        {
            "expr": "ends > starts",
            "message": {
                "zh": "结束时间必须晚于开始时间",
                "en": "The meeting must end after it starts",
            },
        }
    ]

    page.goto("/apps/rooms/booking/new")
    page.get_by_label("会议主题").fill("季度复盘")
    page.get_by_label("开始（点）").fill("15")
    page.get_by_label("结束（点）").fill("14")
    page.get_by_test_id("fill-submit").click()
    expect(
        page.locator(".ant-alert", has_text="结束时间必须晚于开始时间")
    ).to_be_visible()  # the rule's own message
    shot(page, "refused")
    assert api_call(fresh_server, "GET", "/apps/rooms/forms/booking/records")["total"] == 0
    page.get_by_label("结束（点）").fill("16")
    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/rooms/booking\?open=\d+"))
    assert api_call(fresh_server, "GET", "/apps/rooms/forms/booking/records")["total"] == 1
