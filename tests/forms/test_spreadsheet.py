"""Spreadsheet cells: how values are shown to people, and how cells people typed are read back
(no database; the API tests cover files end to end)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from engine.core.errors import ServiceError
from engine.forms.field_types import FIELD_TYPES
from engine.forms.layout import FieldLayout
from engine.forms.spreadsheet import (
    Parser,
    _csv_text,
    address_text,
    parse_address,
    read_rows,
)


def layout(spec: dict[str, Any]) -> FieldLayout:
    kind = FIELD_TYPES[spec["type"]]
    return FieldLayout(spec=kind.spec.model_validate(spec), kind=kind, id=1, source="column")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("陕西省西安市雁塔区高新路 685 号", ("陕西省", "西安市", "雁塔区", "高新路 685 号")),
        ("上海市浦东新区世纪大道 1 号", ("上海市", "上海市", "浦东新区", "世纪大道 1 号")),
        (
            "广西壮族自治区南宁市青秀区民族大道 100 号",
            ("广西壮族自治区", "南宁市", "青秀区", "民族大道 100 号"),
        ),
        ("门口左转", (None, None, None, "门口左转")),
    ],
)
def test_addresses_split_into_province_city_district_and_detail(
    text: str, parts: tuple[Any, ...]
) -> None:
    parsed = parse_address(text)
    assert parsed is not None
    assert (parsed["province"], parsed["city"], parsed["district"], parsed["detail"]) == parts


def test_an_address_is_shown_without_a_repeated_municipality() -> None:
    value = {"province": "北京市", "city": "北京市", "district": "朝阳区", "detail": "建国路 1 号"}
    assert address_text(value) == "北京市朝阳区建国路 1 号"
    assert parse_address(address_text(value)) == {**value}


def test_cells_people_type_become_record_input() -> None:
    parser = Parser("Asia/Shanghai")
    assert parser.value(layout({"type": "date", "key": "d"}), "2024/6/1")[0] == "2024-06-01"
    assert parser.value(layout({"type": "date", "key": "d"}), "2024年6月1日")[0] == "2024-06-01"
    assert (
        parser.value(layout({"type": "date", "key": "d"}), dt.datetime(2024, 6, 1))[0]
        == "2024-06-01"
    )
    assert (
        parser.value(layout({"type": "datetime", "key": "t"}), "2024-06-01 12:00")[0]
        == "2024-06-01T04:00:00Z"
    )
    assert parser.value(layout({"type": "percent", "key": "p"}), "12.5%")[0] == "0.125"
    assert parser.value(layout({"type": "percent", "key": "p"}), 0.4)[0] == "0.4"
    assert parser.value(layout({"type": "money", "key": "m"}), "¥1,234.50")[0] == "1234.50"
    assert parser.value(layout({"type": "checkbox", "key": "c"}), "是")[0] is True
    assert parser.value(layout({"type": "checkbox", "key": "c"}), "No")[0] is False
    assert parser.value(layout({"type": "phone", "key": "p"}), 13812345678.0)[0] == "13812345678"
    assert parser.value(layout({"type": "text", "key": "t"}), "'=1+2")[0] == "=1+2"
    options = {
        "options": [
            {"value": "a", "label": {"zh": "甲", "en": "First"}},
            {"value": "b", "label": "乙"},
        ]
    }
    assert parser.value(layout({"type": "select", "key": "s", **options}), "first")[0] == "a"
    assert (
        parser.value(layout({"type": "select", "key": "s", **options}), "丙")[0] == "丙"
    )  # the pipeline says why
    assert parser.value(layout({"type": "multiselect", "key": "m", **options}), "甲、乙")[0] == [
        "a",
        "b",
    ]


def test_names_resolve_to_one_id_or_an_issue() -> None:
    parser = Parser("Asia/Shanghai")
    field = layout({"type": "users", "key": "u"})
    parser.names.found("user", {"张三": [3], "李四": [4, 5]})
    value, issues = parser.value(field, "张三、李四、王五、12")
    assert value == [3, 12]
    assert [i.code for i in issues] == ["ambiguous_name", "name_not_found"]
    assert "王五" in issues[1].message_zh and "王五" in issues[1].message_en


def test_csv_cells_never_start_a_formula_and_show_percentages() -> None:
    assert _csv_text(('=HYPERLINK("http://x")', None)) == '\'=HYPERLINK("http://x")'
    assert _csv_text(("-5 件", None)) == "'-5 件"
    assert _csv_text((Decimal("-5.00"), "0.00")) == "-5.00"
    assert _csv_text((Decimal("0.1250"), "0.00%")) == "12.50%"
    assert _csv_text((dt.date(2024, 6, 1), "yyyy-mm-dd")) == "2024-06-01"


@pytest.mark.parametrize(
    "data", [b"PK\x03\x04 not really a zip", b"\x00\x01\x02", "姓名\n".encode()]
)
def test_unreadable_or_empty_files_are_422(data: bytes) -> None:
    fmt = "xlsx" if data.startswith(b"PK") else "csv"
    with pytest.raises(ServiceError) as raised:
        read_rows(data, fmt, 100)
    assert raised.value.status == 422
    assert raised.value.code in ("unreadable_file", "validation_failed")


def test_csv_in_gbk_is_read_and_row_limits_hold() -> None:
    rows = read_rows("姓名,公司\n张三,积木\n".encode("gb18030"), "csv", 10)
    assert rows == [["姓名", "公司"], ["张三", "积木"]]
    with pytest.raises(ServiceError) as raised:
        read_rows(("姓名\n" + "张三\n" * 11).encode(), "csv", 10)
    assert raised.value.issues[0].code == "too_many_rows"
