"""Issue 5's "done when", in English: an administrator installs the CRM with its sample data from
the catalog, adds a new form to it from the app home, builds it by dragging fields in, publishes
it, fills it from a phone-sized window (and a guest fills it through a public link), and the
records are found in the grid.

The same journey in Chinese is covered step by step by test_sign_in_and_catalog.py,
test_designer.py and test_fill.py."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, Server, Shot, api_call, column_texts, new_page
from tests.e2e.test_designer import drag, field_order, label, pick

ENGLISH = "localStorage.setItem('jimu.lang', 'en');"


def sign_in_in_english(page: Page, username: str, password: str) -> None:
    page.add_init_script(ENGLISH)
    page.goto("/login")
    expect(page.get_by_text("Sign in to Jimu")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def test_install_build_publish_fill_on_a_phone_and_find_in_english(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    page = new_page(browser, fresh_server, lang="en")
    sign_in_in_english(page, "admin", ADMIN_PASSWORD)
    expect(page.get_by_text("No apps yet")).to_be_visible()
    page.get_by_test_id("nav-catalog").click()
    pack = page.get_by_test_id("pack-crm")
    expect(pack.get_by_role("checkbox", name="Include sample data")).to_be_checked()
    shot(page, "catalog")
    pack.get_by_role("button", name="Install").click()
    expect(page).to_have_url(re.compile(r"/apps/crm$"), timeout=120_000)
    expect(page.get_by_test_id("menu-customer")).to_have_text("Customer")

    # A new form in the installed app, from the app home.
    page.get_by_test_id("new-form").click()
    page.get_by_test_id("new-form-key").fill("visit")
    page.get_by_test_id("new-form-zh").fill("拜访记录")
    page.get_by_test_id("new-form-en").fill("Site visit")
    shot(page, "new-form")
    page.get_by_test_id("new-form-create").click()
    expect(page).to_have_url(re.compile(r"/apps/crm/visit/design$"))
    expect(page.get_by_test_id("palette-text")).to_have_text("Text")
    shot(page, "empty-designer")

    drag(page, page.get_by_test_id("palette-text"), page.get_by_test_id("designer-drop"))
    expect(page.get_by_test_id("designer-field-text_1")).to_be_visible()
    drag(page, page.get_by_test_id("palette-integer"), page.get_by_test_id("designer-field-text_1"))
    expect(page.get_by_test_id("designer-field-integer_1")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    drag(
        page,
        page.get_by_test_id("designer-field-text_1"),
        page.get_by_test_id("designer-field-integer_1"),
    )
    expect(page.locator("[data-testid^=designer-field-]").first).to_have_attribute(
        "data-testid", "designer-field-text_1"
    )
    page.get_by_test_id("palette-textarea").click()
    page.get_by_test_id("palette-formula").click()
    assert field_order(page) == ["text_1", "integer_1", "textarea_1", "formula_1"]
    label(page, "text_1", "拜访对象", "Visited company")
    page.get_by_test_id("prop-required").check()
    label(page, "integer_1", "参加人数", "Attendees")
    label(page, "textarea_1", "大型拜访说明", "Large visit notes")
    page.get_by_test_id("prop-visible_when").fill("canjia_renshu >= 5")
    label(page, "formula_1", "人数说明", "Headcount")
    page.get_by_test_id("prop-expr").fill('canjia_renshu & " people"')
    pick(page, "renshu_shuoming")
    shot(page, "designed")

    page.get_by_test_id("designer-publish").click()
    plan = page.get_by_test_id("plan-modal")
    expect(plan).to_contain_text('Add field "Visited company"')
    expect(plan).to_contain_text('Add field "Headcount"')
    shot(page, "plan")
    page.get_by_test_id("plan-confirm").click()
    expect(plan).to_be_hidden()
    expect(page.locator(".ant-message-notice", has_text="Published").last).to_be_visible()
    form = next(
        f for f in api_call(fresh_server, "GET", "/apps/crm")["forms"] if f["key"] == "visit"
    )
    # Each key followed its label (pinyin) when the label input was left.
    keys = ["baifang_duixiang", "canjia_renshu", "daxing_baifang_shuoming", "renshu_shuoming"]
    assert [f["key"] for f in form["fields"]] == keys
    assert api_call(fresh_server, "GET", "/apps/crm")["menu"][-1] == {
        "form": "visit",
        "label": {"zh": "拜访记录", "en": "Site visit"},
    }

    # Filled from a phone-sized window (a new form is open to administrators until roles grant it).
    phone = new_page(browser, fresh_server, width=375, height=740, lang="en")
    sign_in_in_english(phone, "admin", ADMIN_PASSWORD)
    phone.goto("/apps/crm/visit/new")
    fill = phone.get_by_test_id("fill-form")
    expect(fill).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.get_by_label("Visited company").fill("Xi'an Boyuan Media")
    expect(phone.get_by_label("Large visit notes")).to_be_hidden()
    phone.get_by_label("Attendees").fill("6")
    expect(phone.get_by_test_id("computed-renshu_shuoming")).to_have_text("6 people")
    expect(phone.get_by_label("Large visit notes")).to_be_visible()  # shown once 5 or more come
    expect(phone.get_by_label("Attendees")).to_have_value("6")
    phone.get_by_label("Large visit notes").fill("Whole purchasing team; bring samples.")
    shot(phone, "phone-filled")
    phone.get_by_test_id("fill-submit").click()
    expect(phone).to_have_url(re.compile(r"/apps/crm/visit\?open=\d+"))
    expect(phone.get_by_test_id("record-drawer")).to_contain_text("Whole purchasing team")
    shot(phone, "phone-saved")

    # Someone outside the company fills it through a public fill link, on a phone, signed out:
    # the same page, with the link's own show/hide rule reacting as they type.
    link = api_call(
        fresh_server,
        "POST",
        "/apps/crm/forms/visit/links",
        {"kind": "fill", "name": "Visit sign-up", "fields": keys[:3]},
    )
    guest = new_page(browser, fresh_server, width=375, height=740, lang="en")
    guest.add_init_script(ENGLISH)
    guest.goto(f"/public/{link['token']}")
    guest.get_by_label("Visited company").fill("Shenzhen Qianhai Trading")
    expect(guest.get_by_label("Large visit notes")).to_be_hidden()
    guest.get_by_label("Attendees").fill("8")
    expect(guest.get_by_label("Large visit notes")).to_be_visible()
    guest.get_by_label("Large visit notes").fill("Visiting with their finance team.")
    shot(guest, "public-link-filled")
    guest.get_by_test_id("fill-submit").click()
    expect(guest.get_by_test_id("public-again")).to_be_visible()
    shot(guest, "public-link-sent")

    # Found in the grid, back on the desktop.
    page.get_by_test_id("menu-visit").click()
    expect(page.get_by_test_id("grid-total")).to_have_text("2 records")
    grid = page.locator(".ant-table")
    assert sorted(column_texts(grid, "Visited company")) == [
        "Shenzhen Qianhai Trading",
        "Xi'an Boyuan Media",
    ]
    assert sorted(column_texts(grid, "Headcount")) == ["6 people", "8 people"]
    shot(page, "found")
