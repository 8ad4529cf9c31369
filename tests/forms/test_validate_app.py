"""validate_app: the valid CRM fixture, and invalid definitions reporting every issue at once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.issues import DefinitionError
from engine.forms import AppSpec, validate_app
from tests.forms.fixtures import contract_fields, crm_app


def issues_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as caught:
        validate_app(data)
    return [(issue.path, issue.code) for issue in caught.value.issues]


def small_app(*fields: dict[str, Any], **form: Any) -> dict[str, Any]:
    return {
        "format": "jimu.app/1",
        "key": "demo",
        "name": "Demo",
        "version": "1.0.0",
        "forms": [{"key": "main", "name": "Main", "fields": list(fields), **form}],
    }


def test_the_crm_app_validates() -> None:
    app = validate_app(crm_app())
    assert isinstance(app, AppSpec)
    assert [form.key for form in app.forms] == ["customer", "contract"]
    contract = app.forms[1]
    assert contract.fields[7].type == "subform"
    assert contract.validations[0].message.zh == "结束日期不能早于开始日期"


def test_specs_are_frozen() -> None:
    app = validate_app(crm_app())
    with pytest.raises(ValueError):
        app.key = "other"  # type: ignore[misc]


def test_structural_problems_are_all_reported_at_once() -> None:
    app = crm_app()
    fields = contract_fields(app)
    fields[0]["type"] = "txt"  # unknown field type
    fields[1]["key"] = "No"  # bad key
    del fields[2]["target"]  # missing required property
    fields[4]["precision"] = 3  # a property a date does not have
    del fields[5]["type"]
    fields[7]["fields"][1]["precision"] = 11  # nested: not a property of integer
    app["forms"][0]["fields"][3]["precision"] = 11  # out of range
    app["forms"][0]["fields"][0]["label"] = 5  # neither text nor {zh, en}
    app["forms"][0]["key"] = "客户"
    del app["version"]
    assert issues_of(app) == [
        ("version", "missing"),
        ("forms[0].key", "invalid_key"),
        ("forms[0].fields[0].label", "invalid_value"),
        ("forms[0].fields[3].precision", "less_than_equal"),
        ("forms[1].fields[0].type", "unknown_field_type"),
        ("forms[1].fields[1].key", "invalid_key"),
        ("forms[1].fields[2].target", "missing"),
        ("forms[1].fields[4].precision", "unknown_property"),
        ("forms[1].fields[5].type", "missing"),
        ("forms[1].fields[7].fields[1].precision", "unknown_property"),
    ]


def test_structural_messages_are_bilingual() -> None:
    app = crm_app()
    contract_fields(app)[0]["type"] = "txt"
    del contract_fields(app)[2]["target"]
    with pytest.raises(DefinitionError) as caught:
        validate_app(app)
    unknown, missing = caught.value.issues
    assert unknown.message_zh == "未知的字段类型 txt"
    assert unknown.message_en.startswith(
        "Unknown field type 'txt'; expected one of: text, textarea"
    )
    assert (missing.message_zh, missing.message_en) == ("缺少必填项", "Field required")


@pytest.mark.parametrize("data", [None, [], "app", 1, {"format": "jimu.app/2"}])
def test_not_an_app_at_all(data: Any) -> None:
    assert issues_of(data)


def test_semantic_problems_are_all_reported_at_once() -> None:
    app = crm_app()
    customer = app["forms"][0]["fields"]
    customer[1]["options"][2]["value"] = "A"  # duplicate select value
    customer[2]["pattern"] = "^(1"  # bad regex
    customer.append({"key": "name", "type": "email"})  # duplicate field key
    fields = contract_fields(app)
    fields[1]["pattern"] = "HT-{0000}-{X}"  # bad serial pattern
    fields.append({"key": "partner", "type": "relation", "target": "supplier"})  # missing form
    fields.append({"key": "partner_name", "type": "lookup", "relation": "title", "field": "name"})
    fields[6]["min"] = 200  # min > max (100)
    fields[11]["visible_when"] = "total + 1"  # not a condition
    fields[7]["fields"].append(
        {"key": "parts", "type": "subform", "fields": [{"key": "x", "type": "text"}]}
    )
    app["forms"][1]["title_field"] = "signed"  # a checkbox cannot be a title
    app["forms"].append(
        {"key": "customer", "name": "Again", "fields": [{"key": "a", "type": "text"}]}
    )
    assert issues_of(app) == [
        ("forms[2].key", "duplicate_form"),
        ("forms[0].fields[5].key", "duplicate_field"),
        ("forms[0].fields[1].options[2].value", "duplicate_option"),
        ("forms[0].fields[2].pattern", "invalid_pattern"),
        ("forms[1].title_field", "title_field_type"),
        ("forms[1].fields[1].pattern", "invalid_serial_pattern"),
        ("forms[1].fields[6].min", "min_max"),
        ("forms[1].fields[7].fields[4].type", "nested_subform"),
        ("forms[1].fields[11].visible_when", "not_boolean"),
        ("forms[1].fields[16].target", "unknown_form"),
        ("forms[1].fields[17].relation", "not_a_relation"),
    ]


def test_formula_with_an_unknown_field_has_its_path_and_position() -> None:
    app = small_app(
        {"key": "price", "type": "money"},
        {"key": "qty", "type": "integer"},
        {"key": "name", "type": "text"},
        {"key": "total", "type": "formula", "expr": "price *\n  quantity"},
    )
    with pytest.raises(DefinitionError) as caught:
        validate_app(app)
    (found,) = caught.value.issues
    assert (found.path, found.code, found.line, found.column) == (
        "forms[0].fields[3].expr",
        "unknown_field",
        2,
        3,
    )
    assert found.to_dict("en") == {
        "path": "forms[0].fields[3].expr",
        "code": "unknown_field",
        "message": found.message_en,
        "line": 2,
        "column": 3,
    }
    assert "quantity" in found.message_zh


def test_every_formula_bearing_property_is_checked() -> None:
    app = small_app(
        {"key": "amount", "type": "number", "default": {"expr": "amount_x"}},
        {"key": "flag", "type": "checkbox", "readonly_when": "amount"},
        {"key": "note", "type": "text", "visible_when": "LEN(note) > "},
        validations=[
            {"expr": "amount > 0", "message": {"zh": "金额须大于 0"}},
            {"expr": "amount", "message": {"en": "needs a condition"}},
        ],
    )
    assert issues_of(app) == [
        ("forms[0].fields[0].default.expr", "unknown_field"),
        ("forms[0].fields[1].readonly_when", "not_boolean"),
        ("forms[0].fields[2].visible_when", "unexpected_end"),
        ("forms[0].validations[1].expr", "not_boolean"),
    ]


def test_formulas_may_use_later_formulas_lookups_and_rollups() -> None:
    app = crm_app()
    contract_fields(app).insert(
        0, {"key": "early", "type": "formula", "expr": 'IF(big_customer, tier, "")'}
    )
    app["forms"][1]["validations"].append(
        {"expr": "customer.credit >= total", "message": {"zh": "超出信用额度"}}
    )
    validate_app(app)


def test_formula_cycles_are_reported_on_each_formula() -> None:
    app = small_app(
        {"key": "a", "type": "formula", "expr": "b + 1"},
        {"key": "b", "type": "formula", "expr": "a + 1"},
        {"key": "c", "type": "formula", "expr": "c"},
    )
    assert issues_of(app) == [
        ("forms[0].fields[0].expr", "formula_cycle"),
        ("forms[0].fields[1].expr", "formula_cycle"),
        ("forms[0].fields[2].expr", "formula_cycle"),
    ]


def test_subform_rows_see_their_own_fields_and_duplicates_are_per_subform() -> None:
    ok = small_app(
        {"key": "qty", "type": "integer"},
        {
            "key": "rows",
            "type": "subform",
            "fields": [
                {"key": "qty", "type": "integer"},
                {"key": "double", "type": "formula", "expr": "qty * 2"},
            ],
        },
    )
    validate_app(ok)
    bad = small_app(
        {
            "key": "rows",
            "type": "subform",
            "fields": [
                {"key": "qty", "type": "integer"},
                {"key": "qty", "type": "number"},
                {"key": "half", "type": "formula", "expr": "qtty / 2"},
            ],
        },
    )
    assert issues_of(bad) == [
        ("forms[0].fields[0].fields[1].key", "duplicate_field"),
        ("forms[0].fields[0].fields[2].expr", "unknown_field"),
    ]


def test_a_choice_default_must_be_an_option() -> None:
    options = [{"value": "a"}, {"value": "b"}]
    app = small_app(
        {"key": "one", "type": "select", "options": options, "default": "c"},
        {"key": "many", "type": "multiselect", "options": options, "default": ["a", "z"]},
        {"key": "ok", "type": "select", "options": options, "default": "b"},
    )
    assert issues_of(app) == [
        ("forms[0].fields[0].default", "unknown_option"),
        ("forms[0].fields[1].default", "unknown_option"),
    ]


def test_lookup_and_rollup_references() -> None:
    app = small_app(
        {"key": "title", "type": "text"},
        {"key": "other", "type": "relation", "target": "main", "many": True},
        {"key": "rows", "type": "subform", "fields": [{"key": "label", "type": "text"}]},
        {"key": "l1", "type": "lookup", "relation": "nothing", "field": "title"},
        {"key": "l2", "type": "lookup", "relation": "rows", "field": "label"},
        {"key": "l3", "type": "lookup", "relation": "other", "field": "missing"},
        {"key": "r1", "type": "rollup", "relation": "title", "field": "x", "aggregate": "count"},
        {"key": "r2", "type": "rollup", "relation": "rows", "field": "label", "aggregate": "sum"},
        {"key": "r3", "type": "rollup", "relation": "rows", "field": "nope", "aggregate": "max"},
        {
            "key": "r4",
            "type": "rollup",
            "relation": "other",
            "field": "title",
            "aggregate": "count",
        },
        title_field="missing",
    )
    assert issues_of(app) == [
        ("forms[0].title_field", "unknown_title_field"),
        ("forms[0].fields[3].relation", "unknown_field"),
        ("forms[0].fields[4].relation", "not_a_relation"),
        ("forms[0].fields[5].field", "unknown_field"),
        ("forms[0].fields[6].relation", "not_a_container"),
        ("forms[0].fields[7].aggregate", "aggregate_type"),
        ("forms[0].fields[8].field", "unknown_field"),
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "key",
                    "type",
                    "fields",
                    "expr",
                    "target",
                    "relation",
                    "field",
                    "min",
                    "max",
                    "options",
                    "label",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(field=json_values)
def test_anything_wrong_raises_only_definition_error(field: Any) -> None:
    try:
        validate_app(small_app(field))
    except DefinitionError as exc:
        assert exc.issues
