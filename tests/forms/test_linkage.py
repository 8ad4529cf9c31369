"""Data linkage defaults in definitions: the models, the JSON Schema and every semantic rule,
each reported at its own path with zh/en messages."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.core.issues import DefinitionError
from engine.forms import app_json_schema, validate_app
from engine.forms.common import DefaultLinkage
from tests.forms.linkage_app import link, order_field, shop_app

LEVEL = "forms[1].fields[2].default.linkage"  # the order's level field


def issues_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as caught:
        validate_app(data)
    for found in caught.value.issues:
        assert found.message_zh and found.message_en and found.message_zh != found.message_en
    return [(i.path, i.code) for i in caught.value.issues]


def test_the_linkage_app_is_valid_for_the_models_and_the_schema() -> None:
    app = validate_app(shop_app())
    level = app.forms[1].fields[2]
    assert isinstance(level.default, DefaultLinkage)  # type: ignore[attr-defined]
    assert level.default.linkage.when[0].field == "_id"  # type: ignore[attr-defined]
    assert list(Draft202012Validator(app_json_schema()).iter_errors(shop_app())) == []


def test_a_definition_keeps_its_linkage_when_dumped() -> None:
    app = validate_app(shop_app())
    dumped = app.model_dump(mode="json", exclude_defaults=True)
    assert dumped["forms"][1]["fields"][2]["default"] == link("level", ("_id", "customer"))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda f: f["default"]["linkage"].update(form="nowhere"),
            [(f"{LEVEL}.form", "unknown_form")],
        ),
        (
            lambda f: f["default"]["linkage"]["when"][0].update(field="nothing"),
            [(f"{LEVEL}.when[0].field", "unknown_field")],
        ),
        (
            lambda f: f["default"]["linkage"]["when"][0].update(equals="nothing"),
            [(f"{LEVEL}.when[0].equals", "unknown_field")],
        ),
        (
            lambda f: f["default"]["linkage"]["when"][0].update(equals="level"),
            [(f"{LEVEL}.when[0].equals", "linkage_self")],
        ),
        (
            lambda f: f["default"]["linkage"].update(take="nothing"),
            [(f"{LEVEL}.take", "unknown_field")],
        ),
        # a user's value cannot fill a select
        (
            lambda f: f["default"]["linkage"].update(take="manager"),
            [(f"{LEVEL}.take", "linkage_take_type")],
        ),
        # the customer's _id against a text field
        (
            lambda f: f["default"]["linkage"]["when"][0].update(equals="title"),
            [(f"{LEVEL}.when[0].equals", "linkage_compare")],
        ),
        # a field filled by another linkage cannot be a condition
        (
            lambda f: f["default"]["linkage"]["when"][0].update(field="phone", equals="phone"),
            [(f"{LEVEL}.when[0].equals", "linkage_chain")],
        ),
    ],
    ids=[
        "unknown-form",
        "unknown-source-field",
        "unknown-own-field",
        "itself",
        "unknown-take",
        "take-type",
        "compare",
        "chain",
    ],
)
def test_bad_references_are_reported_at_their_path(
    change: Any, expected: list[tuple[str, str]]
) -> None:
    app = shop_app()
    change(order_field(app, "level"))
    assert issues_of(app) == expected


def test_a_subform_cannot_be_a_condition_and_a_subform_row_cannot_link() -> None:
    app = shop_app()
    fields = app["forms"][1]["fields"]
    fields.append(
        {
            "key": "lines",
            "type": "subform",
            "fields": [
                {"key": "item", "type": "text"},
                {"key": "copied", "type": "text", "default": link("city", ("name", "item"))},
            ],
        }
    )
    order_field(app, "level")["default"]["linkage"]["when"][0].update(field="name", equals="lines")
    assert issues_of(app) == [
        (f"{LEVEL}.when[0].equals", "linkage_equals_type"),
        ("forms[1].fields[9].fields[1].default.linkage", "linkage_in_subform"),
    ]


def test_file_fields_and_many_relations_cannot_link() -> None:
    app = shop_app()
    app["forms"][1]["fields"] += [
        {"key": "files", "type": "attachment", "default": link("city", ("_id", "customer"))},
        {
            "key": "others",
            "type": "relation",
            "target": "customer",
            "many": True,
            "default": link("city", ("_id", "customer")),
        },
    ]
    assert issues_of(app) == [
        ("forms[1].fields[9].default.linkage", "linkage_target_type"),
        ("forms[1].fields[10].default.linkage", "linkage_target_type"),
    ]


@pytest.mark.parametrize("kind", ["formula", "lookup", "rollup", "serial"])
def test_computed_fields_have_no_linkage_default(kind: str) -> None:
    extra = {
        "formula": {"expr": "1"},
        "lookup": {"relation": "customer", "field": "city"},
        "rollup": {"relation": "customer", "field": "credit", "aggregate": "sum"},
        "serial": {"pattern": "D-{0000}"},
    }[kind]
    app = shop_app()
    app["forms"][1]["fields"].append(
        {"key": "computed", "type": kind, **extra, "default": link("city", ("_id", "customer"))}
    )
    assert issues_of(app) == [("forms[1].fields[9].default", "unknown_property")]
    assert list(Draft202012Validator(app_json_schema()).iter_errors(app)) != []


@pytest.mark.parametrize(
    ("linkage", "where", "code"),
    [
        ({"form": "customer", "when": [], "take": "level"}, "when", "too_short"),
        (
            {
                "form": "customer",
                "when": [{"field": "_id", "equals": "customer"}] * 4,
                "take": "level",
            },
            "when",
            "too_long",
        ),
        (
            {"form": "customer", "when": [{"field": "Bad", "equals": "customer"}], "take": "level"},
            "when[0].field",
            "string_pattern_mismatch",
        ),
        (
            {"form": "customer", "when": [{"field": "_id", "equals": "No"}], "take": "level"},
            "when[0].equals",
            "invalid_key",
        ),
        (
            {
                "form": "customer",
                "when": [{"field": "_id", "equals": "customer", "x": 1}],
                "take": "level",
            },
            "when[0].x",
            "unknown_property",
        ),
        ({"form": "customer", "when": [{"field": "_id", "equals": "customer"}]}, "take", "missing"),
    ],
    ids=[
        "no-condition",
        "four-conditions",
        "bad-source-key",
        "bad-key",
        "extra-property",
        "no-take",
    ],
)
def test_structure_errors_are_reported_inside_the_linkage(
    linkage: dict[str, Any], where: str, code: str
) -> None:
    app = shop_app()
    order_field(app, "level")["default"] = {"linkage": linkage}
    assert issues_of(app) == [(f"{LEVEL}.{where}", code)]
    assert list(Draft202012Validator(app_json_schema()).iter_errors(app)) != []


def test_a_default_that_is_neither_linkage_nor_formula_still_fits_no_form() -> None:
    app = shop_app()
    order_field(app, "level")["default"] = {
        "linkage": {"form": "customer", "when": [], "take": "level"},
        "expr": "1",
    }
    assert issues_of(app) == [("forms[1].fields[2].default", "invalid_value")]


def test_allowed_conversions() -> None:
    app = shop_app()
    app["forms"][1]["fields"] += [
        {
            "key": "level_text",
            "type": "text",
            "default": link("level", ("_id", "customer")),
        },  # select -> text
        {
            "key": "credit_int",
            "type": "integer",
            "default": link("credit", ("_id", "customer")),
        },  # money -> integer
        {
            "key": "same_name",
            "type": "text",
            "default": link("name", ("name", "title")),
        },  # text = text
    ]
    validate_app(app)
