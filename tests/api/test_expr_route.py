"""POST /api/v1/expr/check: the formula editor's type check and live evaluation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from engine.store import engine_for_url
from tests.api.records_client import api_client

SCHEMA = {
    "amount": {"type": "money", "label": {"zh": "合同金额", "en": "Amount"}, "precision": 2},
    "items": {"type": "subform", "fields": {"qty": "integer", "price": "money"}},
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A signed-in client (the admin token) on a SQLite database: evaluation needs a sign-in."""
    folder = tmp_path_factory.mktemp("expr_route")
    engine = engine_for_url(f"sqlite:///{folder / 'jimu.db'}")
    try:
        yield api_client(engine, folder)
    finally:
        engine.dispose()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_signed_out_callers_cannot_check_or_evaluate(
    client: TestClient, headers: dict[str, str]
) -> None:
    """Issue 10 finding 3: an anonymous caller could make the server evaluate any formula."""
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    body = {"expr": "LEN(REPT('a', 10))", "schema": {}, "record": {}}
    response = anonymous.post("/api/v1/expr/check", json=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


def test_type_only(client: TestClient) -> None:
    response = client.post("/api/v1/expr/check", json={"expr": "{合同金额} * 2", "schema": SCHEMA})
    assert response.status_code == 200
    assert response.json() == {"type": "number"}


def test_evaluates_a_record_in_api_json_form(client: TestClient) -> None:
    body = {
        "expr": "SUM(items.qty * items.price) + amount",
        "schema": SCHEMA,
        "record": {
            "amount": "0.10",
            "items": [{"qty": 3, "price": "0.10"}, {"qty": 1, "price": None}],
        },
    }
    response = client.post("/api/v1/expr/check", json=body)
    assert response.status_code == 200
    assert response.json() == {"type": "number", "value": "0.4"}


def test_today_uses_the_given_moment_in_the_organisation_zone(client: TestClient) -> None:
    body = {"expr": "TODAY()", "schema": {}, "record": {}, "now": "2024-06-30T17:30:00Z"}
    assert client.post("/api/v1/expr/check", json=body).json() == {
        "type": "date",
        "value": "2024-07-01",
    }


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-CN", "未知字段 amout（您是否想输入 amount？）"),
        ("en", "Unknown field amout (did you mean amount?)"),
    ],
)
def test_error_shape_with_position_in_both_languages(
    client: TestClient, language: str, message: str
) -> None:
    response = client.post(
        "/api/v1/expr/check",
        json={"expr": "1 +\n  amout", "schema": SCHEMA},
        headers={"Accept-Language": language},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_field"
    assert error["message"] == message
    assert error["issues"] == [
        {"path": "expr", "code": "unknown_field", "message": message, "line": 2, "column": 3}
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"expr": 5},
        {"schema": {}},
        {"expr": "1", "schema": []},
        {"expr": "1", "record": "x"},
        {"expr": "x", "schema": {"x": {"type": "relation", "fields": "oops"}}},
        {"expr": "x", "schema": {"x": {"label": "no type"}}},
        {"expr": "(" * 5000},
    ],
)
def test_bad_input_is_a_clear_4xx(client: TestClient, body: object) -> None:
    response = client.post("/api/v1/expr/check", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] and error["message"] and error["issues"]


