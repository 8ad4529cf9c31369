"""The designer's property panel in Chromium: the formula editor (live check with the error at its
line and column, field chips, function help, fields not yet published), a relation to another
form with a lookup through it, select options with colours, a number's maximum enforced when
filling, and a literal default on the fill page."""

from __future__ import annotations

import re
from typing import Any

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


def create_app(server: Server, key: str, forms: list[dict[str, Any]]) -> None:
    api_call(
        server,
        "POST",
        "/apps",
        {
            "format": "jimu.app/1",
            "key": key,
            "name": {"zh": key, "en": key},
            "version": "0.1.0",
            "forms": forms,
        },
    )


def pick(page: Page, key: str) -> None:
    # The field's name: on a phone its controls (44 px targets) wrap under it and fill the
    # card's middle, where a tap works the control rather than selecting the field.
    page.get_by_test_id(f"designer-label-{key}").click()
    expect(page.get_by_test_id("prop-key")).to_have_value(key)


def name(page: Page, zh: str, en: str) -> None:
    page.get_by_test_id("prop-label-zh").fill(zh)
    page.get_by_test_id("prop-label-en").fill(en)


def publish(page: Page) -> None:
    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("plan-modal")).to_be_visible()
    page.get_by_test_id("plan-confirm").click()
    expect(page.get_by_test_id("plan-modal")).to_be_hidden()
    expect(page.locator(".ant-message-notice", has_text="已发布").last).to_be_visible()


def test_formula_editor_checks_live_and_inserts_fields_and_functions(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    create_app(
        fresh_server,
        "shop",
        [
            {
                "key": "orders",
                "name": {"zh": "订单", "en": "Orders"},
                "fields": [
                    {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}},
                    {"key": "amount", "type": "number", "label": {"zh": "金额", "en": "Amount"}},
                    {
                        "key": "total",
                        "type": "formula",
                        "label": {"zh": "合计", "en": "Total"},
                        "expr": "amount * 2",
                    },
                    {
                        "key": "items",
                        "type": "subform",
                        "label": "明细",
                        "fields": [{"key": "qty", "type": "integer", "label": "数量"}],
                    },
                ],
            }
        ],
    )
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/shop/orders/design")
    pick(page, "total")
    expr = page.get_by_test_id("prop-expr")
    check = page.get_by_test_id("prop-expr-check")
    expect(check).to_have_attribute("data-state", "ok")

    # A misspelt field on the second line: the error shows where it is.
    expr.fill("amount +\n  amout")
    expect(check).to_have_attribute("data-state", "error")
    expect(check).to_contain_text("第 2 行第 3 列")
    expect(check).to_contain_text("未知字段 amout（您是否想输入 amount？）")
    expect(page.get_by_test_id("prop-expr-check-pointer")).to_have_text("  amout\n  ^")
    shot(page, "live-error")
    expr.fill("amount * 3")
    expect(check).to_have_attribute("data-state", "ok")
    expect(check).to_contain_text("公式正确，结果类型：数字")
    shot(page, "fixed")

    # Chips insert the canonical reference at the caret; a subform's field is `items.qty`.
    expect(page.get_by_test_id("prop-expr-chip-total")).to_have_count(0)  # not itself
    expr.fill("1 + ")
    page.get_by_test_id("prop-expr-chip-amount").click()
    expect(expr).to_have_value("1 + amount")
    page.keyboard.type(" + SUM(")
    page.get_by_test_id("prop-expr-chip-items.qty").click()
    page.keyboard.type(")")
    expect(expr).to_have_value("1 + amount + SUM(items.qty)")
    expect(check).to_have_attribute("data-state", "ok")
    shot(page, "chips")

    # The function help is searchable and inserts the function.
    expr.fill("")
    page.get_by_test_id("prop-expr-functions").click()
    page.get_by_test_id("prop-expr-function-search").locator("input").fill("四舍五入")
    function = page.get_by_test_id("prop-expr-function-ROUND")
    expect(function).to_contain_text("ROUND(number, [num_digits])")
    shot(page, "functions")
    function.click()
    page.get_by_test_id("prop-expr-chip-amount").click()
    page.keyboard.type(", 1)")
    expect(expr).to_have_value("ROUND(amount, 1)")
    expect(check).to_have_attribute("data-state", "ok")

    # A field added in the designer (not published yet) can be referenced at once.
    page.get_by_test_id("palette-integer").click()
    pick(page, "total")
    expect(page.get_by_test_id("prop-expr-chip-integer_1")).to_be_visible()
    expr.fill("integer_1 + amount")
    expect(check).to_have_attribute("data-state", "ok")
    # The show condition has its own editor, checked the same way.
    visible = page.get_by_test_id("prop-visible_when")
    visible.fill('title = "x" AND')
    expect(page.get_by_test_id("prop-visible_when-check")).to_have_attribute("data-state", "error")
    visible.fill('title = "x"')
    expect(page.get_by_test_id("prop-visible_when-check")).to_contain_text("是/否")
    shot(page, "draft-field")
    publish(page)
    fields = api_call(fresh_server, "GET", "/apps/shop")["forms"][0]["fields"]
    total = next(f for f in fields if f["key"] == "total")
    assert total["expr"] == "integer_1 + amount"
    assert total["visible_when"] == 'title = "x"'


