"""Field-type traits and hooks: every type declares every trait, the palette publishes them, and
the hooks behind spreadsheet cells (`to_cell`/`from_cell`) and type changes (`convert_from`)
work through the public functions that call them (no database)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest

from engine.api.routes.files import FieldType as UploadFieldType
from engine.forms.field_types import FIELD_TYPES, TRAIT_NAMES, Traits, palette
from engine.forms.field_types.base import FieldType, Refers, Source, register
from engine.forms.field_types.files import file_types, is_file_type
from engine.forms.field_types.text import TextField
from engine.forms.layout import FieldLayout
from engine.forms.migrate import convert_value
from engine.forms.spreadsheet import Formatter, Parser, _csv_text

OPTIONS = {
    "options": [
        {"value": "a", "label": {"zh": "甲", "en": "First"}},
        {"value": "b", "label": "乙"},
    ]
}
ADDRESS = {
    "province": "陕西省",
    "city": "西安市",
    "district": "雁塔区",
    "detail": "高新路 685 号",
    "code": None,
}

# Every importable type without references: its options and a record JSON value that must come
# back unchanged through an export cell and an import (xlsx cell and CSV text).
ROUND_TRIPS: dict[str, tuple[dict[str, Any], Any]] = {
    "text": ({}, "积木"),
    "textarea": ({}, "第一行\n第二行"),
    "rich_text": ({}, "<p>积木</p>"),
    "email": ({}, "a@jimu.cn"),
    "phone": ({}, "13812345678"),
    "url": ({}, "https://jimu.dev/a"),
    "number": ({"precision": 2}, "-1234.50"),
    "integer": ({}, 42),
    "money": ({"precision": 2}, "1234567.80"),
    "percent": ({"precision": 1}, "0.125"),
    "rating": ({}, 4),
    "select": (OPTIONS, "a"),
    "multiselect": (OPTIONS, ["a", "b"]),
    "checkbox": ({}, False),
    "date": ({}, "2024-06-01"),
    "datetime": ({}, "2024-06-01T04:00:00.000Z"),
    "time": ({}, "13:45:00"),
    "address": ({}, ADDRESS),
}
EXTRA: dict[str, dict[str, Any]] = {
    "relation": {"target": "customers"},
    "formula": {"expr": "1 + 1"},
    "serial": {"pattern": "HT-{0000}"},
    "lookup": {"relation": "customer", "field": "name"},
    "rollup": {"relation": "items", "field": "qty", "aggregate": "sum"},
    "subform": {"fields": [{"key": "qty", "type": "integer"}]},
    **{name: options for name, (options, _) in ROUND_TRIPS.items()},
}


def layout(type_name: str, key: str = "f", **options: Any) -> FieldLayout:
    kind = FIELD_TYPES[type_name]
    spec = kind.spec.model_validate({"key": key, "type": type_name, **EXTRA.get(type_name, {})})
    spec = spec.model_copy(update=options) if options else spec
    return FieldLayout(spec=spec, kind=kind, id=1, source=kind.source_of(spec))


def formatter(lang: str = "zh") -> Formatter:
    return Formatter(None, lang, "Asia/Shanghai", lambda container, field: field)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(FIELD_TYPES), ids=lambda k: k.name)
def test_every_registered_type_declares_every_trait_itself(kind: FieldType) -> None:
    declared = type(kind).__dict__.get("traits")
    assert isinstance(declared, Traits), f"{kind.name} inherits or lacks its traits"
    published = declared.json()
    assert tuple(published) == TRAIT_NAMES
    for item in dataclasses.fields(Traits):
        assert getattr(declared, item.name) is not dataclasses.MISSING
    assert declared.linkage_from <= {k.name for k in FIELD_TYPES}
    assert declared.source in get_args(Source)
    assert declared.refers_to in (None, *get_args(Refers))


def test_traits_have_no_defaults_and_a_type_without_them_is_refused() -> None:
    with pytest.raises(TypeError):
        Traits()  # type: ignore[call-arg]
    assert all(item.default is dataclasses.MISSING for item in dataclasses.fields(Traits))

    class FileLike(FieldType):  # a new type that forgot to say what it is
        name = "file_like"
        title = ("文件", "File-like")
        group = "files"
        spec = TextField

    with pytest.raises(TypeError, match="file_like"):
        register(FileLike)
    assert FIELD_TYPES.get("file_like") is None


def test_the_palette_publishes_each_types_traits() -> None:
    published = {t["type"]: t["traits"] for g in palette() for t in g["types"]}
    assert published.keys() == {k.name for k in FIELD_TYPES}
    for kind in FIELD_TYPES:
        assert published[kind.name] == kind.traits.json()
    assert {name for name, t in published.items() if t["is_file"]} == {
        "attachment",
        "image",
        "signature",
    }
    assert not published["users"]["sortable"] and published["users"]["many_valued"]
    assert not published["relation"]["publicly_fillable"]
    assert published["serial"]["link_key"] and published["serial"]["computed"]


def test_file_types_agree_everywhere() -> None:
    assert set(get_args(UploadFieldType)) == set(file_types())
    assert is_file_type("image") and not is_file_type("text") and not is_file_type("gone")
    assert not is_file_type(None)


@pytest.mark.parametrize("kind", list(FIELD_TYPES), ids=lambda k: k.name)
def test_every_importable_type_has_a_cell_round_trip_here(kind: FieldType) -> None:
    traits = kind.traits
    if traits.importable and traits.refers_to is None:
        assert kind.name in ROUND_TRIPS, f"add a round trip for {kind.name}"
    else:
        assert kind.name not in ROUND_TRIPS


@pytest.mark.parametrize("type_name", list(ROUND_TRIPS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cells_round_trip_through_export_and_import(type_name: str, lang: str) -> None:
    field = layout(type_name)
    value = ROUND_TRIPS[type_name][1]
    cell = formatter(lang).cell(None, field, value)  # type: ignore[arg-type]
    assert cell[0] is not None
    for typed in (cell[0], _csv_text(cell)):  # an xlsx cell, and the same cell as CSV text
        raw, issues = Parser("Asia/Shanghai").value(field, typed)
        assert issues == []
        stored, problems = field.kind.coerce(field.spec, raw)
        assert problems == [], (typed, raw)
        assert field.kind.to_json(field.spec, stored) == value, (typed, raw)


def test_export_cells_are_typed_for_spreadsheets() -> None:
    cell = formatter().cell
    assert cell(None, layout("money"), "1234.50") == (Decimal("1234.50"), "#,##0.00")  # type: ignore[arg-type]
    assert cell(None, layout("percent"), "0.1250") == (Decimal("0.1250"), "0.00%")  # type: ignore[arg-type]
    assert cell(None, layout("formula"), "3.5") == (Decimal("3.5"), "0.0")  # type: ignore[arg-type]
    assert cell(None, layout("formula"), "abc") == ("abc", None)  # type: ignore[arg-type]
    files = [{"file_id": 1, "name": "合同.pdf"}, {"file_id": 2}]
    assert cell(None, layout("attachment"), files) == ("合同.pdf、2", None)  # type: ignore[arg-type]
    assert formatter("en").cell(None, layout("users"), [{"id": 3, "name": "张三"}, {"id": 4}]) == (  # type: ignore[arg-type]
        "张三, 4",
        None,
    )
    related = [{"_id": 7, "title": "甲公司"}, {"_id": 8, "restricted": True}]
    assert cell(None, layout("relation", many=True), related) == ("甲公司、无权限", None)  # type: ignore[arg-type]
    where = {"lat": 34.2, "lng": 108.9, "address": None}
    assert cell(None, layout("location"), where) == ("34.2,108.9", None)  # type: ignore[arg-type]


def test_references_round_trip_by_name() -> None:
    parser = Parser("Asia/Shanghai")
    parser.names.found("user", {"张三": [3], "李四": [4]})
    parser.names.found("department", {"销售部": [9]})
    parser.names.found("form:customers", {"甲公司": [7]})
    cases: list[tuple[FieldLayout, Any, Any]] = [
        (layout("users"), [{"id": 3, "name": "张三"}, {"id": 4, "name": "李四"}], [3, 4]),
        (layout("user"), {"id": 3, "name": "张三"}, 3),
        (layout("department"), {"id": 9, "name": "销售部"}, 9),
        (layout("relation"), {"_id": 7, "title": "甲公司"}, 7),
        (layout("relation", many=True), [{"_id": 7, "title": "甲公司"}], [7]),
    ]
    for field, value, ids in cases:
        text, _ = formatter().cell(None, field, value)  # type: ignore[arg-type]
        assert parser.value(field, text) == (ids, [])


# (old type, old options, stored value, new type, what the new field stores); None: refused
CONVERSIONS: list[tuple[str, dict[str, Any], Any, str, Any]] = [
    ("number", {}, Decimal("12.50"), "text", "12.50"),
    ("multiselect", {}, ["a", "b"], "text", "a, b"),
    ("address", {}, ADDRESS, "textarea", "陕西省西安市雁塔区高新路 685 号"),
    ("location", {}, {"lat": 1.5, "lng": 2.5}, "text", '{"lat": 1.5, "lng": 2.5, "address": null}'),
    ("checkbox", {}, True, "text", "是"),
    ("checkbox", {}, False, "rich_text", "否"),
    ("user", {}, 3, "text", "3"),
    ("text", {}, "a, b", "multiselect", ["a", "b"]),
    ("textarea", {}, "a，b", "multiselect", ["a", "b"]),
    ("select", {}, "b", "multiselect", ["b"]),
    ("text", {}, "c", "multiselect", None),
    ("text", {}, "12.5", "number", Decimal("12.50")),
    ("text", {}, "十二", "number", None),
    ("integer", {}, 5, "rating", 5),
    ("integer", {}, 9, "rating", None),
    ("money", {}, Decimal("3.456"), "integer", None),
    ("text", {}, "2024-06-01", "date", "2024-06-01"),
]


@pytest.mark.parametrize(("old_type", "old_options", "stored", "new_type", "expected"), CONVERSIONS)
def test_type_changes_convert_through_the_new_types_convert_from(
    old_type: str, old_options: dict[str, Any], stored: Any, new_type: str, expected: Any
) -> None:
    old, new = layout(old_type, **old_options), layout(new_type)
    converted, ok = convert_value(old, new, stored)
    if expected is None:
        assert (converted, ok) == (None, False)
        return
    assert ok
    written = new.kind.to_json(new.spec, converted)
    assert written == (
        expected if not isinstance(expected, Decimal) else new.kind.to_json(new.spec, expected)
    )


def test_the_ui_unit_tests_see_the_servers_palette() -> None:
    """builder_ui's unit tests load the traits from a copy of `GET /schema/field-types`."""
    copy = Path(__file__).parents[2] / "builder_ui" / "test-support" / "field-types.json"
    assert json.loads(copy.read_text(encoding="utf-8")) == palette(), (
        "regenerate it: python -c 'import json; from engine.forms.field_types import palette; "
        "print(json.dumps(palette(), ensure_ascii=False, indent=1))' > " + str(copy)
    )
