"""The fill page's file, signature, address and department inputs in Chromium on a 375 px wide
screen: a sales rep uploads an attachment and an image, draws a signature, picks 省/市/区 in the
cascader and a department, saves, opens the record and downloads the files; another rep gets
404 for them."""

from __future__ import annotations

import re
import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server, Shot, api_call, login, new_page, user_token

PDF = b"%PDF-1.4\n% Jimu e2e visit report\n"


def png(width: int = 24, height: int = 16) -> bytes:
    """A small valid PNG (an orange rectangle) for the image field."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\xff\x8c\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "visits",
    "name": {"zh": "拜访", "en": "Visits"},
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
                    "key": "budget",
                    "type": "money",
                    "currency": "USD",
                    "label": {"zh": "预算", "en": "Budget"},
                    "width": "half",
                },
                {
                    "key": "share",
                    "type": "percent",
                    "label": {"zh": "份额", "en": "Share"},
                    "width": "half",
                },
                {
                    "key": "report",
                    "type": "attachment",
                    "label": {"zh": "拜访报告", "en": "Report"},
                },
                {"key": "photo", "type": "image", "label": {"zh": "现场照片", "en": "Photo"}},
                {
                    "key": "sign",
                    "type": "signature",
                    "label": {"zh": "客户签字", "en": "Signature"},
                },
                {"key": "place", "type": "address", "label": {"zh": "拜访地址", "en": "Address"}},
                {"key": "team", "type": "department", "label": {"zh": "负责部门", "en": "Team"}},
            ],
        }
    ],
    "roles": [
        {
            "key": "rep",
            "name": {"zh": "拜访人", "en": "Visitor"},
            "forms": {"visit": {"actions": ["view", "create", "edit"], "scope": "own"}},
        }
    ],
    "menu": [{"form": "visit", "label": {"zh": "拜访记录", "en": "Visits"}}],
}


def give_role(server: Server, usernames: list[str]) -> None:
    role = next(r for r in api_call(server, "GET", "/roles?app=visits") if r["key"] == "rep")
    users = {u["username"]: u["id"] for u in api_call(server, "GET", "/users?limit=100")}
    for name in usernames:
        api_call(server, "POST", f"/roles/{role['id']}/members", {"user_id": users[name]})


def draw_signature(page: Page, pad_test_id: str) -> None:
    box = page.get_by_test_id(pad_test_id).bounding_box()
    assert box is not None
    x, y = box["x"], box["y"]
    page.mouse.move(x + 30, y + 120)
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(x + 30 + step * 14, y + 120 - (step % 4) * 22, steps=2)
    page.mouse.up()


def status_of(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_fill_files_signature_address_and_department_on_a_phone(
    browser: Browser, crm_server: Server, shot: Shot
) -> None:
    api_call(crm_server, "POST", "/apps", APP)
    give_role(crm_server, ["rep_a1", "rep_b1"])
    page = new_page(browser, crm_server, width=375, height=760)
    login(page, "rep_a1", "Jimu@2026")
    page.goto("/apps/visits/visit/new")
    expect(page.get_by_test_id("fill-form")).to_be_visible()
    expect(page.get_by_test_id("field-budget").locator(".ant-input-number-prefix")).to_have_text(
        "$"
    )  # the field's currency
    expect(page.get_by_test_id("field-share").locator(".ant-input-number-suffix")).to_have_text("%")
    shot(page, "empty")

    page.get_by_label("主题").fill("南山科技园拜访")
    page.get_by_label("预算").fill("1200.50")
    page.get_by_label("份额").fill("12.5")
    page.get_by_test_id("upload-report").locator("input[type=file]").set_input_files(
        files=[{"name": "拜访报告.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    expect(page.get_by_test_id("upload-report")).to_contain_text("拜访报告.pdf")
    page.get_by_test_id("upload-photo").locator("input[type=file]").set_input_files(
        files=[{"name": "门头.png", "mimeType": "image/png", "buffer": png()}]
    )
    expect(
        page.get_by_test_id("upload-photo").locator(".ant-upload-list-item-done img")
    ).to_be_visible()
    # A non-image is refused by the image field with the server's message; it stays listed (red)
    # with the message at the field, and blocks saving until it is removed.
    page.get_by_test_id("upload-photo").locator("input[type=file]").set_input_files(
        files=[{"name": "假图.png", "mimeType": "image/png", "buffer": PDF}]
    )
    expect(page.locator(".ant-message")).to_contain_text("图片字段只接受")
    expect(page.get_by_test_id("field-error-photo")).to_contain_text("假图.png 上传失败")
    refused = page.get_by_test_id("upload-photo").locator(".ant-upload-list-item-error")
    refused.hover()
    refused.get_by_role("button", name="删除文件").click()
    expect(page.get_by_test_id("field-error-photo")).to_have_count(0)
    expect(page.get_by_test_id("upload-photo").locator(".ant-upload-list-item")).to_have_count(1)
    shot(page, "files-uploaded")

    page.get_by_test_id("signature-sign-pad").scroll_into_view_if_needed()
    expect(page.get_by_test_id("signature-sign-save")).to_be_disabled()
    draw_signature(page, "signature-sign-pad")
    shot(page, "signature-drawn")
    page.get_by_test_id("signature-sign-save").click()
    expect(page.get_by_test_id("signature-sign-image")).to_be_visible()

    page.get_by_test_id("address-place-region").click()
    popup = page.locator(".ant-cascader-dropdown:visible")
    for name in ("广东省", "深圳市"):
        popup.locator(".ant-cascader-menu-item", has_text=re.compile(f"^{name}$")).first.click()
    shot(page, "cascader")
    popup.locator(".ant-cascader-menu-item", has_text=re.compile("^南山区$")).first.click()
    expect(page.get_by_test_id("address-place-region")).to_contain_text("南山区")
    page.get_by_test_id("address-place-detail").fill("科技园科苑路 15 号")
    page.get_by_test_id("departments-team").click()
    page.locator(
        ".ant-select-dropdown:visible .ant-select-tree-title", has_text="销售一组"
    ).first.click()
    expect(page.get_by_test_id("departments-team")).to_contain_text("销售一组")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
    shot(page, "filled")

    page.get_by_test_id("fill-submit").click()
    expect(page).to_have_url(re.compile(r"/apps/visits/visit\?open=\d+"))
    record_id = int(page.url.rsplit("=", 1)[1])
    drawer = page.get_by_test_id("record-drawer")
    expect(drawer).to_contain_text("拜访报告.pdf")
    expect(drawer).to_contain_text("广东省深圳市南山区 科技园科苑路 15 号")
    expect(drawer).to_contain_text("销售一组")
    expect(drawer.get_by_test_id("files-photo").locator("img")).to_be_visible()
    expect(drawer.get_by_test_id("files-sign").locator("img")).to_be_visible()
    shot(page, "record")

    token = user_token(crm_server, "rep_a1")
    saved = api_call(
        crm_server, "GET", f"/apps/visits/forms/visit/records/{record_id}", token=token
    )
    assert saved["budget"] == "1200.50" and saved["share"] == "0.1250"
    assert saved["place"] == {
        "province": "广东省",
        "city": "深圳市",
        "district": "南山区",
        "detail": "科技园科苑路 15 号",
        "code": "440305",
    }
    assert saved["team"]["name"] == "销售一组"
    assert saved["sign"][0]["mime"] == "image/png" and saved["photo"][0]["name"] == "门头.png"
    report_id = saved["report"][0]["file_id"]

    link = drawer.get_by_test_id(f"file-link-{report_id}")
    assert f"/records/{record_id}/files/{report_id}" in (link.get_attribute("href") or "")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "拜访报告.pdf"
    assert Path(download.value.path()).read_bytes() == PDF
    drawer.get_by_test_id("files-photo").locator("img").click()  # the image preview opens
    expect(page.locator(".ant-image-preview img")).to_be_visible()
    shot(page, "image-preview")
    page.keyboard.press("Escape")

    # Another rep sees only their own visits: neither the record's nor the uploader's URL gives the bytes.
    other = user_token(crm_server, "rep_b1")
    for file_ref in (saved["report"][0], saved["photo"][0], saved["sign"][0]):
        file_id = file_ref["file_id"]
        assert (
            status_of(
                f"{crm_server.api}/apps/visits/forms/visit/records/{record_id}/files/{file_id}",
                other,
            )
            == 404
        )
        assert status_of(f"{crm_server.api}/files/{file_id}", other) == 404
        assert (
            status_of(
                f"{crm_server.api}/apps/visits/forms/visit/records/{record_id}/files/{file_id}",
                token,
            )
            == 200
        )
    rep_b1 = new_page(browser, crm_server, width=375, height=760)
    login(rep_b1, "rep_b1", "Jimu@2026")
    refused = rep_b1.request.get(
        f"/api/v1/apps/visits/forms/visit/records/{record_id}/files/{report_id}"
    )
    assert refused.status == 404 and refused.json()["error"]["code"] == "not_found"
    rep_b1.goto(f"/apps/visits/visit?open={record_id}")
    expect(rep_b1.get_by_test_id("records-grid")).to_be_visible()
    expect(rep_b1.get_by_text("拜访报告.pdf")).to_have_count(0)
    shot(rep_b1, "other-rep")
