"""The app factory: health, the home page, docs and the one error shape in zh and en."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from engine.api.errors import issue_path, pick_language
from engine.api.main import API_PREFIX, create_app
from engine.settings import Settings


class Line(BaseModel):
    qty: int


class Schema(BaseModel):
    amount: int
    items: list[Line] = []


class Payload(BaseModel):
    schema_: Schema | None = Field(default=None, alias="schema")
    name: str


probe = APIRouter()


@probe.post("/probe")
def post_probe(payload: Payload, limit: int = 10) -> dict[str, int]:
    return {"limit": limit}


@probe.get("/boom")
def boom() -> None:
    raise RuntimeError("unexpected")


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    app = create_app(Settings(data_dir=tmp_path))
    app.include_router(probe, prefix=API_PREFIX)
    return app


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def test_health(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Jimu"
    assert "/api/v1/health" in schema["paths"]


def test_not_found_in_chinese_by_default(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "未找到请求的资源", "issues": []}
    }
    assert response.headers["content-language"] == "zh-CN"


def test_not_found_in_english(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found", "issues": []}}
    assert response.headers["content-language"] == "en"


def test_method_not_allowed_keeps_the_allow_header(client: TestClient) -> None:
    response = client.delete("/api/v1/health", headers={"Accept-Language": "en"})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


def test_malformed_request_lists_every_problem_with_a_path(client: TestClient) -> None:
    body = {"schema": {"amount": "lots", "items": [{"qty": 1}, {"qty": "x"}]}}
    response = client.post("/api/v1/probe?limit=abc", json=body, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "malformed_request"
    assert error["message"] == "The request is malformed"
    issues = {issue["path"]: issue for issue in error["issues"]}
    assert set(issues) == {"limit", "schema.amount", "schema.items[1].qty", "name"}
    assert issues["name"]["code"] == "missing"
    assert issues["schema.amount"]["code"] == "int_parsing"
    assert all(issue["message"] for issue in error["issues"])


def test_malformed_request_messages_in_chinese(client: TestClient) -> None:
    response = client.post("/api/v1/probe", json={}, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "malformed_request",
            "message": "请求格式不正确",
            "issues": [{"path": "name", "code": "missing", "message": "缺少必填项"}],
        }
    }


def test_invalid_json_is_a_malformed_request(client: TestClient) -> None:
    response = client.post(
        "/api/v1/probe",
        content=b'{"name": ',
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    assert response.status_code == 400
    [issue] = response.json()["error"]["issues"]
    assert issue["code"] == "json_invalid"
    assert issue["path"] == ""


def test_unexpected_errors_keep_the_shape_and_hide_details(client: TestClient) -> None:
    response = client.get("/api/v1/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Internal server error", "issues": []}
    }


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh"),
        ("", "zh"),
        ("*", "zh"),
        ("en", "en"),
        ("en-GB", "en"),
        ("zh-TW,en;q=0.5", "zh"),
        ("fr, en;q=0.5, zh;q=0.8", "zh"),
        ("zh;q=0.2, en;q=0.9", "en"),
        ("en;q=0, zh", "zh"),
        ("de, fr", "zh"),
        ("en;q=oops, zh;q=0.1", "zh"),
    ],
)
def test_pick_language(header: str | None, language: str) -> None:
    headers = [(b"accept-language", header.encode())] if header is not None else []
    assert pick_language(Request({"type": "http", "headers": headers})) == language


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "schema", "amount"), "schema.amount"),
        (("body", "items", 3, "qty"), "items[3].qty"),
        (("query", "limit"), "limit"),
        (("body",), ""),
        ((0, "a"), "[0].a"),
    ],
)
def test_issue_path(loc: tuple[int | str, ...], path: str) -> None:
    assert issue_path(loc) == path
