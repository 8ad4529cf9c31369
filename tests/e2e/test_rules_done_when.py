"""Issue 14's "Done when", in Chromium on the stock CRM with its sample data (SQLite and
PostgreSQL): a builder sets "when 商机 becomes 已签约, create a 项目" in the rule designer, the
next opportunity a sales rep sets to 已签约 in the UI creates the 项目 (the rep sees it), and the
run shows in the rule's run log; a lead created in the UI goes to the next 销售代表, who finds the
notice in the bell.

The pack ships its own 商机签约生成项目 rule; the test removes it through the API first (the
other pack rules, the lead round robin among them, stay), so the rule that works is the one built
in the browser."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    SAMPLE_PASSWORD,
    Server,
    ServerTemplates,
    Shot,
    api_call,
    login,
    new_page,
    records,
    select_option,
    stop_server,
    user_token,
)

REPS = ["rep_a1", "rep_a2", "rep_b1", "rep_b2"]  # the 销售代表, in the round robin's order


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A Jimu of its own (SQLite, or a database of its own on the test PostgreSQL) with the
    CRM and its sample data, without the pack's 商机签约生成项目 rule."""
    if request.param == "postgres":
        started: Server = request.getfixturevalue("postgres_server")
        api_call(started, "POST", "/catalog/crm/install", {"sample_data": True})
        own = False
    else:
        templates: ServerTemplates = request.getfixturevalue("server_templates")
        started = templates.start("crm", tmp_path)
        own = True
    live = api_call(started, "GET", "/apps/crm")
    kept = [rule for rule in live["rules"] if rule["key"] != "won_creates_project"]
    assert len(kept) == len(live["rules"]) - 1
    api_call(started, "PUT", "/apps/crm/rules", {"_revision": live["_revision"], "rules": kept})
    yield started
    if own:
        stop_server(started)


def signed_in(browser: Browser, server: Server, user: str) -> Page:
    page = new_page(browser, server)
    login(page, user, ADMIN_PASSWORD if user == "admin" else SAMPLE_PASSWORD)
    return page


def build_the_rule(page: Page) -> str:
    """In the designer: 商机 的 阶段 改变为 已签约 → 新增一条项目 (name from the opportunity's
    title, customer and amount copied), with the save; the new rule's key."""
    page.goto("/apps/crm")
    page.get_by_test_id("menu-rules").click()
    expect(page.get_by_test_id("rule-row-lead_round_robin")).to_be_visible()
    page.get_by_test_id("rule-create").click()
    page.get_by_test_id("rule-name-zh").fill("签约生成项目")
    select_option(page, page.get_by_test_id("rule-form"), "商机")
    select_option(page, page.get_by_test_id("rule-trigger-type"), "指定字段改变时")
    select_option(page, page.get_by_test_id("rule-trigger-fields"), "阶段")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("rule-trigger-words")).to_have_text("商机 的 阶段 改变时")
    page.get_by_test_id("rule-when").fill('stage = "won"')
    expect(page.get_by_test_id("rule-when-check")).to_have_attribute("data-state", "ok")
    select_option(page, page.get_by_test_id("rule-add-action"), "新增数据")
    select_option(page, page.get_by_test_id("rule-action-0-form"), "项目")
    select_option(page, page.get_by_test_id("rule-action-0-map-add"), "客户")
    expect(page.get_by_test_id("rule-action-0-map-customer-copy")).to_contain_text("客户")
    select_option(page, page.get_by_test_id("rule-action-0-map-add"), "合同金额")
    expect(page.get_by_test_id("rule-action-0-map-amount-copy")).to_contain_text("金额")
    select_option(page, page.get_by_test_id("rule-action-0-map-add"), "项目名称")
    select_option(page, page.get_by_test_id("rule-action-0-map-name-kind"), "公式")
    page.get_by_test_id("rule-action-0-map-name-formula").fill("title")
    expect(page.get_by_test_id("rule-action-0-map-name-formula-check")).to_have_attribute(
        "data-state", "ok"
    )
    page.get_by_test_id("rule-mode-sync").click()
    page.get_by_test_id("rule-save").click()
    expect(page.get_by_text("已保存并发布")).to_be_visible()
    page.wait_for_url(re.compile(r"/apps/crm/_rules/(?!new)[a-z][a-z0-9_]*$"))
    return page.url.rsplit("/", 1)[1]


