"""The 报表 menu group lists only the reports its viewer may run (issue 15 leftovers).

In the stock CRM, 财务 (finance) reads contracts, payments and customers: the menu offers the
two contract reports (本月签单金额排行榜, 月度签约趋势) and not 销售漏斗 (opportunities), and the
one it offers opens. The engine decides (`GET /apps/{app}/menu` → `reports`); a member with
no report to run gets no 报表 group at all (tests/reports/test_report_api.py).
"""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import SAMPLE_PASSWORD, Server, login, new_page


def test_the_report_group_holds_only_reports_the_viewer_may_run(
    browser: Browser, crm_server: Server
) -> None:
    page = new_page(browser, crm_server)
    login(page, "finance", SAMPLE_PASSWORD)
    page.goto("/apps/crm")
    expect(page.get_by_test_id("menu-report-group")).to_be_visible()
    expect(page.get_by_test_id("menu-report-monthly_ranking")).to_be_visible()
    expect(page.get_by_test_id("menu-report-monthly_signing")).to_be_visible()
    expect(page.get_by_test_id("menu-report-sales_funnel")).to_have_count(0)
    expect(page.get_by_test_id("menu-report-followup_methods")).to_have_count(0)
    page.get_by_test_id("menu-report-monthly_signing").click()
    expect(page.get_by_test_id("report-chart").locator("canvas")).to_be_visible()
    page.context.close()