def test_openapi_describes_the_route(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/expr/check"]


DEEP_SCHEMA = (
    '{"expr": "a.a", "schema": {"a": '
    + '{"type": "relation", "fields": {"a": ' * 3000
    + '"text"'
    + "}}" * 3000
    + "}}"
)
HOSTILE_BODIES = [
    DEEP_SCHEMA,
    "[" * 100_000 + "]" * 100_000,
    '{"expr": "LEN(x) & UPPER(x)", "schema": {"x": "text"}, "record": {"x": "\\ud800"}}',
    '{"expr": "\\"\\ud800\\" & 1", "schema": {}, "record": {}}',
    '{"expr": "\\ud800"}',
    '{"expr": "YEAR(d)", "schema": {"d": "datetime"}, "record": {"d": "9999-12-31T23:59:59-23:59"}}',
    '{"expr": "YEAR(d)", "schema": {"d": "datetime"}, "record": {"d": "0001-01-01T00:00:00+05:00"}}',
    '{"expr": "a * 2", "schema": {"a": "number"}, "record": {"a": "1e999999999"}}',
    '{"expr": "a * 2", "schema": {"a": "number"}, "record": {"a": 1e308}}',
    '{"expr": "a + b - b & c", "schema": {"a": "number", "b": "date", "c": "text"},'
    ' "record": {"a": {"z": 1}, "b": [1], "c": {"q": 2}}}',
    '{"expr": "SUM(i.q)", "schema": {"i": {"type": "subform", "fields": {"q": "number"}}},'
    ' "record": {"i": [1, "x", null, {"q": "2"}, [3]]}}',
    '{"expr": "VALUE(x)", "schema": {"x": "text"}, "record": {"x": "' + "9" * 100_000 + '"}}',
    '{"expr": "x", "schema": {"x": {"type": "relation", "fields": {"y": {"type": []}}}}}',
    "{nope",
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_never_cause_a_server_error(client: TestClient, body: str) -> None:
    response = client.post(
        "/api/v1/expr/check", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 400), response.text[:300]
    assert response.json()  # always well-formed JSON, lone surrogates escaped


# --- the designer's draft: the schema comes from an unfinished app definition ---------------

DRAFT = {
    "key": "shop",
    "forms": [
        {
            "key": "customers",
            "name": "客户",
            "fields": [
                {"key": "name", "type": "text", "label": {"zh": "客户名称", "en": "Name"}},
                {"key": "level", "type": "select", "options": [{"value": "A"}]},
            ],
        },
        {
            "key": "orders",
            "name": "订单",
            "fields": [
                {"key": "customer", "type": "relation", "target": "customers"},
                {
                    "key": "amount",
                    "type": "money",
                    "label": "金额",
                    "max": 5,
                    "default": {"linkage": {"form": "x"}},
                },
                {"key": "half_done", "type": "relation"},
                {"key": "broken", "type": "select", "options": []},
                {"key": "total", "type": "formula", "expr": "amount * 2"},
                {
                    "key": "items",
                    "type": "subform",
                    "fields": [{"key": "qty", "type": "integer"}, {"key": "bad", "type": "nope"}],
                },
            ],
        },
    ],
}


def check(client: TestClient, formula: str, **extra: object) -> tuple[int, dict[str, object]]:
    response = client.post("/api/v1/expr/check", json={"expr": formula, "app": DRAFT, **extra})
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("formula", "kind"),
    [
        ("{金额} + total", "number"),  # a loose default that does not parse is ignored
        ("customer.name & customer.level", "text"),  # a relation sees its target's fields
        ("{customer}.{客户名称}", "text"),
        ("SUM(items.qty)", "number"),
    ],
)
def test_draft_form_fields_are_the_schema(client: TestClient, formula: str, kind: str) -> None:
    assert check(client, formula, form="orders") == (200, {"type": kind})


def test_fields_that_do_not_parse_yet_are_left_out(client: TestClient) -> None:
    status, body = check(client, "half_done", form="orders")
    assert status == 400
    assert body["error"]["issues"][0]["code"] == "unknown_field"  # type: ignore[index]
    assert check(client, "items.bad", form="orders")[0] == 400


def test_a_subform_row_sees_its_own_fields_and_the_form(client: TestClient) -> None:
    assert check(client, "qty * amount", form="orders", subform="items") == (
        200,
        {"type": "number"},
    )


def test_draft_evaluates_a_record(client: TestClient) -> None:
    status, body = check(client, "amount * 2", form="orders", record={"amount": "1.50"})
    assert (status, body) == (200, {"type": "number", "value": "3"})


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"form": "nope"}, "form"),
        ({"form": "orders", "subform": "amount"}, "subform"),
        ({}, "form"),
    ],
)
def test_unknown_form_or_subform_is_an_issue_at_it(
    client: TestClient, extra: dict[str, str], path: str
) -> None:
    response = client.post(
        "/api/v1/expr/check",
        json={"expr": "1", "app": DRAFT, **extra},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == f"unknown_{path}"
    assert error["issues"][0]["path"] == path
    assert error["message"].startswith(f"Unknown {path}")


@pytest.mark.parametrize(
    "app",
    [
        {"forms": "x"},
        {"forms": [1, {"key": 5}, {"key": "orders", "fields": "x"}]},
        {"forms": [{"key": "orders", "fields": 5, "name": 3}]},
        {
            "forms": [
                {
                    "key": "orders",
                    "fields": [None, 1, {"type": 1}, {"key": "a", "type": "subform", "fields": 2}],
                }
            ]
        },
        {
            "forms": [
                {
                    "key": "orders",
                    "fields": [{"key": "s", "type": "subform", "fields": [{"type": "subform"}]}],
                }
            ]
        },
    ],
)
def test_malformed_drafts_never_fail_the_server(client: TestClient, app: dict[str, object]) -> None:
    response = client.post("/api/v1/expr/check", json={"expr": "1", "app": app, "form": "orders"})
    assert response.status_code in (200, 400), response.text
    assert response.json()


def test_a_draft_larger_than_any_app_is_refused(client: TestClient) -> None:
    fields = [{"key": f"f{i}", "type": "text"} for i in range(5001)]
    response = client.post(
        "/api/v1/expr/check",
        json={"expr": "1", "app": {"forms": [{"key": "big", "fields": fields}]}, "form": "big"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["issues"][0]["path"] == "app"
    assert response.json()["error"]["code"] == "too_large"


def test_function_reference_lists_every_function_with_both_languages(client: TestClient) -> None:
    from engine.expr.functions import FUNCTIONS

    response = client.get("/api/v1/expr/functions")
    assert response.status_code == 200
    functions = response.json()
    assert [f["name"] for f in functions] == FUNCTIONS.names()
    by_name = {f["name"]: f for f in functions}
    assert by_name["IF"]["signature"] == "IF(condition, value_if_true, [value_if_false])"
    assert by_name["IF"]["category"] == "logic"
    assert by_name["IF"]["params"][2] == {
        "name": "value_if_false",
        "optional": True,
        "repeat": False,
    }
    assert all(f["summary"]["zh"] and f["summary"]["en"] for f in functions)
    assert {"formula": 'IF(5 > 3, "高", "低")', "result": "高"} in by_name["IF"]["examples"]


# --- issue 10 finding 3: evaluation cost ---------------------------------------------------

ATTACK = "SUM(" + ", ".join(['LEN(TEXT(NOW(), REPT("YYYY", 249999)))'] * 90) + ")"


def test_the_reported_attack_formula_is_cheap_now(client: TestClient) -> None:
    """The 3.7 KB body that ran 34 s: REPT past the text limit is blank, so TEXT has no format."""
    response = client.post("/api/v1/expr/check", json={"expr": ATTACK, "schema": {}, "record": {}})
    assert response.status_code == 200, response.text
    assert response.json() == {"type": "number", "value": str(90 * len("2024-06-15 10:30:00"))}


@pytest.mark.parametrize(
    ("formula", "record"),
    [
        # many values each under the text limit: together past the request's budget
        (" + ".join(["LEN(REPT(s, 99999))"] * 60), {"s": "a"}),
        # one value per row of a long list
        (
            "LEN(TEXTJOIN(',', TRUE, items.name & REPT('x', 99000)))",
            {"items": [{"name": "a"}] * 60},
        ),
    ],
)
@pytest.mark.parametrize(("language", "word"), [("zh-CN", "计算量过大"), ("en", "too much work")])
def test_an_evaluation_past_its_budget_is_a_422(
    client: TestClient, formula: str, record: dict[str, object], language: str, word: str
) -> None:
    schema = {"s": "text", "items": {"type": "subform", "fields": {"name": "text"}}}
    body = {"expr": formula, "schema": schema, "record": record}
    response = client.post("/api/v1/expr/check", json=body, headers={"Accept-Language": language})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert word in error["message"]
    assert [(i["path"], i["code"]) for i in error["issues"]] == [("expr", "budget_exceeded")]


def test_a_formula_within_the_budget_still_evaluates(client: TestClient) -> None:
    body = {
        "expr": " + ".join(["LEN(REPT(s, 99999))"] * 20),
        "schema": {"s": "text"},
        "record": {"s": "a"},
    }
    response = client.post("/api/v1/expr/check", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"type": "number", "value": str(20 * 99999)}


def test_rule_formulas_may_read_old_values_and_other_formulas_may_not(client: TestClient) -> None:
    """The rule designer's live check (issue 14): `OLD(field)` is a rule formula's own."""
    body = {"expr": "amount > OLD(amount)", "schema": SCHEMA}
    ruled = client.post("/api/v1/expr/check", json={**body, "rule": True})
    assert ruled.status_code == 200, ruled.text
    assert ruled.json() == {"type": "boolean"}
    plain = client.post("/api/v1/expr/check", json=body)
    assert plain.status_code == 400
    assert plain.json()["error"]["code"] == "old_outside_rule"
    wrong = client.post("/api/v1/expr/check", json={**body, "rule": True, "schema": {}})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["issues"][0]["path"] == "expr"
    evaluated = client.post(
        "/api/v1/expr/check", json={**body, "rule": True, "record": {"amount": "1"}}
    )
    assert evaluated.status_code == 422
    assert evaluated.json()["error"]["issues"][0]["path"] == "record"
