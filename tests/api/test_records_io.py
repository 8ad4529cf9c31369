"""`…/records/export` and `…/records/import` as the administrator, on SQLite and PostgreSQL:
how values look in xlsx and CSV, filters and sorts, round trips, all-or-nothing and partial
imports with `rows[N].field` issues, limits and audit entries. What roles may export and
import is in tests/auth/test_crm_permissions.py."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from engine.api.routes import records_io
from engine.forms.uploads import size_text
from tests.api.records_client import API, api_client
from tests.store_fixtures import DatabaseTemplates, crm_sample

EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The admin client on one CRM installation with sample data per database for the module."""
    tmp = tmp_path_factory.mktemp("io")
    templates: DatabaseTemplates = request.getfixturevalue("database_templates")
    with templates.copy(request, "crm_sample", crm_sample, tmp) as (connect, _):
        engine = connect()
        client = api_client(engine, tmp)
        try:
            yield client
        finally:
            engine.dispose()


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def csv_rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith("\ufeff".encode())  # Excel needs the BOM to read UTF-8
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def export(
    client: TestClient, form: str, headers: dict[str, str] | None = None, **params: Any
) -> Any:
    response = client.get(url(form, "/export"), params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return response


def upload(
    client: TestClient,
    form: str,
    content: bytes,
    name: str = "data.csv",
    headers: dict[str, str] | None = None,
    **params: Any,
) -> Any:
    return client.post(
        url(form, "/import"), files={"file": (name, content)}, params=params, headers=headers or {}
    )


def as_csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def total(client: TestClient, form: str) -> int:
    count: int = client.get(url(form), params={"limit": 0}).json()["total"]
    return count


def test_csv_shows_values_as_people_read_them(crm: TestClient) -> None:
    response = export(crm, "opportunity", format="csv", sort="_id")
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        "filename*=utf-8''%E5%95%86%E6%9C%BA-" in response.headers["content-disposition"]
    )  # 商机-…
    rows = csv_rows(response.content)
    assert list(rows[0]) == [
        "记录ID",
        "商机名称",
        "客户",
        "客户等级",
        "阶段",
        "金额",
        "预计成交日期",
        "赢率",
        "加权金额",
        "负责人",
        "最近跟进",  # kept by the pack's follow-up rules
    ]
    first = crm.get(url("opportunity", f"/{rows[0]['记录ID']}")).json()
    row = rows[0]
    assert row["商机名称"] == first["title"]
    assert row["客户"] == first["customer"]["title"]  # a relation shows its title
    assert row["负责人"] == first["owner"]["name"]  # a user shows their name
    assert row["金额"] == first["amount"]  # money keeps its places: "762700.00"
    assert row["预计成交日期"] == first["expected_close"]  # YYYY-MM-DD
    assert row["赢率"] == f"{float(first['win_rate']) * 100:.2f}%"
    assert row["阶段"] in {"初步沟通", "方案报价", "谈判", "已签约", "输单"}  # labels, not values
    assert len(rows) == total(crm, "opportunity")
    customers = csv_rows(export(crm, "customer", format="csv", sort="_id").content)
    one = crm.get(url("customer", f"/{customers[0]['记录ID']}")).json()
    region = one["region"]
    assert (
        customers[0]["地区"]
        == region["province"]
        + (region["city"] if region["city"] != region["province"] else "")
        + region["district"]
        + region["detail"]
    )
    assert (
        customers[0]["创建时间"][:2] == "20" and len(customers[0]["创建时间"]) == 19
    )  # local time, to the second
    contracts = csv_rows(export(crm, "contract", format="csv", sort="_id").content)
    assert (
        contracts[0]["明细"].startswith("产品: ") and "数量: " in contracts[0]["明细"]
    )  # subform rows as lines


def test_english_headers_and_labels(crm: TestClient) -> None:
    rows = csv_rows(export(crm, "lead", EN, format="csv", fields="name,status").content)
    assert list(rows[0]) == ["Record ID", "Name", "Status"]
    assert {r["Status"] for r in rows} <= {"New", "Following up", "Converted", "Invalid", ""}


