"""The type checker: inferred types, reference resolution (keys, labels, relations, subforms),
implicit conversions, and bilingual errors that name the field, function and argument."""

from __future__ import annotations

from typing import Any

import pytest

from engine.expr import ExprError, ExprType, ast, check, checked

SCHEMA: dict[str, Any] = {
    "amount": {"type": "money", "label": {"zh": "合同金额", "en": "Contract amount"}},
    "qty": "number",
    "rate": "percent",
    "name": {"type": "text", "label": "名称"},
    "status": "select",
    "active": "checkbox",
    "d": "date",
    "at": "datetime",
    "t": "time",
    "tags": "multiselect",
    "and": "number",
    "customer": {
        "type": "relation",
        "label": "客户",
        "fields": {"level": "text", "credit": "money"},
    },
    "contacts": {"type": "relation", "many": True, "fields": {"name": "text"}},
    "items": {
        "type": "subform",
        "label": "明细",
        "fields": {"qty": "number", "price": "money", "due": "date"},
    },
    "payments": {"type": "subform", "fields": {"amount": "money"}},
}

NUMBER, TEXT, BOOLEAN = ExprType("number"), ExprType("text"), ExprType("boolean")
DATE, DATETIME, TIME, BLANK = (
    ExprType("date"),
    ExprType("datetime"),
    ExprType("time"),
    ExprType("blank"),
)


def error(source: str, schema: dict[str, Any] | None = None) -> ExprError:
    with pytest.raises(ExprError) as info:
        check(source, SCHEMA if schema is None else schema)
    return info.value


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 1", NUMBER),
        ("amount * rate", NUMBER),
        ("10%", NUMBER),
        ("'a' & 1", TEXT),
        ("name & d", TEXT),
        ("1 < 2", BOOLEAN),
        ("active", BOOLEAN),
        ("NOT active OR qty > 1", BOOLEAN),
        ("d + 1", DATE),
        ("1 + d", DATE),
        ("d - 1", DATE),
        ("d - d", NUMBER),
        ("at", DATETIME),
        ("NOW()", DATETIME),
        ("TODAY()", DATE),
        ("t", TIME),
        ("TIMEVALUE('9:00')", TIME),
        ("NULL", BLANK),
        ("NULL + 1", NUMBER),
        ("NULL & NULL", TEXT),
        ("IF(TRUE, NULL, 1)", NUMBER),
        ("IF(TRUE, 'a')", TEXT),
        ("IFS(FALSE, d, TRUE, NULL)", DATE),
        ("SWITCH(qty, 1, 'a', 'b')", TEXT),
        ("MIN(d, d)", DATE),
        ("MAX(at, NOW())", DATETIME),
        ("MIN(NULL)", NUMBER),
        ("MAX(items.due)", DATE),
        ("SUM(items.qty * items.price)", NUMBER),
        ("TEXTJOIN(',', TRUE, items.qty)", TEXT),
        ("COUNTA(tags)", NUMBER),
        ("customer.level", TEXT),
        ("{客户}.level", TEXT),
        ("{合同金额}", NUMBER),
        ("{Contract amount}", NUMBER),
        ("{and} + 1", NUMBER),
        ("YEAR(at)", NUMBER),
        ("DATEVALUE(at)", DATE),
        ("TEXT(at, 'YYYY')", TEXT),
        ("LEN(123)", NUMBER),
    ],
)
def test_inferred_types(source: str, expected: ExprType) -> None:
    assert check(source, SCHEMA) == expected


@pytest.mark.parametrize(
    ("source", "source_of_list"),
    [
        ("items.qty", "items"),
        ("{明细}.qty", "items"),
        ("items.qty * items.price", "items"),
        ("items.qty * 2", "items"),
        ("-items.qty", "items"),
        ("items.price & '元'", "items"),
        ("contacts.name", "contacts"),
        ("tags", "tags"),
    ],
)
def test_list_types_carry_their_source(source: str, source_of_list: str) -> None:
    t = check(source, SCHEMA)
    assert t.is_list and t.source == source_of_list