def user_id(value: Any) -> Any:
    return value["id"] if isinstance(value, dict) else value


def until(check: Any, what: str) -> Any:
    """`check()` once it answers something (an async rule runs on the server's job worker)."""
    deadline = time.monotonic() + 60
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_done_when(browser: Browser, server: Server, shot: Shot) -> None:
    # the builder sets the rule up in the browser
    builder = signed_in(browser, server, "admin")
    key = build_the_rule(builder)
    shot(builder, "rule-built")
    [rule] = [r for r in api_call(server, "GET", "/apps/crm")["rules"] if r["key"] == key]
    assert (rule["form"], rule["on"], rule["when"], rule["mode"]) == (
        "opportunity",
        {"type": "field_changed", "fields": ["stage"]},
        'stage = "won"',
        "sync",
    )
    assert rule["actions"][0]["form"] == "project"

    # the next opportunity a rep sets to 已签约 in the UI creates the 项目
    token = user_token(server, "rep_a1")
    deals = records(server, "opportunity", token=token, limit="200")["items"]
    deal = next(d for d in deals if d["stage"] not in ("won", "lost") and d.get("amount"))
    before = {p["_id"] for p in records(server, "project", token=token, limit="500")["items"]}
    rep = signed_in(browser, server, "rep_a1")
    rep.goto(f"/apps/crm/opportunity/{deal['_id']}/edit")
    rep.get_by_test_id("field-stage").get_by_text("已签约", exact=True).click()
    rep.get_by_test_id("fill-submit").click()
    expect(rep.get_by_test_id("record-drawer")).to_contain_text("已签约")
    made = [
        p
        for p in records(server, "project", token=token, limit="500")["items"]
        if p["_id"] not in before
    ]
    assert [(p["name"], p["customer"]["_id"], p["amount"]) for p in made] == [
        (deal["title"], deal["customer"]["_id"], deal["amount"])
    ]
    rep.goto("/apps/crm")
    rep.get_by_test_id("menu-project").click()
    expect(rep.get_by_test_id("records-grid")).to_contain_text(deal["title"])
    shot(rep, "project-created")

    # the run is in the rule's log
    builder.goto(f"/apps/crm/_rules/{key}/runs")
    [run] = api_call(server, "GET", f"/apps/crm/rules/{key}/runs")["items"]
    row = builder.get_by_test_id(f"rule-run-{run['id']}")
    expect(row.get_by_test_id("rule-run-state")).to_have_text("成功")
    expect(row.get_by_test_id("rule-run-record")).to_have_text(f"记录 #{deal['_id']}")
    row.locator(".ant-table-row-expand-icon").click()
    expect(builder.get_by_test_id(f"rule-run-{run['id']}-action-0-outcome")).to_have_text(
        f"新增 项目 #{made[0]['_id']}"
    )
    shot(builder, "run-log")

    # a lead created in the UI goes to the next rep, who gets the notice in the bell
    turns = api_call(server, "GET", "/apps/crm/rules/lead_round_robin/runs")["total"]
    nxt = REPS[turns % len(REPS)]
    director = signed_in(browser, server, "director")
    director.goto("/apps/crm/lead/new")
    director.get_by_label("姓名").fill("华南新线索")
    director.get_by_label("公司").fill("深圳某科技有限公司")
    director.get_by_test_id("fill-submit").click()
    expect(director.get_by_test_id("record-drawer")).to_contain_text("华南新线索")
    lead = records(server, "lead", q="华南新线索")["items"][0]
    ids = {u["username"]: u["id"] for u in api_call(server, "GET", "/users?limit=100")}

    def owner() -> Any:
        found = api_call(server, "GET", f"/apps/crm/forms/lead/records/{lead['_id']}")["_owner"]
        return found if user_id(found) != ids["director"] else None

    assert user_id(until(owner, "the lead was not assigned")) == ids[nxt]
    got = signed_in(browser, server, nxt)
    expect(got.get_by_test_id("bell-count")).to_contain_text("1")
    got.get_by_test_id("bell").click()
    notice = got.locator("[data-testid^=notice-][data-kind=assigned_record]")
    expect(notice).to_contain_text("分配给你：华南新线索")
    shot(got, "rep-bell")
    notice.first.click()
    expect(got.get_by_test_id("record-drawer")).to_contain_text("华南新线索")
