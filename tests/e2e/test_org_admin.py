"""通讯录 in Chromium: a new administrator, in the browser only, builds a department tree with
three people and a manager, gives them CRM roles through the roles page link, meets the
refusals (moving 销售部 under its own group, deleting a department with members, deactivating
the last administrator), resets a password, and one new person signs in on a phone (and is
made to change the password an administrator set before reaching the app); then a
workbook with one bad row is refused with its row error and nothing created, and the fixed one
imports. One server, the CRM installed once."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    OPENED,
    Server,
    ServerTemplates,
    Shot,
    api_call,
    login,
    new_page,
    select_option,
    stop_server,
)

PASSWORD = "Welcome-2026"


@pytest.fixture(scope="module")
def server(
    server_templates: ServerTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One Jimu for this file with the CRM installed (no sample data: the org starts empty)."""
    started = server_templates.start("crm-no-samples", tmp_path_factory.mktemp("org"))
    yield started
    stop_server(started)


def dept_action(page: Page, department: str, action: str) -> None:
    page.get_by_test_id(f"dept-menu-{department}").click()
    page.locator(".ant-dropdown-menu-item:visible").filter(has_text=action).click()


def tree_pick(page: Page, trigger: Locator, text: str) -> None:
    """Open an antd TreeSelect and pick the department showing `text` in its open dropdown."""
    trigger.click()
    dropdown = page.locator(".ant-select-dropdown:visible")
    dropdown.evaluate(OPENED)
    dropdown.locator(".ant-select-tree-node-content-wrapper").filter(
        has_text=re.compile(f"^{text}$")
    ).click()


def add_user(page: Page, name: str, username: str, manager: str | None = None) -> None:
    page.get_by_test_id("org-add-user").click()
    page.get_by_test_id("user-display_name").fill(name)
    page.get_by_test_id("user-username").fill(username)
    page.get_by_test_id("user-password").fill(PASSWORD)
    page.get_by_test_id("user-phone").fill("13900000000")
    if manager:
        select_option(page, page.get_by_test_id("user-manager"), manager)
    page.get_by_test_id("user-save").click()
    expect(page.get_by_test_id(f"org-user-{username}")).to_be_visible()