def test_xlsx_holds_typed_cells_filtered_and_sorted(crm: TestClient) -> None:
    response = export(
        crm,
        "customer",
        EN,
        filter='level = "A"',
        sort="-annual_purchase",
        fields="name,annual_purchase,level,created",
    )
    assert response.headers["content-type"] == records_io.MEDIA_TYPES["xlsx"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2))
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header == ["Record ID", "Name", "Annual purchases", "Customer level", "Created at"]
    expected = crm.get(
        url("customer"), params={"filter": 'level = "A"', "sort": "-annual_purchase", "limit": 1000}
    ).json()["items"]
    assert [r[0].value for r in rows] == [r["_id"] for r in expected]
    assert {r[3].value for r in rows} == {"Class A (key account)"}
    amount = rows[0][2]
    assert isinstance(amount.value, int | float) and amount.number_format == "0.00"
    assert float(expected[0]["annual_purchase"]) == amount.value
    created = rows[0][4]
    assert created.is_date and created.number_format == "yyyy-mm-dd hh:mm:ss"


def test_text_that_looks_like_a_formula_stays_text(crm: TestClient) -> None:
    name, company = '=HYPERLINK("http://evil.example","点我")', f"-1+2 {uuid.uuid4().hex}"
    assert crm.post(url("lead"), json={"name": name, "company": company}).status_code == 201
    where = f'company = "{company}"'
    sheet = openpyxl.load_workbook(io.BytesIO(export(crm, "lead", filter=where).content)).active
    assert sheet is not None
    cell = sheet.cell(row=2, column=2)
    assert cell.value == name and cell.data_type == "s"
    rows = csv_rows(export(crm, "lead", format="csv", filter=where).content)
    assert rows[0]["姓名"] == "'" + name and rows[0]["公司"] == "'" + company


def test_export_is_a_route_of_its_own_and_checks_its_input(crm: TestClient) -> None:
    assert crm.get(url("customer", "/abc")).status_code == 400  # the id route still checks ids
    bad = crm.get(url("customer", "/export"), params={"filter": "amout > 1"})
    assert bad.status_code == 422 and bad.json()["error"]["issues"][0]["path"] == "filter"
    assert crm.get(url("customer", "/export"), params={"sort": "tags"}).status_code == 422
    unknown = crm.get(url("customer", "/export"), params={"fields": "name,nope"}, headers=EN)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["issues"] == [
        {
            "path": "fields",
            "code": "unknown_export_field",
            "message": "nope is not a field you may export",
        }
    ]
    assert crm.get(url("customer", "/export"), params={"format": "pdf"}).status_code == 400
    assert crm.get(f"{API}/apps/crm/forms/nope/records/export").status_code == 404


def test_exports_are_audited(crm: TestClient) -> None:
    export(crm, "payment", format="csv", filter="amount > 0")
    entry = crm.get(f"{API}/audit", params={"kind": "records.export"}).json()[0]
    assert (
        entry["subject"] == "crm/payment"
        and entry["detail"]["via"] == "admin_token"
        and entry["success"] is True
    )
    assert entry["detail"]["filter"] == "amount > 0" and entry["detail"]["rows"] == len(
        crm.get(url("payment"), params={"filter": "amount > 0", "limit": 1000}).json()["items"]
    )


