"""The report designer and report page in Chromium on the stock CRM: the CRM's administrator (a
builder role) builds "this month's signed amount per sales rep" as a ranking on the contract
form — 负责人 to rows, 合同金额 to measures, a this-month filter in the formula editor, sort
descending, top 10 — sees the numbers in the live preview, saves, opens the report from the
app menu's 报表 group and exports it to Excel (a real .xlsx whose amount cell is a number). A
销售代表 opening the same report sees only their own row. A 375 px phone renders the report
page and the designer says it is a desktop tool. A bad formula measure is shown in the preview
and at its control, with nothing saved; every chart type draws in the preview.

This month's contracts are created through the API as two reps (the pack's sample dates are
fixed), so the expected numbers are known: 郑浩 2,500.00 (two contracts), 冯磊 3,000.00."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    SAMPLE_PASSWORD,
    Server,
    Shot,
    api_call,
    column_texts,
    login,
    new_page,
    records,
    select_option,
    user_token,
)

# This month's contracts — only the ones this test signs ("… 本月合同"): the sample data's dates
# move to the install month (apps_catalog/crm/sample_dates.json), so it has contracts signed
# this month too, whose sums the test would otherwise have to recompute.
THIS_MONTH = (
    "YEAR(signed_date) = YEAR(TODAY()) AND MONTH(signed_date) = MONTH(TODAY())"
    ' AND RIGHT(title, 4) = "本月合同"'
)


def sign_contract(server: Server, username: str, items: list[tuple[int, str]]) -> None:
    """A contract signed today by `username` (its owner), on a customer they own."""
    token = user_token(server, username)
    customer = records(server, "customer", token=token, limit="1")["items"][0]["_id"]
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    body: dict[str, Any] = {
        "title": f"{username} 本月合同",
        "customer": customer,
        "start_date": today,
        "end_date": today,
        "signed_date": today,
        "status": "active",
        "items": [{"product": "服务", "qty": qty, "price": price} for qty, price in items],
    }
    api_call(server, "POST", "/apps/crm/forms/contract/records", body, token=token)


def ranking_rows(page: Page) -> list[tuple[str, str]]:
    """The report page's data table (under the chart): owner and amount per line."""
    page.get_by_test_id("report-show-data").click()
    table = page.get_by_test_id("report-table")
    expect(table).to_be_visible()
    return list(
        zip(column_texts(table, "负责人"), column_texts(table, "合同金额（合计）"), strict=True)
    )


