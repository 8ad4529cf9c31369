"""Data views and public links in Chromium: the grid's export matches its filter, an import with
a bad row shows the row's error and writes nothing, public fill links work on a phone without
signing in, query links show only their fields, expired and disabled links say so, the fill
page lays fields out by width, and the record drawer lists related records within the user's
row scope. Runs on a CRM of its own, since it adds records."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    Server,
    ServerTemplates,
    Shot,
    api_call,
    login,
    new_page,
    records,
    select_option,
    stop_server,
    user_token,
)

FILTER = 'level = "A"'


@pytest.fixture(scope="module")
def server(
    server_templates: ServerTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A Jimu with the CRM and its sample data, for this module only (its tests add records)."""
    started = server_templates.start("crm", tmp_path_factory.mktemp("views"))
    yield started
    stop_server(started)


def admin_page(browser: Browser, server: Server, **kwargs: int) -> Page:
    page = new_page(browser, server, **kwargs)
    login(page, "admin", ADMIN_PASSWORD)
    return page


def total(server: Server, form: str, **params: str) -> int:
    found: int = records(server, form, limit="1", **params)["total"]
    return found


def open_more(page: Page, item: str) -> None:
    page.get_by_test_id("grid-more").click()
    page.get_by_test_id(item).click()


def filter_level_a(page: Page) -> None:
    page.get_by_test_id("grid-filter").click()
    builder = page.get_by_test_id("filter-builder")
    builder.get_by_test_id("filter-add").click()
    condition = builder.get_by_test_id("condition-0")
    select_option(page, condition.get_by_test_id("filter-field"), "客户等级")
    select_option(page, condition.get_by_test_id("filter-value"), "A 类（重点）")
    builder.get_by_test_id("filter-apply").click()
    expect(page.get_by_test_id("filter-expr")).to_have_text(FILTER)


