"""Issue 16's "done when" as one walk in Chromium: a new administrator, in the browser only,
builds 销售部 → 华东组 in 通讯录, adds three people to 华东组 (two 销售代表 under a 销售总监) with
initial passwords and gives them the CRM roles through the roles page linked from 通讯录; then
each of the three signs in on a 375 × 760 phone and does their daily action from the CRM's home
in at most 3 taps — the reps save a 跟进记录, the director a 工作简报. The API only checks what
the browser made, and gives each rep the history quick add reads: a customer they own and an
earlier follow-up about it (the customer they last worked with).

Taps are counted as in test_phone_taps.py (every trusted pointerdown, capture phase, kept in
sessionStorage by an init script)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    Server,
    ServerTemplates,
    Shot,
    api_call,
    login,
    new_page,
    records,
    select_option,
    settle,
    stop_server,
    user_token,
)
from tests.e2e.test_org_admin import PASSWORD, add_user, dept_action
from tests.e2e.test_phone_taps import COUNT_TAPS, taps

CHANGED = "Daily-Use-2026"
"""The password a user sets when the product asks them to change the initial one."""
DIRECTOR = ("孙总监", "sun_dir")
REPS = (("钱销售", "qian_rep"), ("周销售", "zhou_rep"))


@pytest.fixture(scope="module")
def server(
    server_templates: ServerTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One Jimu with the CRM installed and no sample data: the organisation starts empty."""
    started = server_templates.start("crm-no-samples", tmp_path_factory.mktemp("donewhen16"))
    yield started
    stop_server(started)


def build_the_organisation(page: Page) -> None:
    """销售部 → 华东组, the director and the two reps in 华东组, and their CRM roles."""
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("nav-org").click()
    expect(page).to_have_url(re.compile(r"/admin/org$"))
    page.get_by_test_id("org-add-root").click()
    page.get_by_test_id("dept-dialog-name").fill("销售部")
    page.get_by_test_id("dept-dialog-ok").click()
    expect(page.get_by_test_id("dept-销售部")).to_be_visible()
    dept_action(page, "销售部", "添加子部门")
    page.get_by_test_id("dept-dialog-name").fill("华东组")
    page.get_by_test_id("dept-dialog-ok").click()
    expect(page.get_by_test_id("dept-华东组")).to_be_visible()
    page.get_by_test_id("dept-华东组").click()
    expect(page.get_by_test_id("org-current")).to_contain_text("销售部 / 华东组")
    add_user(page, *DIRECTOR)
    for name, username in REPS:
        add_user(page, name, username, manager=DIRECTOR[0])

    page.get_by_test_id("org-roles-crm").click()
    expect(page).to_have_url(re.compile(r"/apps/crm/_roles$"))
    page.get_by_test_id("role-item-sales_rep").click()
    for name, _ in REPS:
        select_option(page, page.get_by_test_id("role-add-user"), name)
        expect(page.get_by_test_id("role-members")).to_contain_text(name)
    page.get_by_test_id("role-item-sales_director").click()
    select_option(page, page.get_by_test_id("role-add-user"), DIRECTOR[0])
    expect(page.get_by_test_id("role-members")).to_contain_text(DIRECTOR[0])
    page.go_back()
    expect(page.get_by_test_id(f"org-user-{DIRECTOR[1]}")).to_contain_text("销售总监")


def sign_in_on_a_phone(browser: Browser, server: Server, username: str) -> tuple[Page, str]:
    """Sign `username` in on a 375 × 760 phone with the initial password, setting a new one if
    the product asks for that first; the page on Jimu's home and the password now in effect."""
    page = new_page(browser, server, width=375, height=760)
    page.context.add_init_script(COUNT_TAPS)
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登 录").or_(page.get_by_role("button", name="登录")).click()
    home = page.get_by_test_id("app-crm")
    dialog = page.locator(".ant-modal:visible").filter(has=page.locator("input[type=password]"))
    expect(home.or_(dialog).first).to_be_visible()
    settle(page)  # a dialog shown over the home has finished opening
    if not dialog.is_visible():
        return page, PASSWORD
    # The product asks for a new password before anything else (every password box of its
    # dialog takes the new one except one labelled as the current password, if it has one).
    boxes = dialog.locator("input[type=password]")
    for index in range(boxes.count()):
        box = boxes.nth(index)
        current = box.evaluate(
            "(el) => /当前|原|旧|current|old/i.test((el.labels?.[0]?.innerText || '') + (el.getAttribute('placeholder') || '') + (el.getAttribute('aria-label') || ''))"
        )
        box.fill(PASSWORD if current else CHANGED)
    dialog.locator(".ant-btn-primary").last.click()
    expect(home).to_be_visible()
    return page, CHANGED