def test_relation_and_lookup_set_up_in_the_designer(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    create_app(
        fresh_server,
        "sales",
        [
            {
                "key": "customers",
                "name": {"zh": "客户", "en": "Customers"},
                "title_field": "name",
                "fields": [
                    {"key": "name", "type": "text", "label": {"zh": "名称", "en": "Name"}},
                    {"key": "city", "type": "text", "label": {"zh": "城市", "en": "City"}},
                ],
            },
            {
                "key": "orders",
                "name": {"zh": "订单", "en": "Orders"},
                "fields": [
                    {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}}
                ],
            },
        ],
    )
    api_call(
        fresh_server,
        "POST",
        "/apps/sales/forms/customers/records",
        {"name": "博元传媒", "city": "西安"},
    )
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/sales/orders/design")

    page.get_by_test_id("palette-relation").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("relation_1")
    name(page, "客户", "Customer")
    # Publishing before the target is picked: the server's error shows at the target.
    page.get_by_test_id("designer-publish").click()
    expect(page.get_by_test_id("prop-target-error")).to_contain_text("other")
    shot(page, "target-error")
    select_option(page, page.get_by_test_id("prop-target"), "客户 (customers)")
    page.get_by_test_id("palette-lookup").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("lookup_1")
    name(page, "客户城市", "Customer city")
    select_option(page, page.get_by_test_id("prop-relation"), "客户 (kehu)")
    select_option(page, page.get_by_test_id("prop-through-field"), "城市 (city)")
    # The relation's fields are offered to formulas as `kehu.city`.
    page.get_by_test_id("palette-formula").click()
    expect(page.get_by_test_id("prop-expr-chip-kehu.city")).to_be_visible()
    page.get_by_test_id("designer-remove-formula_1").click()
    pick(page, "kehu_chengshi")
    shot(page, "lookup-set-up")
    publish(page)
    fields = api_call(fresh_server, "GET", "/apps/sales")["forms"][1]["fields"]
    assert (fields[1]["key"], fields[1]["target"], fields[1]["many"]) == (
        "kehu",
        "customers",
        False,
    )
    assert (fields[2]["key"], fields[2]["relation"], fields[2]["field"]) == (
        "kehu_chengshi",
        "kehu",
        "city",
    )

    page.goto("/apps/sales/orders/new")
    page.get_by_label("标题").fill("年度采购")
    page.get_by_test_id("field-kehu").locator("input").fill("博元")
    page.locator(
        ".ant-select-dropdown:visible .ant-select-item-option", has_text="博元传媒"
    ).click()
    shot(page, "filled")
    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/sales/orders\?open=\d+"))
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("客户城市")
    expect(drawer).to_contain_text("西安")  # the lookup, read through the relation by the server
    shot(page, "lookup-shown")

    # A data linkage default: the city of the customer whose name equals this order's title.
    page.goto("/apps/sales/orders/design")
    page.get_by_test_id("palette-text").click()
    expect(page.get_by_test_id("prop-key")).to_have_value("text_1")
    page.get_by_test_id("default-kind-linkage").click()
    expect(page.get_by_test_id("prop-linkage-incomplete")).to_be_visible()
    select_option(page, page.get_by_test_id("prop-linkage-form"), "客户")
    select_option(page, page.get_by_test_id("linkage-field-0"), "名称")
    select_option(page, page.get_by_test_id("linkage-equals-0"), "标题")
    page.get_by_test_id("linkage-add").click()
    select_option(page, page.get_by_test_id("linkage-field-1"), "记录编号")
    select_option(page, page.get_by_test_id("linkage-equals-1"), "客户")
    page.get_by_test_id("linkage-remove-1").click()
    select_option(page, page.get_by_test_id("prop-linkage-take"), "城市")
    expect(page.get_by_test_id("prop-linkage-incomplete")).to_have_count(0)
    shot(page, "linkage")
    with page.expect_request("**/apps/sales/plan") as sent:
        page.get_by_test_id("designer-publish").click()
    drafted = sent.value.post_data_json["forms"][1]["fields"][-1]
    assert drafted["default"] == {
        "linkage": {
            "form": "customers",
            "when": [{"field": "name", "equals": "title"}],
            "take": "city",
        }
    }


