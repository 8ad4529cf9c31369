"""Sign in, install the CRM with sample data from the catalog page, switch languages, change the
password and sign out — in Chromium against a real server, under the server's
Content-Security-Policy (no violation may be reported)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, Server, Shot, login, new_page


def csp_violations(page: Page) -> list[str]:
    """The console messages about Content-Security-Policy violations, as they come."""
    seen: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(message.text)

    page.on("console", note)
    return seen


def test_admin_installs_crm_from_the_catalog(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    page = new_page(browser, fresh_server)
    violations = csp_violations(page)
    first = page.goto("/")
    assert (
        first is not None and "frame-ancestors 'none'" in first.headers["content-security-policy"]
    )
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name=re.compile("登 ?录")).click()
    expect(page.get_by_role("alert")).to_be_visible()
    shot(page, "wrong-password")

    login(page, "admin", ADMIN_PASSWORD)
    expect(page.get_by_text("还没有应用")).to_be_visible()
    shot(page, "no-apps")
    page.get_by_test_id("nav-catalog").click()
    pack = page.get_by_test_id("pack-crm")
    expect(pack.get_by_text("客户管理")).to_be_visible()
    expect(pack.get_by_role("checkbox", name="同时导入示例数据")).to_be_checked()
    shot(page, "catalog")
    pack.get_by_role("button", name=re.compile("安 ?装")).click()
    expect(page).to_have_url(re.compile(r"/apps/crm$"), timeout=120_000)
    expect(page.get_by_test_id("menu-customer")).to_be_visible()
    shot(page, "crm-home")

    page.get_by_test_id("menu-customer").click()
    expect(page.get_by_test_id("grid-total")).to_have_text("共 240 条")
    shot(page, "customers")

    page.get_by_test_id("language-switch").click()
    expect(page.get_by_test_id("grid-total")).to_have_text("240 records")
    expect(page.get_by_test_id("menu-customer")).to_have_text("Customer")
    shot(page, "english")
    page.get_by_test_id("language-switch").click()
    expect(page.get_by_test_id("menu-customer")).to_have_text("客户")

    page.get_by_test_id("nav-catalog").click()
    expect(page.get_by_test_id("pack-crm").get_by_text("已安装")).to_be_visible()
    page.goto("/apps/crm/opportunity/new")  # a form whose formulas run in the browser
    expect(page.get_by_role("button", name=re.compile("提 ?交|保 ?存")).first).to_be_visible()
    assert violations == []


def test_install_without_sample_data_password_change_and_sign_out(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    page = new_page(browser, fresh_server)
    violations = csp_violations(page)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/catalog")
    pack = page.get_by_test_id("pack-crm")
    pack.get_by_role("checkbox", name="同时导入示例数据").uncheck()
    pack.get_by_role("button", name=re.compile("安 ?装")).click()
    expect(page).to_have_url(re.compile(r"/apps/crm$"))
    page.get_by_test_id("menu-customer").click()
    expect(page.get_by_test_id("grid-total")).to_have_text("共 0 条")
    shot(page, "empty-customers")

    page.get_by_test_id("user-menu").click()
    page.get_by_text("修改密码").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("当前密码").fill("not-my-password")
    dialog.get_by_label("新密码", exact=True).fill("New-Password-2026")
    dialog.get_by_label("确认新密码").fill("New-Password-2026")
    expect(dialog.get_by_role("checkbox", name="同时吊销我的 API 令牌")).to_be_checked()
    dialog.get_by_role("button", name=re.compile("确 ?定|OK")).click()
    expect(dialog.locator(".ant-form-item-explain-error").first).to_be_visible()
    shot(page, "wrong-current-password")
    dialog.get_by_label("当前密码").fill(ADMIN_PASSWORD)
    dialog.get_by_role("button", name=re.compile("确 ?定|OK")).click()
    expect(page.get_by_text("密码已修改")).to_be_visible()

    page.get_by_test_id("user-menu").click()
    page.get_by_text("退出登录").click()
    expect(page).to_have_url(re.compile(r"/login"))
    login(page, "admin", "New-Password-2026")
    expect(page.get_by_test_id("app-crm")).to_be_visible()
    assert violations == []
    shot(page, "signed-in-with-new-password")


def test_an_ended_session_returns_to_sign_in_and_back(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    page = new_page(browser, crm_server)
    login(page, "rep_a2", "Jimu@2026")
    page.goto("/apps/crm/customer")
    expect(page.get_by_test_id("grid-total")).to_be_visible()
    page.context.clear_cookies()  # the session cookie is gone (expired, or signed out elsewhere)
    page.get_by_test_id("menu-lead").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapps%2Fcrm%2Flead$"))
    shot(page, "back-to-sign-in")
    page.get_by_label("用户名").fill("rep_a2")
    page.get_by_label("密码").fill("Jimu@2026")
    page.get_by_role("button", name=re.compile("登 ?录")).click()
    expect(page).to_have_url(re.compile(r"/apps/crm/lead$"))
    expect(page.get_by_test_id("grid-total")).to_be_visible()
