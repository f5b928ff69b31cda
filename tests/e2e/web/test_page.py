"""The page itself at phone and desktop widths: layout, Markdown, accessibility.

At 390 px and 1280 px: no horizontal scroll, the user name and "Sign out" on
screen, the thread list a panel that opens and closes (on a phone), answers
rendered as sanitised Markdown (lists, code blocks, emphasis; the model's raw
HTML shown as text, never run), a sub-agent's answer shown once, finished
timelines folded to one line, suggestion chips that send, and no serious or
critical axe-core violations. Markdown answers come from the OpenAI-compatible
agent, fed by a local stand-in model. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.agents.standin import StandIn, Stream, finish, serve, text
from tests.e2e.harness import ServerProcess, run_server
from tests.e2e.web.pages import (
    DESKTOP,
    PHONE,
    Browser,
    Page,
    ViewportSize,
    ask,
    expect,
    last_turn,
    open_page,
    screenshot,
    serious_axe_violations,
    sign_in,
    user_name,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
in_browser = pytest.mark.asyncio(loop_scope="module")

WIDTHS = [pytest.param(PHONE, id="390px"), pytest.param(DESKTOP, id="1280px")]
SMALLEST = ViewportSize(width=360, height=740)
HEX_ANSWER = "17*23 = 391, which is 0x187 in hexadecimal."
# What a language model might answer: Markdown, and HTML that must not run.
MARKDOWN_ANSWER = (
    "Here is **the plan**, in *two* steps:\n\n"
    "1. Install it\n"
    "2. Run `agentsocket serve --dev`\n\n"
    "- apples\n"
    "- pears\n\n"
    "```python\n"
    'print("a line long enough to need its own scroll bar on a phone, '
    'because code keeps its line breaks")\n'
    "```\n\n"
    '<img src="x" onerror="window.pwned = \'img\'"> '
    "<script>window.pwned = 'script'</script>\n\n"
    "- [x] tested\n\n"
    "[docs](https://example.org/docs) and [bad](javascript:window.pwned='link')"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def standin() -> AsyncIterator[StandIn]:
    async with contextlib.asynccontextmanager(serve)(StandIn()) as running:
        yield running


@pytest.fixture(scope="module")
def model_server(
    standin: StandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """Dev mode, answering with the OpenAI-compatible agent from the stand-in model."""
    env = {
        "AGENTSOCKET_OPENAI_BASE_URL": standin.base_url,
        "AGENTSOCKET_OPENAI_API_KEY": "k",
        "AGENTSOCKET_DEFAULT_AGENT": "openai",
    }
    with run_server(tmp_path_factory.mktemp("web-model"), env=env, args=["--dev"]) as server:
        yield server


@pytest.fixture
def script_answer(standin: StandIn) -> Iterator[StandIn]:
    """The stand-in with a fresh script, reset after the test."""
    standin.reset()
    yield standin
    standin.reset()


def width_name(viewport: ViewportSize) -> str:
    return f"{viewport['width']}px"


async def assert_no_horizontal_scroll(page: Page) -> None:
    sizes = await page.evaluate(
        "({ scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth })"
    )
    assert sizes["scroll"] <= sizes["inner"], f"the page scrolls sideways: {sizes}"


async def assert_on_screen(page: Page, selector: str) -> None:
    """``selector`` is visible and wholly inside the viewport (not cut, not off-screen)."""
    element = page.locator(selector)
    await expect(element).to_be_visible()
    box = await element.bounding_box()
    width = await page.evaluate("window.innerWidth")
    assert box is not None
    assert box["x"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= width, (selector, box, width)


async def assert_not_truncated(page: Page, selector: str) -> None:
    clipped = await page.locator(selector).evaluate("e => e.scrollWidth > e.clientWidth")
    assert not clipped, f"{selector} is cut off"


async def open_threads(page: Page) -> None:
    """Shows the thread list: a click on "Chats" on a phone; always there on a desktop."""
    toggle = page.get_by_role("button", name="Chats", exact=True)
    if await toggle.is_visible():
        await toggle.click()
    await expect(page.locator("#sidebar")).to_be_visible()


# --- layout ------------------------------------------------------------------------


@in_browser
@pytest.mark.parametrize("viewport", [pytest.param(SMALLEST, id="360px"), *WIDTHS])
async def test__page__at_phone_and_desktop_width__fits_without_sideways_scroll(
    browser: Browser, dev_server: ServerProcess, viewport: ViewportSize
) -> None:
    async with open_page(browser, viewport) as page:
        await page.goto(dev_server.http)
        await expect(page.get_by_label("User name")).to_be_focused()
        await assert_no_horizontal_scroll(page)
        await screenshot(page, f"page-signin-{width_name(viewport)}")

        name = user_name("alexandria")
        await sign_in(page, dev_server.http, name)
        await expect(page.get_by_label("Message")).to_be_focused()
        await assert_on_screen(page, "#user-name")
        await expect(page.locator("#user-name")).to_have_attribute("title", name)
        if viewport["width"] >= PHONE["width"]:
            # Below that, a name this long ends in an ellipsis (whole in its tooltip).
            await assert_not_truncated(page, "#user-name")
        await assert_on_screen(page, "#sign-out")
        await assert_on_screen(page, "#send")
        await assert_no_horizontal_scroll(page)
        await screenshot(page, f"page-empty-{width_name(viewport)}")

        await ask(page, "what is 17*23 in hex? and 5 miles to km")
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        await assert_no_horizontal_scroll(page)
        await screenshot(page, f"page-answer-{width_name(viewport)}")

        await last_turn(page).locator("summary").click()
        await expect(last_turn(page).locator(".event.subrun").first).to_be_visible()
        await assert_no_horizontal_scroll(page)
        await screenshot(page, f"page-timeline-open-{width_name(viewport)}", full_page=True)


@in_browser
async def test__thread_list__on_a_phone__is_a_panel_that_opens_and_closes(
    browser: Browser, dev_server: ServerProcess
) -> None:
    async with open_page(browser, PHONE) as page:
        await sign_in(page, dev_server.http, user_name("pia"))
        await ask(page, "5 miles to km")
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        sidebar = page.locator("#sidebar")
        toggle = page.get_by_role("button", name="Chats", exact=True)
        # Closed, the list takes no room: the conversation has the screen.
        await expect(sidebar).to_be_hidden()
        await expect(toggle).to_have_attribute("aria-expanded", "false")
        transcript = await page.locator("#transcript").bounding_box()
        assert transcript is not None
        assert transcript["height"] > 0.5 * PHONE["height"], transcript

        # By keyboard: the toggle opens the list and focus goes into it; Escape closes it.
        await toggle.focus()
        await page.keyboard.press("Enter")
        await expect(sidebar).to_be_visible()
        await expect(toggle).to_have_attribute("aria-expanded", "true")
        await expect(page.locator(".thread[aria-current='true'] .thread-open")).to_be_focused()
        await assert_no_horizontal_scroll(page)
        await screenshot(page, "page-threads-open-390px")
        await page.keyboard.press("Escape")
        await expect(sidebar).to_be_hidden()
        await expect(toggle).to_be_focused()

        # Its close button, or a tap beside it, closes it.
        await toggle.click()
        await page.get_by_role("button", name="Close chats").click()
        await expect(sidebar).to_be_hidden()
        await expect(toggle).to_be_focused()
        await toggle.click()
        await page.mouse.click(PHONE["width"] - 20, PHONE["height"] // 2)
        await expect(sidebar).to_be_hidden()

        # Choosing a chat closes the list.
        await toggle.click()
        await page.get_by_role("button", name="+ New chat").click()
        await expect(sidebar).to_be_hidden()
        await expect(page.locator("#thread-title")).to_have_text("New chat")
        await open_threads(page)
        await page.locator(".thread-open", has_text="5 miles to km").click()
        await expect(sidebar).to_be_hidden()
        await expect(page.locator("#thread-title")).to_have_text("5 miles to km")


@in_browser
async def test__thread_list__on_a_desktop__is_always_shown(
    page: Page, dev_server: ServerProcess
) -> None:
    await sign_in(page, dev_server.http, user_name("dan"))
    await expect(page.locator("#sidebar")).to_be_visible()
    await expect(page.get_by_role("button", name="Chats", exact=True)).to_be_hidden()


# --- the transcript -------------------------------------------------------------------


@in_browser
@pytest.mark.parametrize("viewport", WIDTHS)
async def test__markdown_answer__is_rendered_and_its_html_never_runs(
    browser: Browser,
    model_server: ServerProcess,
    script_answer: StandIn,
    viewport: ViewportSize,
) -> None:
    pieces = [MARKDOWN_ANSWER[i : i + 40] for i in range(0, len(MARKDOWN_ANSWER), 40)]
    script_answer.script(Stream([*text(*pieces), finish()]))
    async with open_page(browser, viewport) as page:
        await sign_in(page, model_server.http, user_name("md"))
        await ask(page, "How do I start?")

        bubble = last_turn(page).locator(".bubble.assistant")
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        await expect(bubble.locator("strong")).to_have_text("the plan")
        await expect(bubble.locator("em")).to_have_text("two")
        await expect(bubble.locator("ol > li")).to_have_text(
            ["Install it", "Run agentsocket serve --dev"]
        )
        await expect(bubble.locator("ol code")).to_have_text("agentsocket serve --dev")
        await expect(bubble.locator("ul > li")).to_have_text(["apples", "pears", "tested"])
        await expect(bubble.get_by_role("checkbox")).to_be_checked()
        await expect(bubble.get_by_role("checkbox")).to_be_disabled()
        await expect(bubble.locator("pre > code")).to_contain_text('print("a line long enough')
        # The model's HTML is shown as text: no element made from it, nothing run.
        await expect(bubble).to_contain_text('<img src="x" onerror=')
        await expect(bubble).to_contain_text("<script>window.pwned")
        assert await page.locator("#transcript img, #transcript script").count() == 0
        assert await page.evaluate("window.pwned") is None
        docs = bubble.get_by_role("link", name="docs")
        await expect(docs).to_have_attribute("href", "https://example.org/docs")
        await expect(docs).to_have_attribute("target", "_blank")
        await expect(docs).to_have_attribute("rel", "noopener noreferrer nofollow")
        bad = bubble.locator("a", has_text="bad")
        assert await bad.get_attribute("href") is None
        await bad.click()
        assert await page.evaluate("window.pwned") is None
        # A long code line scrolls inside its block, not the page.
        await assert_no_horizontal_scroll(page)
        await screenshot(page, f"page-markdown-{width_name(viewport)}")

        # The stored answer renders the same after a reload.
        await page.reload()
        await expect(bubble.locator("pre > code")).to_contain_text('print("a line long enough')
        await expect(bubble.locator("ul > li")).to_have_text(["apples", "pears", "tested"])
        assert await page.locator("#transcript img, #transcript script").count() == 0
        assert await page.evaluate("window.pwned") is None


@in_browser
async def test__sub_agent_answer__is_shown_once(page: Page, dev_server: ServerProcess) -> None:
    await sign_in(page, dev_server.http, user_name("sam"))
    await ask(page, "what is 17*23 in hex?")
    turn = last_turn(page)
    await expect(turn).to_have_attribute("data-status", "completed")
    await expect(turn.locator(".event.subrun")).to_have_count(1)
    # Everything of the turn on screen: its timeline unfolded.
    await turn.locator(".activity").evaluate("details => { details.open = true; }")
    await expect(turn.locator(".event.subrun")).to_be_visible()
    shown = await turn.evaluate("turn => turn.innerText")
    assert shown.count("which is 0x187 in hexadecimal") == 1, shown
    await expect(turn.locator(".bubble.assistant")).to_have_text(HEX_ANSWER)


@in_browser
async def test__finished_timeline__folds_to_one_line_that_expands(
    page: Page, dev_server: ServerProcess
) -> None:
    await sign_in(page, dev_server.http, user_name("tim"))
    await ask(page, "what is 17*23 in hex?")
    turn = last_turn(page)
    summary = turn.locator(".activity > summary")
    await expect(turn).to_have_attribute("data-status", "completed")
    await expect(turn.locator(".activity")).not_to_have_attribute("open", "")
    await expect(turn.locator(".timeline").first).to_be_hidden()
    # "demo · Done in 12 ms · 5 steps" (the dots are CSS)
    await expect(summary).to_have_text(re.compile(r"^demo\s*Done in [\d.]+ m?s\s*\d+ steps$"))
    box = await summary.bounding_box()
    line = await summary.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20")
    assert box is not None
    assert box["height"] < 2 * line + 8, (box, line)
    # The question stays on screen above the folded answer.
    await expect(page.locator("#transcript .bubble.user")).to_be_in_viewport()

    await summary.focus()
    await page.keyboard.press("Enter")
    await expect(turn.locator(".timeline").first).to_be_visible()
    await expect(turn.locator('.event.tool[data-tool-name="convert_base"]')).to_be_visible()


@in_browser
async def test__suggestion_chip__sends_when_clicked(page: Page, dev_server: ServerProcess) -> None:
    await sign_in(page, dev_server.http, user_name("chip"))
    chips = page.get_by_role("group", name="Ask the demo agent something, or try one of these:")
    await chips.get_by_role("button", name="5 miles to km").click()
    await expect(page.locator("#transcript .bubble.user")).to_have_text(["5 miles to km"])
    await expect(last_turn(page).locator(".bubble.assistant")).to_contain_text("km")
    await expect(page.get_by_label("Message")).to_have_value("")
    await expect(page.get_by_label("Message")).to_be_focused()


@in_browser
async def test__streamed_answer__is_announced_by_a_live_region(
    page: Page, dev_server: ServerProcess
) -> None:
    await sign_in(page, dev_server.http, user_name("sr"))
    transcript = page.get_by_role("log", name="Conversation")
    await expect(transcript).to_have_attribute("aria-live", "polite")
    await ask(page, "what is 6*7?")
    await expect(last_turn(page)).to_have_attribute("data-status", "completed")
    # Whole now: not busy, so a screen reader reads it once.
    await expect(last_turn(page).locator(".bubble.assistant")).not_to_have_attribute(
        "aria-busy", "true"
    )
    await expect(transcript.get_by_role("article", name="Answer from demo")).to_have_count(1)


# --- accessibility ------------------------------------------------------------------


@in_browser
@pytest.mark.parametrize("viewport", WIDTHS)
async def test__axe_core__finds_no_serious_violations(
    browser: Browser, dev_server: ServerProcess, viewport: ViewportSize
) -> None:
    async with open_page(browser, viewport) as page:
        await page.goto(dev_server.http)
        await expect(page.get_by_label("User name")).to_be_visible()
        assert await serious_axe_violations(page) == []

        await sign_in(page, dev_server.http, user_name("axe"))
        assert await serious_axe_violations(page) == []

        await ask(page, "hello")  # the demo's help: a list
        await ask(page, "what is 17*23 in hex?")
        await expect(page.locator("#transcript .turn.assistant")).to_have_count(2)
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        help_answer = page.locator("#transcript .turn.assistant").first.locator(".bubble")
        await expect(help_answer.locator("ul > li")).to_have_count(4)
        await expect(help_answer.locator(":scope > p").last).to_have_text(
            "Ask for several at once and a specialist handles each part."
        )
        await last_turn(page).locator("summary").click()
        await open_threads(page)
        assert await serious_axe_violations(page) == []
        await screenshot(page, f"page-axe-{width_name(viewport)}")
