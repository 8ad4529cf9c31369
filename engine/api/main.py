"""The FastAPI application factory: mounts every router under `/api/v1` and the error mapping."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from engine import __version__
from engine.api.errors import JimuJSONResponse, install_error_handlers
from engine.api.routes import apps, catalog, expr, health, records, schema
from engine.settings import Settings, get_settings

API_PREFIX = "/api/v1"

ROUTERS: list[APIRouter] = [
    health.router,
    expr.router,
    schema.router,
    apps.router,
    catalog.router,
    records.router,
]

_HOME_PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>Jimu 积木</title></head>
<body>
<h1>Jimu 积木</h1>
<p>无代码应用搭建平台 · A no-code application builder.</p>
<ul>
<li><a href="/docs">API 文档 · API docs</a></li>
<li><a href="{api}/health">{api}/health</a></li>
</ul>
</body>
</html>
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application bound to `settings` (the process settings by default)."""
    app = FastAPI(
        title="Jimu",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
        default_response_class=JimuJSONResponse,
    )
    app.state.settings = settings or get_settings()
    install_error_handlers(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> str:
        return _HOME_PAGE.format(api=API_PREFIX)

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app
