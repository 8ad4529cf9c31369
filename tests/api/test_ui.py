"""The browser UI at `/`: built assets with caching, the SPA fallback, and the page without a build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.settings import Settings
from tests.api.records_client import TOKEN
from tests.store_fixtures import prepare_fresh

INDEX = '<!doctype html><html><body><div id="root"></div><script src="/assets/index-abc123.js"></script></body></html>'


def _client(engine: Engine, tmp_path: Path, dist: Path) -> TestClient:
    prepare_fresh(engine)
    app = create_app(Settings(data_dir=tmp_path, admin_token=SecretStr(TOKEN)), ui_dist=dist)
    app.state.engine = engine
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


@pytest.fixture
def built(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX, encoding="utf-8")
    (dist / "assets" / "index-abc123.js").write_text("console.log('jimu')", encoding="utf-8")
    (dist / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    with _client(store_engine, tmp_path, dist) as client:
        yield client


def test_index_is_served_at_root_and_client_routes(built: TestClient) -> None:
    for path in ["/", "/login", "/apps/crm/customer", "/apps/crm/customer/new?x=1"]:
        response = built.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert '<div id="root">' in response.text


def test_hashed_assets_are_cached_for_good(built: TestClient) -> None:
    response = built.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('jimu')"
    assert "immutable" in response.headers["cache-control"]
    assert built.get("/assets/missing-000.js").status_code == 404
    assert built.get("/favicon.svg").text == "<svg/>"


def test_api_and_docs_are_not_shadowed(built: TestClient) -> None:
    assert built.get("/api/v1/health").json() == {"status": "ok"}
    missing = built.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert built.get("/docs").status_code == 200
    assert built.get("/docs/anything").status_code == 404
    paths = built.get("/api/v1/openapi.json").json()["paths"]
    assert not any(p.startswith("/{") for p in paths)


def test_files_outside_dist_are_never_served(built: TestClient, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt", "/.env"]:
        response = built.get(path)
        assert "secret" not in response.text, path


def test_without_a_build_root_is_the_small_home_page(store_engine: Engine, tmp_path: Path) -> None:
    with _client(store_engine, tmp_path, tmp_path / "no-dist") as client:
        response = client.get("/")
        assert response.status_code == 200
        assert 'href="/docs"' in response.text
        assert client.get("/login").status_code == 404


def test_routes_added_later_still_win_and_other_methods_are_not_the_ui(built: TestClient) -> None:
    app = built.app
    app.add_api_route("/api/v1/late", lambda: {"late": True})  # type: ignore[attr-defined]
    app.add_api_route("/late-page", lambda: {"page": True})  # type: ignore[attr-defined]
    assert built.get("/api/v1/late").json() == {"late": True}
    assert built.get("/late-page").json() == {"page": True}
    response = built.post("/login")
    assert response.status_code in (404, 405)
    assert response.headers["content-type"].startswith("application/json")
    assert built.head("/apps/crm").status_code == 200