def test_references_resolve_to_keys() -> None:
    tree = checked("{合同金额} + {客户}.credit + SUM({明细}.{price})", SCHEMA)
    refs = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref):
            refs.append(node.path)
        stack.extend(ast.children(node))
    assert sorted(refs) == [("amount",), ("customer", "credit"), ("items", "price")]


def test_key_wins_over_another_fields_label() -> None:
    schema = {"a": {"type": "number", "label": "b"}, "b": "text"}
    assert check("{b}", schema) == TEXT
    assert check("{a}", schema) == NUMBER


def test_ambiguous_label() -> None:
    schema = {
        "a1": {"type": "number", "label": "金额"},
        "a2": {"type": "money", "label": {"zh": "金额"}},
    }
    exc = error("{金额} + 1", schema)
    assert exc.code == "ambiguous_field"
    assert exc.message_zh == "字段名称 金额 不唯一，请使用字段标识"
    assert "ambiguous" in exc.message_en
    assert check("{a1} + {a2}", schema) == NUMBER


def test_labels_only_in_braces() -> None:
    assert error("合同金额 + 1").code == "unexpected_char"


def test_implicit_conversions_are_explicit_in_the_tree() -> None:
    tree = checked("'a' & 1", SCHEMA)
    assert isinstance(tree, ast.Binary) and isinstance(tree.right, ast.Call)
    assert tree.right.name == "TEXT" and tree.right.type == TEXT
    tree = checked("YEAR(at)", SCHEMA)
    assert isinstance(tree, ast.Call)
    (arg,) = tree.args
    assert isinstance(arg, ast.Call) and arg.name == "DATEVALUE" and arg.type == DATE
    tree = checked("LEFT(qty, 2)", SCHEMA)
    assert (
        isinstance(tree, ast.Call)
        and isinstance(tree.args[0], ast.Call)
        and tree.args[0].name == "TEXT"
    )


def test_every_node_is_typed() -> None:
    tree = checked(
        "IF(SUM(items.qty) > 0, customer.level & '-' & TEXT(TODAY(), 'YYYY'), NULL)", SCHEMA
    )
    stack = [tree]
    while stack:
        node = stack.pop()
        assert node.type is not None, node
        stack.extend(ast.children(node))


# --- messages -----------------------------------------------------------------------------------


def test_unknown_field_did_you_mean() -> None:
    exc = error("amout + 1")
    assert exc.code == "unknown_field"
    assert exc.message_zh == "未知字段 amout（您是否想输入 amount？）"
    assert exc.message_en == "Unknown field amout (did you mean amount?)"
    assert (exc.line, exc.column) == (1, 1)
    assert exc.snippet == "amout + 1\n^^^^^"


def test_unknown_label_did_you_mean_label() -> None:
    exc = error("{合同金}")
    assert exc.code == "unknown_field" and "合同金额" in exc.message_zh


def test_unknown_field_without_close_match() -> None:
    exc = error("zzzzzz")
    assert exc.message_en == "Unknown field zzzzzz"
    assert exc.message_zh == "未知字段 zzzzzz"


def test_unknown_field_inside_relation() -> None:
    exc = error("customer.levle")
    assert exc.code == "unknown_field" and "level" in exc.message_en


def test_unknown_function_did_you_mean() -> None:
    exc = error("1 + SUMM(1, 2)")
    assert exc.code == "unknown_function"
    assert exc.message_zh == "未知函数 SUMM（您是否想输入 SUM？）"
    assert exc.message_en == "Unknown function SUMM (did you mean SUM?)"
    assert (exc.line, exc.column) == (1, 5)


def test_wrong_argument_count_names_the_function() -> None:
    exc = error("ROUND()")
    assert exc.code == "arg_count"
    assert exc.message_zh == "函数 ROUND 需要 1–2 个参数，实际为 0 个"
    assert exc.message_en == "Function ROUND takes 1–2 argument(s), got 0"
    exc = error("DATE(2024, 1)")
    assert "DATE" in exc.message_en and "3" in exc.message_en and "got 2" in exc.message_en
    assert error("SUM()").code == "arg_count"
    assert error("IFS(TRUE, 1, FALSE)").code == "arg_count"


