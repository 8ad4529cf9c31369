"""The records read routes' parameters (engine.api.route_params): every refusal is the answer
FastAPI gives for the same constraints declared as separate `Path()` / `Query()` parameters —
same status, codes, paths and zh/en messages — and valid values reach the route."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from fastapi import FastAPI, Path, Query
from fastapi.testclient import TestClient

from engine.api.errors import install_error_handlers
from engine.forms.query import MAX_LIMIT
from tests.api.records_client import API

RECORDS = "/apps/crm/forms/customer/records"


def _reference() -> TestClient:
    """The records read routes' parameters as they were declared before they were parsed in
    one pass, answering through the API's own error handlers."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/apps/{app}/forms/{form}/records")
    def list_records(
        app: str,
        form: str,
        filter: Annotated[str | None, Query(max_length=4000)] = None,
        sort: Annotated[str | None, Query(max_length=1000)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
        count: Literal["exact", "none"] = "exact",
        related: Annotated[
            str | None,
            Query(max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*:[1-9][0-9]{0,17}$"),
        ] = None,
    ) -> dict[str, Any]:
        return {}

    @app.get("/apps/{app}/forms/{form}/records/{record_id}")
    def get_record(
        app: str, form: str, record_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
    ) -> dict[str, Any]:
        return {}

    return TestClient(app)


REFUSED_QUERIES = [
    ("filter=" + "x" * 4001, [("filter", "string_too_long")]),
    ("sort=" + "x" * 1001, [("sort", "string_too_long")]),
    ("q=" + "搜" * 201, [("q", "string_too_long")]),
    ("limit=1001", [("limit", "less_than_equal")]),
    ("limit=-1", [("limit", "greater_than_equal")]),
    ("limit=abc", [("limit", "int_parsing")]),
    ("limit=", [("limit", "int_parsing")]),
    ("offset=-1", [("offset", "greater_than_equal")]),
    (f"offset={2**31 + 1}", [("offset", "less_than_equal")]),
    ("count=all", [("count", "literal_error")]),
    ("count=", [("count", "literal_error")]),
    ("related=customer", [("related", "string_pattern_mismatch")]),
    ("related=" + "f" * 99 + ":1", [("related", "string_too_long")]),
    ("limit=5&limit=abc", [("limit", "int_parsing")]),  # the last value counts
    (
        "count=x&offset=-1&limit=abc&filter=" + "x" * 4001,
        [
            ("filter", "string_too_long"),
            ("limit", "int_parsing"),
            ("offset", "greater_than_equal"),
            ("count", "literal_error"),
        ],
    ),
]


@pytest.mark.parametrize(("query", "expected"), REFUSED_QUERIES)
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_refused_list_parameter_is_answered_as_before(
    crm: TestClient, query: str, expected: list[tuple[str, str]], language: str
) -> None:
    headers = {"Accept-Language": language}
    response = crm.get(f"{API}{RECORDS}?{query}", headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "malformed_request"
    assert [(i["path"], i["code"]) for i in error["issues"]] == expected
    before = _reference().get(f"{RECORDS}?{query}", headers=headers)
    assert response.json() == before.json()
    assert response.headers["content-language"] == before.headers["content-language"]


@pytest.mark.parametrize(
    ("record_id", "code"),
    [
        ("0", "greater_than_equal"),
        (str(2**63), "less_than_equal"),
        ("abc", "int_parsing"),
        ("1.5", "int_parsing"),
    ],
)
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_refused_record_id_is_answered_as_before(
    crm: TestClient, record_id: str, code: str, language: str
) -> None:
    headers = {"Accept-Language": language}
    response = crm.get(f"{API}{RECORDS}/{record_id}", headers=headers)
    assert response.status_code == 400, response.text
    assert [(i["path"], i["code"]) for i in response.json()["error"]["issues"]] == [
        ("record_id", code)
    ]
    assert response.json() == _reference().get(f"{RECORDS}/{record_id}", headers=headers).json()


def test_messages_follow_the_language(crm: TestClient) -> None:
    zh = crm.get(f"{API}{RECORDS}?offset=-1", headers={"Accept-Language": "zh-CN"}).json()
    en = crm.get(f"{API}{RECORDS}?offset=-1", headers={"Accept-Language": "en"}).json()
    assert en["error"]["issues"] == [
        {
            "path": "offset",
            "code": "greater_than_equal",
            "message": "Input should be greater than or equal to 0",
        }
    ]
    assert zh["error"]["message"] == "请求格式不正确"
    assert zh["error"]["issues"][0]["message"] != en["error"]["issues"][0]["message"]


def test_valid_parameters_reach_the_route(crm: TestClient) -> None:
    everything = crm.get(f"{API}{RECORDS}", params={"sort": "name", "limit": 1000}).json()
    assert len(everything["items"]) == everything["total"] >= 3
    page = crm.get(
        f"{API}{RECORDS}",
        params={"sort": "name", "limit": 2, "offset": 1, "count": "none", "unknown": "ignored"},
    )
    assert page.status_code == 200, page.text
    assert page.json()["total"] is None  # count=none: no total
    assert [r["_id"] for r in page.json()["items"]] == [r["_id"] for r in everything["items"][1:3]]
    only_total = crm.get(f"{API}{RECORDS}", params={"limit": 0}).json()
    assert only_total == {"items": [], "total": everything["total"]}
    one = everything["items"][0]
    assert crm.get(f"{API}{RECORDS}/{one['_id']}").json()["_id"] == one["_id"]


def test_a_bad_credential_is_refused_before_the_parameters(crm: TestClient) -> None:
    """Neither a missing nor a wrong credential learns which parameters are wrong."""
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong-token"}):
        for path in (f"{RECORDS}?limit=abc", f"{RECORDS}/0"):
            response = crm.get(f"{API}{path}", headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["issues"] == []