def test_export_downloads_the_grids_filtered_rows(
    browser: Browser, server: Server, shot: Shot
) -> None:
    expected = records(server, "customer", filter=FILTER, limit="1000")["items"]
    assert 0 < len(expected) < 240
    page = admin_page(browser, server)
    page.goto("/apps/crm/customer")
    filter_level_a(page)
    expect(page.get_by_test_id("grid-total")).to_have_text(f"共 {len(expected)} 条")
    shot(page, "filtered")

    with page.expect_download() as download:
        open_more(page, "export-xlsx")
    saved = ARTIFACTS / "export.xlsx"
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith(
        "客户-"
    ) and download.value.suggested_filename.endswith(".xlsx")
    rows = list(openpyxl.load_workbook(saved, read_only=True).active.iter_rows(values_only=True))
    header, body = rows[0], [r for r in rows[1:] if any(c is not None for c in r)]
    # The record's id (so a file can be imported back), then the grid's columns in its order
    # (by default the first eight fields).
    assert list(header) == [
        "记录ID",
        "名称",
        "行业",
        "客户等级",
        "来源渠道",
        "手机",
        "邮箱",
        "负责人",
        "地区",
    ]
    assert len(body) == len(expected)
    assert sorted(str(r[header.index("名称")]) for r in body) == sorted(r["name"] for r in expected)
    assert {r[header.index("客户等级")] for r in body} == {"A 类（重点）"}
    shot(page, "exported")

    with page.expect_download() as download:
        open_more(page, "export-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == len(expected) + 1


def workbook(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_import_with_a_bad_row_writes_nothing_then_a_good_file_imports(
    browser: Browser, server: Server, shot: Shot, tmp_path: Path
) -> None:
    before = total(server, "customer")
    bad = workbook(
        tmp_path / "bad.xlsx",
        [
            ["名称", "客户等级", "年采购额"],
            ["导入测试甲公司", "A 类（重点）", 1000],
            ["导入测试乙公司", "B 类（重要）", "很多"],
        ],
    )
    good = workbook(
        tmp_path / "good.xlsx",
        [
            ["名称", "客户等级", "年采购额"],
            ["导入测试甲公司", "A 类（重点）", 1000],
            ["导入测试乙公司", "B 类（重要）", 2500],
        ],
    )
    page = admin_page(browser, server)
    page.goto("/apps/crm/customer")
    expect(page.get_by_test_id("grid-total")).to_have_text(f"共 {before} 条")
    open_more(page, "import-open")
    modal = page.get_by_test_id("import-modal")
    expect(modal).to_contain_text("任何一行有错误时，全部不导入")
    modal.locator("input[type=file]").set_input_files(bad)
    # The mapping step: every column matched by its header; import with it.
    expect(modal.get_by_test_id("import-map-2")).to_contain_text("年采购额")
    modal.get_by_test_id("import-run").click()
    expect(modal.get_by_test_id("import-error")).to_contain_text("没有写入任何数据")
    problems = modal.get_by_test_id("import-problems")
    expect(problems).to_contain_text("年采购额")
    first_row = problems.locator("tbody tr").first
    expect(first_row.locator("td").first).to_have_text("3")  # the spreadsheet's row of 乙公司
    shot(page, "row-error")
    assert total(server, "customer") == before
    assert total(server, "customer", filter='name = "导入测试甲公司"') == 0

    modal.locator("input[type=file]").set_input_files(good)
    modal.get_by_test_id("import-run").click()
    expect(modal.get_by_test_id("import-result")).to_contain_text("已导入 2 条记录")
    shot(page, "imported")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("grid-total")).to_have_text(f"共 {before + 2} 条")
    assert (
        total(server, "customer", filter='name = "导入测试乙公司" AND annual_purchase = 2500') == 1
    )


def create_link_in_the_ui(
    page: Page,
    name: str,
    kind: str,
    fields: list[str],
    key_fields: tuple[str, ...] = (),
    password: str = "",
) -> str:
    """Create a link on the open links page; returns the address of its public page."""
    page.get_by_test_id("links-create").click()
    modal = page.get_by_test_id("link-modal")
    modal.get_by_test_id("link-name").fill(name)
    if kind == "query":
        modal.get_by_test_id("link-kind").get_by_text("查询外链").click()
    for label in fields:
        modal.get_by_test_id("link-fields").get_by_text(label, exact=True).check()
    for label in key_fields:
        select_option(page, modal.get_by_test_id("link-key-fields"), label)
    if key_fields:
        page.keyboard.press("Escape")
    if password:
        modal.get_by_test_id("link-password").fill(password)
    modal.get_by_test_id("link-save").click()
    expect(modal).to_be_hidden()
    row = page.get_by_test_id("links-table").locator("tbody tr.ant-table-row", has_text=name)
    expect(row).to_have_count(1)
    href = row.get_by_test_id("link-url").get_attribute("href")
    assert href and re.search(r"/public/[\w-]+$", href), href
    return href


def test_fill_link_on_a_phone_without_signing_in(
    browser: Browser, server: Server, shot: Shot
) -> None:
    page = admin_page(browser, server)
    page.goto("/apps/crm/customer")
    open_more(page, "links-open")
    expect(page).to_have_url(re.compile(r"/apps/crm/customer/links$"))
    expect(page.get_by_test_id("links-table")).to_contain_text("还没有外链")
    page.get_by_test_id("links-create").click()
    modal = page.get_by_test_id("link-modal")
    expect(
        modal.get_by_test_id("link-fields").get_by_label("名称")
    ).to_be_checked()  # required: ticked for you
    expect(modal.get_by_test_id("link-fields")).not_to_contain_text(
        "负责人"
    )  # people cannot be picked anonymously
    shot(page, "new-link")
    page.keyboard.press("Escape")
    url = create_link_in_the_ui(page, "客户登记", "fill", ["客户等级", "手机", "行业"])
    expect(
        page.get_by_test_id("links-table")
        .locator("tr", has_text="客户登记")
        .get_by_test_id("link-state")
    ).to_have_text("有效")
    shot(page, "links")

    phone = new_page(browser, server, width=375, height=800)
    phone.goto(url)
    form = phone.get_by_test_id("fill-form")
    expect(form).to_be_visible()
    expect(phone.get_by_test_id("user-menu")).to_have_count(0)  # no signed-in shell
    expect(form.locator("[data-testid^=field-]")).to_have_count(4)
    # Phones stack every field; a desktop puts two half-width fields in a row.
    level, industry = (
        phone.get_by_test_id("field-level").bounding_box(),
        phone.get_by_test_id("field-industry").bounding_box(),
    )
    assert level and industry and level["width"] > 300 and industry["x"] == level["x"]
    phone.get_by_label("名称").fill("外链来的客户")
    phone.get_by_label("手机").fill("12345")
    phone.get_by_test_id("field-level").get_by_text("B 类（重要）").click()
    phone.get_by_test_id("fill-submit").click()
    expect(phone.get_by_test_id("field-phone")).to_contain_text(
        "手机号"
    )  # the server's error at its field
    shot(phone, "phone-error")
    phone.get_by_label("手机").fill("13900001234")
    phone.get_by_test_id("fill-submit").click()
    expect(phone.get_by_test_id("public-submitted")).to_contain_text("提交成功")
    shot(phone, "phone-submitted")

    page.goto("/apps/crm/customer")
    page.get_by_test_id("grid-search").locator("input").fill("外链来的客户")
    page.keyboard.press("Enter")
    grid = page.get_by_test_id("records-grid")
    expect(grid.locator("tbody tr.ant-table-row")).to_have_count(1)
    expect(grid).to_contain_text("B 类（重要）")
    shot(page, "in-the-grid")
    [record] = records(server, "customer", filter='name = "外链来的客户"')["items"]
    assert record["phone"] == "13900001234" and record["level"] == "B"


def test_the_fill_page_lays_fields_out_by_width(
    browser: Browser, server: Server, shot: Shot
) -> None:
    page = admin_page(browser, server)
    page.goto("/apps/crm/customer/new")
    industry, level = (
        page.get_by_test_id("field-industry").bounding_box(),
        page.get_by_test_id("field-level").bounding_box(),
    )
    name, region = (
        page.get_by_test_id("field-name").bounding_box(),
        page.get_by_test_id("field-region").bounding_box(),
    )
    assert industry and level and name and region
    assert industry["y"] == level["y"] and level["x"] > industry["x"]  # half + half: one row
    assert abs(industry["width"] * 2 - name["width"]) < 40  # half of a full-width field
    assert abs(region["width"] - name["width"]) < 2
    shot(page, "desktop")


def test_query_link_shows_only_its_fields(browser: Browser, server: Server, shot: Shot) -> None:
    customer = records(server, "customer", filter="NOT ISBLANK(phone)", limit="1", sort="_id")[
        "items"
    ][0]
    page = admin_page(browser, server)
    page.goto("/apps/crm/customer/links")
    url = create_link_in_the_ui(
        page, "客户查询", "query", ["名称", "客户等级"], key_fields=("手机",), password="查询密码1"
    )
    shot(page, "links")

    visitor = new_page(browser, server, width=375, height=800)
    visitor.goto(url)
    prompt = visitor.get_by_test_id("public-password")
    expect(prompt).to_contain_text("该链接需要密码")
    visitor.get_by_test_id("public-password-input").fill("wrong")
    visitor.get_by_test_id("public-password-submit").click()
    expect(prompt).to_contain_text("外链密码错误")
    visitor.get_by_test_id("public-password-input").fill("查询密码1")
    visitor.get_by_test_id("public-password-submit").click()
    query = visitor.get_by_test_id("public-query-form")
    expect(query).to_be_visible()
    expect(query.locator("[data-testid^=key-]")).to_have_count(1)
    visitor.get_by_label("手机").fill(customer["phone"])
    visitor.get_by_test_id("public-search").click()
    results = visitor.get_by_test_id("public-results")
    expect(results).to_contain_text(customer["name"])
    assert [h.strip() for h in results.locator("thead th").all_inner_texts()] == [
        "名称",
        "客户等级",
    ]
    expect(results).not_to_contain_text(customer["phone"])
    shot(visitor, "results")
    visitor.get_by_label("手机").fill("13000000000")
    visitor.get_by_test_id("public-search").click()
    expect(results).to_contain_text("没有找到符合条件的记录")


def test_expired_and_disabled_links_say_so(browser: Browser, server: Server, shot: Shot) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    expired = api_call(
        server,
        "POST",
        "/apps/crm/forms/contact/links",
        {"kind": "query", "fields": ["name"], "key_fields": ["phone"], "expires_at": past},
    )
    visitor = new_page(browser, server, width=375, height=800)
    visitor.goto(f"/public/{expired['token']}")
    expect(visitor.get_by_test_id("public-gone")).to_contain_text("该外链已过期")
    shot(visitor, "expired")

    page = admin_page(browser, server)
    page.goto("/apps/crm/contact/links")
    row = page.get_by_test_id(f"link-row-{expired['id']}")
    expect(row.get_by_test_id("link-state")).to_have_text("已过期")
    url = create_link_in_the_ui(page, "按手机找联系人", "query", ["姓名"], key_fields=("手机",))
    rows = page.get_by_test_id("links-table").locator("tbody tr.ant-table-row")
    row = rows.filter(has_text="按手机找联系人")
    row.get_by_test_id("link-enabled").click()
    expect(row.get_by_test_id("link-state")).to_have_text("已停用")
    shot(page, "disabled")
    visitor.goto(urllib.parse.urlparse(url).path)
    expect(visitor.get_by_test_id("public-gone")).to_contain_text("该外链已停用")
    shot(visitor, "disabled")

    row.get_by_test_id("link-delete").click()
    page.get_by_role("button", name=re.compile("确 ?定|OK")).click()
    expect(rows).to_have_count(1)
    visitor.goto(urllib.parse.urlparse(url).path)
    expect(visitor.get_by_test_id("public-not-found")).to_contain_text("链接不存在")


def test_drawer_lists_related_records_within_the_users_scope(
    browser: Browser, server: Server, shot: Shot
) -> None:
    rep = user_token(server, "rep_a1")
    followups = records(server, "followup", token=rep, limit="1000")["items"]
    counts: dict[int, int] = {}
    for f in followups:
        counts[f["customer"]["_id"]] = counts.get(f["customer"]["_id"], 0) + 1
    customer = max(counts, key=lambda c: counts[c])
    # Another rep's 跟进记录 on the same customer: the rep may not see it, the admin may.
    other = api_call(
        server,
        "POST",
        "/apps/crm/forms/followup/records",
        {"customer": customer, "method": "visit", "content": "另一位销售的拜访"},
    )
    api_call(
        server,
        "POST",
        "/apps/crm/forms/followup/records/transfer",
        {"ids": [other["_id"]], "owner": owner_id(server, "rep_b1")},
    )
    mine = records(server, "followup", token=rep, related=f"customer:{customer}", limit="100")
    everyone = records(server, "followup", related=f"customer:{customer}", limit="100")
    assert mine["total"] == counts[customer] and everyone["total"] == counts[customer] + 1
    contacts = records(server, "contact", token=rep, related=f"customer:{customer}")["total"]

    page = new_page(browser, server)
    login(page, "rep_a1", "Jimu@2026")
    page.goto(f"/apps/crm/customer?open={customer}")
    drawer = page.get_by_test_id("record-drawer")
    drawer.get_by_test_id("related-tab").click()
    related = drawer.get_by_test_id("related-records")
    expect(related.get_by_test_id("related-count-followup-customer")).to_contain_text(
        str(counts[customer])
    )
    expect(related.get_by_test_id("related-count-contact-customer")).to_contain_text(str(contacts))
    expect(related).to_contain_text("跟进记录")
    expect(related.get_by_test_id(f"related-item-followup-{other['_id']}")).to_have_count(0)
    shot(page, "rep-related")
    newest = max(f["_id"] for f in followups if f["customer"]["_id"] == customer)
    related.get_by_test_id(f"related-item-followup-{newest}").click()
    expect(page).to_have_url(re.compile(rf"/apps/crm/followup\?open={newest}$"))
    expect(page.get_by_test_id("record-drawer").get_by_test_id("record-fields")).to_be_visible()
    shot(page, "opened-related")

    admin = admin_page(browser, server)
    admin.goto(f"/apps/crm/customer?open={customer}")
    admin.get_by_test_id("record-drawer").get_by_test_id("related-tab").click()
    expect(admin.get_by_test_id(f"related-item-followup-{other['_id']}")).to_be_visible()
    expect(admin.get_by_test_id("related-count-followup-customer")).to_contain_text(
        str(counts[customer] + 1)
    )
    shot(admin, "admin-related")


def owner_id(server: Server, username: str) -> int:
    users = api_call(server, "GET", f"/users?q={username}&limit=20")
    found: int = next(u["id"] for u in users if u["username"] == username)
    return found


def test_the_grids_menu_follows_the_role(browser: Browser, server: Server, shot: Shot) -> None:
    """A 销售代表 may export their customers but not import them nor manage links; 财务 may only
    view customers and gets no menu; 管理员 (whose role has the 外链 action) manages links."""
    rep = new_page(browser, server)
    login(rep, "rep_a1", "Jimu@2026")
    rep.goto("/apps/crm/customer")
    rep.get_by_test_id("grid-more").click()
    expect(rep.get_by_test_id("export-xlsx")).to_be_visible()
    expect(rep.get_by_test_id("import-open")).to_have_count(0)
    expect(rep.get_by_test_id("links-open")).to_have_count(0)
    shot(rep, "rep-menu")
    with rep.expect_download() as download:
        rep.get_by_test_id("export-csv").click()
    rows = list(
        csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig")))
    )
    mine = records(server, "customer", token=user_token(server, "rep_a1"), limit="1")["total"]
    assert len(rows) - 1 == mine
    rep.goto("/apps/crm/customer/links")
    expect(rep.get_by_text("没有权限")).to_be_visible()  # the server refuses; the page says so
    shot(rep, "rep-links-refused")

    finance = new_page(browser, server)
    login(finance, "finance", "Jimu@2026")
    finance.goto("/apps/crm/customer")
    expect(finance.get_by_test_id("grid-total")).to_be_visible()
    expect(finance.get_by_test_id("grid-more")).to_have_count(0)

    builder = new_page(browser, server)
    login(builder, "crm_admin", "Jimu@2026")
    builder.goto("/apps/crm/customer")
    builder.get_by_test_id("grid-more").click()
    expect(builder.get_by_test_id("links-open")).to_be_visible()
    expect(builder.get_by_test_id("import-open")).to_be_visible()
    shot(builder, "builder-menu")
