"""Security headers on every response, and the client address behind trusted proxies.

`SecurityHeaders` adds, unless a route set its own:

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` (public-link tokens
  and record URLs never leave in a `Referer`);
- `X-Frame-Options: DENY` and a Content-Security-Policy with `frame-ancestors 'none'`, except
  on public-link pages (`/public/...`), which other sites may embed in a frame as
  `JIMU_PUBLIC_FRAME_ANCESTORS` allows (`*` by default; no `X-Frame-Options` there, as it
  cannot name sites);
- the policy of the built UI: scripts only from this origin, plus `'unsafe-eval'` because the
  browser runs formulas compiled to JavaScript with `new Function` (formula/runtime.js), and
  inline styles because antd writes its CSS-in-JS into `<style>` elements; images from this
  origin, `data:` and `blob:` (upload and signature previews); nothing else from elsewhere;
- on `/docs`, the policy Swagger UI needs: its script and styles from cdn.jsdelivr.net and
  its inline start-up script.

`install_headers` adds it to an app, with uvicorn's `ProxyHeadersMiddleware` limited to
`JIMU_TRUSTED_PROXIES`: only when the direct peer is one of them does `X-Forwarded-For` (and
`X-Forwarded-Proto`) replace the client address (the right-most address that is not itself a
trusted proxy), which is what sign-in throttling and the audit log record. `jimu serve` turns
uvicorn's own proxy-header handling off, so this is the only place that decides.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

PUBLIC_PAGES = "/public/"
DOCS_PAGES = ("/docs", "/docs/")

UI_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
)


def headers_for(path: str, public_frame_ancestors: str) -> list[tuple[str, str]]:
    """The security headers of a response to `path`."""
    docs = path in DOCS_PAGES or path.startswith("/docs/")
    public = path.startswith(PUBLIC_PAGES)
    ancestors = public_frame_ancestors if public else "'none'"
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        (
            "Content-Security-Policy",
            f"{DOCS_POLICY if docs else UI_POLICY}; frame-ancestors {ancestors}",
        ),
    ]
    if not public:
        headers.append(("X-Frame-Options", "DENY"))
    return headers


class SecurityHeaders:
    """ASGI middleware adding `headers_for(path)` to every HTTP response (pure ASGI, so
    streamed responses and background work are untouched)."""

    def __init__(self, app: ASGIApp, public_frame_ancestors: str = "*") -> None:
        self.app = app
        self.public_frame_ancestors = public_frame_ancestors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", "/"), self.public_frame_ancestors)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_headers(
    app: FastAPI, *, trusted_proxies: tuple[str, ...], public_frame_ancestors: str
) -> None:
    """Security headers on every response of `app`, and `X-Forwarded-For` from trusted proxies."""
    app.state.public_frame_ancestors = public_frame_ancestors
    app.add_middleware(SecurityHeaders, public_frame_ancestors=public_frame_ancestors)
    if trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))


__all__ = ["SecurityHeaders", "headers_for", "install_headers"]
