"""The published JSON Schema: valid draft 2020-12, agreeing with the models; served by API and CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from engine.api.main import create_app
from engine.cli import app as cli
from engine.forms import app_json_schema
from tests.forms.fixtures import contract_fields, crm_app


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = app_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_schema_is_draft_2020_12(validator: Draft202012Validator) -> None:
    schema = app_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["format"]["const"] == "jimu.app/1"
    assert schema["additionalProperties"] is False


def test_the_valid_fixture_is_valid(validator: Draft202012Validator) -> None:
    assert list(validator.iter_errors(crm_app())) == []


def _unknown_type(app: dict[str, Any]) -> None:
    contract_fields(app)[0]["type"] = "txt"


def _bad_key(app: dict[str, Any]) -> None:
    contract_fields(app)[1]["key"] = "No"


def _missing_target(app: dict[str, Any]) -> None:
    del contract_fields(app)[2]["target"]


def _unknown_property(app: dict[str, Any]) -> None:
    contract_fields(app)[4]["precision"] = 2


def _precision_out_of_range(app: dict[str, Any]) -> None:
    app["forms"][0]["fields"][3]["precision"] = 11


def _nested_unknown_type(app: dict[str, Any]) -> None:
    contract_fields(app)[7]["fields"][0]["type"] = "table"


def _bad_label(app: dict[str, Any]) -> None:
    app["forms"][0]["fields"][0]["label"] = {"fr": "Nom"}


def _wrong_format(app: dict[str, Any]) -> None:
    app["format"] = "jimu.app/2"


@pytest.mark.parametrize(
    "breaks",
    [
        _unknown_type,
        _bad_key,
        _missing_target,
        _unknown_property,
        _precision_out_of_range,
        _nested_unknown_type,
        _bad_label,
        _wrong_format,
    ],
)
def test_the_schema_rejects_structural_problems(
    validator: Draft202012Validator, breaks: Any
) -> None:
    app = crm_app()
    breaks(app)
    assert list(validator.iter_errors(app)), breaks.__name__


def test_the_api_serves_the_schema() -> None:
    client = TestClient(create_app())
    response = client.get("/api/v1/schema/app.json")
    assert response.status_code == 200
    assert response.json() == app_json_schema()


def test_the_cli_prints_the_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == app_json_schema()
