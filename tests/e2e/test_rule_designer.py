"""The rule designer in Chromium on the stock CRM (plus a 交接单 form added through the API as the
rule's target): an administrator opens 自动化, builds "商机 的 阶段 改变为 已签约 → 新增一条交接单
with the customer copied and the amount by formula" with pickers (trigger, condition in the
formula editor, sync, the action's field mapping), saves it, reloads and sees it back, and the
stored rule is exactly that JSON. A condition with an unknown field is refused by the server and
shown at the condition's control, with nothing saved. On a 375 px phone the list fits the
screen and the designer says it is a desktop tool.

The runtime's steps (switch, run log, retry, test run) are in test_rule_runs_ui.py."""

from __future__ import annotations

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
    select_option,
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


def crm(server: Server) -> dict[str, Any]:
    definition: dict[str, Any] = api_call(server, "GET", "/apps/crm")
    return definition


def with_handover(server: Server) -> None:
    """The CRM with a 交接单 form to create records in (a form of this test's own), without the
    pack's own rules (the designer starts from an empty list)."""
    definition = crm(server)
    definition["forms"].append(HANDOVER)
    api_call(server, "PUT", "/apps/crm", definition)
    api_call(server, "PUT", "/apps/crm/rules", {"_revision": crm(server)["_revision"], "rules": []})


