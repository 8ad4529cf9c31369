"""validate_app refuses definitions that would break a form on every later request (issue 10,
finding 4): lookups, rollups and formulas that reach themselves through relations or subform
rows, and formulas run in the database that use a function or list the database cannot
compute (SPLIT), each at its definition path with a bilingual message."""

from __future__ import annotations

from typing import Any

import pytest

from engine.core.issues import DefinitionError, Issue
from engine.forms import validate_app
from tests.forms.fixtures import crm_app

SPLIT = 'COUNTA(SPLIT(name, ",")) > 1'


def app(*forms: dict[str, Any], roles: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "format": "jimu.app/1",
        "key": "demo",
        "name": "Demo",
        "version": "1.0.0",
        "forms": list(forms),
        "roles": roles or [],
    }


def form(key: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "fields": [{"type": "text", "key": "name", "label": "Name"}, *fields],
        **extra,
    }


def relation(key: str, target: str, many: bool = False) -> dict[str, Any]:
    return {"type": "relation", "key": key, "label": key, "target": target, "many": many}


def lookup(key: str, via: str, field: str) -> dict[str, Any]:
    return {"type": "lookup", "key": key, "label": key, "relation": via, "field": field}


def rollup(key: str, via: str, field: str) -> dict[str, Any]:
    return {
        "type": "rollup",
        "key": key,
        "label": key,
        "relation": via,
        "field": field,
        "aggregate": "sum",
    }


def formula(key: str, source: str) -> dict[str, Any]:
    return {"type": "formula", "key": key, "label": key, "expr": source}


def issues_of(data: dict[str, Any]) -> list[Issue]:
    with pytest.raises(DefinitionError) as caught:
        validate_app(data)
    return caught.value.issues


def paths_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(found.path, found.code) for found in issues_of(data)]


def test_a_lookup_of_itself_is_a_cycle() -> None:
    [found] = issues_of(app(form("f", relation("r", "f"), lookup("l", "r", "l"))))
    assert (found.path, found.code) == ("forms[0].fields[2].field", "reference_cycle")
    assert found.message_zh == "字段 l 经由关联、关联查询、汇总或公式引用了自身：f.l → f.l"
    assert (
        found.message_en
        == "Field l reads itself through relations, lookups, rollups or formulas: f.l → f.l"
    )


def test_lookups_reading_each_other_across_two_forms_are_a_cycle() -> None:
    data = app(
        form("f", relation("g", "g"), lookup("l", "g", "m")),
        form("g", relation("f", "f"), lookup("m", "f", "l")),
    )
    found = issues_of(data)
    assert [(i.path, i.code) for i in found] == [
        ("forms[0].fields[2].field", "reference_cycle"),
        ("forms[1].fields[2].field", "reference_cycle"),
    ]
    assert found[0].message_en.endswith("f.l → g.m → f.l")


def test_a_rollup_of_itself_over_a_to_many_relation_is_a_cycle() -> None:
    data = app(form("f", relation("r", "f", many=True), rollup("s", "r", "s")))
    assert paths_of(data) == [("forms[0].fields[2].field", "reference_cycle")]


def test_a_rollup_over_subform_rows_whose_formula_reads_the_rollup_is_a_cycle() -> None:
    rows = {
        "type": "subform",
        "key": "items",
        "label": "Items",
        "fields": [{"type": "number", "key": "qty", "label": "Qty"}, formula("x", "qty + total")],
    }
    data = app(form("f", rows, rollup("total", "items", "x")))
    assert paths_of(data) == [
        ("forms[0].fields[1].fields[1].expr", "reference_cycle"),
        ("forms[0].fields[2].field", "reference_cycle"),
    ]


def test_a_formula_over_a_rollup_of_itself_is_a_cycle() -> None:
    data = app(
        form("f", relation("r", "f", many=True), rollup("s", "r", "x"), formula("x", "s + 1"))
    )
    found = issues_of(data)
    assert [(i.path, i.code) for i in found] == [
        ("forms[0].fields[2].field", "reference_cycle"),
        ("forms[0].fields[3].expr", "reference_cycle"),
    ]
    assert found[1].message_en.endswith("f.x → f.s → f.x")


