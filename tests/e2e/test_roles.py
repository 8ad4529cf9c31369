"""Roles & permissions in Chromium: an administrator opens a new form to the CRM's sales reps
(create, and only their own records, with one field hidden), creates a role that sees every
visit and manages its public links (外链) and gives it to a rep; then the reps' views show
exactly what the engine allows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    SAMPLE_PASSWORD,
    Server,
    Shot,
    api_call,
    login,
    new_page,
    select_option,
    user_token,
)

VISIT: dict[str, Any] = {
    "key": "visit",
    "name": {"zh": "拜访记录", "en": "Site visit"},
    "title_field": "subject",
    "fields": [
        {
            "key": "subject",
            "type": "text",
            "label": {"zh": "拜访主题", "en": "Subject"},
            "required": True,
        },
        {"key": "cost", "type": "money", "label": {"zh": "内部费用", "en": "Internal cost"}},
    ],
}


def add_visit_form(server: Server) -> None:
    app = api_call(server, "GET", "/apps/crm")
    app["forms"].append(VISIT)
    app["menu"].append({"form": "visit", "label": VISIT["name"]})
    plan = api_call(server, "POST", "/apps/crm/plan", app)
    api_call(server, "PUT", "/apps/crm", {**app, "plan_hash": plan["plan_hash"]})


def visits(server: Server, username: str) -> list[str]:
    found = api_call(
        server, "GET", "/apps/crm/forms/visit/records?sort=_id", token=user_token(server, username)
    )
    return [item["subject"] for item in found["items"]]


@pytest.mark.server_template("crm")
def test_roles_page_grants_a_new_form(browser: Browser, fresh_server: Server, shot: Shot) -> None:
    add_visit_form(fresh_server)
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm")
    page.get_by_test_id("open-roles").click()
    expect(page).to_have_url(re.compile(r"/apps/crm/_roles$"))
    expect(page.get_by_test_id("roles-save")).to_be_disabled()  # nothing changed yet

    # Sales reps: create visits, see only their own, and never the internal cost.
    page.get_by_test_id("role-item-sales_rep").click()
    page.get_by_test_id("role-forms").get_by_text("拜访记录").click()
    page.get_by_test_id("perm-visit-action-create").click()
    select_option(page, page.get_by_test_id("perm-visit-scope"), "本人负责的")
    page.get_by_test_id("perm-visit-field-cost").get_by_text("隐藏").click()
    shot(page, "sales-rep")

    # A new role that sees every visit.
    page.get_by_test_id("role-new").click()
    page.get_by_test_id("role-new-key").fill("visit_auditor")
    page.get_by_test_id("role-new-zh").fill("拜访审计")
    page.get_by_test_id("role-new-en").fill("Visit auditor")
    page.get_by_test_id("role-new-create").click()
    expect(page.get_by_test_id("role-item-visit_auditor")).to_be_visible()
    expect(page.get_by_test_id("role-members")).to_have_count(0)  # members come once it is saved
    page.get_by_test_id("role-forms").get_by_text("拜访记录").click()
    page.get_by_test_id("perm-visit-action-view").click()
    expect(page.get_by_test_id("perm-visit-action-links")).to_have_text(
        "外链"
    )  # may manage the form's public links
    page.get_by_test_id("perm-visit-action-links").click()
    page.get_by_test_id("roles-save").click()
    expect(page.locator(".ant-message-notice", has_text="权限已保存").last).to_be_visible()

    roles = {r["key"]: r for r in api_call(fresh_server, "GET", "/apps/crm")["roles"]}
    assert roles["sales_rep"]["forms"]["visit"] == {
        "actions": ["view", "create"],
        "scope": "own",
        "fields": {"cost": "hidden"},
    }
    assert roles["visit_auditor"] == {
        "key": "visit_auditor",
        "name": {"zh": "拜访审计", "en": "Visit auditor"},
        "builder": False,
        "forms": {"visit": {"actions": ["view", "links"], "scope": "all", "fields": {}}},
    }

    page.get_by_test_id("role-item-visit_auditor").click()
    select_option(page, page.get_by_test_id("role-add-user"), "rep_b1")
    expect(page.get_by_test_id("role-members")).to_contain_text("冯磊")
    shot(page, "auditor-members")

    # rep_a1 adds a visit on a phone: the hidden cost is not on the form.
    phone = new_page(browser, fresh_server, width=375, height=740)
    login(phone, "rep_a1", SAMPLE_PASSWORD)
    phone.goto("/apps/crm")
    phone.get_by_test_id("quick-add-visit").click()
    expect(phone.get_by_test_id("field-subject")).to_be_visible()
    expect(phone.get_by_test_id("field-cost")).to_have_count(0)
    phone.get_by_label("拜访主题").fill("博元季度回访")
    phone.get_by_test_id("fill-submit").click()
    expect(phone).to_have_url(re.compile(r"/apps/crm/visit\?open=\d+"))
    shot(phone, "rep-a1-saved")
    token = user_token(fresh_server, "rep_a2")
    api_call(
        fresh_server,
        "POST",
        "/apps/crm/forms/visit/records",
        {"subject": "华星新品演示"},
        token=token,
    )

    assert visits(fresh_server, "rep_a1") == ["博元季度回访"]
    assert visits(fresh_server, "rep_a2") == ["华星新品演示"]
    assert visits(fresh_server, "rep_b1") == [
        "博元季度回访",
        "华星新品演示",
    ]  # sales rep + visit auditor
    assert visits(fresh_server, "rep_b2") == []

    # Removing the member takes the extra view away at once.
    member = page.get_by_test_id("role-members").locator(".ant-tag").first
    member.locator(".ant-tag-close-icon").click()
    expect(page.get_by_test_id("role-members")).to_contain_text("还没有成员")
    assert visits(fresh_server, "rep_b1") == []