@pytest.mark.server_template("crm-no-samples")
def test_a_rule_is_built_with_pickers_saved_read_back_and_refused_at_its_control(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    with_handover(fresh_server)
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm")
    page.get_by_test_id("menu-rules").click()
    expect(page.get_by_text("还没有自动化规则")).to_be_visible()
    page.get_by_test_id("rule-create").click()

    # basics: name and the form whose records trigger it
    page.get_by_test_id("rule-name-zh").fill("赢单生成交接单")
    select_option(page, page.get_by_test_id("rule-form"), "商机")

    # trigger: 阶段 changes, in words as the list will show it
    select_option(page, page.get_by_test_id("rule-trigger-type"), "指定字段改变时")
    select_option(page, page.get_by_test_id("rule-trigger-fields"), "阶段")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("rule-trigger-words")).to_have_text("商机 的 阶段 改变时")

    # condition, checked live against the opportunity form
    page.get_by_test_id("rule-when").fill('stage = "won"')
    expect(page.get_by_test_id("rule-when-check")).to_have_attribute("data-state", "ok")

    # action: 新增数据 in 交接单; a field the opportunity has too starts as a copy of it: the
    # customer stays copied, the amount and the title become formulas
    select_option(page, page.get_by_test_id("rule-add-action"), "新增数据")
    select_option(page, page.get_by_test_id("rule-action-0-form"), "交接单")
    select_option(page, page.get_by_test_id("rule-action-0-map-add"), "客户")
    expect(page.get_by_test_id("rule-action-0-map-customer-kind")).to_contain_text("复制字段")
    expect(page.get_by_test_id("rule-action-0-map-customer-copy")).to_contain_text("客户")
    select_option(page, page.get_by_test_id("rule-action-0-map-add"), "金额")
    select_option(page, page.get_by_test_id("rule-action-0-map-amount-kind"), "公式")
    page.get_by_test_id("rule-action-0-map-amount-formula").fill("amount * 1")
    expect(page.get_by_test_id("rule-action-0-map-amount-formula-check")).to_have_attribute(
        "data-state", "ok"
    )
    select_option(page, page.get_by_test_id("rule-action-0-map-add"), "名称")
    expect(page.get_by_test_id("rule-action-0-map-title-kind")).to_contain_text("复制字段")
    select_option(page, page.get_by_test_id("rule-action-0-map-title-kind"), "公式")
    page.get_by_test_id("rule-action-0-map-title-formula-chip-title").click()
    page.get_by_test_id("rule-action-0-map-title-formula").press("End")
    page.get_by_test_id("rule-action-0-map-title-formula").type(' & " 交接"')

    # sync: a record-writing action may run with the save; notify could not
    page.get_by_test_id("rule-mode-sync").click()
    expect(page.get_by_test_id("rule-sync-blocked")).to_have_count(0)
    expect(page.get_by_test_id("rule-dirty")).to_be_visible()
    shot(page, "designed")

    before = crm(fresh_server)["_revision"]
    page.get_by_test_id("rule-save").click()
    expect(page.get_by_text("已保存并发布")).to_be_visible()
    expect(page.get_by_test_id("rule-dirty")).to_have_count(0)
    page.wait_for_url("**/apps/crm/_rules/opportunity_rule_1")

    stored = crm(fresh_server)
    assert stored["_revision"] == before + 1
    [rule] = stored["rules"]
    assert rule["key"] == "opportunity_rule_1"
    assert rule["name"] == {"zh": "赢单生成交接单", "en": "赢单生成交接单"}
    assert rule["form"] == "opportunity"
    assert rule["on"] == {"type": "field_changed", "fields": ["stage"]}
    assert rule["when"] == 'stage = "won"'
    assert rule["mode"] == "sync"
    assert rule["actions"] == [
        {
            "type": "create_record",
            "form": "handover",
            "values": {
                "customer": {"copy": "customer"},
                "amount": "amount * 1",
                "title": 'title & " 交接"',
            },
        }
    ]

    # read back after a reload
    page.reload()
    expect(page.get_by_test_id("rule-title")).to_have_text("赢单生成交接单")
    expect(page.get_by_test_id("rule-trigger-words")).to_have_text("商机 的 阶段 改变时")
    expect(page.get_by_test_id("rule-when")).to_have_value('stage = "won"')
    expect(page.get_by_test_id("rule-action-0-map-customer-copy")).to_contain_text("客户")
    expect(page.get_by_test_id("rule-action-0-map-amount-formula")).to_have_value("amount * 1")
    expect(page.get_by_test_id("rule-dirty")).to_have_count(0)

    # a condition naming an unknown field: the server refuses it at the condition, nothing saved
    page.get_by_test_id("rule-when").fill('stage = "won" AND amout > 0')
    page.get_by_test_id("rule-save").click()
    expect(page.get_by_test_id("rule-issue-when")).to_be_visible()
    expect(page.get_by_test_id("rule-issue-when")).to_contain_text("amout")
    expect(page.get_by_test_id("rule-issue").first).to_contain_text("amout")
    expect(page.get_by_test_id("rule-dirty")).to_be_visible()
    shot(page, "refused")
    after = crm(fresh_server)
    assert after["_revision"] == before + 1
    assert after["rules"] == [rule]

    # the list: name, form, the trigger in words, mode
    page.get_by_test_id("rule-when").fill('stage = "won"')
    page.get_by_test_id("rule-save").click()
    expect(page.get_by_test_id("rule-issues")).to_have_count(0)
    expect(page.get_by_test_id("rule-dirty")).to_have_count(0)
    page.get_by_test_id("rule-back").click()
    row = page.get_by_test_id("rule-row-opportunity_rule_1")
    expect(row).to_contain_text("赢单生成交接单")
    expect(row).to_contain_text("商机")
    expect(page.get_by_test_id("rule-words-opportunity_rule_1")).to_have_text("商机 的 阶段 改变时")
    expect(page.get_by_test_id("rule-mode-opportunity_rule_1")).to_have_text("同步")
    shot(page, "list")

    # a phone: the list fits the screen; the designer says it is a desktop tool
    phone = new_page(browser, fresh_server, width=375, height=740)
    login(phone, "admin", ADMIN_PASSWORD)
    phone.goto("/apps/crm/_rules")
    expect(phone.get_by_test_id("rule-row-opportunity_rule_1")).to_be_visible()
    settle(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "phone-list")
    phone.get_by_test_id("rule-edit-opportunity_rule_1").click()
    expect(phone.get_by_test_id("rule-desktop-only")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "phone-designer")


