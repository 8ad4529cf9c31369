"""Serves the browser UI (builder_ui/dist) at `/`: hashed assets with long caching, and the
single-page app's index.html for every other client route (react-router owns the URL).

`/api/...` and `/docs` are never shadowed: the fallback is registered after every router and
answers unknown `/api/...` paths with the usual JSON 404. When the UI has not been built, `/`
keeps the small server-rendered page `home_page` gives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

DIST_DIR = Path(__file__).resolve().parents[2] / "builder_ui" / "dist"
ASSETS_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "no-cache"
RESERVED = ("api", "docs")


class HashedAssets(StaticFiles):
    """Vite's `assets/` files: their names carry a content hash, so browsers may keep them forever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = ASSETS_CACHE
        return response


def install_ui(app: FastAPI, home_page: Callable[[Request], str], dist: Path | None = None) -> None:
    """Serve the built UI from `dist` (default builder_ui/dist), else `home_page` at `/`.

    Call after every API router is included: the fallback route matches any remaining path.
    """
    dist = (dist or DIST_DIR).resolve()
    index = dist / "index.html"
    if not index.is_file():

        @app.get("/", response_class=HTMLResponse, include_in_schema=False)
        def home(request: Request) -> str:
            return home_page(request)

        return

    if (dist / "assets").is_dir():
        app.mount("/assets", HashedAssets(directory=dist / "assets"), name="ui-assets")

    @app.get("/{path:path}", include_in_schema=False)
    def spa(path: str) -> Response:
        first = path.split("/", 1)[0]
        if first in RESERVED:
            raise HTTPException(status_code=404)
        if path and "/" not in path and not path.startswith("."):
            candidate = dist / path
            if candidate.is_file() and candidate.name != "index.html":
                return FileResponse(candidate, headers={"Cache-Control": "public, max-age=3600"})
        return FileResponse(index, headers={"Cache-Control": INDEX_CACHE})