def test_an_export_imports_back_identically(crm: TestClient) -> None:
    before = total(crm, "contact")
    exported = export(crm, "contact", filter='customer_level = "A"', sort="_id").content
    sheet = openpyxl.load_workbook(io.BytesIO(exported)).active
    assert sheet is not None
    originals = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(originals) >= 10
    imported = upload(crm, "contact", exported, name="contacts.xlsx")
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert body["created"] == len(originals) and body["failed"] == 0
    assert set(body["ignored_columns"]) == {
        "记录ID",
        "客户等级",
    }  # the id and a lookup are not input
    assert total(crm, "contact") == before + len(originals)
    ids = [r["_id"] for r in body["results"]]
    for original_id, copy_id in zip(originals, ids, strict=True):
        original = crm.get(url("contact", f"/{original_id}")).json()
        copy = crm.get(url("contact", f"/{copy_id}")).json()
        for key in (
            "name",
            "customer",
            "title",
            "phone",
            "email",
            "wechat",
            "is_primary",
            "customer_level",
        ):
            assert copy.get(key) == original.get(key), key
        history = crm.get(url("contact", f"/{copy_id}/history")).json()
        assert history[0]["channel"] == "import"


def test_import_maps_labels_names_and_keys(crm: TestClient) -> None:
    customer = crm.get(url("customer", "/1")).json()
    rows = [
        ["商机名称", "Customer", "stage", "金额", "预计成交日期", "赢率", "负责人"],
        ["导入商机一", customer["name"], "方案报价", "¥1,200.50", "2026/7/1", "35%", "rep_a1"],
        [
            "导入商机二",
            customer["name"],
            "Negotiation",
            "800",
            "2026年8月2日",
            "0.5",
            "郑浩（销售一组）",
        ],
    ]
    response = upload(crm, "opportunity", as_csv(rows))
    assert response.status_code == 200, response.text
    first, second = (
        crm.get(url("opportunity", f"/{r['_id']}")).json() for r in response.json()["results"]
    )
    assert (
        first["customer"]["_id"] == 1
        and first["stage"] == "proposal"
        and first["amount"] == "1200.50"
    )
    assert first["expected_close"] == "2026-07-01" and first["win_rate"] == "0.3500"
    assert second["stage"] == "negotiation" and second["expected_close"] == "2026-08-02"
    assert first["owner"]["name"] == second["owner"]["name"] == "郑浩（销售一组）"
    customers = [
        ["名称", "地区", "标签", "客户等级"],
        [
            f"导入客户{uuid.uuid4().hex[:6]}",
            "上海市浦东新区世纪大道 1 号",
            "重点客户、价格敏感",
            "A 类（重点）",
        ],
    ]
    made = upload(crm, "customer", as_csv(customers))
    assert made.status_code == 200, made.text
    record = crm.get(url("customer", f"/{made.json()['results'][0]['_id']}")).json()
    assert record["region"] == {
        "province": "上海市",
        "city": "上海市",
        "district": "浦东新区",
        "detail": "世纪大道 1 号",
        "code": None,
    }
    assert record["tags"] == ["key_account", "price_sensitive"] and record["level"] == "A"


def test_a_bad_row_stops_the_whole_import_with_row_paths(crm: TestClient) -> None:
    before = total(crm, "lead")
    rows = [
        ["姓名", "手机", "状态", "负责人"],
        ["甲", "13800000001", "新线索", ""],
        ["乙", "12345", "新线索", ""],
        ["丙", "", "不存在的状态", "无此人"],
    ]
    response = upload(crm, "lead", as_csv(rows), headers=EN)
    assert response.status_code == 422
    issues = {(i["path"], i["code"]) for i in response.json()["error"]["issues"]}
    assert issues == {
        ("rows[3].phone", "invalid_phone"),
        ("rows[4].status", "not_an_option"),
        ("rows[4].owner", "name_not_found"),
    }
    messages = {i["path"]: i["message"] for i in response.json()["error"]["issues"]}
    assert (
        messages["rows[3].phone"].startswith("Not a valid phone number")
        and messages["rows[4].owner"] == "“无此人” was not found"
    )
    assert total(crm, "lead") == before  # nothing written
    failed = crm.get(f"{API}/audit", params={"kind": "records.import"}).json()[0]
    assert failed["success"] is False and failed["detail"]["rows"] == 3


