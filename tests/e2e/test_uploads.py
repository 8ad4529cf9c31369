"""An attachment is never silently lost (issue 10, finding 8): on a throttled network (Chromium's
`Network.emulateNetworkConditions`, 4 and 20 Mbit/s up) a user picks a 2 MB file and presses 提交
at once — on the fill page, when editing a record from its drawer, in a subform row, in a grid
cell edited in place and on a public fill link — and the saved record has the file. While an
upload is held back the button reads 上传中… and nothing is saved; an upload that fails blocks
the save with a message at its field; a signature drawn but not confirmed is saved with the
record."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    Server,
    ServerTemplates,
    Shot,
    api_call,
    login,
    new_page,
    stop_server,
)
from tests.e2e.test_fill_inputs import draw_signature

# 2 MB that the server stores as a PDF (random bytes: nothing on the way can compress them).
REPORT = b"%PDF-1.4\n% Jimu e2e upload race\n" + os.urandom(2 * 1024 * 1024)
RATES = [4, 20]  # Mbit/s up, as in the report

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "uploads",
    "name": {"zh": "上传", "en": "Uploads"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "visit",
            "name": {"zh": "拜访记录", "en": "Visit"},
            "title_field": "title",
            "fields": [
                {
                    "key": "title",
                    "type": "text",
                    "label": {"zh": "主题", "en": "Subject"},
                    "required": True,
                },
                {
                    "key": "report",
                    "type": "attachment",
                    "label": {"zh": "拜访报告", "en": "Report"},
                },
                {
                    "key": "sign",
                    "type": "signature",
                    "label": {"zh": "客户签字", "en": "Signature"},
                },
                {
                    "key": "items",
                    "type": "subform",
                    "label": {"zh": "资料", "en": "Documents"},
                    "fields": [
                        {"key": "note", "type": "text", "label": {"zh": "说明", "en": "Note"}},
                        {"key": "doc", "type": "attachment", "label": {"zh": "文件", "en": "File"}},
                    ],
                },
            ],
        }
    ],
    "menu": [{"form": "visit", "label": {"zh": "拜访记录", "en": "Visits"}}],
}
RECORDS = "/apps/uploads/forms/visit/records"


@pytest.fixture(scope="module")
def server(
    server_templates: ServerTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    started = server_templates.start("empty", tmp_path_factory.mktemp("uploads"))
    api_call(started, "POST", "/apps", APP)
    yield started
    stop_server(started)


def admin_page(browser: Browser, server: Server, **size: int) -> Page:
    page = new_page(browser, server, **size)
    login(page, "admin", ADMIN_PASSWORD)
    return page


def throttle(page: Page, mbit: int) -> None:
    """Slow this page's network down to `mbit` Mbit/s each way with 40 ms latency."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = mbit * 1_000_000 / 8  # bytes per second
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 40, "downloadThroughput": rate, "uploadThroughput": rate},
    )


def pick(page: Page | Locator, scope_test_id: str, name: str) -> None:
    """Choose a file in the upload input `scope_test_id` inside `page` (no waiting for the upload)."""
    page.get_by_test_id(scope_test_id).locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "application/pdf", "buffer": REPORT}]
    )


def saved_record(server: Server, page: Page) -> dict[str, Any]:
    """The record the page opened after saving (`?open=<id>`), read back through the API."""
    expect(page).to_have_url(re.compile(r"/apps/uploads/visit\?open=\d+"))
    record_id = int(page.url.rsplit("=", 1)[1])
    record: dict[str, Any] = api_call(server, "GET", f"{RECORDS}/{record_id}")
    return record


def titled(server: Server, title: str) -> list[dict[str, Any]]:
    """The records whose title is `title`."""
    condition = quote(f"title = {json.dumps(title, ensure_ascii=False)}", safe="")
    found: list[dict[str, Any]] = api_call(server, "GET", f"{RECORDS}?filter={condition}")["items"]
    return found


def assert_report(value: Any, name: str) -> None:
    assert isinstance(value, list) and len(value) == 1, f"the attachment was lost: {value!r}"
    assert value[0]["name"] == name and value[0]["size"] == len(REPORT), value


