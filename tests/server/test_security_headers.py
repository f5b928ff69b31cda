"""server/security_headers.py: the page and every HTTP answer carry the security headers."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from agentsocket.server.security_headers import SECURITY_HEADERS, SecurityHeadersMiddleware
from agentsocket.web import static_dir


def http_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway")


def _app() -> Starlette:
    async def framed(_: Request) -> Response:
        return PlainTextResponse("ok", headers={"x-frame-options": "SAMEORIGIN"})

    return Starlette(
        routes=[
            Route("/own", framed),
            Mount("/", app=StaticFiles(directory=static_dir(), html=True)),
        ],
        middleware=[Middleware(SecurityHeadersMiddleware)],
    )


async def test__web_page__csp_nosniff_and_frame_ancestors() -> None:
    response = await http_client(_app()).get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test__page_assets_and_404s__headers_too() -> None:
    client = http_client(_app())
    for path in ("/app.js", "/app.css", "/missing"):
        response = await client.get(path)
        assert all(response.headers.get(name) == value for name, value in SECURITY_HEADERS.items())


async def test__header_set_by_the_app__kept() -> None:
    response = await http_client(_app()).get("/own")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test__page__no_inline_script_or_style_the_policy_would_block() -> None:
    page = (static_dir() / "index.html").read_text()
    for blocked in ("<script>", "<style", " style=", "onclick=", "javascript:"):
        assert blocked not in page
