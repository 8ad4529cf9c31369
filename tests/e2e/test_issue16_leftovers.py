"""Issue 16 leftovers in the browser, on the session's CRM server with this module's 填报 app:

- a person whose role may only create (填报) a form opens it from the app's menu on a phone,
  submits, is told it was submitted and lands on the app's home (the record cannot be opened);
  the record is stored as theirs, and its grid still says they have no access;
- 通讯录 tags a person whose password an administrator set 需改密.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, Server, api_call, login, new_page

PASSWORD = "fill-only-pass-16"

FILING: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "filing",
    "version": "1.0.0",
    "name": {"zh": "填报", "en": "Filing"},
    "forms": [
        {
            "key": "brief",
            "name": {"zh": "工作汇报", "en": "Work brief"},
            "title_field": "work",
            "fields": [
                {"key": "work", "type": "text", "label": {"zh": "今日工作"}, "required": True},
                {"key": "secret", "type": "text", "label": {"zh": "批示"}},
            ],
        }
    ],
    "roles": [
        {
            "key": "filer",
            "name": {"zh": "填报员", "en": "Filer"},
            "forms": {"brief": {"actions": ["create"], "scope": "all"}},
        }
    ],
}


@pytest.fixture(scope="module")
def server(crm_server: Server) -> Server:
    """The session's CRM server, with the 填报 app and its two people added."""
    api_call(crm_server, "POST", "/apps", FILING)
    filer = api_call(
        crm_server,
        "POST",
        "/users",
        {"username": "filer16", "display_name": "填报员甲", "password": PASSWORD},
    )
    [role] = api_call(crm_server, "GET", "/roles?app=filing")
    api_call(crm_server, "POST", f"/roles/{role['id']}/members", {"user_id": filer["id"]})
    api_call(
        crm_server,
        "POST",
        "/users",
        {
            "username": "newbie16",
            "display_name": "新人乙",
            "password": PASSWORD,
            "must_change_password": True,
        },
    )
    return crm_server


def test_a_fill_only_role_submits_and_the_directory_tags_must_change(
    browser: Browser, server: Server
) -> None:
    page = new_page(browser, server, width=375, height=760)
    login(page, "filer16", PASSWORD)
    page.goto("/apps/filing")
    page.get_by_test_id("home-form-brief").or_(page.get_by_test_id("quick-add-brief")).first.click()
    expect(page).to_have_url(re.compile(r"/apps/filing/brief/new$"))
    page.get_by_label("今日工作").fill("走访三家门店")
    page.get_by_test_id("fill-submit").click()
    expect(page.get_by_text("已提交。你的角色只能填报")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/apps/filing/?$"))
    stored = api_call(server, "GET", "/apps/filing/forms/brief/records")["items"]
    assert [r["work"] for r in stored] == ["走访三家门店"]
    filer = api_call(server, "GET", "/users?limit=1000")
    assert stored[0]["_created_by"] == next(u["id"] for u in filer if u["username"] == "filer16")
    page.goto("/apps/filing/brief")  # the grid: no access, an offer to fill in
    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_test_id("fill-only")).to_be_visible()
    page.context.close()

    admin = new_page(browser, server)
    login(admin, "admin", ADMIN_PASSWORD)
    admin.goto("/admin/org")
    admin.get_by_test_id("org-search").locator("input").fill("16")
    admin.get_by_test_id("org-search").locator("input").press("Enter")
    expect(admin.get_by_test_id("org-must-change-newbie16")).to_have_text("需改密")
    expect(admin.get_by_test_id("org-user-filer16")).to_be_visible()
    expect(admin.get_by_test_id("org-must-change-filer16")).to_have_count(0)
    admin.context.close()