@pytest.mark.parametrize("mbit", RATES)
def test_fill_page_submit_during_upload_saves_the_file(
    browser: Browser, server: Server, shot: Shot, mbit: int
) -> None:
    page = admin_page(browser, server)
    page.goto("/apps/uploads/visit/new")
    expect(page.get_by_test_id("fill-form")).to_be_visible()
    page.get_by_label("主题").fill(f"限速 {mbit} Mbit/s")
    throttle(page, mbit)
    pick(page, "upload-report", "拜访报告.pdf")
    page.get_by_test_id("fill-submit").click()  # at once, while the file goes up
    shot(page, "submitted-while-uploading")
    record = saved_record(server, page)
    assert record["title"] == f"限速 {mbit} Mbit/s"
    assert_report(record["report"], "拜访报告.pdf")
    expect(page.get_by_test_id("record-drawer")).to_contain_text("拜访报告.pdf")
    shot(page, "saved")


@pytest.mark.parametrize("mbit", RATES)
def test_drawer_edit_submit_during_upload_saves_the_file(
    browser: Browser, server: Server, shot: Shot, mbit: int
) -> None:
    created = api_call(server, "POST", RECORDS, {"title": f"待补报告 {mbit}"})
    page = admin_page(browser, server)
    page.goto(f"/apps/uploads/visit?open={created['_id']}")
    page.get_by_test_id("record-drawer").get_by_test_id("record-edit").click()
    expect(page).to_have_url(re.compile(rf"/apps/uploads/visit/{created['_id']}/edit$"))
    expect(page.locator("#field-input-title")).to_have_value(f"待补报告 {mbit}")
    throttle(page, mbit)
    pick(page, "upload-report", "补交报告.pdf")
    page.get_by_test_id("fill-submit").click()
    record = saved_record(server, page)
    assert record["_id"] == created["_id"] and record["title"] == f"待补报告 {mbit}"
    assert_report(record["report"], "补交报告.pdf")
    shot(page, "saved")


@pytest.mark.parametrize("mbit", RATES)
def test_grid_cell_edit_saves_once_the_upload_is_done(
    browser: Browser, server: Server, shot: Shot, mbit: int
) -> None:
    created = api_call(server, "POST", RECORDS, {"title": f"表格里补报告 {mbit}"})
    page = admin_page(browser, server)
    page.goto("/apps/uploads/visit")
    page.get_by_test_id("inline-toggle").click()
    row = (
        page.get_by_test_id("records-grid")
        .locator("tbody tr.ant-table-row")
        .filter(has_text=created["title"])
    )
    row.locator('td[data-field="report"]').click()
    cell = page.get_by_test_id("inline-report")
    throttle(page, mbit)
    pick(cell, "upload-report", "表格报告.pdf")
    cell.get_by_test_id("inline-save").click()
    expect(page.get_by_test_id("inline-report")).to_have_count(0)
    shot(page, "saved")
    record = api_call(server, "GET", f"{RECORDS}/{created['_id']}")
    assert_report(record["report"], "表格报告.pdf")


@pytest.mark.parametrize("mbit", RATES)
def test_subform_rows_keep_their_files(
    browser: Browser, server: Server, shot: Shot, mbit: int
) -> None:
    page = admin_page(browser, server)
    page.goto("/apps/uploads/visit/new")
    page.get_by_label("主题").fill(f"明细附件 {mbit}")
    throttle(page, mbit)
    page.get_by_test_id("subform-items-add").click()
    first = page.get_by_test_id("subform-items-row-0")
    pick(first, "upload-doc", "第一行.pdf")
    # While the first row's file goes up, a second row is added and filled in, then 提交.
    page.get_by_test_id("subform-items-add").click()
    second = page.get_by_test_id("subform-items-row-1")
    second.get_by_label("说明").fill("第二行")
    pick(second, "upload-doc", "第二行.pdf")
    page.get_by_test_id("fill-submit").click()
    shot(page, "submitted-while-uploading")
    record = saved_record(server, page)
    rows = record["items"]
    assert [row.get("note") for row in rows] == [None, "第二行"], rows
    assert_report(rows[0]["doc"], "第一行.pdf")
    assert_report(rows[1]["doc"], "第二行.pdf")