def from_the_app_home(page: Page) -> None:
    """Open the CRM from Jimu's home (a tap not counted: the count starts on the app home)."""
    page.get_by_test_id("app-crm").click()
    expect(page.get_by_test_id("quick-add")).to_be_visible()
    page.evaluate("sessionStorage.setItem('__taps', '0')")


def test_a_new_administrator_sets_up_three_people_who_each_work_in_three_taps(
    browser: Browser, server: Server, shot: Shot
) -> None:
    admin = new_page(browser, server)
    login(admin, "admin", ADMIN_PASSWORD)
    build_the_organisation(admin)
    shot(admin, "organisation")
    admin.context.close()

    # What the browser made, checked through the API.
    people = {u["username"]: u for u in api_call(server, "GET", "/org/users")["users"]}
    tree = {d["name"]: d for d in api_call(server, "GET", "/departments")}
    assert tree["华东组"]["parent_id"] == tree["销售部"]["id"]
    director = people[DIRECTOR[1]]
    assert director["department_id"] == tree["华东组"]["id"]
    assert [r["key"] for r in director["roles"]] == ["sales_director"]
    for _, username in REPS:
        rep = people[username]
        assert rep["department_id"] == tree["华东组"]["id"]
        assert rep["manager_id"] == director["id"]
        assert [r["key"] for r in rep["roles"]] == ["sales_rep"]

    for name, username in REPS:
        page, password = sign_in_on_a_phone(browser, server, username)
        token = user_token(server, username, password)
        # The rep's history: a customer of their own and an earlier follow-up about it.
        customer = api_call(
            server,
            "POST",
            "/apps/crm/forms/customer/records",
            {"name": f"{name}的客户有限公司"},
            token=token,
        )
        api_call(
            server,
            "POST",
            "/apps/crm/forms/followup/records",
            {"customer": customer["_id"], "method": "phone", "content": "电话约了拜访时间。"},
            token=token,
        )
        from_the_app_home(page)
        page.get_by_test_id("quick-add-followup").click()  # tap 1
        expect(page.get_by_test_id("field-customer")).to_contain_text(customer["name"])
        page.get_by_test_id("field-method").locator(
            ".ant-radio-button-wrapper", has_text="拜访"
        ).click()  # tap 2
        content = f"{name}上门拜访，确认了报价。"
        page.get_by_label("内容").fill(content)
        page.get_by_test_id("fill-submit").click()  # tap 3
        expect(page.get_by_test_id("record-drawer")).to_contain_text(content)
        assert taps(page) == 3, (username, taps(page))
        shot(page, f"followup-{username}")
        page.context.close()
        saved = records(server, "followup", filter=f'content = "{content}"')
        assert saved["total"] == 1
        followup = saved["items"][0]
        assert followup["customer"]["_id"] == customer["_id"]
        assert followup["method"] == "visit"
        assert followup["_created_by"] == followup["_owner"] == people[username]["id"]

    page, _ = sign_in_on_a_phone(browser, server, DIRECTOR[1])
    from_the_app_home(page)
    page.get_by_test_id("quick-add-work_report").click()  # tap 1
    today = "带华东组过了本周商机，陪钱销售拜访一家客户。"
    page.get_by_label("今日工作").fill(today)
    page.get_by_label("明日计划").fill("审合同。")
    page.get_by_test_id("fill-submit").click()  # tap 2
    expect(page.get_by_test_id("record-drawer")).to_contain_text(today)
    assert taps(page) <= 3 and taps(page) == 2, taps(page)
    shot(page, "work-report")
    page.context.close()
    reports = records(server, "work_report", filter=f'today = "{today}"')
    assert reports["total"] == 1
    report = reports["items"][0]
    assert report["_created_by"] == report["_owner"] == director["id"]
    assert report["tomorrow"] == "审合同。"