def test_partial_imports_write_the_good_rows(crm: TestClient) -> None:
    before = total(crm, "lead")
    rows = [["姓名", "手机"], ["好一", "13800000011"], ["坏", "12345"], ["好二", "13800000012"]]
    response = upload(crm, "lead", as_csv(rows), partial="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 1)
    assert [r["ok"] for r in body["results"]] == [True, False, True]
    assert (
        body["results"][1]["row"] == 3
        and body["results"][1]["error"]["issues"][0]["path"] == "rows[3].phone"
    )
    assert total(crm, "lead") == before + 2
    entry = crm.get(f"{API}/audit", params={"kind": "records.import"}).json()[0]
    assert (
        entry["success"] is True
        and entry["detail"]["created"] == 2
        and entry["detail"]["failed"] == 1
    )


def test_headers_must_name_fields(crm: TestClient) -> None:
    response = upload(crm, "lead", as_csv([["姓名", "不知道", "姓名"], ["甲", "x", "乙"]]))
    assert response.status_code == 422
    assert [(i["path"], i["code"]) for i in response.json()["error"]["issues"]] == [
        ("header[2]", "unknown_column"),
        ("header[3]", "duplicate_column"),
    ]
    only_ids = upload(crm, "lead", as_csv([["记录ID"], ["1"]]))
    assert (
        only_ids.status_code == 422
        and only_ids.json()["error"]["issues"][0]["code"] == "no_columns"
    )


def test_files_that_are_too_big_long_or_broken_are_refused(
    crm: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The route reads its file up to JIMU_MAX_IMPORT_BYTES (the setting the body limit of the
    # import routes is made of at start-up, so the body itself still passes here)
    state = crm.app.state  # type: ignore[attr-defined]
    settings = state.settings
    state.settings = settings.model_copy(update={"max_import_bytes": 1024})
    try:
        big = upload(crm, "lead", as_csv([["姓名"]] + [["甲" * 10]] * 40))
        previewed = crm.post(
            url("lead", "/import/preview"),
            files={"file": ("x.csv", as_csv([["姓名"]] + [["甲" * 10]] * 40), "text/csv")},
        )
    finally:
        state.settings = settings
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    assert size_text(1024) in big.json()["error"]["message"]
    assert previewed.status_code == 413 and previewed.json()["error"]["code"] == "file_too_large"
    monkeypatch.setattr(records_io, "MAX_IMPORT_ROWS", 3)
    long = upload(crm, "lead", as_csv([["姓名"]] + [["甲"]] * 4))
    assert long.status_code == 422 and long.json()["error"]["issues"][0]["code"] == "too_many_rows"
    broken = upload(crm, "lead", b"PK\x03\x04garbage", name="x.xlsx")
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "unreadable_file"
    assert upload(crm, "lead", b"").status_code == 422
    assert crm.post(url("lead", "/import")).status_code == 400  # no file at all


def test_the_cli_exports_and_imports(tmp_path: Path) -> None:
    """The CLI on its own SQLite data directory (it opens the database itself)."""
    from typer.testing import CliRunner

    from engine.cli import app

    runner = CliRunner()
    data = str(tmp_path / "data")
    assert (
        runner.invoke(app, ["app", "install", "crm", "--sample-data", "--data-dir", data]).exit_code
        == 0
    )
    out = tmp_path / "leads.xlsx"
    exported = runner.invoke(
        app, ["records", "export", "crm", "lead", "-o", str(out), "--data-dir", data]
    )
    assert exported.exit_code == 0, exported.output
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None and sheet.max_row >= 61
    imported = runner.invoke(
        app, ["records", "import", "crm", "lead", str(out), "--data-dir", data]
    )
    assert imported.exit_code == 0, imported.output
    assert f"imported {sheet.max_row - 1} records" in imported.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(as_csv([["姓名", "手机"], ["甲", "123"]]))
    refused = runner.invoke(app, ["records", "import", "crm", "lead", str(bad), "--data-dir", data])
    assert refused.exit_code == 1 and "rows[2].phone" in refused.output