@pytest.mark.parametrize("mbit", RATES)
def test_public_fill_link_submit_during_upload_saves_the_file(
    browser: Browser, server: Server, shot: Shot, mbit: int
) -> None:
    link = api_call(
        server,
        "POST",
        "/apps/uploads/forms/visit/links",
        {"kind": "fill", "name": f"报告征集 {mbit}", "fields": ["title", "report"]},
    )
    visitor = new_page(browser, server, width=375, height=760)
    visitor.goto(f"/public/{link['token']}")
    expect(visitor.get_by_test_id("fill-form")).to_be_visible()
    title = f"外链限速 {mbit}"
    visitor.get_by_label("主题").fill(title)
    throttle(visitor, mbit)
    pick(visitor, "upload-report", "外链报告.pdf")
    visitor.get_by_test_id("fill-submit").click()
    expect(visitor.get_by_test_id("public-submitted")).to_be_visible()
    shot(visitor, "submitted")
    [record] = titled(server, title)
    assert_report(record["report"], "外链报告.pdf")


def test_submit_waits_for_a_held_upload_and_a_failed_one_blocks_the_save(
    browser: Browser, server: Server, shot: Shot
) -> None:
    page = admin_page(browser, server)
    held: list[Route] = []
    uploads = re.compile(r"/api/v1/files\b")

    def hold(route: Route) -> None:
        held.append(route)  # the upload waits until the test lets it go

    page.route(uploads, hold)
    page.goto("/apps/uploads/visit/new")
    title = "上传失败不能保存"
    page.get_by_label("主题").fill(title)
    pick(page, "upload-report", "会失败.pdf")
    expect(page.get_by_test_id("uploads-running")).to_contain_text("1 个文件上传中")
    page.get_by_test_id("fill-submit").click()
    submit = page.get_by_test_id("fill-submit")
    expect(submit).to_contain_text("上传中")
    expect(submit).to_be_disabled()
    shot(page, "waiting-for-the-upload")
    while not held:
        page.wait_for_timeout(50)
    assert titled(server, title) == []  # nothing is saved while the file has not arrived

    # The upload fails: nothing is saved, the field says why, the button is back.
    error = {
        "error": {
            "code": "too_large",
            "message": "文件太大",
            "issues": [{"path": "file", "code": "too_large", "message": "文件超过上限"}],
        }
    }
    held.pop().fulfill(
        status=413, content_type="application/json", body=json.dumps(error, ensure_ascii=False)
    )
    expect(page.get_by_test_id("field-error-report")).to_contain_text(
        "会失败.pdf 上传失败：文件超过上限"
    )
    expect(submit).to_have_text(re.compile("^提 ?交$"))
    expect(
        page.get_by_test_id("upload-report").locator(".ant-upload-list-item-error")
    ).to_have_count(1)
    assert titled(server, title) == []
    shot(page, "failed")
    submit.click()  # still refused while the failed file is listed
    expect(page.locator(".ant-message")).to_contain_text("有文件没有上传成功")
    assert titled(server, title) == []

    # Removed and picked again, it goes through; a signature drawn but not confirmed is saved too.
    page.unroute(uploads, hold)
    item = page.get_by_test_id("upload-report").locator(".ant-upload-list-item-error")
    item.hover()
    item.get_by_role("button", name="删除文件").click()
    expect(page.get_by_test_id("field-error-report")).to_have_count(0)
    pick(page, "upload-report", "重新上传.pdf")
    page.get_by_test_id("signature-sign-pad").scroll_into_view_if_needed()
    draw_signature(page, "signature-sign-pad")
    submit.click()
    record = saved_record(server, page)
    assert record["title"] == title
    assert_report(record["report"], "重新上传.pdf")
    assert record["sign"] and record["sign"][0]["mime"] == "image/png", record["sign"]
    shot(page, "saved")
