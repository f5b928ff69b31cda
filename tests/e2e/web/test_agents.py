"""Picking the agent on the web page.

A real ``agentsocket serve --dev`` serves two agents: the demo (the default)
and a small agent loaded from a file with ``--agent module:attr``, as a user
serves their own. The picker in the composer lists both with their
descriptions; the agent picked answers, its run labelled with its name, and
the choice stays with its thread. With one agent the picker is hidden.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import ServerProcess, run_server
from tests.e2e.web.pages import (
    DESKTOP,
    Browser,
    Locator,
    Page,
    ViewportSize,
    ask,
    expect,
    last_turn,
    open_page,
    record_wire,
    screenshot,
    serious_axe_violations,
    sign_in,
    user_name,
)
from tests.e2e.web.test_page import SMALLEST, WIDTHS, assert_no_horizontal_scroll

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
in_browser = pytest.mark.asyncio(loop_scope="module")

ECHO_DESCRIPTION = "Says back what you wrote, in capitals."
ECHO_AGENT = f'''
from agentsocket.agents import RunContext


class Echo:
    """{ECHO_DESCRIPTION}"""

    name = "echo"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        # As a model would: tokens read (one per character here) and written.
        ctx.report_usage(len(prompt), 2)
        await ctx.say(f"ECHO: {{prompt.upper()}}")


agent = Echo()
'''
DEMO_DESCRIPTION = "The supervisor: splits the prompt among specialists and streams their answers."


@pytest.fixture(scope="module")
def two_agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The demo agent (listed first: the default) and ``echo`` from ``./echoagent.py``."""
    home = tmp_path_factory.mktemp("web-agents")
    (home / "echoagent.py").write_text(ECHO_AGENT)
    args = ["--dev", "--agent", "agentsocket.agents:DemoAgent", "--agent", "echoagent:agent"]
    with run_server(home, args=args, cwd=home) as server:
        yield server


def options(page: Page) -> Locator:
    return page.get_by_label("Agent", exact=True).locator("option")


@in_browser
async def test__picker__lists_the_agents_and_the_one_picked_answers(
    browser: Browser, two_agents: ServerProcess
) -> None:
    async with open_page(browser, DESKTOP) as page:
        wire = record_wire(page)
        await sign_in(page, two_agents.http, user_name("picker"))
        picker = page.get_by_label("Agent", exact=True)
        await expect(picker).to_be_visible()
        await expect(options(page)).to_have_text(["demo", "echo"])
        await expect(options(page).nth(0)).to_have_attribute("title", DEMO_DESCRIPTION)
        await expect(options(page).nth(1)).to_have_attribute("title", ECHO_DESCRIPTION)
        # The default is selected, its description shown beside it.
        await expect(picker).to_have_value("demo")
        await expect(picker).to_have_accessible_description(DEMO_DESCRIPTION)

        await picker.select_option("echo")
        await expect(page.locator("#agent-description")).to_have_text(ECHO_DESCRIPTION)
        await ask(page, "hello there")
        answer = last_turn(page)
        await expect(answer).to_have_attribute("data-status", "completed")
        await expect(answer.locator(".bubble")).to_have_text("ECHO: HELLO THERE")
        await expect(answer.locator(".agent-name")).to_have_text("echo")
        await expect(page.get_by_role("article", name="Answer from echo")).to_have_count(1)
        sent = [f["data"] for f in wire.sent if f["type"] == "user_message"]
        assert [(m["content"], m["agent"]) for m in sent] == [("hello there", "echo")]
        await screenshot(page, "agents-picked-echo-1280px")

        # The thread keeps its agent; a new chat starts with the default.
        await page.get_by_role("button", name="+ New chat").click()
        await expect(picker).to_have_value("demo")
        await ask(page, "what is 17*23 in hex?")
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        await expect(last_turn(page).locator(".agent-name")).to_have_text("demo")
        await page.locator(".thread", has_text="hello there").locator(".thread-open").click()
        await expect(picker).to_have_value("echo")
        await expect(page.locator("#transcript .bubble.assistant")).to_have_text(
            ["ECHO: HELLO THERE"]
        )
        await page.reload()
        await expect(picker).to_have_value("echo")
        await ask(page, "and again")
        await expect(last_turn(page).locator(".bubble")).to_have_text("ECHO: AND AGAIN")
        await expect(last_turn(page).locator(".agent-name")).to_have_text("echo")
        sent = [f["data"] for f in wire.sent if f["type"] == "user_message"]
        assert [m["agent"] for m in sent] == ["echo", "demo", "echo"]


