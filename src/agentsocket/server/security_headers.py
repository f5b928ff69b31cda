"""Security headers on every HTTP response: the web page runs under a strict policy.

- ``Content-Security-Policy``: scripts, styles and connections from this
  origin only (the page's WebSocket included: CSP 3 ``'self'`` covers ws/wss
  of the same host), no plugins, no inline script but the page's own (by
  hash: :func:`inline_script_hashes`), and ``frame-ancestors 'none'`` so no
  other site can frame the page (clickjacking);
- ``X-Content-Type-Options: nosniff``: files are what their type says;
- ``X-Frame-Options: DENY``: frame-ancestors for browsers without CSP 3;
- ``Referrer-Policy: no-referrer``: a URL with a ticket never leaves in a Referer.

A header the app already set on a response is kept::

    Starlette(routes=..., middleware=[Middleware(SecurityHeadersMiddleware)])
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Iterable, Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE
)


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The policy, allowing the inline scripts whose CSP hashes are given and no others."""
    scripts = " ".join(("'self'", *(f"'{h}'" for h in script_hashes)))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def inline_script_hashes(html: str) -> list[str]:
    """CSP source hashes (``sha256-…``) of the inline scripts of ``html`` (its import map)."""
    return [
        "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in _INLINE_SCRIPT.findall(html)
    ]


def security_headers(script_hashes: Iterable[str] = ()) -> dict[str, str]:
    """Every header this module sets, with the policy allowing ``script_hashes``."""
    return {
        "content-security-policy": content_security_policy(script_hashes),
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
    }


CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS: Mapping[str, str] = security_headers()


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = dict(headers)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            # Handed on, not awaited here: a WebSocket's life keeps no frame of this layer.
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
