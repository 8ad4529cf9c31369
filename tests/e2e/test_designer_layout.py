"""The designer's layout tools in Chromium: sections, side-by-side columns, subforms with their
own fields, form settings, the desktop/phone preview, the unsaved-changes prompt, the
designer on a 375 px screen, and the refusal of a subform inside a subform."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Dialog, Locator, Page, expect

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
from tests.e2e.test_designer import drag


def drag_to(page: Page, source: Locator, target: Locator) -> None:
    """Drag with the target in the middle of the window: near the window's edges dnd-kit scrolls
    the page while the pointer rests, which would move the drop point."""
    target.evaluate("node => node.scrollIntoView({ block: 'center' })")
    drag(page, source, target)


def sub_keys(page: Page, subform: str) -> list[str]:
    prefix = f"designer-subfield-{subform}-"
    keys: list[str] = page.locator(f"[data-testid^={prefix}]").evaluate_all(
        "(rows, prefix) => rows.map((row) => row.dataset.testid.slice(prefix.length))", prefix
    )
    return keys


def canvas_keys(page: Page, within: str = "designer-canvas") -> list[str]:
    keys: list[str] = (
        page.get_by_test_id(within)
        .locator("[data-testid^=designer-field-]")
        .evaluate_all(
            "rows => rows.map((row) => row.dataset.testid.slice('designer-field-'.length))"
        )
    )
    return keys


def box(page: Page, testid: str) -> dict[str, float]:
    settle(page)
    found = page.get_by_test_id(testid).bounding_box()
    assert found, testid
    return {"x": found["x"], "y": found["y"], "width": found["width"], "height": found["height"]}


def name(page: Page, key: str, zh: str, en: str) -> None:
    """Select a card by its label (a card's centre may be a control) and name it."""
    page.get_by_test_id(f"designer-label-{key}").click()
    expect(page.get_by_test_id("prop-key")).to_have_value(key)
    page.get_by_test_id("prop-label-zh").fill(zh)
    page.get_by_test_id("prop-label-en").fill(en)
    # Leaving the label input: the generated key follows the label (pinyin).
    page.get_by_test_id("prop-label-en").press("Tab")


def set_width(page: Page, key: str, text: str) -> None:
    """Pick a width in the card's own dropdown, and wait for the dropdown to close."""
    select_option(page, page.get_by_test_id(f"designer-width-{key}"), text)
    expect(page.locator(".ant-select-dropdown:visible")).to_have_count(0)


def make_app(server: Server, key: str, fields: list[dict[str, Any]]) -> None:
    api_call(
        server,
        "POST",
        "/apps",
        {
            "format": "jimu.app/1",
            "key": key,
            "name": {"zh": "拜访", "en": "Visits"},
            "version": "0.1.0",
            "forms": [{"key": "visit", "name": {"zh": "拜访", "en": "Visit"}, "fields": fields}],
        },
    )


LAID_OUT: list[dict[str, Any]] = [
    {"key": "customer", "type": "text", "label": {"zh": "客户", "en": "Customer"}},
    {"key": "contact", "type": "section", "label": {"zh": "联系方式", "en": "Contact"}},
    {"key": "phone", "type": "phone", "label": {"zh": "电话", "en": "Phone"}, "width": "half"},
    {"key": "email", "type": "email", "label": {"zh": "邮箱", "en": "Email"}, "width": "half"},
    {
        "key": "items",
        "type": "subform",
        "label": {"zh": "物品", "en": "Items"},
        "fields": [{"key": "qty", "type": "integer", "label": "数量"}],
    },
]


def test_sections_columns_and_a_subform_published_filled_and_found(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    make_app(fresh_server, "visits", [])
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/visits/visit/design")
    expect(page.get_by_test_id("designer-drop")).to_be_visible()

    # A field before any section, then a section with two fields under it, made half wide.
    page.get_by_test_id("palette-text").click()
    name(page, "text_1", "客户", "Customer")
    page.get_by_test_id("palette-section").click()
    name(page, "section_1", "联系方式", "Contact")
    page.get_by_test_id("palette-phone").click()
    name(page, "phone_1", "电话", "Phone")
    page.get_by_test_id("palette-email").click()
    name(page, "email_1", "邮箱", "Email")
    assert canvas_keys(page, "designer-section-lianxi_fangshi") == [
        "lianxi_fangshi",
        "dianhua",
        "youxiang",
    ]
    phone, email = box(page, "designer-field-dianhua"), box(page, "designer-field-youxiang")
    assert email["y"] > phone["y"] + phone["height"] - 1  # full width: one under the other
    set_width(page, "dianhua", "1/2")
    set_width(page, "youxiang", "1/2")
    phone, email = box(page, "designer-field-dianhua"), box(page, "designer-field-youxiang")
    assert abs(phone["y"] - email["y"]) < 2, (phone, email)  # side by side on one row
    assert phone["x"] + phone["width"] <= email["x"]
    section = box(page, "designer-field-lianxi_fangshi")
    assert phone["y"] > section["y"]  # grouped under the section's header
    shot(page, "section-and-columns")

    # Dropped on the section's header, a date becomes the section's first field.
    drag_to(
        page,
        page.get_by_test_id("palette-date"),
        page.get_by_test_id("designer-field-lianxi_fangshi"),
    )
    expect(page.get_by_test_id("designer-field-date_1")).to_be_visible()
    assert canvas_keys(page, "designer-section-lianxi_fangshi") == [
        "lianxi_fangshi",
        "date_1",
        "dianhua",
        "youxiang",
    ]
    name(page, "date_1", "拜访日期", "Visited on")

    # A subform at the end, with two fields dragged into its own list; its example field removed.
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_test_id("palette-subform").click()
    name(page, "subform_1", "物品", "Items")
    expect(page.get_by_test_id("designer-subdrop-wupin")).to_contain_text(
        "点击左侧字段类型添加到此子表单"
    )
    drag_to(
        page, page.get_by_test_id("palette-text"), page.get_by_test_id("designer-subdrop-wupin")
    )
    expect(page.get_by_test_id("designer-subfield-wupin-text_1")).to_be_visible()
    expect(page.get_by_test_id("prop-key")).to_have_value("text_1")  # the new sub-field is selected
    page.get_by_test_id("prop-label-zh").fill("品名")
    page.get_by_test_id("prop-label-en").fill("Item")
    drag_to(
        page,
        page.get_by_test_id("palette-money"),
        page.get_by_test_id("designer-subdrop-wupin"),
    )
    expect(page.get_by_test_id("designer-subfield-wupin-money_1")).to_be_visible()
    page.get_by_test_id("prop-label-zh").fill("单价")
    page.get_by_test_id("designer-remove-wupin-qty").click()
    assert sub_keys(page, "wupin") == ["pinming", "danjia"]
    # Sub-fields reorder by drag too (and back).
    drag_to(
        page,
        page.get_by_test_id("designer-subfield-wupin-danjia"),
        page.get_by_test_id("designer-subfield-wupin-pinming"),
    )
    expect(
        page.get_by_test_id("designer-subform-wupin")
        .locator("[data-testid^=designer-subfield-]")
        .first
    ).to_have_attribute("data-testid", "designer-subfield-wupin-danjia")
    page.get_by_test_id("designer-up-wupin-pinming").click()
    assert sub_keys(page, "wupin") == ["pinming", "danjia"]
    page.get_by_test_id("designer-subfield-wupin-pinming").click()
    expect(page.get_by_test_id("prop-label-zh")).to_have_value("品名")
    shot(page, "subform")

    # Form settings: the name and the title field.
    page.get_by_test_id("designer-tab-form").click()
    page.get_by_test_id("form-name-zh").fill("拜访记录")
    page.get_by_test_id("form-name-en").fill("Visit log")
    select_option(page, page.get_by_test_id("form-title-field"), "客户")
    expect(page.get_by_test_id("form-title-field")).to_contain_text("客户")
    expect(page.get_by_test_id("designer-dirty")).to_be_visible()
    shot(page, "form-settings")

    page.get_by_test_id("designer-publish").click()
    plan = page.get_by_test_id("plan-modal")
    expect(plan).to_contain_text("新增字段「物品」")
    shot(page, "plan")
    page.get_by_test_id("plan-confirm").click()
    expect(plan).to_be_hidden()
    expect(page.locator(".ant-message-notice", has_text="已发布").last).to_be_visible()
    expect(page.get_by_test_id("designer-dirty")).to_have_count(0)
    form = api_call(fresh_server, "GET", "/apps/visits")["forms"][0]
    assert form["name"] == {"zh": "拜访记录", "en": "Visit log"}
    assert form["title_field"] == "kehu"
    assert [(f["key"], f["type"], f.get("width")) for f in form["fields"]] == [
        ("kehu", "text", None),
        ("lianxi_fangshi", "section", None),
        ("baifang_riqi", "date", None),
        ("dianhua", "phone", "half"),
        ("youxiang", "email", "half"),
        ("wupin", "subform", None),
    ]
    assert [(f["key"], f["label"]["zh"]) for f in form["fields"][5]["fields"]] == [
        ("pinming", "品名"),
        ("danjia", "单价"),
    ]

    # Filled with a subform row, and found.
    page.goto("/apps/visits/visit/new")
    page.get_by_label("客户").fill("华东电气")
    page.get_by_label("电话").fill("13800000000")
    page.get_by_test_id("subform-wupin-add").click()
    page.locator("#field-input-wupin-0-pinming").fill("变压器")
    page.locator("#field-input-wupin-0-danjia").fill("1200")
    shot(page, "filled")
    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/visits/visit\?open=\d+"))
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("华东电气")
    expect(drawer).to_contain_text("变压器")
    shot(page, "found")
    saved = api_call(fresh_server, "GET", "/apps/visits/forms/visit/records")["items"]
    assert [r["kehu"] for r in saved] == ["华东电气"]
    assert [row["pinming"] for row in saved[0]["wupin"]] == ["变压器"]


def test_preview_on_a_phone_and_the_unsaved_changes_prompt(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    make_app(fresh_server, "visits", LAID_OUT)
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/visits/visit/design")
    expect(page.get_by_test_id("designer-field-customer")).to_be_visible()
    expect(page.get_by_test_id("designer-dirty")).to_have_count(0)

    page.get_by_test_id("designer-preview").click()
    frame = page.get_by_test_id("preview-frame")
    expect(frame).to_have_attribute("data-device", "desktop")
    expect(page.get_by_test_id("preview-section-contact")).to_contain_text("联系方式")
    shot(page, "preview-desktop")
    phone, email = box(page, "preview-field-phone"), box(page, "preview-field-email")
    assert abs(phone["y"] - email["y"]) < 2, (
        phone,
        email,
    )  # half and half, side by side on a desktop
    page.get_by_test_id("preview-phone").click()
    expect(frame).to_have_attribute("data-device", "phone")
    assert box(page, "preview-frame")["width"] == 375
    phone, email = box(page, "preview-field-phone"), box(page, "preview-field-email")
    assert email["y"] > phone["y"] + phone["height"] - 1  # stacked on a phone
    page.locator("#preview-input-customer").fill("试填的客户")
    expect(page.locator("#preview-input-customer")).to_have_value("试填的客户")
    page.get_by_test_id("subform-items-add").click()
    expect(page.get_by_test_id("subform-items-row-0")).to_be_visible()
    shot(page, "preview-phone")
    page.keyboard.press("Escape")
    expect(frame).to_be_hidden()
    assert (
        api_call(fresh_server, "GET", "/apps/visits/forms/visit/records")["items"] == []
    )  # nothing saved

    # An unpublished change: leaving asks; cancelling stays with the change, confirming leaves.
    page.get_by_test_id("palette-number").click()
    expect(page.get_by_test_id("designer-dirty")).to_be_visible()
    page.get_by_test_id("designer-back").click()
    expect(page.get_by_test_id("leave-modal")).to_contain_text("尚未发布的修改")
    shot(page, "leave-prompt")
    page.get_by_test_id("leave-cancel").click()
    expect(page.get_by_test_id("leave-modal")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/apps/visits/visit/design$"))
    expect(page.get_by_test_id("designer-field-number_1")).to_be_visible()
    page.get_by_test_id("menu-visit").click()  # the app's menu asks too
    expect(page.get_by_test_id("leave-modal")).to_be_visible()
    page.get_by_test_id("leave-cancel").click()
    expect(page).to_have_url(re.compile(r"/design$"))

    # Closing the tab asks the browser's own question.
    dialogs: list[str] = []

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    with page.expect_event("close"):
        page.close(run_before_unload=True)
    assert dialogs == ["beforeunload"]

    # Without changes nothing asks.
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/visits/visit/design")
    expect(page.get_by_test_id("designer-field-customer")).to_be_visible()
    page.get_by_test_id("designer-back").click()
    expect(page).to_have_url(re.compile(r"/apps/visits/visit$"))
    # ... and after confirming, the change is gone.
    page.get_by_test_id("design-form").click()
    page.get_by_test_id("palette-number").click()
    page.get_by_test_id("designer-back").click()
    page.get_by_test_id("leave-confirm").click()
    expect(page).to_have_url(re.compile(r"/apps/visits/visit$"))
    assert [
        f["key"] for f in api_call(fresh_server, "GET", "/apps/visits")["forms"][0]["fields"]
    ] == [f["key"] for f in LAID_OUT]


def test_the_designer_on_a_phone(browser: Browser, fresh_server: Server, shot: Shot) -> None:
    make_app(fresh_server, "visits", LAID_OUT)
    page = new_page(browser, fresh_server, width=375, height=800)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/visits/visit/design")
    expect(page.get_by_test_id("designer-field-customer")).to_be_visible()
    palette, canvas, panel = (
        box(page, "designer-palette"),
        box(page, "designer-canvas"),
        box(page, "designer-properties"),
    )
    assert palette["y"] + palette["height"] <= canvas["y"] <= panel["y"]  # stacked
    for part in (palette, canvas, panel):
        assert part["x"] >= 0 and part["x"] + part["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # Half-wide fields stack on a phone, as on the fill page.
    phone, email = box(page, "designer-field-phone"), box(page, "designer-field-email")
    assert email["y"] > phone["y"]
    page.get_by_test_id("palette-text").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("text_1")
    page.get_by_test_id("prop-label-zh").fill("备注")
    page.get_by_test_id("prop-label-zh").press("Tab")  # the key follows the label: beizhu
    expect(page.get_by_test_id("designer-label-beizhu")).to_have_text("备注")
    set_width(page, "beizhu", "1/2")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "designer-375")
    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("plan-modal")).to_contain_text("新增字段「备注」")
    shot(page, "plan-375")
    page.get_by_test_id("plan-confirm").click()
    expect(page.get_by_test_id("plan-modal")).to_be_hidden()
    added = api_call(fresh_server, "GET", "/apps/visits")["forms"][0]["fields"][-1]
    assert (added["key"], added["label"]["zh"], added["width"]) == ("beizhu", "备注", "half")


def test_a_subform_inside_a_subform_is_refused(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    make_app(
        fresh_server,
        "visits",
        [
            *LAID_OUT,
            {
                "key": "lines",
                "type": "subform",
                "label": "明细",
                "fields": [{"key": "note", "type": "text"}],
            },
        ],
    )
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/visits/visit/design")
    expect(page.get_by_test_id("designer-subdrop-items")).to_be_visible()
    refusal = page.locator(".ant-message-notice", has_text="子表单里不能再放子表单")

    drag_to(
        page, page.get_by_test_id("palette-subform"), page.get_by_test_id("designer-subdrop-items")
    )
    expect(refusal.last).to_be_visible()
    shot(page, "refused-drop")
    assert sub_keys(page, "items") == ["qty"]
    # Nor by click while the subform is selected, nor by dragging the other subform in (each
    # time the earlier notice is gone first, so the one seen is new).
    expect(refusal).to_have_count(0)
    page.get_by_test_id("designer-label-items").click()
    page.get_by_test_id("palette-subform").click()
    expect(refusal).to_be_visible()
    expect(refusal).to_have_count(0)
    drag_to(
        page,
        page.get_by_test_id("designer-label-lines"),
        page.get_by_test_id("designer-subdrop-items"),
    )  # by its title
    expect(refusal).to_be_visible()
    assert sub_keys(page, "items") == ["qty"]
    assert canvas_keys(page)[-2:] == ["items", "lines"]
    expect(page.get_by_test_id("designer-dirty")).to_have_count(0)
    # A sub-field's type cannot become subform either.
    expect(refusal).to_have_count(0)
    page.get_by_test_id("designer-subfield-items-qty").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("qty")
    expect(page.get_by_test_id("prop-key")).to_be_disabled()  # published: its key is fixed
    page.get_by_test_id("prop-type").click()
    page.keyboard.type("子表单")  # the type list is long (and virtual): search it
    page.locator(
        ".ant-select-dropdown:visible .ant-select-item-option", has_text="子表单"
    ).first.click()
    expect(refusal).to_be_visible()
    expect(page.get_by_test_id("prop-type")).to_contain_text("整数")
    shot(page, "refused")

    # The server's definition errors on a sub-field land at that sub-field's property.
    page.get_by_test_id("designer-label-items").click()
    page.get_by_test_id("palette-formula").click()
    expect(page.get_by_test_id("designer-subfield-items-formula_1")).to_be_visible()
    expect(page.get_by_test_id("prop-key")).to_be_enabled()  # not published yet
    page.get_by_test_id("prop-expr").fill("qty *")
    page.get_by_test_id("designer-label-customer").click()
    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("formula_1")
    expect(
        page.locator(".ant-form-item-has-error", has=page.get_by_test_id("prop-expr"))
    ).to_be_visible()
    shot(page, "sub-field-error")
    page.get_by_test_id("prop-expr").fill("qty * 2")
    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("plan-modal")).to_be_visible()
