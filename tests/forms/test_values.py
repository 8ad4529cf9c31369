"""Record values of the field types: `coerce` (API input -> stored value) and `to_json`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.forms import FIELD_TYPES
from engine.forms.common import FieldSpecBase
from engine.forms.field_types.values import decimal_limit
from engine.forms.messages import MESSAGES

UTC = dt.UTC
HUGE = 10**5000  # beyond Python's int/str digit limit
OPTIONS = [{"value": "a"}, {"value": "b"}, {"value": "红"}]


def make(type_name: str, **options: Any) -> FieldSpecBase:
    """A field spec of `type_name` with its example options overridden by `options`."""
    data = {"key": "f", "type": type_name, **FIELD_TYPES[type_name].example, **options}
    return FIELD_TYPES[type_name].spec.model_validate(data)


def coerce(type_name: str, raw: Any, **options: Any) -> tuple[Any, list[Any]]:
    return FIELD_TYPES[type_name].coerce(make(type_name, **options), raw)


def to_json(type_name: str, value: Any, **options: Any) -> Any:
    return FIELD_TYPES[type_name].to_json(make(type_name, **options), value)


# -- valid input: (type, options, raw input, stored value, JSON form) ------------------------

VALID: list[tuple[str, dict[str, Any], Any, Any, Any]] = [
    ("text", {}, "合同名称", "合同名称", "合同名称"),
    ("text", {}, "", None, None),
    ("text", {}, None, None, None),
    ("textarea", {}, "第一行\n第二行", "第一行\n第二行", "第一行\n第二行"),
    ("rich_text", {}, "<p>你好</p>", "<p>你好</p>", "<p>你好</p>"),
    ("text", {"min": 2, "max": 4, "pattern": r"[A-Z]+-\d+"}, "HT-1", "HT-1", "HT-1"),
    (
        "email",
        {},
        "zhang.san@example.com.cn",
        "zhang.san@example.com.cn",
        "zhang.san@example.com.cn",
    ),
    ("phone", {}, "13812345678", "13812345678", "13812345678"),
    ("phone", {}, "010-12345678", "010-12345678", "010-12345678"),
    ("phone", {}, "07551234567", "07551234567", "07551234567"),
    (
        "url",
        {},
        "https://例子.中国/路径?q=1",
        "https://例子.中国/路径?q=1",
        "https://例子.中国/路径?q=1",
    ),
    ("number", {}, 12.5, Decimal("12.50"), "12.50"),
    ("number", {}, "12.5", Decimal("12.50"), "12.50"),
    ("number", {}, 7, Decimal("7.00"), "7.00"),
    ("number", {"precision": 0}, "2.5", Decimal("3"), "3"),
    ("number", {"precision": 0}, "-2.5", Decimal("-3"), "-3"),
    ("number", {}, "-0.001", Decimal("0.00"), "0.00"),
    ("number", {"precision": 3}, ".5", Decimal("0.500"), "0.500"),
    ("number", {"min": 0, "max": 100}, "100", Decimal("100.00"), "100.00"),
    ("money", {}, "0.1", Decimal("0.10"), "0.10"),
    ("money", {}, 0.1, Decimal("0.10"), "0.10"),
    ("money", {}, "0.005", Decimal("0.01"), "0.01"),
    ("money", {}, "-0.005", Decimal("-0.01"), "-0.01"),
    ("money", {}, "1.115", Decimal("1.12"), "1.12"),
    ("money", {}, "92233720368547758.07", Decimal("92233720368547758.07"), "92233720368547758.07"),
    ("percent", {}, "0.125", Decimal("0.1250"), "0.1250"),
    ("percent", {"precision": 0}, 0.125, Decimal("0.13"), "0.13"),
    ("percent", {}, 1, Decimal("1.0000"), "1.0000"),
    ("percent", {"max": 1}, "1.00004", Decimal("1.0000"), "1.0000"),  # rounded, then bounded
    ("integer", {}, 42, 42, 42),
    ("integer", {}, 42.0, 42, 42),
    ("integer", {}, "-7", -7, -7),
    ("integer", {}, 999_999_999_999_999_999, 999_999_999_999_999_999, 999_999_999_999_999_999),
    ("rating", {}, 0, 0, 0),
    ("rating", {"max": 10}, 10, 10, 10),
    ("checkbox", {}, True, True, True),
    ("checkbox", {}, False, False, False),
    ("select", {"options": OPTIONS}, "红", "红", "红"),
    ("select", {"options": OPTIONS}, "", None, None),
    ("multiselect", {"options": OPTIONS}, ["b", "a"], ["b", "a"], ["b", "a"]),
    ("multiselect", {"options": OPTIONS}, [], None, None),
    ("date", {}, "2024-02-29", dt.date(2024, 2, 29), "2024-02-29"),
    (
        "datetime",
        {},
        "2024-06-01T12:00:00+08:00",
        dt.datetime(2024, 6, 1, 4, tzinfo=UTC),
        "2024-06-01T04:00:00.000Z",
    ),
    (
        "datetime",
        {},
        "2024-06-01T04:00:00.000Z",
        dt.datetime(2024, 6, 1, 4, tzinfo=UTC),
        "2024-06-01T04:00:00.000Z",
    ),
    (
        "datetime",
        {},
        "2024-06-01T04:00:00",
        dt.datetime(2024, 6, 1, 4, tzinfo=UTC),
        "2024-06-01T04:00:00.000Z",
    ),
    (
        "datetime",
        {},
        "2024-06-01 04:00",
        dt.datetime(2024, 6, 1, 4, tzinfo=UTC),
        "2024-06-01T04:00:00.000Z",
    ),
    (
        "datetime",
        {},
        "2024-01-01T01:02:03.4567891-0530",
        dt.datetime(2024, 1, 1, 6, 32, 3, 456000, tzinfo=UTC),
        "2024-01-01T06:32:03.456Z",
    ),
    (
        "datetime",
        {},
        "2024-01-01T00:00:00+08:00",
        dt.datetime(2023, 12, 31, 16, tzinfo=UTC),
        "2023-12-31T16:00:00.000Z",
    ),
    ("time", {}, "13:45", dt.time(13, 45), "13:45:00"),
    ("time", {}, "13:45:09", dt.time(13, 45, 9), "13:45:09"),
    ("user", {}, 7, 7, {"id": 7}),
    ("user", {}, {"id": 7, "name": "张三"}, 7, {"id": 7}),
    ("department", {}, 3, 3, {"id": 3}),
    ("users", {}, [7, {"id": 8}], [7, 8], [{"id": 7}, {"id": 8}]),
    ("departments", {}, [], None, None),
    (
        "address",
        {},
        {
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "detail": "科技园 1 号",
            "code": "440305",
        },
        {
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "detail": "科技园 1 号",
            "code": "440305",
        },
        {
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "detail": "科技园 1 号",
            "code": "440305",
        },
    ),
    (
        "address",
        {},
        {"province": "北京市", "detail": ""},
        {"province": "北京市", "city": None, "district": None, "detail": None, "code": None},
        {"province": "北京市", "city": None, "district": None, "detail": None, "code": None},
    ),
    ("address", {}, {}, None, None),
    (
        "location",
        {},
        {"lat": 22.54, "lng": 113.93, "address": "深圳湾"},
        {"lat": 22.54, "lng": 113.93, "address": "深圳湾"},
        {"lat": 22.54, "lng": 113.93, "address": "深圳湾"},
    ),
    (
        "location",
        {},
        {"lat": -90, "lng": 180},
        {"lat": -90.0, "lng": 180.0, "address": None},
        {"lat": -90.0, "lng": 180.0, "address": None},
    ),
]


@pytest.mark.parametrize(("type_name", "options", "raw", "stored", "json"), VALID)
def test_valid_input_is_stored_and_written_back(
    type_name: str, options: dict[str, Any], raw: Any, stored: Any, json: Any
) -> None:
    value, issues = coerce(type_name, raw, **options)
    assert issues == []
    assert value == stored
    assert type(value) is type(stored)
    assert to_json(type_name, value, **options) == json
    again, issues = coerce(type_name, to_json(type_name, value, **options), **options)
    assert (again, issues) == (value, [])


def test_datetimes_are_aware_utc() -> None:
    value, _ = coerce("datetime", "2024-06-01T12:00:00.999+08:00")
    assert value.tzinfo is UTC and value.microsecond == 999_000


def test_decimal_json_has_the_scale_even_for_whole_and_zero_values() -> None:
    assert to_json("money", Decimal("12.5")) == "12.50"
    assert to_json("number", Decimal(0), precision=3) == "0.000"
    assert to_json("percent", Decimal("0.5"), precision=1) == "0.500"
    assert to_json("number", None) is None


# -- invalid input: (type, options, raw input, issue code, issue path) -----------------------

INVALID: list[tuple[str, dict[str, Any], Any, str, str]] = [
    ("text", {}, 12, "expected_text", ""),
    ("text", {}, ["a"], "expected_text", ""),
    ("text", {}, {"zh": "文"}, "expected_text", ""),
    ("text", {}, True, "expected_text", ""),
    ("text", {}, "a\x00b", "nul_character", ""),
    ("text", {"pattern": r"[A-Z]+-\d+"}, "ht-1", "pattern", ""),
    ("text", {"pattern": r"\d{6}"}, "1234567", "pattern", ""),
    ("text", {"min": 2}, "字", "min_length", ""),
    ("textarea", {"max": 3}, "四个汉字", "max_length", ""),
    ("email", {}, "zhang.san", "invalid_email", ""),
    ("email", {}, "a@b", "invalid_email", ""),
    ("email", {}, "a b@example.com", "invalid_email", ""),
    ("phone", {}, "12812345678", "invalid_phone", ""),
    ("phone", {}, "1381234567", "invalid_phone", ""),
    ("phone", {}, "010-123456", "invalid_phone", ""),
    ("phone", {}, 13812345678, "expected_text", ""),
    ("url", {}, "ftp://example.com", "invalid_url", ""),
    ("url", {}, "example.com", "invalid_url", ""),
    ("url", {}, "https://", "invalid_url", ""),
    ("url", {}, "https://exa mple.com", "invalid_url", ""),
    ("url", {}, "http://[::1", "invalid_url", ""),
    ("number", {}, True, "expected_number", ""),
    ("number", {}, False, "expected_number", ""),
    ("number", {}, [1], "expected_number", ""),
    ("number", {}, {"value": 1}, "expected_number", ""),
    ("number", {}, "NaN", "expected_number", ""),
    ("number", {}, "Infinity", "expected_number", ""),
    ("number", {}, "-inf", "expected_number", ""),
    ("number", {}, float("nan"), "expected_number", ""),
    ("number", {}, float("inf"), "expected_number", ""),
    ("number", {}, "1,234.50", "expected_number", ""),
    ("number", {}, "1e3", "expected_number", ""),
    ("number", {}, " 12", "expected_number", ""),
    ("number", {}, "", "expected_number", ""),
    ("number", {}, "12元", "expected_number", ""),
    ("number", {}, Decimal("NaN"), "expected_number", ""),
    ("number", {"precision": 0}, 10**18, "number_too_large", ""),
    ("number", {}, 10**30, "number_too_large", ""),
    ("number", {}, HUGE, "number_too_large", ""),
    ("integer", {}, HUGE, "number_too_large", ""),
    ("select", {"options": OPTIONS}, HUGE, "not_an_option", ""),
    ("users", {}, [HUGE], "expected_id", "[0]"),
    ("number", {}, 1e300, "number_too_large", ""),
    ("number", {}, "9" * 19, "number_too_large", ""),
    ("number", {}, "1" + "0" * 300, "number_too_large", ""),
    ("number", {}, Decimal("1E+999999"), "number_too_large", ""),
    ("money", {}, "92233720368547758.08", "number_too_large", ""),
    ("number", {"precision": 10}, "1000000000", "number_too_large", ""),
    ("number", {"min": 0}, "-0.01", "min", ""),
    ("money", {"max": 100}, 100.01, "max", ""),
    ("percent", {"max": 1}, "1.0001", "max", ""),
    ("percent", {"max": 1}, "1.00005", "max", ""),
    ("percent", {}, "50%", "expected_number", ""),
    ("integer", {}, 1.5, "expected_integer", ""),
    ("integer", {}, "1.0", "expected_integer", ""),
    ("integer", {}, True, "expected_integer", ""),
    ("integer", {}, [1], "expected_integer", ""),
    ("integer", {}, float("inf"), "expected_integer", ""),
    ("integer", {}, 10**18, "number_too_large", ""),
    ("integer", {"min": 1}, 0, "min", ""),
    ("integer", {"max": 9}, "10", "max", ""),
    ("rating", {}, 6, "out_of_range", ""),
    ("rating", {}, -1, "out_of_range", ""),
    ("rating", {}, 2.5, "expected_integer", ""),
    ("rating", {}, "很好", "expected_integer", ""),
    ("checkbox", {}, "true", "expected_boolean", ""),
    ("checkbox", {}, 1, "expected_boolean", ""),
    ("checkbox", {}, 0, "expected_boolean", ""),
    ("select", {"options": OPTIONS}, "c", "not_an_option", ""),
    ("select", {"options": OPTIONS}, ["a"], "not_an_option", ""),
    ("select", {"options": OPTIONS}, 1, "not_an_option", ""),
    ("multiselect", {"options": OPTIONS}, "a", "expected_list", ""),
    ("multiselect", {"options": OPTIONS}, ["a", "z"], "not_an_option", "[1]"),
    ("multiselect", {"options": OPTIONS}, ["a", "b", "a"], "duplicate_value", "[2]"),
    ("multiselect", {"options": OPTIONS, "max": 1}, ["a", "b"], "max_count", ""),
    ("multiselect", {"options": OPTIONS, "min": 2}, ["a"], "min_count", ""),
    ("date", {}, "2024-02-30", "invalid_date", ""),
    ("date", {}, "2023-02-29", "invalid_date", ""),
    ("date", {}, "2024-6-1", "invalid_date", ""),
    ("date", {}, "20240601", "invalid_date", ""),
    ("date", {}, "2024-06-01T00:00:00Z", "invalid_date", ""),
    ("date", {}, 20240601, "invalid_date", ""),
    ("date", {}, dt.datetime(2024, 6, 1), "invalid_date", ""),
    ("datetime", {}, "2024-06-01", "invalid_datetime", ""),
    ("datetime", {}, "2024-02-30T00:00:00Z", "invalid_datetime", ""),
    ("datetime", {}, "2024-06-01T12:00:00+25:00", "invalid_datetime", ""),
    ("datetime", {}, "2024-06-01T12:00:00+08:60", "invalid_datetime", ""),
    ("datetime", {}, "2024-06-01T12:00:00 CST", "invalid_datetime", ""),
    ("datetime", {}, "2024-06-01T12:00:00Asia/Shanghai", "invalid_datetime", ""),
    ("datetime", {}, "2024-06-01T24:00:00Z", "invalid_datetime", ""),
    ("datetime", {}, "0001-01-01T00:00:00+08:00", "invalid_datetime", ""),
    ("datetime", {}, 1717214400000, "invalid_datetime", ""),
    ("datetime", {}, True, "invalid_datetime", ""),
    ("time", {}, "24:00", "invalid_time", ""),
    ("time", {}, "13:60", "invalid_time", ""),
    ("time", {}, "1:45", "invalid_time", ""),
    ("time", {}, "13:45:00Z", "invalid_time", ""),
    ("time", {}, 1345, "invalid_time", ""),
    ("user", {}, "7", "expected_id", ""),
    ("user", {}, True, "expected_id", ""),
    ("user", {}, 0, "expected_id", ""),
    ("user", {}, 7.0, "expected_id", ""),
    ("department", {}, {"name": "销售部"}, "expected_id", ""),
    ("users", {}, 7, "expected_list", ""),
    ("users", {}, [7, "x"], "expected_id", "[1]"),
    ("departments", {}, [3, 3], "duplicate_value", "[1]"),
    ("address", {}, "广东省深圳市", "expected_object", ""),
    ("address", {}, {"province": 44}, "expected_text", "province"),
    ("address", {}, {"code": "4403"}, "invalid_region_code", "code"),
    ("address", {}, {"street": "x"}, "unknown_property", "street"),
    ("location", {}, [22.5, 113.9], "expected_object", ""),
    ("location", {}, {"lat": 91, "lng": 0}, "out_of_range", "lat"),
    ("location", {}, {"lat": 0, "lng": -180.5}, "out_of_range", "lng"),
    ("location", {}, {"lat": "22.5", "lng": 0}, "expected_number", "lat"),
    ("location", {}, {"lat": True, "lng": 0}, "expected_number", "lat"),
    ("location", {}, {"lat": float("nan"), "lng": 0}, "expected_number", "lat"),
    ("location", {}, {"lat": 0, "lng": 10**400}, "expected_number", "lng"),
    ("location", {}, {"lng": 0}, "missing", "lat"),
    ("location", {}, {"lat": 0, "lng": 0, "address": 5}, "expected_text", "address"),
]


@pytest.mark.parametrize(
    ("type_name", "options", "raw", "code", "path"),
    INVALID,
    ids=[f"{case[0]}-{index}" for index, case in enumerate(INVALID)],
)
def test_invalid_input_gives_an_issue_and_no_value(
    type_name: str, options: dict[str, Any], raw: Any, code: str, path: str
) -> None:
    value, issues = coerce(type_name, raw, **options)
    assert value is None
    assert [(i.code, i.path) for i in issues] == [(code, path)]
    found = issues[0]
    assert found.message_zh and found.message_en and found.message_zh != found.message_en
    assert "{" not in found.message_en or code == "pattern"


def test_every_problem_of_a_list_is_reported() -> None:
    _, issues = coerce("multiselect", ["z", "a", "a", 3], options=OPTIONS)
    assert [(i.path, i.code) for i in issues] == [
        ("[0]", "not_an_option"),
        ("[2]", "duplicate_value"),
        ("[3]", "not_an_option"),
    ]


def test_out_of_range_message_names_the_limit() -> None:
    _, issues = coerce("number", "1" + "0" * 18, precision=0)
    assert "999999999999999999" in issues[0].message_en
    _, issues = coerce("money", "1" + "0" * 17)
    assert "92233720368547758.07" in issues[0].message_zh


@pytest.mark.parametrize(
    "name",
    [
        "formula",
        "serial",
        "created_by",
        "created_at",
        "updated_by",
        "updated_at",
        "lookup",
        "rollup",
    ],
)
@pytest.mark.parametrize("raw", [None, "x", 1])
def test_computed_types_are_not_writable(name: str, raw: Any) -> None:
    field = FIELD_TYPES[name].spec.model_validate(
        {"key": "f", "type": name, **FIELD_TYPES[name].example, **_link_options(name)}
    )
    value, issues = FIELD_TYPES[name].coerce(field, raw)
    assert value is None
    assert [(i.path, i.code, i.message_zh, i.message_en) for i in issues] == [
        ("", "not_writable", *MESSAGES["not_writable"])
    ]


def _link_options(name: str) -> dict[str, Any]:
    return (
        {"relation": "r", "field": "x", **({"aggregate": "sum"} if name == "rollup" else {})}
        if name in ("lookup", "rollup")
        else {}
    )


@pytest.mark.parametrize(
    "name", ["relation", "subform", "section", "attachment", "image", "signature"]
)
def test_pipeline_types_pass_input_through(name: str) -> None:
    raw: Any = [{"_id": 1}, "file-1"]
    assert FIELD_TYPES[name].coerce(make(name), raw) == (raw, [])


def test_computed_values_are_written_as_json() -> None:
    assert (
        to_json(
            "created_at", dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        )
        == "2024-06-01T04:00:00.000Z"
    )
    assert to_json("formula", Decimal("2.5"), precision=2) == "2.50"
    assert to_json("formula", Decimal("2.50")) == "2.5"
    assert to_json("formula", dt.date(2024, 6, 1)) == "2024-06-01"
    assert to_json("serial", "HT-202406-0001") == "HT-202406-0001"
    assert to_json("datetime", dt.datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"


@pytest.mark.parametrize("name", FIELD_TYPES.names())
def test_no_type_raises_on_odd_input(name: str) -> None:
    field = FIELD_TYPES[name].spec.model_validate(
        {"key": "f", "type": name, **FIELD_TYPES[name].example, **_link_options(name)}
    )
    for raw in (
        None,
        "",
        0,
        -1,
        1.5,
        True,
        [],
        [None],
        {},
        {"a": []},
        "\x00",
        "x" * 10_000,
        10**400,
        HUGE,
        [HUGE],
        {"lat": HUGE},
    ):
        value, issues = FIELD_TYPES[name].coerce(field, raw)
        assert value is None or not issues


# -- properties ------------------------------------------------------------------------------

DECIMAL_TYPES = st.sampled_from(["number", "money", "percent"])


@settings(max_examples=300, deadline=None)
@given(name=DECIMAL_TYPES, precision=st.integers(0, 8), as_text=st.booleans(), data=st.data())
def test_decimal_round_trip(name: str, precision: int, as_text: bool, data: st.DataObject) -> None:
    scale = precision + 2 if name == "percent" else precision
    limit = (
        decimal_limit(scale) if as_text else min(decimal_limit(scale), Decimal(10**12)) / 2
    )  # floats: exact enough
    value = data.draw(st.decimals(min_value=-limit, max_value=limit, places=12))
    raw: Any = format(value, "f") if as_text else float(value)
    stored, issues = coerce(name, raw, precision=precision)
    assert issues == []
    assert stored.as_tuple().exponent == -scale
    if as_text:  # exact: rounded half away from zero at the scale
        step = Decimal(1).scaleb(-scale)
        assert abs(stored - value) <= step / 2
        assert abs(stored - value) < step / 2 or abs(stored) > abs(value)
    text = to_json(name, stored, precision=precision)
    assert isinstance(text, str) and text == format(stored, "f")
    assert coerce(name, text, precision=precision) == (stored, [])


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        timezones=st.sampled_from(
            [
                UTC,
                dt.timezone(dt.timedelta(hours=8)),
                dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
            ]
        )
    )
)
def test_datetime_round_trip(moment: dt.datetime) -> None:
    stored, issues = coerce("datetime", moment.isoformat())
    if issues:  # only an offset that leaves years 1-9999
        assert moment.year in (1, 9999)
        return
    assert stored == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert coerce("datetime", to_json("datetime", stored)) == (stored, [])


# -- precompiled coercers and JSON writers (what layouts keep per revision) --------------------

ODD_INPUTS: list[Any] = [
    None,
    "",
    0,
    -1,
    1.5,
    True,
    [],
    [None],
    ["a", "a"],
    ["a", "b"],
    {},
    "\x00",
    "x" * 300,
    HUGE,
    "2024-06-01",
]


@pytest.mark.parametrize(
    ("type_name", "options", "raw"),
    [(case[0], case[1], case[2]) for case in VALID + INVALID],
    ids=[f"{case[0]}-{index}" for index, case in enumerate(VALID + INVALID)],
)
def test_precompiled_coercer_and_writer_give_what_coerce_and_to_json_give(
    type_name: str, options: dict[str, Any], raw: Any
) -> None:
    kind = FIELD_TYPES[type_name]
    field = make(type_name, **options)
    assert kind.coercer(field)(raw) == kind.coerce(field, raw)
    value, _ = kind.coerce(field, raw)
    assert kind.json_writer(field)(value) == kind.to_json(field, value)


@pytest.mark.parametrize("name", FIELD_TYPES.names())
def test_precompiled_coercer_agrees_on_odd_input_for_every_type(name: str) -> None:
    kind = FIELD_TYPES[name]
    field = kind.spec.model_validate(
        {"key": "f", "type": name, **kind.example, **_link_options(name)}
    )
    specs = [field]
    if "min" in kind.spec.model_fields and "max" in kind.spec.model_fields:
        specs.append(
            kind.spec.model_validate(
                {
                    "key": "f",
                    "type": name,
                    **kind.example,
                    **_link_options(name),
                    "min": 1,
                    "max": 2,
                }
            )
        )
    for spec in specs:
        coerce_once = kind.coercer(spec)
        for raw in ODD_INPUTS:
            assert coerce_once(raw) == kind.coerce(spec, raw), raw
