"""`jimu app install|export|import` and the admin token `jimu serve` prints (SQLite data dirs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engine.cli import app

runner = CliRunner()


def test_install_export_import_round_trip(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    installed = runner.invoke(app, ["app", "install", "crm", "--sample-data", "--data-dir", str(first)])
    assert installed.exit_code == 0, installed.output
    assert "crm" in installed.output
    pack = tmp_path / "crm.json"
    exported = runner.invoke(app, ["app", "export", "crm", "--data", "-o", str(pack), "--data-dir", str(first)])
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(pack.read_text(encoding="utf-8"))["data"]["customer"]) >= 200
    imported = runner.invoke(app, ["app", "import", str(pack), "--data-dir", str(second)])
    assert imported.exit_code == 0, imported.output
    again = tmp_path / "again.json"
    assert runner.invoke(app, ["app", "export", "crm", "--data", "-o", str(again), "--data-dir", str(second)]).exit_code == 0
    assert again.read_text(encoding="utf-8") == pack.read_text(encoding="utf-8")


def test_installing_twice_fails_clearly(tmp_path: Path) -> None:
    assert runner.invoke(app, ["app", "install", "crm", "--data-dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(app, ["app", "install", "crm", "--data-dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "app_exists" in again.output


def test_unknown_pack_and_unreadable_file(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["app", "install", "nope", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "not_found" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["app", "import", str(bad), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2


def test_an_invalid_pack_lists_its_issues(tmp_path: Path) -> None:
    pack = tmp_path / "bad.json"
    pack.write_text(json.dumps({"format": "jimu.app/1", "key": "x", "name": "X", "version": "1", "forms": [{"key": "f"}]}))
    result = runner.invoke(app, ["app", "import", str(pack), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "forms[0].name" in result.output and "forms[0].fields" in result.output


def test_serve_prints_a_persistent_admin_token_that_guards_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JIMU_ADMIN_TOKEN", raising=False)
    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: calls.append(asgi))
    first = runner.invoke(app, ["serve", "--data-dir", str(tmp_path)])
    second = runner.invoke(app, ["serve", "--data-dir", str(tmp_path)])
    token = (tmp_path / "admin_token").read_text().strip()
    assert len(token) >= 32
    assert f"Bearer {token}" in first.output and f"Bearer {token}" in second.output
    client = TestClient(calls[-1])
    assert client.get("/api/v1/apps").status_code == 401
    assert client.get("/api/v1/apps", headers={"Authorization": f"Bearer {token}"}).json() == []
    home = client.get("/")
    assert home.status_code == 200 and "jimu app install crm" in home.text


def test_the_environment_token_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMU_ADMIN_TOKEN", "from-the-environment")
    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: calls.append(asgi))
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert "Bearer from-the-environment" in result.output
    assert not (tmp_path / "admin_token").exists()
    client = TestClient(calls[-1])
    assert client.get("/api/v1/apps", headers={"Authorization": "Bearer from-the-environment"}).status_code == 200
