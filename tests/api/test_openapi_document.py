"""builder_ui/openapi.json is the server's OpenAPI document as `jimu openapi` prints it: the UI's
typed client is generated from that file, so a route change without regenerating it fails here."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engine.cli import app, openapi_json

SNAPSHOT = Path(__file__).resolve().parents[2] / "builder_ui" / "openapi.json"


def test_the_ui_builds_from_the_current_openapi_document() -> None:
    assert SNAPSHOT.read_text(encoding="utf-8") == openapi_json() + "\n", (
        "builder_ui/openapi.json is stale: run `jimu openapi > builder_ui/openapi.json`"
    )


def test_the_cli_prints_it() -> None:
    result = CliRunner().invoke(app, ["openapi"])
    assert result.exit_code == 0
    assert result.output == SNAPSHOT.read_text(encoding="utf-8")


def test_a_malformed_request_is_documented_as_the_400_it_gets(client: TestClient) -> None:
    """The document states the answer a request that does not match its parameters gets: 400
    in the one error shape, not FastAPI's 422 ``{"detail": …}`` (which Jimu never sends)."""
    document = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert "HTTPValidationError" not in document["components"]["schemas"]
    answer_ref = {"$ref": "#/components/schemas/ErrorAnswer"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert (
                "422" not in responses
                or responses["422"]["content"]["application/json"]["schema"] == answer_ref
            ), (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in responses, (method, path)
                schema = responses["400"]["content"]["application/json"]["schema"]
                assert schema == answer_ref or "$ref" in schema, (method, path)
    error = document["components"]["schemas"]["ErrorAnswer"]
    assert error["required"] == ["error"]
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"code", "message", "issues"}

    refused = client.get("/api/v1/jobs", params={"limit": "many"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "malformed_request"
    assert refused.json()["error"]["issues"][0]["path"]
    assert "400" in document["paths"]["/api/v1/jobs"]["get"]["responses"]
