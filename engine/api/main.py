"""The FastAPI application factory: mounts every router under `/api/v1` and the error mapping."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute

from engine import __version__
from engine.api.errors import JimuJSONResponse, install_error_handlers
from engine.api.headers import install_headers
from engine.api.limits import install_body_limits
from engine.api.openapi_errors import install_error_docs
from engine.api.routes import (
    admin,
    apps,
    auth,
    catalog,
    directory,
    expr,
    files,
    flows_runtime,
    geo,
    health,
    jobs,
    linkage,
    links,
    live,
    org,
    public,
    records,
    records_io,
    reports,
    rule_buttons,
    rules_runtime,
    schema,
)
from engine.api.ui import install_ui
from engine.core.context import system_clock
from engine.flows import access as flow_access
from engine.flows import listeners as flow_listeners
from engine.rules import listeners as rule_listeners
from engine.settings import Settings, get_settings

API_PREFIX = "/api/v1"

# FastAPI tries the routes of every router in this order, and those of the router that
# matches twice, until one matches: the records routes, the most requested, come right after
# health. Only the order of records_io and records decides what matches
# (tests/api/test_route_order.py); the rest of the order is speed alone.
ROUTERS: list[APIRouter] = [
    health.router,
    records_io.router,  # before records: /records/export is not /records/{record_id}
    records.router,
    expr.router,
    schema.router,
    apps.router,
    catalog.router,
    live.router,
    linkage.router,
    files.router,
    auth.router,
    admin.router,
    org.router,
    jobs.router,
    directory.router,
    links.router,
    public.router,
    flows_runtime.router,
    rules_runtime.router,
    reports.router,
    rule_buttons.router,
    geo.router,
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
<li><a href="{api}/catalog">{api}/catalog</a> · 应用模板 · app catalog</li>
</ul>
<h2>已安装的应用 · Installed apps</h2>
{apps}
<p>API 需要管理员令牌（启动时打印）：<code>Authorization: Bearer &lt;token&gt;</code> ·
The API needs the admin token printed at start: <code>Authorization: Bearer &lt;token&gt;</code></p>
</body>
</html>
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def _installed_apps(request: Request) -> str:
    """The installed apps as an HTML list, each linking its first form's records."""
    from sqlalchemy.exc import SQLAlchemyError

    from engine.api.deps import engine_of, read_only
    from engine.forms import apps

    try:
        with read_only(engine_of(request)) as conn:
            installed = [
                (app, apps.load(conn, app["key"]).definition) for app in apps.list_apps(conn)
            ]
    except SQLAlchemyError:
        return "<p>数据库尚未就绪 · The database is not ready</p>"
    if not installed:
        return "<p>还没有应用：<code>jimu app install crm --sample-data</code> · No apps yet</p>"
    items = []
    for app, definition in installed:
        name = (
            app["name"]
            if isinstance(app["name"], str)
            else " · ".join(str(v) for v in app["name"].values())
        )
        forms = ", ".join(
            f'<a href="{API_PREFIX}/apps/{app["key"]}/forms/{form["key"]}/records">{html.escape(form["key"])}</a>'
            for form in definition.get("forms", [])
        )
        items.append(f"<li><b>{html.escape(name)}</b> ({html.escape(app['key'])}): {forms}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def create_app(settings: Settings | None = None, ui_dist: Path | None = None) -> FastAPI:
    """A new application bound to `settings` (the process settings by default), serving the
    browser UI built in `ui_dist` (builder_ui/dist by default).

    Every request body is limited while it streams in (`engine.api.limits`)."""
    settings = settings or get_settings()
    flow_listeners.register()  # flows start, lock and cancel with record changes
    flow_access.register()  # a flow task lets its holder read the record (record grant)
    rule_listeners.register()  # rules fire on record and flow changes (sync or queued)
    app = FastAPI(
        title="Jimu",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
        default_response_class=JimuJSONResponse,
    )
    app.state.settings = settings
    app.state.clock = system_clock  # every request's "now" (engine.api.deps.request_now)
    install_error_handlers(app)
    install_error_docs(app)
    install_headers(
        app,
        trusted_proxies=settings.trusted_proxies,
        public_frame_ancestors=settings.public_frame_ancestors,
    )

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    install_body_limits(app, settings, ROUTERS, API_PREFIX)
    install_ui(app, _home_page, ui_dist)
    return app


def _home_page(request: Request) -> str:
    """The server-rendered `/` page shown when the browser UI has not been built."""
    return _HOME_PAGE.format(api=API_PREFIX, apps=_installed_apps(request))