@in_browser
async def test__usage__shown_per_run_when_its_agent_reports_it(
    browser: Browser, two_agents: ServerProcess
) -> None:
    async with open_page(browser, DESKTOP) as page:
        wire = record_wire(page)
        await sign_in(page, two_agents.http, user_name("usage"))
        await page.get_by_label("Agent", exact=True).select_option("echo")
        await ask(page, "count these tokens")
        answer = last_turn(page)
        await expect(answer).to_have_attribute("data-status", "completed")
        usage = answer.locator(".activity > summary .usage")
        await expect(usage).to_have_text("20 tokens (18 in · 2 out)")
        await expect(usage).to_have_attribute("title", "Tokens this run used: 18 input, 2 output")
        completed = [f["data"] for f in wire.received if f["type"] == "agent_completed"]
        assert completed[-1]["usage"] == {
            "input_tokens": 18,
            "output_tokens": 2,
            "total_tokens": 20,
        }
        await screenshot(page, "usage-per-run")

        # The next run shows its own; a run whose agent reports none shows nothing.
        await ask(page, "again")
        await expect(last_turn(page).locator(".usage")).to_have_text("7 tokens (5 in · 2 out)")
        await expect(page.locator("#transcript .usage")).to_have_count(2)
        await page.get_by_label("Agent", exact=True).select_option("demo")
        await page.get_by_role("button", name="+ New chat").click()
        await ask(page, "what is 17*23 in hex?")
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        await expect(last_turn(page).locator(".usage")).to_have_count(0)


@in_browser
@pytest.mark.parametrize("viewport", [pytest.param(SMALLEST, id="360px"), *WIDTHS])
async def test__picker__fits_narrow_screens_and_passes_axe(
    browser: Browser, two_agents: ServerProcess, viewport: ViewportSize
) -> None:
    async with open_page(browser, viewport) as page:
        await sign_in(page, two_agents.http, user_name("picker-narrow"))
        picker = page.get_by_label("Agent", exact=True)
        await expect(picker).to_be_visible()
        await assert_no_horizontal_scroll(page)
        assert await serious_axe_violations(page) == []
        await screenshot(page, f"agents-empty-{viewport['width']}px")
        await picker.select_option("echo")
        await ask(page, "hi")
        await expect(last_turn(page).locator(".agent-name")).to_have_text("echo")
        await assert_no_horizontal_scroll(page)
        box = await page.locator("#agent-picker").bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= viewport["width"], box
        assert await serious_axe_violations(page) == []
        await screenshot(page, f"agents-picker-{viewport['width']}px")


@in_browser
async def test__picker__is_hidden_with_one_agent(page: Page, dev_server: ServerProcess) -> None:
    wire = record_wire(page)
    await sign_in(page, dev_server.http, user_name("one-agent"))
    await expect(page.locator("#agent-picker")).to_be_hidden()
    await expect(page.get_by_label("Agent", exact=True)).to_have_value("demo")
    await ask(page, "5 miles to km")
    await expect(last_turn(page)).to_have_attribute("data-status", "completed")
    await expect(last_turn(page).locator(".agent-name")).to_have_text("demo")
    sent = [f["data"] for f in wire.sent if f["type"] == "user_message"]
    assert [m["agent"] for m in sent] == ["demo"]
