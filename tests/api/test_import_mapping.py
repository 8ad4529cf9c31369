"""The import template, the mapping step's preview and an import with an explicit column
mapping, on SQLite and PostgreSQL; a bad mapping is a field-level 422 that writes nothing."""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.api.records_client import API

BASE = f"{API}/apps/shop/forms/order/records"


def _install(client: TestClient) -> None:
    app = {
        "format": "jimu.app/1",
        "key": "shop",
        "name": {"zh": "商店", "en": "Shop"},
        "version": "1.0.0",
        "forms": [
            {
                "key": "order",
                "name": {"zh": "订单", "en": "Order"},
                "fields": [
                    {"key": "title", "type": "text", "label": {"zh": "名称", "en": "Title"}},
                    {"key": "qty", "type": "integer", "label": {"zh": "数量"}, "required": True},
                    {
                        "key": "level",
                        "type": "select",
                        "label": {"zh": "等级"},
                        "options": [
                            {"value": "a", "label": {"zh": "重点", "en": "Key"}},
                            {"value": "b", "label": {"zh": "普通"}},
                        ],
                    },
                    {"key": "double", "type": "formula", "expr": "qty * 2"},
                ],
            }
        ],
    }
    assert client.post(f"{API}/apps", json=app).status_code == 201


def _total(client: TestClient) -> int:
    total: int = client.get(BASE, params={"limit": 0}).json()["total"]
    return total


def test_template_lists_the_importable_fields_in_order(client: TestClient) -> None:
    _install(client)
    response = client.get(f"{BASE}/import/template")
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["名称", "数量", "等级"]  # no formula
    assert sheet.max_row == 1  # nothing to import by mistake
    [listed] = sheet.data_validations.dataValidation
    assert listed.formula1 == '"重点,普通"' and str(listed.sqref).startswith("C2")
    notes = [[c.value for c in row] for row in book["填写说明"].iter_rows()]
    assert notes[2][:4] == ["数量", "qty", "整数", "是"]
    assert notes[3][4] == "选项：重点、普通"
    # The template comes back in as it is: headers only, so nothing is created.
    empty = client.post(f"{BASE}/import", files={"file": ("t.xlsx", response.content)})
    assert empty.status_code == 422
    assert empty.json()["error"]["issues"][0]["code"] == "empty_file"


def test_preview_matches_columns_and_a_mapping_imports_them(client: TestClient) -> None:
    _install(client)
    csv = "Title,件数,Level,备注\n甲,3,Key,x\n乙,4,普通,y\n".encode()
    preview = client.post(f"{BASE}/import/preview", files={"file": ("o.csv", csv)})
    assert preview.status_code == 200, preview.text
    body: dict[str, Any] = preview.json()
    assert body["columns"] == ["Title", "件数", "Level", "备注"]
    assert body["matched"] == ["title", None, "level", None]
    assert body["rows"] == [["甲", "3", "Key", "x"], ["乙", "4", "普通", "y"]]
    assert body["total_rows"] == 2
    assert _total(client) == 0  # a preview writes nothing

    # Without a mapping, 件数 and 备注 are unknown columns (today's header matching).
    assert client.post(f"{BASE}/import", files={"file": ("o.csv", csv)}).status_code == 422
    mapping = json.dumps(["title", "qty", "level", None])
    imported = client.post(
        f"{BASE}/import", files={"file": ("o.csv", csv)}, data={"mapping": mapping}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 2
    items = client.get(BASE, params={"sort": "qty"}).json()["items"]
    assert [(r["title"], r["qty"], r["level"], r["double"]) for r in items] == [
        ("甲", 3, "a", "6"),
        ("乙", 4, "b", "8"),
    ]


def test_bad_mappings_are_refused_at_the_mapping(client: TestClient) -> None:
    _install(client)
    csv = "a,b\n甲,3\n".encode()

    def refused(mapping: str) -> dict[str, Any]:
        response = client.post(
            f"{BASE}/import", files={"file": ("o.csv", csv)}, data={"mapping": mapping}
        )
        assert response.status_code == 422, response.text
        [issue] = response.json()["error"]["issues"]
        return dict(issue)

    for bad, code in [
        ("not json", "invalid_mapping"),
        ('{"a": 1}', "invalid_mapping"),
        ('["title"]', "mapping_columns"),
        ("[null, null]", "mapping_empty"),
    ]:
        issue = refused(bad)
        assert (issue["path"], issue["code"]) == ("mapping", code)
        assert issue["message"]
    assert refused('["title", "nothing"]')["path"] == "header[2]"  # unknown field
    assert refused('["title", "title"]')["code"] == "duplicate_column"
    assert _total(client) == 0