def test_lookups_along_a_chain_without_a_cycle_publish() -> None:
    data = app(
        form("f", relation("g", "g"), lookup("l", "g", "m")),
        form("g", relation("h", "h"), lookup("m", "h", "name")),
        form("h"),
    )
    assert [f.key for f in validate_app(data).forms] == ["f", "g", "h"]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            app(form("f", validations=[{"expr": SPLIT, "message": {"zh": "多于一项"}}])),
            "forms[0].validations[0].expr",
        ),
        (
            app(
                form(
                    "f",
                    {
                        "type": "text",
                        "key": "b",
                        "label": "B",
                        "required": True,
                        "visible_when": SPLIT,
                    },
                )
            ),
            "forms[0].fields[1].visible_when",
        ),
        (
            app(form("f", {"type": "text", "key": "b", "label": "B", "readonly_when": SPLIT})),
            "forms[0].fields[1].readonly_when",
        ),
        (
            app(
                form("f"),
                roles=[
                    {
                        "key": "r",
                        "name": "R",
                        "forms": {"f": {"actions": ["view"], "scope": {"expr": SPLIT}}},
                    }
                ],
            ),
            "roles[0].forms.f.scope.expr",
        ),
        (
            app(form("f", relation("r", "f"), formula("n", 'COUNTA(SPLIT(r.name, ","))'))),
            "forms[0].fields[2].expr",
        ),
    ],
    ids=["validation", "required_visible_when", "readonly_when", "role_scope", "read_time_formula"],
)
def test_a_formula_run_in_the_database_may_not_use_split(data: dict[str, Any], path: str) -> None:
    [found] = issues_of(data)
    assert (found.path, found.code, found.line, found.column) == (path, "not_in_backend", 1, 8)
    assert found.message_zh == "函数 SPLIT 不能在数据库中计算"
    assert found.message_en == "Function SPLIT cannot be computed in the database"


def test_split_where_it_is_computed_in_python_publishes() -> None:
    """A stored formula is computed on write, a condition of an optional field in the browser."""
    data = app(
        form(
            "f",
            formula("parts", 'COUNTA(SPLIT(name, ","))'),
            {"type": "text", "key": "b", "label": "B", "visible_when": SPLIT},
        )
    )
    assert validate_app(data).forms[0].fields[1].key == "parts"


def test_a_broken_formula_is_reported_once_where_it_is_written() -> None:
    """`m` and the rollup read `n`, which is inlined into their SQL: only `n` is at fault."""
    data = app(
        form(
            "f",
            relation("r", "f"),
            formula("n", 'COUNTA(SPLIT(r.name, ","))'),
            formula("m", "n + 1"),
        ),
        form("g", relation("fs", "f", many=True), rollup("s", "fs", "n")),
    )
    assert paths_of(data) == [("forms[0].fields[2].expr", "not_in_backend")]


def test_an_element_wise_multiselect_in_a_database_formula_is_refused() -> None:
    tags = {
        "type": "multiselect",
        "key": "tags",
        "label": "Tags",
        "options": [{"value": "a", "label": "A"}],
    }
    rule = {"expr": 'TEXTJOIN(",", TRUE, tags & "x") = ""', "message": {"zh": "x"}}
    [found] = issues_of(app(form("f", tags, validations=[rule])))
    assert (found.path, found.code, found.line, found.column) == (
        "forms[0].validations[0].expr",
        "list_not_in_backend",
        1,
        26,
    )


def test_a_revision_already_published_still_loads_without_the_run_checks() -> None:
    data = app(form("f", relation("r", "f"), lookup("l", "r", "l")))
    assert paths_of(data) == [("forms[0].fields[2].field", "reference_cycle")]
    assert validate_app(data, runnable=False).forms[0].fields[2].key == "l"


def test_the_crm_app_passes_the_run_checks() -> None:
    assert validate_app(crm_app()).key
