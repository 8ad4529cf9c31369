"""The designer, type-change and import fixes of issue 16 in Chromium, one walk on one server:
a field named in Chinese gets a pinyin key and no English type name; a select is set to show a
dropdown; a type change names the record whose value does not convert, confirms in red, and
its backup is restored from the designer; an import goes through the template and the
column-mapping step."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    Server,
    Shot,
    api_call,
    login,
    new_page,
    select_option,
)

LEVELS = [
    {"value": v, "label": {"zh": z}} for v, z in [("a", "重点"), ("b", "普通"), ("c", "一般")]
]


def pick_type(page: Page, title: str) -> None:
    """The type list is long (and virtual): search it, then pick the type."""
    page.get_by_test_id("prop-type").click()
    page.keyboard.type(title)
    page.locator(
        ".ant-select-dropdown:visible .ant-select-item-option", has_text=title
    ).first.click()
    expect(page.get_by_test_id("prop-type")).to_contain_text(title)


def test_keys_display_type_change_restore_and_mapped_import(
    browser: Browser, fresh_server: Server, shot: Shot, tmp_path: Path
) -> None:
    api_call(
        fresh_server,
        "POST",
        "/apps",
        {
            "format": "jimu.app/1",
            "key": "shop",
            "name": {"zh": "商店", "en": "Shop"},
            "version": "0.1.0",
            "forms": [
                {
                    "key": "order",
                    "name": {"zh": "订单", "en": "Order"},
                    "title_field": "name",
                    "fields": [
                        {"key": "name", "type": "text", "label": {"zh": "名称"}},
                        {"key": "amount", "type": "text", "label": {"zh": "金额"}},
                        {
                            "key": "level",
                            "type": "select",
                            "label": {"zh": "等级"},
                            "width": "half",
                            "options": LEVELS,
                        },
                    ],
                }
            ],
        },
    )
    records = "/apps/shop/forms/order/records"
    api_call(fresh_server, "POST", records, {"name": "甲", "amount": "12.5"})
    second = api_call(fresh_server, "POST", records, {"name": "乙", "amount": "大约一百万"})["_id"]
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/shop/order/design")

    # A field named in Chinese: its key follows the label (pinyin), no "Text" in English.
    page.get_by_test_id("palette-text").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("text_1")
    page.get_by_test_id("prop-label-zh").fill("客户名称")
    page.get_by_test_id("prop-label-zh").press("Tab")
    expect(page.get_by_test_id("prop-key")).to_have_value("kehu_mingcheng")
    expect(page.get_by_test_id("prop-label-en")).to_have_value("")
    expect(page.get_by_test_id("designer-field-kehu_mingcheng")).to_be_visible()

    # The select shows a dropdown by the builder's choice (3 options would be buttons).
    page.get_by_test_id("designer-field-level").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("level")
    option_zh = page.get_by_test_id("option-zh-0").bounding_box()
    assert option_zh and option_zh["width"] >= 100  # labels get room in the options table
    select_option(page, page.get_by_test_id("prop-display"), "下拉框")

    # 金额 becomes a number: 乙's text does not convert; the plan names it, the confirm is red.
    page.get_by_test_id("designer-field-amount").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("amount")
    pick_type(page, "数字")
    page.get_by_test_id("designer-publish").click()
    plan = page.get_by_test_id("plan-modal")
    expect(plan.get_by_test_id(f"plan-failure-{second}")).to_have_text("乙")
    expect(plan.get_by_test_id("plan-failures")).to_contain_text("大约一百万")
    expect(plan.get_by_test_id("plan-danger")).to_contain_text("1 个无法转换的值将清空")
    expect(page.get_by_test_id("plan-confirm")).to_have_class(re.compile("dangerous"))
    shot(page, "danger-plan")
    page.get_by_test_id("plan-confirm").click()
    expect(plan).to_be_hidden()
    expect(page.locator(".ant-message-notice", has_text="已发布").last).to_be_visible()
    saved = api_call(fresh_server, "GET", "/apps/shop")["forms"][0]["fields"]
    assert [f["key"] for f in saved] == ["name", "amount", "level", "kehu_mingcheng"]
    assert saved[2]["display"] == "dropdown"
    assert saved[3]["label"] == {"zh": "客户名称"}

    # Back to text, then 恢复备份 brings 乙's text back (甲 keeps its own value).
    page.get_by_test_id("designer-field-amount").click()
    pick_type(page, "单行文本")
    page.get_by_test_id("designer-publish").click()
    page.get_by_test_id("plan-confirm").click()
    expect(plan).to_be_hidden()
    [text_backup] = [
        b["backup"]
        for b in api_call(fresh_server, "GET", "/apps/shop/forms/order/backups")
        if b["type"] == "text"
    ]
    page.get_by_test_id("designer-backups").click()
    page.get_by_test_id(f"backup-restore-{text_backup}").click()
    page.get_by_test_id("backup-restore-confirm").click()
    report = page.get_by_test_id("backup-report")
    expect(report).to_contain_text("已恢复 1 个值")
    expect(report.get_by_test_id("backup-skipped")).to_contain_text("记录已有自己的值")
    shot(page, "restored")
    assert api_call(fresh_server, "GET", f"{records}/{second}")["amount"] == "大约一百万"

    # The fill page honours the display: a dropdown, no buttons.
    page.goto("/apps/shop/order/new")
    level = page.get_by_test_id("field-level")
    expect(level.locator(".ant-select")).to_have_count(1)
    expect(level.locator(".ant-radio-button-wrapper")).to_have_count(0)

    # Import: the template is offered; a column the header cannot match is mapped by hand.
    page.goto("/apps/shop/order")
    page.get_by_test_id("grid-more").click()
    page.get_by_test_id("import-open").click()
    modal = page.get_by_test_id("import-modal")
    expect(modal.get_by_test_id("import-template")).to_have_attribute(
        "href", re.compile(r"/records/import/template$")
    )
    sheet = tmp_path / "orders.csv"
    sheet.write_text("名称,总价,备注\n丙,99,不导入\n", encoding="utf-8")
    modal.locator("input[type=file]").set_input_files(sheet)
    mapping = modal.get_by_test_id("import-mapping")
    expect(mapping).to_contain_text("总价")
    expect(modal.get_by_test_id("import-map-0")).to_contain_text("名称")
    expect(modal.get_by_test_id("import-map-1")).to_contain_text("忽略此列")
    select_option(page, modal.get_by_test_id("import-map-1"), "金额")
    shot(page, "mapping")
    modal.get_by_test_id("import-run").click()
    expect(modal.get_by_test_id("import-result")).to_contain_text("已导入 1 条记录")
    found = api_call(fresh_server, "GET", f"{records}?filter=name%20%3D%20%22%E4%B8%99%22")
    assert [(r["name"], r["amount"]) for r in found["items"]] == [("丙", "99")]