@pytest.mark.server_template("crm")
def test_a_manager_builds_a_ranking_saves_exports_and_a_rep_sees_only_their_own(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    server = fresh_server
    sign_contract(server, "rep_a1", [(2, "1000.00")])
    sign_contract(server, "rep_a1", [(1, "500.00")])
    sign_contract(server, "rep_b1", [(3, "1000.00")])

    page = new_page(browser, server)
    login(page, "crm_admin", SAMPLE_PASSWORD)
    page.goto("/apps/crm")
    page.get_by_test_id("menu-reports").click()
    page.get_by_test_id("report-create").click()
    page.get_by_test_id("report-name-zh").fill("本月签单金额排行")
    page.get_by_test_id("report-name-en").fill("Signed this month")
    page.get_by_test_id("report-key").fill("signed_ranking")
    select_option(page, page.get_by_test_id("report-form"), "合同")
    page.get_by_test_id("report-add-rows-_owner").click()
    page.get_by_test_id("report-add-measures-amount").click()
    expect(page.get_by_test_id("report-measures-0-key")).to_have_value("amount_sum")
    page.get_by_test_id("report-filter").fill(THIS_MONTH)
    select_option(page, page.get_by_test_id("report-sort"), "amount_sum")
    page.get_by_test_id("report-sort-desc").check()
    page.get_by_test_id("report-limit").fill("10")

    # The live preview as a table first: this month's amounts per rep, largest first.
    preview = page.get_by_test_id("report-preview-table")
    expect(preview).to_contain_text("¥3,000.00")
    assert column_texts(preview, "负责人") == ["冯磊（销售二组）", "郑浩（销售一组）"]
    assert column_texts(preview, "合同金额（合计）") == ["¥3,000.00", "¥2,500.00"]
    select_option(page, page.get_by_test_id("report-chart"), "排行榜")
    expect(page.get_by_test_id("report-preview-chart").locator("canvas")).to_be_visible()
    shot(page, "designer")
    page.get_by_test_id("report-save").click()
    expect(page.get_by_text("已保存")).to_be_visible()

    saved = next(
        r for r in api_call(server, "GET", "/apps/crm")["reports"] if r["key"] == "signed_ranking"
    )
    assert saved["form"] == "contract"
    assert saved["rows"] == [{"field": "_owner"}]
    assert saved["measures"] == [{"key": "amount_sum", "agg": "sum", "field": "amount"}]
    assert saved["filter"] == THIS_MONTH
    assert saved["sort"] == [{"key": "amount_sum", "desc": True}]
    assert saved["limit"] == 10
    assert saved["chart"]["type"] == "ranking"

    # The report page from the menu's 报表 group, its chart, its numbers, and the Excel export.
    page.get_by_test_id("menu-report-signed_ranking").click()
    expect(page.get_by_test_id("report-title")).to_have_text("本月签单金额排行")
    expect(page.get_by_test_id("report-chart").locator("canvas")).to_be_visible()
    assert ranking_rows(page) == [
        ("冯磊（销售二组）", "¥3,000.00"),
        ("郑浩（销售一组）", "¥2,500.00"),
    ]
    shot(page, "report")
    with page.expect_download() as download:
        page.get_by_test_id("report-export-xlsx").click()
    path = ARTIFACTS / "report.xlsx"
    download.value.save_as(path)
    assert download.value.suggested_filename.endswith(".xlsx")
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    amounts = {row[0]: row[1] for row in rows[1:] if row and row[0]}
    assert amounts["郑浩（销售一组）"] == 2500
    assert isinstance(amounts["冯磊（销售二组）"], (int, float))
    assert amounts["冯磊（销售二组）"] == 3000

    # Click-through: a rep's row in the data table opens their contracts this month.
    page.get_by_test_id("report-table").get_by_role("link", name="郑浩（销售一组）").click()
    expect(page.get_by_test_id("records-linked-filter")).to_be_visible()
    expect(page.locator(".ant-table-row")).to_have_count(2)
    page.context.close()

    # A 销售代表 sees only their own numbers in the same report.
    rep = new_page(browser, server)
    login(rep, "rep_a1", SAMPLE_PASSWORD)
    rep.goto("/apps/crm")
    rep.get_by_test_id("menu-report-signed_ranking").click()
    expect(rep.get_by_test_id("report-chart").locator("canvas")).to_be_visible()
    assert ranking_rows(rep) == [("郑浩（销售一组）", "¥2,500.00")]
    expect(rep.get_by_test_id("menu-reports")).to_have_count(0)
    rep.context.close()

    # On a 375 px phone: the report page renders inside the screen; the designer says desktop.
    phone = new_page(browser, server, width=375, height=740)
    login(phone, "crm_admin", SAMPLE_PASSWORD)
    phone.goto("/apps/crm/reports/signed_ranking")
    expect(phone.get_by_test_id("report-chart").locator("canvas")).to_be_visible()
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375
    box = phone.get_by_test_id("report-card").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375
    shot(phone, "phone-report")
    phone.goto("/apps/crm/_reports/signed_ranking/edit")
    expect(phone.get_by_test_id("report-desktop-only")).to_be_visible()
    phone.context.close()


@pytest.mark.server_template("crm-no-samples")
def test_a_bad_formula_measure_shows_in_the_preview_and_at_its_control_and_nothing_is_saved(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    server = fresh_server
    page = new_page(browser, server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm/_reports/_new/edit")
    page.get_by_test_id("report-name-zh").fill("错误的公式")
    page.get_by_test_id("report-key").fill("bad_formula")
    select_option(page, page.get_by_test_id("report-form"), "商机")
    page.get_by_test_id("report-add-rows-stage").click()
    page.get_by_test_id("report-add-formula").click()
    page.get_by_test_id("report-measures-0-expr").fill("nosuch / 2")
    problem = page.get_by_test_id("report-preview-problem")
    expect(problem).to_contain_text("measures[0]")
    page.get_by_test_id("report-save").click()
    expect(page.get_by_test_id("report-issues-measures-0")).to_be_visible()
    shot(page, "issue-at-measure")
    reports = api_call(server, "GET", "/apps/crm").get("reports") or []
    assert all(r["key"] != "bad_formula" for r in reports)
    # Fixed, it saves and the preview shows the stages.
    page.get_by_test_id("report-measures-0-expr").fill("")
    page.get_by_test_id("report-measures-0-remove").click()
    page.get_by_test_id("report-add-measures-amount").click()
    expect(
        page.get_by_test_id("report-preview-empty").or_(page.get_by_test_id("report-preview-table"))
    ).to_be_visible()
    page.get_by_test_id("report-save").click()
    expect(page.get_by_text("已保存")).to_be_visible()
    assert any(r["key"] == "bad_formula" for r in api_call(server, "GET", "/apps/crm")["reports"])


def test_every_chart_type_draws_in_the_preview(browser: Browser, crm_server: Server) -> None:
    page = new_page(browser, crm_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/crm/_reports/_new/edit")
    select_option(page, page.get_by_test_id("report-form"), "商机")
    page.get_by_test_id("report-add-rows-stage").click()
    page.get_by_test_id("report-add-columns-_owner").click()
    page.get_by_test_id("report-add-measures-amount").click()
    page.get_by_test_id("report-add-measures-title").click()
    expect(page.get_by_test_id("report-preview-table")).to_contain_text("¥")
    for label in ["柱状图", "堆叠柱状图", "折线图", "面积图", "双轴图"]:
        select_option(page, page.get_by_test_id("report-chart"), label)
        expect(page.get_by_test_id("report-preview-chart").locator("canvas")).to_be_visible()
        expect(page.get_by_test_id("report-preview-problem")).to_have_count(0)
    select_option(page, page.get_by_test_id("report-chart"), "透视表")
    page.get_by_test_id("report-totals").check()
    pivot = page.get_by_test_id("report-preview-pivot")
    expect(pivot).to_contain_text("合计")
    expect(pivot.locator("thead")).to_contain_text("金额（合计）")
    # One dimension and one measure for pie, funnel and ranking; no dimension for the KPI.
    page.get_by_test_id("report-columns-0-remove").click()
    page.get_by_test_id("report-measures-1-remove").click()
    for label in ["饼图", "漏斗图", "排行榜"]:
        select_option(page, page.get_by_test_id("report-chart"), label)
        expect(page.get_by_test_id("report-preview-chart").locator("canvas")).to_be_visible()
        expect(page.get_by_test_id("report-preview-problem")).to_have_count(0)
    page.get_by_test_id("report-rows-0-remove").click()
    select_option(page, page.get_by_test_id("report-chart"), "指标卡")
    expect(page.get_by_test_id("report-preview-kpi")).to_contain_text("¥")
