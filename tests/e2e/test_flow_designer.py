"""The flow designer in Chromium on the stock CRM: an administrator opens the pack's own 合同审批
as a chain, deletes it (with the contract form's binding), creates a flow for the contract form
(bound to it in the same publish), builds issue 13's contract approval as a
vertical chain (a choice on amount < 50000 → 销售总监; default → 销售总监 and 总经理 会签; a copy to
财务), saves it, reloads and sees it back, and the stored definition is exactly that graph. A
broken flow (a branch without a condition) shows the server's error on that branch and saves
nothing. On a 375 px phone the designer scrolls inside its canvas and its panel is full-width."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

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


def close_drawer(page: Page) -> None:
    page.locator(".ant-drawer-close").click()
    expect(page.locator(".ant-drawer-content-wrapper")).to_be_hidden()


def add(page: Page, at: str, kind: str) -> None:
    """Insert a node of `kind` at the "+" `flow-add-<at>`."""
    page.get_by_test_id(f"flow-add-{at}").click()
    page.locator(f"[data-testid='flow-add-{at}-{kind}']:visible").click()


def add_role(page: Page, row: int, role: str) -> None:
    page.get_by_test_id("flow-assignee-add").click()
    select_option(page, page.get_by_test_id(f"flow-assignee-{row}-role"), role)


def crm(server: Server) -> dict[str, Any]:
    definition: dict[str, Any] = api_call(server, "GET", "/apps/crm")
    return definition


@pytest.mark.server_template("crm-no-samples")
def test_the_contract_approval_is_designed_saved_and_read_back(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm")
    page.get_by_test_id("menu-flows").click()

    # the pack's own 合同审批 opens as a chain, with its names and conditions
    expect(page.get_by_test_id("flow-row-contract_approval")).to_contain_text("绑定表单：合同")
    page.get_by_test_id("flow-design-contract_approval").click()
    expect(page.get_by_test_id("flow-node-director")).to_contain_text("销售总监审批")
    expect(page.get_by_test_id("flow-node-countersign")).to_contain_text("销售总监、总经理 · 会签")
    expect(page.get_by_test_id("flow-branch-route-0")).to_contain_text("amount < 50000")
    expect(page.get_by_test_id("flow-node-finance")).to_contain_text("财务")
    expect(page.get_by_test_id("flow-readonly")).to_have_count(0)
    shot(page, "pack-flow")

    # deleted from the list, with the contract form's binding; then built again in the browser
    page.get_by_test_id("flow-back").click()
    page.get_by_test_id("flow-delete-contract_approval").click()
    page.locator("[data-testid='flow-delete-confirm']:visible").click()
    expect(page.get_by_text("还没有流程")).to_be_visible()
    emptied = crm(fresh_server)
    assert emptied["flows"] == []
    assert "flow" not in next(f for f in emptied["forms"] if f["key"] == "contract")
    page.get_by_test_id("flow-create").click()
    select_option(page, page.get_by_test_id("flow-create-form"), "合同")
    expect(page.get_by_test_id("flow-name-zh")).to_have_value("合同审批")
    page.get_by_test_id("flow-create-ok").click()

    # created and bound to the contract form in one publish, then opened in the designer
    expect(page.get_by_test_id("flow-title")).to_have_text("合同审批")
    stored = crm(fresh_server)
    assert [f["key"] for f in stored["flows"]] == ["contract_approval"]
    contract = next(f for f in stored["forms"] if f["key"] == "contract")
    assert contract["flow"] == "contract_approval"
    assert stored["flows"][0]["form"] == "contract"

    # 条件分支: amount < 50000 (checked live against the contract form) and the default
    add(page, "main-0", "exclusive")
    page.get_by_test_id("flow-branch-route_1-0").click()
    page.get_by_test_id("flow-branch-when").fill("amount < 50000")
    expect(page.get_by_test_id("flow-branch-when-check")).to_have_attribute("data-state", "ok")
    close_drawer(page)
    expect(page.get_by_test_id("flow-branch-route_1-0")).to_contain_text("amount < 50000")

    # the first branch: 销售总监 approves; the new node's panel opens by itself
    add(page, "route_1-0-0", "approve")
    page.get_by_test_id("flow-node-name-zh").fill("销售总监审批")
    add_role(page, 0, "销售总监")
    page.get_by_test_id("flow-on-reject-initiator").click()
    close_drawer(page)

    # the default branch: 销售总监 and 总经理 countersign (会签)
    add(page, "route_1-1-0", "approve")
    page.get_by_test_id("flow-node-name-zh").fill("总监与总经理会签")
    add_role(page, 0, "销售总监")
    add_role(page, 1, "总经理")
    page.get_by_test_id("flow-mode-all").click()
    page.get_by_test_id("flow-on-reject-initiator").click()
    close_drawer(page)

    # after the choice: a copy to 财务
    add(page, "main-1", "cc")
    add_role(page, 0, "财务")
    close_drawer(page)
    expect(page.get_by_test_id("flow-dirty")).to_be_visible()
    shot(page, "designed")

    before = crm(fresh_server)["_revision"]
    page.get_by_test_id("flow-save").click()
    expect(page.get_by_text("已保存并发布")).to_be_visible()
    expect(page.get_by_test_id("flow-dirty")).to_have_count(0)

    flow = crm(fresh_server)["flows"][0]
    assert crm(fresh_server)["_revision"] == before + 1
    nodes = {n["id"]: n for n in flow["nodes"]}
    assert {k: v["type"] for k, v in nodes.items()} == {
        "start": "start",
        "route_1": "exclusive",
        "approve_1": "approve",
        "approve_2": "approve",
        "cc_1": "cc",
        "end": "end",
    }
    assert nodes["approve_1"]["assignees"] == [{"role": "sales_director"}]
    assert nodes["approve_1"]["name"] == {"zh": "销售总监审批"}
    assert nodes["approve_1"]["on_reject"] == "initiator"
    assert nodes["approve_2"]["assignees"] == [
        {"role": "sales_director"},
        {"role": "general_manager"},
    ]
    assert nodes["approve_2"]["mode"] == "all"
    assert nodes["cc_1"]["assignees"] == [{"role": "finance"}]
    edges = [(e["from"], e["to"], e.get("when"), e.get("default", False)) for e in flow["edges"]]
    assert sorted(edges) == sorted(
        [
            ("start", "route_1", None, False),
            ("route_1", "approve_1", "amount < 50000", False),
            ("approve_1", "cc_1", None, False),
            ("route_1", "approve_2", None, True),
            ("approve_2", "cc_1", None, False),
            ("cc_1", "end", None, False),
        ]
    )

    # read back after a reload
    page.reload()
    expect(page.get_by_test_id("flow-node-approve_1")).to_contain_text("销售总监审批")
    expect(page.get_by_test_id("flow-node-approve_1")).to_contain_text("销售总监")
    expect(page.get_by_test_id("flow-node-approve_2")).to_contain_text("销售总监、总经理 · 会签")
    expect(page.get_by_test_id("flow-node-cc_1")).to_contain_text("财务")
    expect(page.get_by_test_id("flow-branch-route_1-0")).to_contain_text("amount < 50000")
    expect(page.get_by_test_id("flow-branch-route_1-1")).to_contain_text("默认")
    expect(page.get_by_test_id("flow-readonly")).to_have_count(0)
    shot(page, "read-back")

    # a broken flow: a new condition without a formula is refused at that branch, nothing saved
    page.get_by_test_id("flow-node-route_1-add-branch").click()
    add(page, "route_1-1-0", "handle")
    add_role(page, 0, "财务")
    close_drawer(page)
    page.get_by_test_id("flow-save").click()
    branch = page.get_by_test_id("flow-branch-route_1-1")
    expect(branch).to_have_attribute("data-error", "true")
    expect(page.get_by_test_id("flow-branch-route_1-1-error")).to_contain_text("需要条件")
    expect(page.get_by_test_id("flow-issue").first).to_contain_text("需要条件")
    expect(page.get_by_test_id("flow-branch-route_1-0")).not_to_have_attribute("data-error", "true")
    shot(page, "refused")
    after = crm(fresh_server)
    assert after["flows"][0] == flow
    assert after["_revision"] == before + 1

    # the list shows the flow bound to its form; the phone layout is checked below
    page.get_by_test_id("flow-branch-route_1-1").click()
    page.get_by_test_id("flow-branch-when").fill("amount >= 1000000")
    expect(page.get_by_test_id("flow-branch-when-check")).to_have_attribute("data-state", "ok")
    close_drawer(page)
    page.get_by_test_id("flow-save").click()
    expect(page.get_by_test_id("flow-issues")).to_have_count(0)
    expect(page.get_by_test_id("flow-dirty")).to_have_count(0)
    conditions = [
        e.get("when") for e in crm(fresh_server)["flows"][0]["edges"] if e["from"] == "route_1"
    ]
    assert conditions == ["amount < 50000", "amount >= 1000000", None]

    phone = new_page(browser, fresh_server, width=375, height=740)
    login(phone, "admin", ADMIN_PASSWORD)
    phone.goto("/apps/crm/_flows/contract_approval")
    canvas = phone.get_by_test_id("flow-canvas")
    expect(phone.get_by_test_id("flow-node-cc_1")).to_be_attached()
    settle(phone)
    # three branch columns are wider than the phone: the canvas scrolls, the page does not
    assert canvas.evaluate("c => c.scrollWidth > c.clientWidth")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.get_by_test_id("flow-node-approve_1").scroll_into_view_if_needed()
    phone.get_by_test_id("flow-node-approve_1").click()
    panel = phone.locator(".ant-drawer-content-wrapper")
    expect(phone.get_by_test_id("flow-node-name-zh")).to_have_value("销售总监审批")
    settle(phone)
    box = panel.bounding_box()
    assert box is not None and box["x"] == 0 and box["width"] == 375
    shot(phone, "phone-panel")


@pytest.mark.server_template("crm-no-samples")
def test_flows_the_tree_cannot_show_are_read_only_and_flows_are_renamed_and_deleted(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    revision = crm(fresh_server)["_revision"]
    # a flow made through the API with two ends: valid, but no single chain can show it
    two_ends = {
        "key": "lead_check",
        "name": {"zh": "线索核查", "en": "Lead check"},
        "form": "lead",
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "route", "type": "exclusive"},
            {"id": "check", "type": "handle", "assignees": [{"role": "sales_rep"}]},
            {"id": "done", "type": "end"},
            {"id": "dropped", "type": "end"},
        ],
        "edges": [
            {"from": "start", "to": "route"},
            {"from": "route", "to": "check", "when": 'status = "new"'},
            {"from": "route", "to": "dropped", "default": True},
            {"from": "check", "to": "done"},
        ],
    }
    pack_flow = crm(fresh_server)["flows"][0]
    api_call(
        fresh_server,
        "PUT",
        "/apps/crm/flows",
        {"_revision": revision, "flows": [pack_flow, two_ends]},
    )
    stored = crm(fresh_server)["flows"][1]
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm/_flows/lead_check")
    expect(page.get_by_test_id("flow-readonly")).to_be_visible()
    expect(page.get_by_test_id("flow-canvas-readonly")).to_contain_text("dropped")
    expect(page.get_by_test_id("flow-save")).to_be_disabled()
    shot(page, "read-only")

    # renamed from the list: the graph stays exactly as it was
    page.get_by_test_id("flow-back").click()
    expect(page.get_by_test_id("flow-row-lead_check")).to_contain_text("未绑定到表单")
    page.get_by_test_id("flow-rename-lead_check").click()
    page.get_by_test_id("flow-name-zh").fill("线索复核")
    page.get_by_test_id("flow-name-en").fill("Lead review")
    page.get_by_test_id("flow-rename-ok").click()
    expect(page.get_by_test_id("flow-row-lead_check")).to_contain_text("线索复核")
    renamed = crm(fresh_server)["flows"][1]
    assert renamed == {**stored, "name": {"zh": "线索复核", "en": "Lead review"}}

    # deleted: gone from the definition, the pack's contract flow untouched
    page.get_by_test_id("flow-delete-lead_check").click()
    page.locator("[data-testid='flow-delete-confirm']:visible").click()
    expect(page.get_by_test_id("flow-row-lead_check")).to_have_count(0)
    after = crm(fresh_server)
    assert [f["key"] for f in after["flows"]] == ["contract_approval"]
    assert after["flows"][0] == pack_flow

    # in English: the designer's texts and the server's error on the branch it names
    page.get_by_test_id("language-switch").click()
    page.get_by_test_id("flow-design-contract_approval").click()
    expect(page.get_by_test_id("flow-save")).to_have_text("Save & publish")
    page.get_by_test_id("flow-node-route-add-branch").click()
    expect(page.get_by_test_id("flow-branch-route-1")).to_contain_text("Set a condition")
    add(page, "route-1-0", "cc")
    add_role(page, 0, "Finance")
    close_drawer(page)
    page.get_by_test_id("flow-save").click()
    expect(page.get_by_test_id("flow-branch-route-1-error")).to_contain_text("need a condition")
    expect(page.get_by_test_id("flow-issues")).to_contain_text("need a condition")
    shot(page, "refused-en")
    assert crm(fresh_server)["flows"] == [pack_flow]
