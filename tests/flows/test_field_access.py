"""Node field access (engine.flows.field_access): table tests over a form with formula, lookup
and rollup chains, a sub-form with row formulas, system-sourced fields and a section, plus the
stock CRM contract (its amount is a rollup of its line items). Pure: no database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.core.issues import DefinitionError
from engine.flows.field_access import LOCKED, NodeAccess, check_edit, node_access
from engine.forms.compile import validate_app
from engine.forms.layout import AppLayout, FormLayout

CRM = Path(__file__).resolve().parents[2] / "apps_catalog" / "crm" / "app.json"


class _Ids(dict[tuple[str, ...], int]):
    """Placeholder ids: the layout is compiled, never stored."""

    def __missing__(self, key: tuple[str, ...]) -> int:
        self[key] = len(self) + 1
        return self[key]


ORDER_FIELDS: list[dict[str, Any]] = [
    {"key": "serial", "type": "serial", "pattern": "SO-{0000}"},
    {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}},
    {"key": "customer", "type": "relation", "target": "customer"},
    {"key": "customer_level", "type": "lookup", "relation": "customer", "field": "level"},
    {"key": "level_text", "type": "formula", "expr": '"L-" & customer.level'},
    {"key": "level_again", "type": "formula", "expr": 'level_text & "!"'},
    {"key": "discount", "type": "number", "precision": 2, "label": "折扣"},
    {"key": "layout", "type": "section"},
    {
        "key": "items",
        "type": "subform",
        "label": {"zh": "明细", "en": "Items"},
        "fields": [
            {"key": "product", "type": "text"},
            {"key": "qty", "type": "integer"},
            {"key": "price", "type": "money", "precision": 2},
            {"key": "line_total", "type": "formula", "expr": "qty * price", "precision": 2},
            {"key": "net", "type": "formula", "expr": "line_total * (1 - discount)"},
        ],
    },
    {
        "key": "subtotal",
        "type": "rollup",
        "relation": "items",
        "field": "line_total",
        "aggregate": "sum",
    },
    {"key": "net_total", "type": "rollup", "relation": "items", "field": "net", "aggregate": "sum"},
    {"key": "total", "type": "formula", "expr": "subtotal * (1 - discount)", "precision": 2},
    {"key": "size", "type": "formula", "expr": 'IF(total > 1000, "big", "small")'},
    {"key": "lines", "type": "formula", "expr": "COUNT(items.qty)"},
    {"key": "owner", "type": "user"},
    {"key": "unowned", "type": "formula", "expr": "ISBLANK(_owner)"},
    {"key": "creator", "type": "created_by"},
    {"key": "note", "type": "textarea"},
]


def order_form() -> FormLayout:
    app = validate_app(
        {
            "format": "jimu.app/1",
            "key": "shop",
            "name": "商店",
            "version": "1",
            "forms": [
                {
                    "key": "customer",
                    "name": "客户",
                    "fields": [
                        {"key": "name", "type": "text"},
                        {"key": "level", "type": "text"},
                    ],
                },
                {"key": "order", "name": "订单", "fields": ORDER_FIELDS},
            ],
        }
    )
    return AppLayout.build(app, _Ids()).forms["order"]


FORM = order_form()
TOP = [f["key"] for f in ORDER_FIELDS if f["type"] != "section"]
COLUMNS = ["items.product", "items.qty", "items.price", "items.line_total", "items.net"]
SYSTEM = ["_id", "_owner", "_created_by", "_updated_by", "_created_at", "_updated_at"]


def test_every_field_subform_column_and_system_field_is_listed_in_form_order() -> None:
    found = node_access(FORM, {})
    top = TOP[: TOP.index("items") + 1] + COLUMNS + TOP[TOP.index("items") + 1 :]
    assert list(found.fields) == top + SYSTEM  # the section is layout only: not listed
    assert set(found.fields.values()) == {"read_only"}  # nothing named: all read-only
    assert found.editable_keys == frozenset() and found.hidden_keys == frozenset()


# node fields -> (hidden keys, editable keys)
CASES: list[tuple[dict[str, str], set[str], set[str]]] = [
    # a named field and everything derived from it, transitively, even through a row formula
    (
        {"discount": "hidden"},
        {"discount", "items.net", "net_total", "total", "size"},
        set(),
    ),
    # a hidden sub-form hides its columns and every rollup/formula over them
    (
        {"items": "hidden"},
        {"items", *COLUMNS, "subtotal", "net_total", "total", "size", "lines"},
        set(),
    ),
    # a hidden relation hides its lookup and the formula chain through it
    ({"customer": "hidden"}, {"customer", "customer_level", "level_text", "level_again"}, set()),
    # hiding a derived field hides what derives from it, not what it derives from
    ({"level_text": "hidden"}, {"level_text", "level_again"}, set()),
    ({"subtotal": "hidden"}, {"subtotal", "total", "size"}, set()),
    # a row formula hidden through its own row's columns
    ({"items": "read"}, set(), set()),
    # system fields: hidden, and what reads them (created_by reads _created_by)
    (
        {"_owner": "hidden", "_created_by": "hidden"},
        {"_owner", "_created_by", "unowned", "creator"},
        set(),
    ),
    # edit: typed-in fields only; computed, serial, system and derived fields stay read-only
    (
        {
            "title": "edit",
            "discount": "edit",
            "customer": "edit",
            "owner": "edit",
            "total": "edit",
            "subtotal": "edit",
            "customer_level": "edit",
            "serial": "edit",
            "creator": "edit",
            "_owner": "edit",
        },
        set(),
        {"title", "discount", "customer", "owner"},
    ),
    # an editable sub-form: rows and typed-in columns, not its row formulas
    ({"items": "edit"}, set(), {"items", "items.product", "items.qty", "items.price"}),
    # hidden wins over edit downstream: an editable field never unhides a derived one
    (
        {"discount": "hidden", "items": "edit", "note": "edit"},
        {"discount", "items.net", "net_total", "total", "size"},
        {"items", "items.product", "items.qty", "items.price", "note"},
    ),
    # keys the form does not have (deleted since publishing) are ignored
    ({"gone": "hidden", "note": "read_only"}, set(), set()),
]


@pytest.mark.parametrize(("named", "hidden", "editable"), CASES)
def test_node_access_table(named: dict[str, str], hidden: set[str], editable: set[str]) -> None:
    found = node_access(FORM, named)
    assert found.hidden_keys == hidden
    assert found.editable_keys == editable
    for key, value in found.fields.items():
        expected = "hidden" if key in hidden else "edit" if key in editable else "read_only"
        assert value == expected, key


def test_the_crm_contract_amount_is_hidden_with_its_line_items() -> None:
    app = validate_app(json.loads(CRM.read_text(encoding="utf-8")))
    contract = AppLayout.build(app, _Ids()).forms["contract"]
    found = node_access(contract, {"items": "hidden", "signed_date": "edit"})
    assert found.hidden_keys == {
        "items",
        "items.product",
        "items.qty",
        "items.price",
        "items.subtotal",
        "amount",
    }
    assert found.editable_keys == {"signed_date"}
    assert node_access(contract, {"amount": "edit"}).of("amount") == "read_only"


def test_a_bad_access_value_is_a_definition_error_at_its_field() -> None:
    with pytest.raises(DefinitionError) as raised:
        node_access(FORM, {"title": "editable", "note": "write", "discount": "edit"})
    issues = raised.value.issues
    assert [(i.path, i.code) for i in issues] == [
        ("fields.title", "unknown_access"),
        ("fields.note", "unknown_access"),
    ]
    assert "editable" in issues[0].message_zh and "editable" in issues[0].message_en


def test_the_same_node_fields_give_the_same_kept_answer() -> None:
    first = node_access(FORM, {"note": "edit", "discount": "hidden"})
    again = node_access(FORM, {"discount": "hidden", "note": "edit"})
    assert first is again
    assert node_access(FORM, {"note": "edit"}) is not first


# --- check_edit -------------------------------------------------------------------------


def editing() -> NodeAccess:
    return node_access(FORM, {"discount": "edit", "items": "edit", "title": "hidden"})


def test_changes_to_editable_fields_pass() -> None:
    assert check_edit(editing(), ["discount", "items", "items.qty", "discount"]) == []
    assert check_edit(editing(), []) == []


@pytest.mark.parametrize(
    "key",
    ["title", "note", "total", "items.line_total", "serial", "_owner", "_created_at", "missing"],
)
def test_a_change_to_any_other_field_is_refused_at_that_field(key: str) -> None:
    issues = check_edit(editing(), ["discount", key])
    assert [(i.path, i.code) for i in issues] == [(key, LOCKED)]
    assert issues[0].message_zh and issues[0].message_en


def test_locked_messages_name_the_field_in_both_languages_once_per_key() -> None:
    issues = check_edit(editing(), ["title", "note", "title", "items.net"])
    assert [i.path for i in issues] == ["title", "note", "items.net"]
    assert issues[0].message_zh == "字段 标题（title） 在审批中已锁定，当前节点不能修改"
    assert issues[0].message_en.startswith("Field Title (title) is locked")
    assert "明细.net（items.net）" in issues[2].message_zh
    assert "Items.net (items.net)" in issues[2].message_en
    assert issues[1].message_en.startswith("Field note is locked")