def test_wrong_argument_type_names_the_function_and_argument() -> None:
    exc = error("LEFT(name, 'a')")
    assert exc.code == "arg_type"
    assert exc.message_zh == "函数 LEFT 的第 2 个参数（num_chars）应为数字，实际为文本"
    assert exc.message_en == "Argument 2 (num_chars) of LEFT must be number, got text"
    assert (exc.line, exc.column) == (1, 12)
    exc = error("YEAR(5)")
    assert exc.message_en == "Argument 1 (date) of YEAR must be date, got number"
    assert "日期" in exc.message_zh and "数字" in exc.message_zh


def test_operand_type_message() -> None:
    exc = error("'a' + 1")
    assert exc.code == "operand_type"
    assert exc.message_zh == "运算符 + 不能用于文本和数字"
    assert exc.message_en == "Operator + cannot combine text and number"
    assert error("amount = name").code == "operand_type"
    assert error("active > FALSE").code == "operand_type"
    assert error("at + 1").code == "operand_type"
    assert error("d * 2").code == "operand_type"


def test_condition_message_gives_an_example() -> None:
    exc = error("NOT qty")
    assert exc.code == "condition_type"
    assert "x <> 0" in exc.message_zh and "x <> 0" in exc.message_en
    assert error("qty AND active").code == "condition_type"
    assert error("IF(qty, 1, 2)").code in ("condition_type", "arg_type")


def test_branch_type_message() -> None:
    exc = error("IF(active, 1, 'a')")
    assert exc.code == "branch_type"
    assert exc.message_zh == "IF 的各个结果类型不一致：数字与文本"
    assert exc.message_en == "The results of IF have different types: number and text"


def test_list_errors() -> None:
    exc = error("items.qty > 1")
    assert exc.code == "list_not_allowed"
    assert exc.message_zh.startswith("items.qty") and "SUM" in exc.message_zh
    assert "aggregate" in exc.message_en
    for source in (
        "LEN(contacts.name)",
        "IF(TRUE, items.qty, 1)",
        "ROUND(items.price)",
        "TEXT(items.qty)",
        "ISBLANK(items.qty)",
    ):
        assert error(source).code == "list_not_allowed", source
    exc = error("SUM(items.qty * payments.amount)")
    assert exc.code == "list_mismatch"
    assert "items" in exc.message_en and "payments" in exc.message_en
    assert error("COUNTA(items.price & contacts.name)").code == "list_mismatch"


def test_container_errors() -> None:
    exc = error("items")
    assert exc.code == "needs_subfield" and "e.g. items." in exc.message_en
    assert check("customer", SCHEMA).kind == "record"  # a relation alone is its record's id
    assert error("qty.x").code == "not_a_relation"
    assert error("customer.level.x").code == "not_a_relation"
    assert error("photo", {"photo": "image"}).code == "unsupported_field_type"


def test_errors_carry_an_issue_shape() -> None:
    issue = error("amout").to_issue("en", path="fields.tier.expr")
    assert issue == {
        "code": "unknown_field",
        "message": "Unknown field amout (did you mean amount?)",
        "path": "fields.tier.expr",
        "line": 1,
        "column": 1,
    }
    assert error("amout").to_issue()["message"] == "未知字段 amout（您是否想输入 amount？）"


def test_multi_line_positions() -> None:
    exc = error("IF(active,\n   amount,\n   nmae)")
    assert exc.code == "unknown_field"
    assert (exc.line, exc.column) == (3, 4)
    assert exc.snippet == "   nmae)\n   ^^^^"


def test_without_schema_every_field_is_unknown() -> None:
    assert check("1 + 1") == NUMBER
    assert error("x", {}).code == "unknown_field"
