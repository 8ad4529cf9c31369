"""Serves the browser UI (builder_ui/dist) at `/`: hashed assets with long caching, and the
single-page app's index.html for every other client route (react-router owns the URL).

`/api/...` and `/docs` are never shadowed: the fallback is the router's default handler (it runs
only when no route matched) and leaves unknown `/api/...` paths to the usual JSON 404. When the UI has not been built, `/`
keeps the small server-rendered page `home_page` gives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

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

    The UI answers only GET/HEAD requests no route matched, outside `/api` and `/docs`.
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

    not_found = app.router.default

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        """Runs only when no route matched, whenever routes were added."""
        path: str = scope.get("path", "/")
        first = path.lstrip("/").split("/", 1)[0]
        if (
            scope["type"] != "http"
            or scope.get("method") not in ("GET", "HEAD")
            or first in RESERVED
        ):
            await not_found(scope, receive, send)
            return
        name = path.lstrip("/")
        candidate = dist / name
        if (
            name
            and "/" not in name
            and not name.startswith(".")
            and candidate.is_file()
            and name != "index.html"
        ):
            response: Response = FileResponse(
                candidate, headers={"Cache-Control": "public, max-age=3600"}
            )
        else:
            response = FileResponse(index, headers={"Cache-Control": INDEX_CACHE})
        await response(scope, receive, send)

    # The router's default handler, not a catch-all route: a route added after this call (by
    # another module or a test) still wins over the UI.
    app.router.default = fallback