@pytest.mark.server_template("crm-no-samples")
def test_every_trigger_and_action_has_its_panel_and_notify_keeps_a_rule_async(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    with_handover(fresh_server)
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm/_rules/_new?form=contract")
    expect(page.get_by_test_id("rule-form")).to_contain_text("合同")
    words = page.get_by_test_id("rule-trigger-words")

    # each trigger type in words, with its settings
    trigger = page.get_by_test_id("rule-trigger-type")
    select_option(page, trigger, "删除记录时")
    expect(words).to_have_text("合同 删除记录时")
    select_option(page, trigger, "流程结束时")
    select_option(page, page.get_by_test_id("rule-trigger-flow"), "合同审批")
    select_option(page, page.get_by_test_id("rule-trigger-outcome"), "被驳回")
    expect(words).to_have_text("合同 的「合同审批」被驳回时")
    select_option(page, trigger, "流程进入节点时")
    select_option(page, page.get_by_test_id("rule-trigger-flow"), "合同审批")
    select_option(page, page.get_by_test_id("rule-trigger-node"), "抄送财务")
    expect(words).to_have_text("合同 的「合同审批」进入「抄送财务」时")
    select_option(page, trigger, "定时（按计划）")
    expect(words).to_have_text("每天 09:00，对 合同 中符合条件的每条记录")
    select_option(page, page.get_by_test_id("rule-schedule-every"), "每周")
    select_option(page, page.get_by_test_id("rule-schedule-weekday"), "周五")
    expect(words).to_have_text("每周五 09:00，对 合同 中符合条件的每条记录")
    page.get_by_test_id("rule-schedule-filter").fill('status = "signed"')
    expect(page.get_by_test_id("rule-schedule-filter-check")).to_have_attribute("data-state", "ok")
    select_option(page, trigger, "到达日期字段的时间")
    select_option(page, page.get_by_test_id("rule-trigger-date-field"), "结束日期")
    expect(words).to_have_text("合同 的 结束日期 前 3 天 09:00")
    select_option(page, trigger, "点击记录页按钮时")
    page.get_by_test_id("rule-trigger-label-zh").fill("续签")
    expect(words).to_have_text("在 合同 记录页点击「续签」时")
    select_option(page, trigger, "修改记录时")
    expect(page.get_by_test_id("rule-insert-old")).to_be_visible()
    select_option(page, page.get_by_test_id("rule-insert-old"), "OLD(状态)")
    expect(page.get_by_test_id("rule-when")).to_have_value("OLD(status)")

    # each action type's panel
    add = page.get_by_test_id("rule-add-action")
    select_option(page, add, "修改数据")
    page.get_by_test_id("rule-action-0-target-relation").click()
    expect(page.get_by_test_id("rule-action-0-relation")).to_contain_text("客户")
    select_option(page, page.get_by_test_id("rule-action-0-map-add"), "客户等级")
    select_option(page, page.get_by_test_id("rule-action-0-map-level-kind"), "固定值")
    expect(page.get_by_test_id("rule-action-0-map-level-value")).to_be_visible()
    select_option(page, add, "新增或更新数据")
    select_option(page, page.get_by_test_id("rule-action-1-form"), "交接单")
    select_option(page, page.get_by_test_id("rule-action-1-match-add"), "客户")
    expect(page.get_by_test_id("rule-action-1-match-0-value")).to_contain_text("客户")
    select_option(page, page.get_by_test_id("rule-action-1-map-add"), "金额")
    select_option(page, page.get_by_test_id("rule-action-1-map-amount-kind"), "汇总")
    select_option(page, page.get_by_test_id("rule-action-1-map-amount-agg-form"), "回款")
    select_option(page, page.get_by_test_id("rule-action-1-map-amount-agg-field"), "金额")
    select_option(page, add, "删除数据")
    page.get_by_test_id("rule-action-2-target-form").click()
    select_option(page, add, "分配负责人")
    page.get_by_test_id("rule-action-3-strategy-mapping").click()
    select_option(page, add, "发起流程")
    select_option(page, page.get_by_test_id("rule-action-4-flow"), "合同审批")
    page.get_by_test_id("rule-mode-sync").click()
    expect(page.get_by_test_id("rule-mode-sync")).to_be_checked()

    # 发送通知 writes nothing: the rule turns async and sync is disabled with a hint
    select_option(page, add, "发送通知")
    expect(page.get_by_test_id("rule-action-5-to-0-type")).to_contain_text("记录负责人")
    page.get_by_test_id("rule-action-5-title").fill("合同 {{title}} 有变化")
    expect(page.get_by_test_id("rule-sync-blocked")).to_be_visible()
    expect(page.get_by_test_id("rule-mode-async")).to_be_checked()
    expect(page.get_by_test_id("rule-mode-sync")).to_be_disabled()

    # ↑/↓ and remove
    page.get_by_test_id("rule-action-5-up").click()
    expect(page.get_by_test_id("rule-action-4-type")).to_have_text("发送通知")
    page.get_by_test_id("rule-action-4-remove").click()
    expect(page.get_by_test_id("rule-sync-blocked")).to_have_count(0)
    shot(page, "panels")
