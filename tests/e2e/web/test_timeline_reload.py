"""A reload shows the same tool timeline the page showed live (headless Chromium).

The stored timeline comes back with the thread's history and is replayed
through the live view's own code, so the turn's markup after a reload is
compared with the live one, element by element.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ServerProcess, run_server
from tests.e2e.timelines import stored_items
from tests.e2e.web.pages import (
    Page,
    ask,
    expect,
    expect_connected,
    last_turn,
    screenshot,
    sign_in,
    sign_in_with_token,
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


BIG_AGENT = """
class Big:
    name = "big"

    async def run(self, ctx, prompt):
        call = await ctx.tool_call("fetch", {"url": "https://example.org/"})
        await call.succeeded({"page": "p" * 50_000})
        await ctx.say("fetched")
"""


@in_browser
async def test__reload__cut_result_is_tagged_and_shows_its_preview(
    page: Page, tmp_path: Path
) -> None:
    (tmp_path / "big_agents.py").write_text(BIG_AGENT)
    env = {"PYTHONPATH": str(tmp_path), "AGENTSOCKET_AGENTS": "big_agents:Big"}
    with run_server(tmp_path, env=env, args=["--dev"]) as server:
        await sign_in(page, server.http, user_name("cut"))
        await ask(page, "fetch it")
        tool = last_turn(page).locator('.event.tool[data-tool-name="fetch"]')
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        await expect(tool.locator(".tag-truncated")).to_have_count(0)  # live: whole

        await page.reload()
        await expect_connected(page)
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        await last_turn(page).locator(".activity").evaluate("details => { details.open = true; }")
        await expect(tool).to_have_attribute("data-truncated", "result")
        await expect(tool.locator(".tag-truncated")).to_have_text("cut: result")
        await expect(tool.locator(".kv.result .value")).to_have_text(re.compile(r'^\{"page":"p+…$'))
        await expect(tool.locator(".kv.arguments")).to_contain_text("example.org")
        await screenshot(page, "timeline-cut-result")


@in_browser
async def test__gateway_killed_mid_run__reopened_thread_shows_the_stored_steps_interrupted(
    page: Page, tmp_path: Path
) -> None:
    user = user_name("kill")
    with run_server(tmp_path) as first:
        await sign_in_with_token(page, first.http, first.token(user))
        await ask(page, "be slow about it")
        sleeping = last_turn(page).locator('.event.tool[data-tool-name="sleep"]')
        await expect(sleeping).to_have_attribute("data-status", "running")
        # The first checkpoint comes FLUSH_INTERVAL (2 s) after the run's first event.
        await stored_items(tmp_path / "e2e.db", 3)
        first.process.kill()  # kill -9: the run's end is never stored by this process
        first.process.wait()

    with run_server(tmp_path) as second:  # the same database
        await sign_in_with_token(page, second.http, second.token(user))
        await page.locator(".thread-title").first.click()
        turn = last_turn(page)
        await expect(turn).to_have_attribute("data-status", "error")
        await turn.locator(".activity").evaluate("details => { details.open = true; }")
        await expect(turn.locator(".event.thinking")).to_contain_text("Taking it slow")
        await expect(sleeping).to_have_attribute("data-status", "stopped")
        await expect(sleeping.locator(".tool-status")).to_have_text("interrupted")
        await screenshot(page, "timeline-interrupted-after-kill")
