"""Request body limits, enforced while the body streams in.

Every request body may be at most `JIMU_MAX_BODY_BYTES` (10 MB by default); file uploads
(`POST /files`, `POST /public/{token}/files`) may carry one file of `JIMU_MAX_UPLOAD_BYTES`
plus the multipart envelope, and imports (`POST /apps/import`, `POST .../records/import` and
its `/preview`) `JIMU_MAX_IMPORT_BYTES`, which is also what the import routes read of their
file. A declared `Content-Length` above the limit is refused before anything is read; a
chunked body is counted as it arrives and refused as soon as it passes the limit, so neither
memory nor the upload spool ever holds more. The answer is 413 `payload_too_large` in the
API's error shape, with the limit in the message, and the route's handler never runs (so
nothing is written).

Starlette has a body limiter of its own (FastAPI's `max_body_size`), but it answers a declared
oversized body with a plain-text 413 from outside the application's error handlers; this one
answers in the API's error shape in the caller's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.api.errors import error_response
from engine.api.routes import apps, files, public, records_io
from engine.forms.uploads import size_text
from engine.settings import Settings

MULTIPART_ENVELOPE = 64 * 1024  # the multipart boundary and part headers around one uploaded file


class BodyTooLarge(HTTPException):
    """Raised into the application when a streamed body passes its limit."""

    def __init__(self) -> None:
        super().__init__(413, "payload_too_large")


def larger_limits(settings: Settings) -> dict[Callable[..., Any], int]:
    """Route endpoints whose bodies may be larger than `JIMU_MAX_BODY_BYTES`, with their limit."""
    upload = settings.max_upload_bytes + MULTIPART_ENVELOPE
    return {
        files.upload: upload,
        public.upload_to_link: upload,
        apps.import_app: settings.max_import_bytes,
        records_io.import_records: settings.max_import_bytes,
        records_io.import_preview: settings.max_import_bytes,
    }


class BodyLimitMiddleware:
    """The ASGI middleware: `default` bytes for every request; a request matching one of
    `routes` (method, path pattern, limit) has that limit."""

    def __init__(
        self, app: ASGIApp, default: int, routes: list[tuple[frozenset[str], re.Pattern[str], int]]
    ) -> None:
        self.app = app
        self.default = default
        self.routes = routes

    def limit_for(self, scope: Scope) -> int:
        for methods, pattern, limit in self.routes:
            if scope["method"] in methods and pattern.match(scope["path"]):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        exceeded = False
        started = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if exceeded and not started:
                # Whatever the application made of the refused body (a 400, its own 413), the
                # answer is this one.
                if not replaced:
                    replaced = True
                    await _refuse(scope, receive, send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started or replaced:
                raise
            await _refuse(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    shown = size_text(limit)
    response = error_response(
        413,
        "payload_too_large",
        f"请求内容过大：不能超过 {shown}",
        f"The request body is too large: it may be at most {shown}",
        [],
        Request(scope),
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


def install_body_limits(
    app: FastAPI, settings: Settings, routers: Iterable[APIRouter], prefix: str
) -> None:
    """Limit every request body of `app`, whose `routers` are mounted under `prefix`."""
    larger = larger_limits(settings)
    routes: list[tuple[frozenset[str], re.Pattern[str], int]] = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.endpoint in larger:
                pattern, _, _ = compile_path(prefix + route.path)
                routes.append((frozenset(route.methods or ()), pattern, larger[route.endpoint]))
    assert len(routes) == len(larger), "every route with a larger body limit is mounted"
    app.add_middleware(BodyLimitMiddleware, default=settings.max_body_bytes, routes=routes)


__all__ = [
    "MULTIPART_ENVELOPE",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "install_body_limits",
    "larger_limits",
]
