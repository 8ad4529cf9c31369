"""Every endpoint describes its answer in the OpenAPI document (issue 16), and the guard that
keeps response models from changing answers (tests/response_guard.py) catches a model that
drops a key, converts a value or leaves a key of the answer out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from engine.api.main import create_app
from tests import response_guard

# Answers that are not JSON, with why: they stream a file's bytes.
FILE_STREAMS = {
    ("get", "/api/v1/files/{file_id}"): "an upload's bytes",
    ("get", "/api/v1/apps/{app}/forms/{form}/records/{record_id}/files/{file_id}"): (
        "a record's file, checked against the record's rights"
    ),
    ("get", "/api/v1/apps/{app}/forms/{form}/records/export"): "an .xlsx or .csv workbook",
    ("get", "/api/v1/apps/{app}/reports/{report}/export"): "a report as .xlsx or .csv",
    ("post", "/api/v1/apps/{app}/reports/{report}/export"): "a filtered report as .xlsx or .csv",
    ("get", "/api/v1/apps/{app}/forms/{form}/records/import/template"): "a form's import workbook",
    ("get", "/api/v1/org/import/template"): "the organisation import workbook",
}


def _document() -> dict[str, Any]:
    document: dict[str, Any] = create_app().openapi()
    return document


def _untyped(schema: dict[str, Any]) -> bool:
    """An answer schema that says nothing: `{}`, or an object or list of objects that only
    says it is open."""
    if not schema:
        return True
    if schema.get("type") == "array":
        return _untyped(schema.get("items") or {})
    return schema.get("type") == "object" and "properties" not in schema and "$ref" not in schema


def test_every_endpoint_describes_its_answer() -> None:
    undescribed = []
    answers = 0
    for path, operations in _document()["paths"].items():
        for method, operation in operations.items():
            success = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
            assert success, f"{method} {path}: no success response"
            for code, response in success.items():
                content = response.get("content", {})
                if code == "204":
                    assert not content, f"{method} {path}: 204 with content"
                    continue
                if (method, path) in FILE_STREAMS:
                    continue
                schema = content.get("application/json", {}).get("schema")
                answers += 1
                if schema is None or _untyped(schema):
                    undescribed.append(f"{method.upper()} {path} ({code})")
    assert answers > 60
    assert not undescribed, "answers without a response model:\n" + "\n".join(undescribed)


def test_the_allow_list_names_only_real_file_routes() -> None:
    paths = _document()["paths"]
    for method, path in FILE_STREAMS:
        operation = paths[path][method]
        assert "application/json" not in operation["responses"]["200"].get("content", {})


def test_record_json_is_open_for_field_values_with_typed_system_keys() -> None:
    schemas = _document()["components"]["schemas"]
    record = schemas["RecordOut"]
    assert record["additionalProperties"] is True
    assert record["required"] == ["_id"]
    assert record["properties"]["_version"]["anyOf"][0] == {"type": "integer"}


class _Narrow(BaseModel):
    a: int


@pytest.fixture
def probe() -> TestClient:
    app = FastAPI()

    @app.get("/drops", response_model=_Narrow)
    def drops() -> dict[str, Any]:
        return {"a": 1, "b": 2}

    @app.get("/converts", response_model=_Narrow)
    def converts() -> dict[str, Any]:
        return {"a": "1"}

    @app.get("/bypasses", response_model=_Narrow)
    def bypasses() -> JSONResponse:  # sent as is, like the record routes' answers
        return JSONResponse({"a": 1, "b": 2})

    @app.get("/kept", response_model=_Narrow)
    def kept() -> dict[str, Any]:
        return {"a": 1}

    return TestClient(app)


@pytest.mark.parametrize("path", ["/drops", "/converts", "/bypasses"])
def test_the_guard_sees_a_model_change_an_answer(probe: TestClient, path: str) -> None:
    assert probe.get(path).status_code == 200
    found = list(response_guard.MISMATCHES)
    response_guard.MISMATCHES.clear()  # this test's own finding, not a failure of the suite
    assert len(found) == 1 and "_Narrow" in found[0]


def test_the_guard_lets_a_fitting_model_through(probe: TestClient) -> None:
    assert probe.get("/kept").json() == {"a": 1}
    assert response_guard.MISMATCHES == []
