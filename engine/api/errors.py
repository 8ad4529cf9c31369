"""The one error shape of the HTTP API (DESIGN §12) and the handlers that map errors into it.

Every error body is `{"error": {"code", "message", "issues": [...]}}`; codes are stable and
language-free, messages follow `Accept-Language` (zh-CN by default, en).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.core.issues import PYDANTIC_ZH, format_path

Language = Literal["zh", "en"]

logger = logging.getLogger("jimu.api")

DEFAULT_LANGUAGE: Language = "zh"

_STATUS_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("malformed_request", "请求格式不正确", "The request is malformed"),
    401: ("not_authenticated", "请先登录", "Not logged in"),
    403: ("forbidden", "无权执行此操作", "This action is not allowed"),
    404: ("not_found", "未找到请求的资源", "Not found"),
    405: ("method_not_allowed", "不支持此请求方法", "Method not allowed"),
    409: ("conflict", "数据已被修改，请刷新后重试", "Conflict with the current state"),
    413: ("payload_too_large", "请求内容过大", "The request body is too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
    422: ("validation_failed", "数据校验未通过", "Validation failed"),
    429: ("rate_limited", "请求过于频繁，请稍后再试", "Too many requests"),
    500: ("internal_error", "服务器内部错误", "Internal server error"),
}


_REQUEST_PARTS = {"body", "query", "path", "header", "cookie"}


class JimuJSONResponse(JSONResponse):
    """JSON as UTF-8, falling back to ASCII escapes for text UTF-8 cannot hold.

    JSON may carry lone surrogates (``"\\ud800"``); echoing one back must not fail, so such a
    body is written with ``\\u`` escapes instead, which keeps every character.
    """

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def pick_language(request: Request) -> Language:
    """The first language in `Accept-Language` (by q-value) that Jimu speaks; zh by default."""
    header = request.headers.get("accept-language", "")
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh"
        if primary == "en":
            return "en"
    return DEFAULT_LANGUAGE


def error_response(
    status: int,
    code: str,
    message_zh: str,
    message_en: str,
    issues: Sequence[dict[str, Any]],
    request: Request,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the API's one error shape, its message in the caller's language."""
    language = pick_language(request)
    message = message_zh if language == "zh" else message_en
    response_headers = {
        "Content-Language": "zh-CN" if language == "zh" else "en",
        "Vary": "Accept-Language",
        **(headers or {}),
    }
    return JimuJSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "issues": list(issues)}},
        headers=response_headers,
    )


def status_error(
    status: int, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error response for a bare HTTP status, with the code and messages of that status."""
    code, message_zh, message_en = _status_messages(status)
    return error_response(status, code, message_zh, message_en, [], request, headers)


def _status_messages(status: int) -> tuple[str, str, str]:
    phrase = HTTPStatus(status).phrase
    return _STATUS_MESSAGES.get(status, (f"http_{status}", phrase, phrase))


def issue_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as an issue path: `("body", "items", 3, "qty")` → `items[3].qty`."""
    parts = list(loc)
    if parts and parts[0] in _REQUEST_PARTS:
        parts = parts[1:]
    return format_path(parts)


def _validation_issues(exc: RequestValidationError, language: Language) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    for error in exc.errors():
        kind = str(error.get("type", "invalid"))
        loc = tuple(error.get("loc", ()))
        if kind == "json_invalid":
            loc = loc[:1]
        message = str(error.get("msg", kind))
        if language == "zh":
            message = PYDANTIC_ZH.get(kind, message)
        issues.append({"path": issue_path(loc), "code": kind, "message": message})
    return issues


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """A bare HTTPException by its status; a custom `detail` can only be English, so only en shows it.

    Routes that need a specific bilingual message return `error_response` (or raise a domain
    error mapped to it) instead.
    """
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code, message_zh, message_en = _status_messages(status)
    if isinstance(exc.detail, str) and exc.detail != HTTPStatus(status).phrase:
        message_en = exc.detail
    return error_response(
        status, code, message_zh, message_en, [], request, dict(exc.headers or {})
    )


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if getattr(request.state, "credential_unchecked", False):
        from starlette.concurrency import run_in_threadpool

        from engine.api.security import check_credential
        from engine.core.errors import ServiceError

        try:
            await run_in_threadpool(check_credential, request)
        except ServiceError as refused:
            return await _handle_service_error(request, refused)
    issues = _validation_issues(exc, pick_language(request))
    return error_response(
        400, "malformed_request", "请求格式不正确", "The request is malformed", issues, request
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The 500 answer; Starlette sends it from outside every middleware, so it carries the
    security headers itself."""
    from engine.api.headers import headers_for

    ancestors = getattr(request.app.state, "public_frame_ancestors", "'none'")
    return status_error(500, request, dict(headers_for(request.url.path, ancestors)))


class UnexpectedErrors:
    """ASGI middleware: an unexpected exception is logged and answered with the JSON 500, and
    the request ends there.

    Starlette's own last-resort handler sends that response too but then re-raises, and the
    server closes a keep-alive connection whose response had started; here nothing is
    re-raised, so the client's next request goes over the same connection. An exception after
    the response started cannot be answered any more and still propagates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if started:
                raise
            logger.exception("Unexpected error in %s %s", scope.get("method"), scope.get("path"))
            await status_error(500, Request(scope))(scope, receive, send)


async def _handle_service_error(request: Request, exc: Exception) -> JSONResponse:
    from engine.core.errors import ServiceError

    assert isinstance(exc, ServiceError)
    if exc.status in (403, 404):
        from starlette.concurrency import run_in_threadpool

        from engine.api.security import audit_denial

        await run_in_threadpool(audit_denial, request, exc.status, exc.code)
    language = pick_language(request)
    issues = [i.to_dict(language) for i in exc.issues]
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return error_response(
        exc.status, exc.code, exc.message_zh, exc.message_en, issues, request, headers
    )


async def _handle_query_timeout(request: Request, exc: Exception) -> JSONResponse:
    """422 `query_timeout`: a statement ran past its kind of work's limit (engine.store.limits);
    the issue points at the filter when the request had one."""
    from engine.store.limits import QueryTimeout

    assert isinstance(exc, QueryTimeout)
    language = pick_language(request)
    message = exc.message_zh if language == "zh" else exc.message_en
    issues = (
        [{"path": "filter", "code": exc.code, "message": message}]
        if request.query_params.get("filter")
        else []
    )
    return error_response(422, exc.code, exc.message_zh, exc.message_en, issues, request)


def install_error_handlers(app: FastAPI) -> None:
    """Route FastAPI's and Starlette's own errors, and any unexpected one, into the error shape."""
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    from engine.core.errors import ServiceError

    app.add_exception_handler(ServiceError, _handle_service_error)
    from engine.store.limits import QueryTimeout

    app.add_exception_handler(QueryTimeout, _handle_query_timeout)
    app.add_exception_handler(Exception, _handle_unexpected)
    app.add_middleware(UnexpectedErrors)