def test_options_with_colours_a_maximum_and_a_literal_default(
    browser: Browser, fresh_server: Server, shot: Shot
) -> None:
    create_app(
        fresh_server,
        "desk",
        [
            {
                "key": "ticket",
                "name": {"zh": "工单", "en": "Tickets"},
                "fields": [
                    {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}}
                ],
            }
        ],
    )
    page = new_page(browser, fresh_server)
    login(page, "admin", ADMIN_PASSWORD)
    page.goto("/apps/desk/ticket/design")

    page.get_by_test_id("palette-select").click()
    name(page, "优先级", "Priority")
    page.get_by_test_id("option-value-0").fill("high")
    page.get_by_test_id("option-zh-0").fill("高")
    page.get_by_test_id("option-en-0").fill("High")
    page.get_by_test_id("option-color-0").click()
    page.locator(".ant-select-dropdown:visible").get_by_test_id("color-f5222d").click()
    page.get_by_test_id("option-add").click()
    page.get_by_test_id("option-value-1").fill("low")
    page.get_by_test_id("option-zh-1").fill("低")
    page.get_by_test_id("option-en-1").fill("Low")
    page.get_by_test_id("option-up-1").click()
    expect(page.get_by_test_id("option-value-0")).to_have_value("low")
    expect(page.get_by_test_id("prop-options")).to_have_value("low|低|Low\nhigh|高|High")
    shot(page, "options")

    page.get_by_test_id("palette-number").click()
    name(page, "数量", "Quantity")
    page.get_by_test_id("prop-max").fill("100")
    pick(page, "title")
    page.get_by_test_id("default-kind-literal").click()
    page.get_by_test_id("prop-default").fill("新工单")
    shot(page, "default")
    publish(page)
    fields = api_call(fresh_server, "GET", "/apps/desk")["forms"][0]["fields"]
    assert fields[0]["default"] == "新工单"
    assert fields[1]["options"] == [
        {"value": "low", "label": {"zh": "低", "en": "Low"}},
        {"value": "high", "label": {"zh": "高", "en": "High"}, "color": "#f5222d"},
    ]
    assert fields[2]["max"] == 100

    page.goto("/apps/desk/ticket/new")
    expect(page.get_by_label("标题")).to_have_value("新工单")  # the literal default
    page.get_by_test_id("field-youxian_ji").get_by_text("高").click()
    page.get_by_label("数量").fill("150")
    page.get_by_test_id("fill-submit").click()
    error = page.get_by_test_id("field-shuliang").locator(".ant-form-item-explain-error")
    expect(error).to_contain_text("100")  # the server's error, at the field
    expect(page).to_have_url(re.compile(r"/ticket/new$"))
    shot(page, "max-enforced")
    page.get_by_label("数量").fill("50")
    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/desk/ticket\?open=\d+"))
    tag = page.locator(".ant-table .ant-tag", has_text="高")
    expect(tag).to_have_css("color", "rgb(245, 34, 45)")  # antd 6 fills a tint, text in the colour
    shot(page, "coloured-tag")

    # On a phone the panel comes below the fields and an option row still fits the screen.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/apps/desk/ticket/design")
    pick(page, "youxian_ji")
    remove = page.get_by_test_id("option-remove-1")
    remove.scroll_into_view_if_needed()
    box = remove.bounding_box()
    assert box and box["x"] + box["width"] <= 375
    page.get_by_test_id("prop-visible_when").scroll_into_view_if_needed()
    shot(page, "phone")