def test_an_administrator_runs_the_organisation_in_the_browser(
    browser: Browser, server: Server, shot: Shot
) -> None:
    page = new_page(browser, server)
    login(page, "admin", ADMIN_PASSWORD)
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("nav-org").click()
    expect(page).to_have_url(re.compile(r"/admin/org$"))

    # The tree: 销售部 → 华东销售组.
    page.get_by_test_id("org-add-root").click()
    page.get_by_test_id("dept-dialog-name").fill("销售部")
    page.get_by_test_id("dept-dialog-ok").click()
    expect(page.get_by_test_id("dept-销售部")).to_be_visible()
    dept_action(page, "销售部", "添加子部门")
    page.get_by_test_id("dept-dialog-name").fill("华东销售组")
    page.get_by_test_id("dept-dialog-ok").click()
    expect(page.get_by_test_id("dept-华东销售组")).to_be_visible()

    # Three people in the group, two of them under a manager; the manager heads the group.
    page.get_by_test_id("dept-华东销售组").click()
    expect(page.get_by_test_id("org-current")).to_contain_text("销售部 / 华东销售组")
    add_user(page, "王经理", "wang_mgr")
    add_user(page, "李销售", "li_rep", manager="王经理")
    add_user(page, "赵销售", "zhao_rep", manager="王经理")
    expect(page.get_by_test_id("org-user-li_rep")).to_contain_text("王经理")
    dept_action(page, "华东销售组", "设置负责人")
    select_option(page, page.get_by_test_id("dept-dialog-head"), "王经理")
    page.get_by_test_id("dept-dialog-ok").click()
    expect(page.get_by_test_id("org-current")).to_contain_text("负责人: 王经理")

    # 销售部 lists its group's people unless sub-departments are left out.
    page.get_by_test_id("dept-销售部").click()
    expect(page.get_by_test_id("org-user-zhao_rep")).to_be_visible()
    page.get_by_test_id("org-children").click()
    expect(page.get_by_test_id("org-user-zhao_rep")).to_have_count(0)
    shot(page, "tree-and-people")

    # Refusals: 销售部 under its own group; deleting a department with members; the last admin.
    dept_action(page, "销售部", "移动到")
    tree_pick(page, page.get_by_test_id("dept-dialog-parent"), "华东销售组")
    page.get_by_test_id("dept-dialog-ok").click()
    expect(page.get_by_test_id("dept-dialog-error")).to_contain_text("上级部门不能是自己或下级部门")
    page.get_by_test_id("dept-dialog-cancel").click()
    dept_action(page, "华东销售组", "删除")
    page.locator(".ant-modal-confirm").get_by_role("button", name=re.compile("确")).click()
    expect(page.get_by_test_id("org-refusal")).to_contain_text("还有 3 名成员")
    shot(page, "delete-refused")
    page.locator(".ant-modal-confirm").get_by_role("button").last.click()
    expect(page.get_by_test_id("dept-华东销售组")).to_be_visible()
    page.get_by_test_id("dept-all").click()
    page.get_by_test_id("org-toggle-admin").click()
    page.get_by_test_id("org-toggle-confirm").click()
    expect(page.locator(".ant-message-notice").last).to_contain_text("唯一一位在用的管理员")

    # A generated password for 赵销售, shown once.
    page.get_by_test_id("org-reset-zhao_rep").click()
    page.get_by_test_id("reset-ok").click()
    generated = page.get_by_test_id("reset-generated")
    expect(generated).to_have_text(re.compile(r"^\w{12}$"))
    zhao_password = generated.inner_text().strip()
    page.get_by_test_id("reset-ok").click()

    # App roles through the link to the CRM's roles page.
    page.get_by_test_id("org-roles-crm").click()
    expect(page).to_have_url(re.compile(r"/apps/crm/_roles$"))
    page.get_by_test_id("role-item-sales_rep").click()
    for name in ("李销售", "赵销售"):
        select_option(page, page.get_by_test_id("role-add-user"), name)
        expect(page.get_by_test_id("role-members")).to_contain_text(name)
    page.get_by_test_id("role-item-sales_director").click()
    select_option(page, page.get_by_test_id("role-add-user"), "王经理")
    expect(page.get_by_test_id("role-members")).to_contain_text("王经理")
    page.go_back()
    expect(page.get_by_test_id("org-user-li_rep")).to_contain_text("销售代表")
    shot(page, "roles-given")

    people = {u["username"]: u for u in api_call(server, "GET", "/org/users")["users"]}
    assert people["li_rep"]["manager_id"] == people["wang_mgr"]["id"]
    tree = {d["name"]: d for d in api_call(server, "GET", "/departments")}
    assert tree["华东销售组"]["parent_id"] == tree["销售部"]["id"]
    assert tree["华东销售组"]["head_user_id"] == people["wang_mgr"]["id"]

    # 赵销售 signs in on a phone with the new password: no 通讯录 for them, 403 if typed.
    phone = new_page(browser, server, width=375, height=760)
    login(phone, "zhao_rep", zhao_password)
    # the password an administrator set must be changed first: the dialog cannot be dismissed
    expect(phone.get_by_test_id("password-must")).to_be_visible()
    phone.keyboard.press("Escape")
    expect(phone.get_by_test_id("password-must")).to_be_visible()
    expect(phone.get_by_test_id("app-crm")).to_have_count(0)
    phone.get_by_test_id("password-current").fill(zhao_password)
    phone.get_by_test_id("password-next").fill("zhao-own-pass-1")
    phone.get_by_test_id("password-confirm").fill("zhao-own-pass-1")
    phone.get_by_test_id("password-ok").click()
    expect(phone.get_by_test_id("app-crm")).to_be_visible()
    expect(phone.get_by_test_id("password-must")).to_have_count(0)
    phone.get_by_test_id("user-menu").click()
    expect(phone.locator(".ant-dropdown-menu-item:visible").first).to_be_visible()
    expect(phone.get_by_test_id("nav-org")).to_have_count(0)
    phone.goto("/admin/org")
    expect(phone.get_by_text("只有平台管理员可以管理通讯录")).to_be_visible()
    phone.context.close()

    # The administrator's 通讯录 on a phone: the tree above the list, no sideways scrolling.
    small = new_page(browser, server, width=375, height=760)
    login(small, "admin", ADMIN_PASSWORD)
    small.goto("/admin/org")
    expect(small.get_by_test_id("org-user-li_rep")).to_be_visible()
    tree_box = small.get_by_test_id("dept-销售部").bounding_box()
    list_box = small.get_by_test_id("org-user-li_rep").bounding_box()
    assert tree_box and list_box and tree_box["y"] < list_box["y"]
    assert small.evaluate("document.documentElement.scrollWidth") <= 375
    shot(small, "phone")
    small.context.close()
    page.context.close()


