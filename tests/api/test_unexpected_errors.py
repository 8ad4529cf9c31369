"""An unexpected exception answers the JSON 500 of the error contract, is logged, and leaves the
client's keep-alive connection open for its next request (a real server on a real socket)."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.api.main import create_app
from engine.settings import Settings


def failing_app(tmp_path: Path) -> FastAPI:
    """The Jimu app with one route that fails unexpectedly and one that works."""
    app = create_app(Settings(data_dir=tmp_path))

    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    def fine() -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route("/test/boom", boom)
    app.add_api_route("/test/fine", fine)
    return app


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The failing app served by uvicorn on a free local port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(failing_app(tmp_path), lifespan="off", log_level="critical")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not running.started:
        started.wait(0.05)
    assert running.started
    try:
        yield listener.getsockname()
    finally:
        running.should_exit = True
        thread.join()
        listener.close()


def test_the_connection_survives_a_500(server: tuple[str, int]) -> None:
    host, port = server
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("GET", "/test/boom", headers={"Accept-Language": "en"})
        failed = connection.getresponse()
        body = json.loads(failed.read())
        assert failed.status == 500
        assert body == {
            "error": {"code": "internal_error", "message": "Internal server error", "issues": []}
        }
        assert connection.sock is not None
        local = connection.sock.getsockname()

        connection.request("GET", "/test/fine")
        after = connection.getresponse()
        assert (after.status, json.loads(after.read())) == (200, {"ok": True})
        assert connection.sock.getsockname() == local  # the same connection, not a new one
    finally:
        connection.close()


def test_an_unexpected_error_is_logged_and_answered_in_the_error_shape(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(failing_app(tmp_path))  # raises server exceptions that escape the app
    with caplog.at_level(logging.ERROR, logger="jimu.api"):
        response = client.get("/test/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers["content-language"] == "zh-CN"
    logged = [r for r in caplog.records if r.name == "jimu.api"]
    assert (
        logged
        and logged[0].exc_info is not None
        and "an unexpected failure" in str(logged[0].exc_info[1])
    )
    assert client.get("/test/fine").json() == {"ok": True}
