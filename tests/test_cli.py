"""The `jimu` command: its help, and `serve` both in-process and as a real server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from engine.cli import app

runner = CliRunner()


def test_help_lists_serve() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output


def test_serve_is_a_subcommand() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--data-dir"):
        assert option in result.output


def test_serve_creates_the_data_dir_and_prints_the_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(dict(kw, app=app)))
    data_dir = tmp_path / "nested" / "data"
    result = runner.invoke(
        app,
        [
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "9123",
            "--workers",
            "1",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Jimu running at http://0.0.0.0:9123" in result.output
    assert "API docs: http://0.0.0.0:9123/docs" in result.output
    assert data_dir.is_dir()
    [call] = calls
    assert (call["host"], call["port"]) == ("0.0.0.0", 9123)
    assert call["proxy_headers"] is False  # X-Forwarded-For: only JIMU_TRUSTED_PROXIES decides
    settings = call["app"].state.settings
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite:///{data_dir}/jimu.db"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_answers_http_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "engine", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[0]
                if time.monotonic() >= deadline:
                    pytest.fail("server did not answer within 30 s")
                time.sleep(0.2)
        assert response.json() == {"status": "ok"}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"Jimu running at http://127.0.0.1:{port}" in output
    assert (tmp_path / "data").is_dir()


def test_expr_prints_the_json_value() -> None:
    result = runner.invoke(
        app, ["expr", 'LEFT(name, 2) & "先生"', "--record", '{"name": "张三丰"}']
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == '"张三先生"'


def test_expr_with_schema_and_type() -> None:
    result = runner.invoke(
        app,
        [
            "expr",
            "amount * 2",
            "--record",
            '{"amount": "1.25"}',
            "--schema",
            '{"amount": "money"}',
            "--type",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == '"2.5"\tnumber'


def test_expr_today_is_taken_in_the_time_zone() -> None:
    result = runner.invoke(
        app, ["expr", "TODAY()", "--now", "2024-06-30T17:30:00Z", "--tz", "Asia/Shanghai"]
    )
    assert result.stdout.strip() == '"2024-07-01"'


def test_expr_error_is_bilingual_with_caret() -> None:
    result = runner.invoke(app, ["expr", "amout * 2", "--record", '{"amount": 1}'])
    assert result.exit_code == 1
    assert "未知字段 amout（您是否想输入 amount？）" in result.stderr
    assert "Unknown field amout (did you mean amount?) (line 1, column 1)" in result.stderr
    assert "^^^^^" in result.stderr


@pytest.mark.parametrize(
    "args", [["1", "--record", "{"], ["1", "--record", "[]"], ["x", "--schema", '{"x": 3}']]
)
def test_expr_bad_input_exits_2(args: list[str]) -> None:
    result = runner.invoke(app, ["expr", *args])
    assert result.exit_code == 2


def test_serve_with_workers_hands_uvicorn_the_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several workers: uvicorn gets the import string of the factory, and the workers the data
    directory through the environment while it runs (this process's is left as it was)."""
    import os

    calls: list[dict[str, Any]] = []

    def run(app: Any, **kw: Any) -> None:
        calls.append(dict(kw, app=app, data_dir=os.environ.get("JIMU_DATA_DIR")))

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("JIMU_DATA_DIR", raising=False)
    monkeypatch.delenv("JIMU_WORKERS", raising=False)
    result = runner.invoke(app, ["serve", "--workers", "3", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [call] = calls
    assert call["app"] == "engine.api.server:worker_app" and call["factory"] is True
    assert call["workers"] == 3 and call["data_dir"] == str(tmp_path.resolve())
    assert (call["http"], call["loop"], call["proxy_headers"]) == ("httptools", "uvloop", False)
    assert "JIMU_DATA_DIR" not in os.environ
    monkeypatch.setenv("JIMU_WORKERS", "1")
    assert runner.invoke(app, ["serve", "--data-dir", str(tmp_path)]).exit_code == 0
    assert calls[1]["app"].state.settings.data_dir == tmp_path.resolve()  # one: in-process
