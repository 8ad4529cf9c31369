"""The rule pages' runtime steps in Chromium — needs rulecore (issue 14's runtime endpoints:
`GET /apps/{app}/rules/state`, `POST …/enabled`, `GET …/runs`, `POST …/runs/{run}/retry`,
`POST …/test`). Written against the contract before the runtime was merged: run it once the
rulecore branch is in (the coordinator enables it in the suite then).

On the stock CRM plus two forms of the test's own (交接单, and 严格交接单 whose required 备注 the
rule leaves blank, so its runs fail): an opportunity set to 已签约 runs both async rules; the list
shows each one's last run (成功 / 失败); the run log lists the runs, expands to each action's
outcome or error, filters by state and queues a failed run again with 重试; the enable switch
takes effect at once; a test run of the rule as drafted shows the condition and each action's
outcome and writes nothing; on a 375 px phone the run log does not scroll sideways."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    Server,
    Shot,
    api_call,
    login,
    new_page,
    settle,
)

HANDOVER = {
    "key": "handover",
    "name": {"zh": "交接单", "en": "Handover"},
    "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "label": {"zh": "名称", "en": "Title"}},
        {
            "key": "customer",
            "type": "relation",
            "target": "customer",
            "label": {"zh": "客户", "en": "Customer"},
        },
        {"key": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}},
    ],
}
STRICT = {
    "key": "strict_handover",
    "name": {"zh": "严格交接单", "en": "Strict handover"},
    "fields": [
        {"key": "title", "type": "text", "label": {"zh": "名称", "en": "Title"}},
        {"key": "note", "type": "text", "required": True, "label": {"zh": "备注", "en": "Note"}},
    ],
}
WON = {"type": "field_changed", "fields": ["stage"]}
RULES = [
    {
        "key": "won_handover",
        "name": {"zh": "赢单生成交接单", "en": "Won deal hands over"},
        "form": "opportunity",
        "on": WON,
        "when": 'stage = "won"',
        "mode": "async",
        "actions": [
            {
                "type": "create_record",
                "form": "handover",
                "values": {
                    "title": 'title & " 交接"',
                    "customer": {"copy": "customer"},
                    "amount": "amount",
                },
            }
        ],
    },
    {
        "key": "won_strict",
        "name": {"zh": "赢单生成严格交接单", "en": "Won deal, strict handover"},
        "form": "opportunity",
        "on": WON,
        "when": 'stage = "won"',
        "mode": "async",
        "actions": [
            {"type": "create_record", "form": "strict_handover", "values": {"title": "title"}}
        ],
    },
]


def crm(server: Server) -> dict[str, Any]:
    definition: dict[str, Any] = api_call(server, "GET", "/apps/crm")
    return definition


def runs(server: Server, rule: str) -> dict[str, Any]:
    page: dict[str, Any] = api_call(server, "GET", f"/apps/crm/rules/{rule}/runs")
    return page


def until_run(server: Server, rule: str, state: str) -> dict[str, Any]:
    """The newest run of `rule` once it is in `state` (the server's job worker runs it)."""
    deadline = time.monotonic() + 60
    while True:
        items = runs(server, rule)["items"]
        done = [r for r in items if r["state"] == state]
        if done:
            return done[0]
        assert time.monotonic() < deadline, f"{rule}: no {state} run in {items}"
        time.sleep(0.3)


def handovers(server: Server) -> int:
    page = api_call(server, "GET", "/apps/crm/forms/handover/records?limit=1")
    total: int = page["total"]
    return total


# needs rulecore
@pytest.mark.server_template("crm-no-samples")
def test_runs_show_in_the_list_and_log_with_retry_switch_and_test_run(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    definition = crm(fresh_server)
    definition["forms"] += [HANDOVER, STRICT]
    api_call(fresh_server, "PUT", "/apps/crm", definition)
    revision = crm(fresh_server)["_revision"]
    api_call(fresh_server, "PUT", "/apps/crm/rules", {"_revision": revision, "rules": RULES})
    customer = api_call(
        fresh_server, "POST", "/apps/crm/forms/customer/records", {"name": "华东电气"}
    )
    deal = api_call(
        fresh_server,
        "POST",
        "/apps/crm/forms/opportunity/records",
        {
            "title": "华东配电柜",
            "customer": customer["_id"],
            "stage": "negotiation",
            "amount": "80000",
        },
    )

    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm/_rules")
    expect(page.get_by_test_id("rule-last-won_handover")).to_contain_text("尚未运行")

    # the deal is won: both async rules run; one creates the handover, one fails validation
    api_call(
        fresh_server,
        "PATCH",
        f"/apps/crm/forms/opportunity/records/{deal['_id']}",
        {"stage": "won", "_version": deal["_version"]},
    )
    done = until_run(fresh_server, "won_handover", "succeeded")
    failed = until_run(fresh_server, "won_strict", "failed")
    assert handovers(fresh_server) == 1
    page.reload()
    expect(page.get_by_test_id("rule-last-won_handover")).to_contain_text("成功")
    expect(page.get_by_test_id("rule-last-won_strict")).to_contain_text("失败")
    shot(page, "list")

    # the run log: the run, its record, expanded to the action's outcome
    page.get_by_test_id("rule-runs-won_handover").click()
    expect(page.get_by_test_id("rule-runs-title")).to_contain_text("赢单生成交接单")
    row = page.get_by_test_id(f"rule-run-{done['id']}")
    expect(row.get_by_test_id("rule-run-state")).to_have_text("成功")
    expect(row.get_by_test_id("rule-run-record")).to_have_text(f"记录 #{deal['_id']}")
    row.locator(".ant-table-row-expand-icon").click()
    action = page.get_by_test_id(f"rule-run-{done['id']}-action-0")
    expect(action).to_contain_text("新增数据")
    expect(action).to_have_attribute("data-state", "succeeded")
    expect(page.get_by_test_id(f"rule-run-{done['id']}-action-0-outcome")).to_have_text(
        "新增 交接单 #1"
    )
    shot(page, "run-log")

    # the failing rule: its error, the state filter, and 重试 queues it again
    page.goto("/apps/crm/_rules/won_strict/runs")
    failed_row = page.get_by_test_id(f"rule-run-{failed['id']}")
    expect(failed_row.get_by_test_id("rule-run-state")).to_have_text("失败")
    failed_row.locator(".ant-table-row-expand-icon").click()
    expect(page.get_by_test_id(f"rule-run-detail-{failed['id']}")).to_contain_text("必填")
    page.get_by_test_id(f"rule-run-retry-{failed['id']}").click()
    expect(page.get_by_text("已重新排队")).to_be_visible()
    shot(page, "retried")

    # the switch takes effect at once, without publishing
    page.goto("/apps/crm/_rules")
    before = crm(fresh_server)["_revision"]
    page.get_by_test_id("rule-enabled-won_strict").click()
    expect(page.get_by_test_id("rule-enabled-won_strict")).to_have_attribute(
        "aria-checked", "false"
    )
    state = api_call(fresh_server, "GET", "/apps/crm/rules/state")
    items = state if isinstance(state, list) else state.get("items", state.get("rules"))
    assert next(s for s in items if s["key"] == "won_strict")["enabled"] is False
    assert crm(fresh_server)["_revision"] == before

    # a test run of the drafted rule against the deal: condition met, the action's outcome,
    # nothing written
    page.goto("/apps/crm/_rules/won_handover")
    page.get_by_test_id("rule-test").click()
    picker = page.get_by_test_id("relation-rule-test-record")
    picker.click()
    picker.locator("input").fill("华东配电柜")
    page.locator(".ant-select-item-option").filter(has_text="华东配电柜").first.click()
    page.get_by_test_id("rule-test-run").click()
    result = page.get_by_test_id("rule-test-result")
    expect(result).to_contain_text("满足")
    expect(page.get_by_test_id("rule-test-action-0")).to_have_attribute("data-state", "succeeded")
    expect(page.get_by_test_id("rule-test-action-0-outcome")).to_contain_text("新增 交接单 #")
    expect(page.get_by_test_id("rule-test-nothing-written")).to_contain_text("未写入任何数据")
    shot(page, "test-run")
    assert handovers(fresh_server) == 1

    # a phone: the run log fits the screen
    phone = new_page(browser, fresh_server, width=375, height=740)
    login(phone, "admin", ADMIN_PASSWORD)
    phone.goto("/apps/crm/_rules/won_handover/runs")
    expect(phone.locator("tr.ant-table-row").first).to_be_visible()
    settle(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "phone-run-log")
