"""`GET /geo/regeo` (issue 16): a location field's place filled in by a reverse-geocoding
provider, asked of a real HTTP server started here (AMap's `regeo` shape), and the fallbacks
when there is none or it fails."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.settings import Settings
from tests.api.records_client import API, TOKEN
from tests.store_fixtures import prepare_fresh

PLACE = "上海市浦东新区世纪大道100号"


class Provider:
    """A local regeo provider: answers each request with `answer` (status, JSON body) and
    keeps the query strings it was asked."""

    def __init__(self) -> None:
        self.answer: tuple[int, Any] = (200, {})
        self.asked: list[dict[str, list[str]]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.asked.append(parse_qs(urlsplit(self.path).query))
                status, body = provider.answer
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v3/geocode/regeo"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    started = Provider()
    yield started
    started.server.shutdown()
    started.server.server_close()


def _client(engine: Engine, tmp_path: Path, **geocoder: Any) -> TestClient:
    prepare_fresh(engine)
    app = create_app(Settings(data_dir=tmp_path, admin_token=SecretStr(TOKEN), **geocoder))
    app.state.engine = engine
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


def test_the_provider_fills_the_place_in(
    store_engine: Engine, tmp_path: Path, provider: Provider
) -> None:
    client = _client(
        store_engine, tmp_path, geocoder_url=provider.url, geocoder_key=SecretStr("k-123")
    )
    provider.answer = (
        200,
        {"status": "1", "info": "OK", "regeocode": {"formatted_address": PLACE}},
    )
    provider.asked.clear()
    answer = client.get(f"{API}/geo/regeo", params={"lat": 31.2397, "lng": 121.4998})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"address": PLACE, "configured": True, "reason": None, "message": None}
    # AMap order: longitude first; the key goes to the provider, never to the browser.
    assert provider.asked == [
        {"key": ["k-123"], "location": ["121.499800,31.239700"], "output": ["JSON"]}
    ]
    assert "k-123" not in answer.text


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, {"status": "0", "info": "INVALID_USER_KEY"}, "provider_failed"),
        (500, {"error": "down"}, "provider_failed"),
        (200, b"<html>not json</html>", "provider_failed"),
        (200, {"status": "1", "regeocode": {"formatted_address": []}}, "no_place"),
    ],
)
def test_a_failing_provider_leaves_the_place_to_the_user(
    store_engine: Engine,
    tmp_path: Path,
    provider: Provider,
    status: int,
    body: Any,
    reason: str,
) -> None:
    client = _client(store_engine, tmp_path, geocoder_url=provider.url)
    provider.answer = (status, body)
    answer = client.get(
        f"{API}/geo/regeo",
        params={"lat": 31.2, "lng": 121.5},
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["address"], found["configured"], found["reason"]) == (None, True, reason)
    assert found["message"].endswith("type the place") or found["message"].endswith("type it")


def test_an_unreachable_or_silent_provider_times_out(store_engine: Engine, tmp_path: Path) -> None:
    # A port that accepts the connection and never answers: the timeout ends the wait.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        port = silent.getsockname()[1]
        client = _client(
            store_engine, tmp_path, geocoder_url=f"http://127.0.0.1:{port}/", geocoder_timeout=0.3
        )
        found = client.get(f"{API}/geo/regeo", params={"lat": 1, "lng": 2}).json()
        assert (found["address"], found["reason"]) == (None, "provider_failed")
        assert found["message"] == "地址解析服务暂不可用，请手动填写地点"
    finally:
        silent.close()
    closed = _client(store_engine, tmp_path, geocoder_url=f"http://127.0.0.1:{port}/")
    found = closed.get(f"{API}/geo/regeo", params={"lat": 1, "lng": 2}).json()
    assert (found["address"], found["reason"]) == (None, "provider_failed")


def test_without_a_provider_the_user_types_the_place(store_engine: Engine, tmp_path: Path) -> None:
    client = _client(store_engine, tmp_path)
    found = client.get(f"{API}/geo/regeo", params={"lat": 31.2, "lng": 121.5}).json()
    assert found == {
        "address": None,
        "configured": False,
        "reason": "not_configured",
        "message": "未配置地址解析服务，请手动填写地点",
    }


def test_bad_coordinates_and_strangers_are_refused(
    store_engine: Engine, tmp_path: Path, provider: Provider
) -> None:
    client = _client(store_engine, tmp_path, geocoder_url=provider.url)
    provider.asked.clear()
    bad = client.get(f"{API}/geo/regeo", params={"lat": 91, "lng": "east"})
    assert bad.status_code == 400, bad.text
    paths = {issue["path"] for issue in bad.json()["error"]["issues"]}
    assert paths == {"lat", "lng"}
    missing = client.get(f"{API}/geo/regeo")
    assert missing.status_code == 400
    del client.headers["Authorization"]
    assert client.get(f"{API}/geo/regeo", params={"lat": 1, "lng": 2}).status_code == 401
    assert provider.asked == []
