"""A reload shows the same tool timeline the page showed live (headless Chromium).

The stored timeline comes back with the thread's history and is replayed
through the live view's own code, so the turn's markup after a reload is
compared with the live one, element by element.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import ServerProcess
from tests.e2e.web.pages import (
    Page,
    ask,
    expect,
    expect_connected,
    last_turn,
    screenshot,
    sign_in,
    user_name,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
in_browser = pytest.mark.asyncio(loop_scope="module")

PROMPT = "what is 17*23 in hex? and 5 miles to km"

#: Every step of a turn's timeline, nested: its classes, data attributes and text.
STEPS = """turn => [...turn.querySelectorAll('.timeline > li')].map(li => ({
    cls: li.className,
    data: {...li.dataset},
    head: li.querySelector('.event-head')?.innerText ?? li.innerText,
    kv: [...li.querySelectorAll(':scope > .kv')].map(kv => kv.innerText),
}))"""


async def turn_view(page: Page) -> dict[str, Any]:
    turn = last_turn(page)
    return {
        "status": await turn.get_attribute("data-status"),
        "summary": await turn.locator(".activity > summary").inner_text(),
        "answer": await turn.locator(".bubble.assistant").inner_text(),
        "steps": await turn.evaluate(STEPS),
    }


@in_browser
async def test__reload__same_tool_timeline_as_live(page: Page, dev_server: ServerProcess) -> None:
    await sign_in(page, dev_server.http, user_name("tl"))
    await ask(page, PROMPT)
    turn = last_turn(page)
    await expect(turn).to_have_attribute("data-status", "completed")
    live = await turn_view(page)

    await page.reload()
    await expect_connected(page)
    await expect(last_turn(page)).to_have_attribute("data-status", "completed")
    reloaded = await turn_view(page)

    assert reloaded == live
    tools = [s["data"].get("toolName") for s in live["steps"] if "toolName" in s["data"]]
    assert sorted(tools) == ["calculate", "convert_base", "convert_units"]
    assert [s["data"]["status"] for s in live["steps"] if "subrun" in s["cls"]] == [
        "completed",
        "completed",
    ]
    await last_turn(page).locator(".activity").evaluate("details => { details.open = true; }")
    await expect(
        last_turn(page).locator('.event.tool[data-tool-name="calculate"]')
    ).to_contain_text("391")
    await screenshot(page, "timeline-after-reload", full_page=True)
