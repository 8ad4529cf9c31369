"""The field type registry: every type of DESIGN §4, each with a schema branch and an example."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy.types import TypeEngine

from engine.core.sqltypes import Date, ExactDecimal, Text, UtcDateTime
from engine.forms import FIELD_TYPES, app_json_schema, validate_app
from engine.forms.field_types import GROUPS, palette
from engine.forms.field_types.computed import serial_pattern_problem

DESIGN_TABLE = {
    "text": ["text", "textarea", "rich_text", "email", "phone", "url"],
    "number": ["number", "integer", "money", "percent", "rating"],
    "choice": ["select", "multiselect", "checkbox"],
    "time": ["date", "datetime", "time"],
    "people": ["user", "users", "department", "departments"],
    "place": ["address", "location"],
    "files": ["attachment", "image", "signature"],
    "computed": ["formula", "serial", "created_by", "created_at", "updated_by", "updated_at"],
    "links": ["relation", "lookup", "rollup"],
    "structure": ["subform", "section"],
}


def test_every_type_of_the_design_table_is_registered_in_its_group() -> None:
    registered = {group: [t.name for t in FIELD_TYPES if t.group == group] for group in GROUPS}
    assert registered == DESIGN_TABLE
    assert len(FIELD_TYPES) == sum(len(names) for names in DESIGN_TABLE.values())


def test_every_type_and_group_has_a_zh_and_en_name_in_the_palette() -> None:
    palette_ = palette()
    assert [group["group"] for group in palette_] == list(GROUPS)
    listed = [kind for group in palette_ for kind in group["types"]]
    assert [kind["type"] for kind in listed] == [
        t.name for g in GROUPS for t in FIELD_TYPES if t.group == g
    ]
    names = [kind["title"]["zh"] for kind in listed]
    assert len(set(names)) == len(names)
    for entry in [*palette_, *listed]:
        assert (
            entry["title"]["zh"]
            and entry["title"]["en"]
            and entry["title"]["zh"] != entry["title"]["en"]
        )
    for kind in listed:  # an example the builder can drop in once it has given it a key
        assert {"key": "f", **kind["example"]} == _minimal(kind["type"])


def _minimal(name: str) -> dict[str, Any]:
    return {"key": "f", "type": name, **FIELD_TYPES[name].example}


@pytest.mark.parametrize("name", FIELD_TYPES.names())
def test_every_type_has_a_json_schema_branch_and_a_valid_minimal_example(name: str) -> None:
    field_type = FIELD_TYPES[name]
    schema = app_json_schema()
    branch = schema["$defs"][field_type.spec.__name__]
    assert branch["properties"]["type"]["const"] == name
    assert branch["additionalProperties"] is False
    refs = [
        alt["$ref"] for alt in schema["$defs"]["FormSpec"]["properties"]["fields"]["items"]["oneOf"]
    ]
    assert f"#/$defs/{field_type.spec.__name__}" in refs
    example = _minimal(name)
    field_type.spec.model_validate(example)
    branch_schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{field_type.spec.__name__}"}
    validator = Draft202012Validator(branch_schema)
    assert list(validator.iter_errors(example)) == []
    assert list(validator.iter_errors({**example, "bogus": 1})) != []


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"key": "a", "type": "text"}, Text),
        ({"key": "a", "type": "money", "precision": 4}, ExactDecimal),
        ({"key": "a", "type": "date"}, Date),
        ({"key": "a", "type": "datetime"}, UtcDateTime),
        ({"key": "a", "type": "formula", "expr": "1"}, None),
        ({"key": "a", "type": "section"}, None),
        ({"key": "a", "type": "relation", "target": "b", "many": True}, None),
    ],
)
def test_column_types(field: dict[str, Any], expected: type[TypeEngine[Any]] | None) -> None:
    field_type = FIELD_TYPES[field["type"]]
    column = field_type.column_type(field_type.spec.model_validate(field))
    if expected is None:
        assert column is None
    else:
        assert isinstance(column, expected)


def test_money_keeps_its_precision_and_defaults_to_cny() -> None:
    spec = FIELD_TYPES["money"].spec.model_validate(
        {"key": "amount", "type": "money", "precision": 4}
    )
    column = FIELD_TYPES["money"].column_type(spec)
    assert isinstance(column, ExactDecimal) and column.scale == 4
    assert spec.currency == "CNY"  # type: ignore[attr-defined]
    assert FIELD_TYPES["money"].expr_schema(spec) == {
        "type": "money",
        "label": None,
        "precision": 4,
    }


@pytest.mark.parametrize(
    ("pattern", "valid"),
    [
        ("HT-{YYYY}{MM}-{0000}", True),
        ("{YY}{MM}{DD}{000000}", True),
        ("NO{0}", True),
        ("HT-{YYYY}", False),
        ("{0000}-{000}", False),
        ("HT-{Q}{0000}", False),
        ("HT-{0000", False),
        ("HT-}{0000}", False),
    ],
)
def test_serial_patterns(pattern: str, valid: bool) -> None:
    assert (serial_pattern_problem(pattern) is None) is valid


def test_a_form_with_every_type_validates() -> None:
    others = [
        _minimal(name) | {"key": f"f_{name}"}
        for name in FIELD_TYPES.names()
        if name not in ("lookup", "rollup", "relation")
    ]
    links = [
        {"key": "link", "type": "relation", "target": "other"},
        {"key": "look", "type": "lookup", "relation": "link", "field": "name"},
        {
            "key": "roll",
            "type": "rollup",
            "relation": "f_subform",
            "field": "qty",
            "aggregate": "sum",
        },
    ]
    app = {
        "format": "jimu.app/1",
        "key": "all",
        "name": "All",
        "version": "1",
        "forms": [
            {"key": "main", "name": "Main", "fields": others + links},
            {"key": "other", "name": "Other", "fields": [{"key": "name", "type": "text"}]},
        ],
    }
    assert [f.key for f in validate_app(app).forms[0].fields][-3:] == ["link", "look", "roll"]


def test_percent_stores_the_fraction_with_two_more_places_than_shown() -> None:
    """0.125 is shown as 12.5%: formulas such as amount * (1 - discount) read it as is."""
    from engine.forms.field_types.number import PercentField

    percent = FIELD_TYPES["percent"]
    field = PercentField(key="discount", type="percent", precision=1)
    column = percent.column_type(field)
    assert isinstance(column, ExactDecimal) and column.scale == 3
    entry = percent.expr_schema(field)
    assert entry is not None and entry["precision"] == 3
    default = PercentField(key="rate", type="percent")
    assert percent.expr_schema(default)["precision"] == 4  # type: ignore[index]
