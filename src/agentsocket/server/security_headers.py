"""Security headers on every HTTP response: the web page runs under a strict policy.

- ``Content-Security-Policy``: scripts, styles and connections from this
  origin only (the page's WebSocket included: CSP 3 ``'self'`` covers ws/wss
  of the same host), no plugins, no inline script, and ``frame-ancestors
  'none'`` so no other site can frame the page (clickjacking);
- ``X-Content-Type-Options: nosniff``: files are what their type says;
- ``X-Frame-Options: DENY``: frame-ancestors for browsers without CSP 3;
- ``Referrer-Policy: no-referrer``: a URL with a ticket never leaves in a Referer.

A header the app already set on a response is kept::

    Starlette(routes=..., middleware=[Middleware(SecurityHeadersMiddleware)])
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
