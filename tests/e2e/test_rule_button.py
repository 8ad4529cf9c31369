"""A rule's button on the record page in Chromium (issue 14, button trigger): on the stock CRM, a
sync button rule "标记赢单" on opportunities shows in the record drawer, asks for a confirmation,
sets the deal to 已签约 and says so; pressed again, its condition no longer holds and it says
nothing was done."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, Server, Shot, api_call, login, new_page

MARK_WON = {
    "key": "mark_won",
    "name": {"zh": "标记赢单", "en": "Mark won"},
    "form": "opportunity",
    "on": {"type": "button", "label": {"zh": "标记赢单", "en": "Mark won"}},
    "when": 'stage <> "won"',
    "mode": "sync",
    "actions": [
        {"type": "update_records", "target": "self", "values": {"stage": {"value": "won"}}}
    ],
}


@pytest.mark.server_template("crm-no-samples")
def test_a_rule_button_on_the_record_page(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    revision = api_call(fresh_server, "GET", "/apps/crm")["_revision"]
    api_call(fresh_server, "PUT", "/apps/crm/rules", {"_revision": revision, "rules": [MARK_WON]})
    customer = api_call(
        fresh_server, "POST", "/apps/crm/forms/customer/records", {"name": "华东电气"}
    )
    deal = api_call(
        fresh_server,
        "POST",
        "/apps/crm/forms/opportunity/records",
        {"title": "华东配电柜", "customer": customer["_id"], "stage": "negotiation"},
    )

    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto(f"/apps/crm/opportunity?open={deal['_id']}")
    button = page.get_by_test_id("rule-button-mark_won")
    expect(button).to_have_text("标记赢单")
    button.click()
    confirm = page.locator(".ant-popconfirm")
    expect(confirm).to_contain_text("确定执行「标记赢单」？")
    shot(page, "confirm")
    confirm.locator("button.ant-btn-primary").click()
    expect(page.get_by_text("已执行")).to_be_visible()
    found = api_call(fresh_server, "GET", f"/apps/crm/forms/opportunity/records/{deal['_id']}")
    assert found["stage"] == "won"
    expect(page.get_by_test_id("record-fields")).to_contain_text("已签约")
    runs = api_call(fresh_server, "GET", "/apps/crm/rules/mark_won/runs")
    assert [r["state"] for r in runs["items"]] == ["succeeded"]
    shot(page, "pressed")

    # pressed again: the condition no longer holds
    button.click()
    page.locator(".ant-popconfirm button.ant-btn-primary").click()
    expect(page.get_by_text("条件不满足，未执行")).to_be_visible()
    assert api_call(fresh_server, "GET", "/apps/crm/rules/mark_won/runs")["total"] == 1
