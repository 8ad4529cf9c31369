"""Security headers on every response (issue 10, finding 9): no page can be framed by another
site except public-link pages, nothing is sniffed, referrers stay on this site, and the
Content-Security-Policy lets only this origin's scripts run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from engine.api.main import create_app
from engine.settings import Settings

TOKEN = "headers-admin-token"


def make_app(tmp_path: Path, **settings: object) -> FastAPI:
    """An app serving a stand-in of the built UI (an index.html and one hashed asset)."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        '<!doctype html><script type="module" src="/assets/index-1.js"></script>'
    )
    (dist / "assets" / "index-1.js").write_text("console.log(1)")
    app = create_app(
        Settings(data_dir=tmp_path / "data", admin_token=SecretStr(TOKEN), **settings), ui_dist=dist
    )  # type: ignore[arg-type]

    @app.get("/api/v1/test-boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), raise_server_exceptions=False) as client:
        yield client


def policy(response: object) -> dict[str, str]:
    """The CSP header as {directive: sources}."""
    header: str = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    parts = [part.strip().split(" ", 1) for part in header.split(";") if part.strip()]
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/apps/crm/customer",
        "/login",
        "/assets/index-1.js",
        "/api/v1/health",
        "/api/v1/apps",
        "/api/v1/nowhere",
        "/api/v1/test-boom",
    ],
)
def test_every_response_refuses_framing_and_sniffing(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (200, 401, 404, 500)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    csp = policy(response)
    assert csp["frame-ancestors"] == "'none'"
    assert (
        csp["default-src"] == "'self'"
        and csp["object-src"] == "'none'"
        and csp["base-uri"] == "'self'"
    )
    # only this origin's script files run: no inline script, no other host
    assert csp["script-src"].split() == ["'self'", "'unsafe-eval'"]


def test_the_500_answer_carries_the_headers_too(client: TestClient) -> None:
    response = client.get("/api/v1/test-boom")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    assert (
        response.headers["x-frame-options"] == "DENY"
        and "frame-ancestors 'none'" in response.headers["content-security-policy"]
    )


def test_public_link_pages_may_be_embedded(client: TestClient) -> None:
    page = client.get("/public/some-link-token")
    assert page.status_code == 200 and "<script" in page.text
    assert "x-frame-options" not in page.headers
    assert policy(page)["frame-ancestors"] == "*"
    assert (
        page.headers["x-content-type-options"] == "nosniff"
        and page.headers["referrer-policy"] == "same-origin"
    )
    api = client.get("/api/v1/public/some-link-token")  # the JSON behind it is never framed
    assert api.headers["x-frame-options"] == "DENY"


def test_which_sites_may_embed_public_links_is_a_setting(tmp_path: Path) -> None:
    with TestClient(
        make_app(tmp_path, public_frame_ancestors="https://www.example.com"),
        raise_server_exceptions=False,
    ) as client:
        assert policy(client.get("/public/x"))["frame-ancestors"] == "https://www.example.com"
    with TestClient(
        make_app(tmp_path / "none", public_frame_ancestors="'none'"), raise_server_exceptions=False
    ) as client:
        assert policy(client.get("/public/x"))["frame-ancestors"] == "'none'"
    with pytest.raises(ValueError, match="source list"):
        Settings(public_frame_ancestors="*; script-src *")


def test_the_api_docs_may_load_swagger_ui_from_its_cdn(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn.jsdelivr.net" in docs.text
    csp = policy(docs)
    assert (
        "https://cdn.jsdelivr.net" in csp["script-src"]
        and "https://cdn.jsdelivr.net" in csp["style-src"]
    )
    assert csp["frame-ancestors"] == "'none'" and docs.headers["x-frame-options"] == "DENY"


def test_a_route_keeps_a_header_it_set_itself(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.get("/api/v1/test-own-policy")
    def own() -> object:
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("x", headers={"Content-Security-Policy": "sandbox"})

    with TestClient(app) as client:
        response = client.get("/api/v1/test-own-policy")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-frame-options"] == "DENY"