def workbook(users: list[list[str]]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    sheet = book.create_sheet("部门")
    sheet.append(["部门名称", "上级部门", "负责人"])
    sheet.append(["华南销售组", "销售部", "chen_mgr"])
    sheet = book.create_sheet("用户")
    sheet.append(["用户名", "姓名", "部门", "上级", "手机", "邮箱", "角色", "初始密码"])
    for row in users:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_importing_people_from_excel_shows_row_errors_then_imports(
    browser: Browser, server: Server, shot: Shot, tmp_path: Path
) -> None:
    if not any(d["name"] == "销售部" for d in api_call(server, "GET", "/departments")):
        api_call(server, "POST", "/departments", {"name": "销售部"})
    good = ["chen_mgr", "陈经理", "华南销售组", "", "13700000000", "", "", PASSWORD]
    bad = tmp_path / "org-bad.xlsx"
    bad.write_bytes(
        workbook([good, ["he_rep", "何销售", "华南销售组", "nobody", "", "", "销售代表", ""]])
    )
    fixed = tmp_path / "org.xlsx"
    fixed.write_bytes(
        workbook([good, ["he_rep", "何销售", "华南销售组", "chen_mgr", "", "", "销售代表", ""]])
    )
    page = new_page(browser, server)
    login(page, "admin", ADMIN_PASSWORD)
    page.get_by_test_id("home-org").click()
    page.get_by_test_id("org-import").click()
    with page.expect_download() as download:
        page.get_by_test_id("import-template").click()
    assert download.value.suggested_filename == "org-import.xlsx"

    page.locator(".ant-modal input[type=file]").set_input_files(str(bad))
    page.get_by_test_id("import-check").click()
    errors = page.get_by_test_id("import-errors")
    expect(errors).to_contain_text("上级「nobody」不存在")
    expect(errors.locator("tbody tr.ant-table-row")).to_have_count(1)
    expect(page.get_by_test_id("import-run")).to_be_disabled()
    shot(page, "row-error")
    assert not any(d["name"] == "华南销售组" for d in api_call(server, "GET", "/departments"))

    page.locator(".ant-modal input[type=file]").set_input_files(str(fixed))
    page.get_by_test_id("import-check").click()
    expect(page.get_by_test_id("import-ready")).to_contain_text("1 个部门、2 名成员")
    page.get_by_test_id("import-run").click()
    expect(page.get_by_test_id("import-done")).to_contain_text("he_rep")  # generated password
    shot(page, "imported")
    page.get_by_test_id("import-close").click()
    expect(page.get_by_test_id("dept-华南销售组")).to_be_visible()
    people = {u["username"]: u for u in api_call(server, "GET", "/org/users")["users"]}
    assert people["he_rep"]["manager_name"] == "陈经理"
    assert [r["key"] for r in people["he_rep"]["roles"]] == ["sales_rep"]
    page.context.close()
