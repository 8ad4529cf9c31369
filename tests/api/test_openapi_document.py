"""builder_ui/openapi.json is the server's OpenAPI document as `jimu openapi` prints it: the UI's
typed client is generated from that file, so a route change without regenerating it fails here."""

from __future__ import annotations

from pathlib import Path

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
