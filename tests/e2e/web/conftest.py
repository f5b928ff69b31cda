"""One Chromium per test module (launching takes ~1 s), a fresh context per test.

Playwright is imported inside the fixtures: without it the test modules skip
themselves (``pages.unavailable``) rather than this file failing to load.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from tests.e2e.harness import ServerProcess, run_server

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


@pytest.fixture(scope="session")
def chromium() -> str:
    from tests.e2e.web.pages import chromium_path

    return chromium_path()


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The gateway in dev mode: /auth/dev-token works."""
    with run_server(tmp_path_factory.mktemp("web-dev"), args=["--dev"]) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    from tests.e2e.web.pages import CHROMIUM_FLAGS

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A desktop-sized page (1280 by 860)."""
    from tests.e2e.web.pages import open_page

    async with open_page(browser) as opened:
        yield opened
