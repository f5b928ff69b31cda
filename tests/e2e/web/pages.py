"""What a person does on the web page, for the browser tests; and where Chromium is.

Needs Playwright (``pip install -e '.[dev]'``) and Debian's Chromium
(``apt-get install -y --no-install-recommends chromium``): missing either, the
importing test module is skipped, or fails under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """Skip the importing module (fail it under ``CI=true``): the browser tests cannot run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"web tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    # Re-exported: a test module imports them from here, after the check above.
    from playwright.async_api import Browser as Browser
    from playwright.async_api import Locator as Locator
    from playwright.async_api import Page as Page
    from playwright.async_api import ViewportSize as ViewportSize
    from playwright.async_api import WebSocket as WebSocket
    from playwright.async_api import expect as expect
except ImportError:
    unavailable("playwright is not installed (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
# Headless in a container, as root, and offline: no sandbox, no GPU, no /dev/shm,
# no background traffic, and no DNS at all except the loopback address.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 15_000
DESKTOP = ViewportSize(width=1280, height=860)
PHONE = ViewportSize(width=390, height=844)

expect.set_options(timeout=TIMEOUT_MS)


def chromium_path() -> str:
    """Debian's Chromium, or ``$AGENTSOCKET_CHROMIUM``; skips (fails under CI) without one."""
    configured = os.environ.get("AGENTSOCKET_CHROMIUM")
    candidates = (configured,) if configured else CHROMIUM_PATHS
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    unavailable(
        f"no Chromium at {' or '.join(candidates)} "
        "(apt-get install -y --no-install-recommends chromium, or set AGENTSOCKET_CHROMIUM)"
    )


@contextlib.asynccontextmanager
async def open_page(browser: Browser, viewport: ViewportSize = DESKTOP) -> AsyncIterator[Page]:
    """A page in a fresh browser context; fails if the page's scripts raised."""
    context = await browser.new_context(viewport=viewport)
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
    assert not errors, f"the page raised: {errors}"


def user_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def sign_in(page: Page, url: str, user: str) -> None:
    await page.goto(url)
    await page.get_by_label("User name").fill(user)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect_connected(page)


async def sign_in_with_token(page: Page, url: str, token: str) -> None:
    await page.goto(url)
    await page.get_by_text("Use an access token instead").click()
    await page.get_by_label("Access token (JWT)").fill(token)
    await page.get_by_role("button", name="Sign in with token").click()
    await expect_connected(page)


async def expect_connected(page: Page) -> None:
    await expect(page.locator("#status")).to_have_attribute("data-state", "open")
    await expect(page.locator("#status")).to_have_text("Connected")


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_label("Message").press("Enter")


def last_turn(page: Page) -> Locator:
    return page.locator("#transcript .turn.assistant").last


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


async def serious_axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not AXE.is_file():
        unavailable(f"{AXE} is missing (npm ci)")
    # Evaluated through the DevTools protocol, so the page's CSP (no inline script) still holds.
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = await page.evaluate("axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [node["target"] for node in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@dataclass
class Wire:
    """What the page's WebSockets carried: URLs opened, frames received and sent."""

    urls: list[str] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)


def record_wire(page: Page) -> Wire:
    wire = Wire()

    def keep(frames: list[dict[str, Any]], payload: str | bytes) -> None:
        if isinstance(payload, str):
            frames.append(json.loads(payload))

    def opened(websocket: WebSocket) -> None:
        wire.urls.append(websocket.url)
        websocket.on("framereceived", lambda payload: keep(wire.received, payload))
        websocket.on("framesent", lambda payload: keep(wire.sent, payload))

    page.on("websocket", opened)
    return wire
