"""A reload in the middle of a run: the page resumes its stream and the run goes on on screen.

The gateway serves a demo agent that types slowly (a few characters every
150 ms), so a run is still streaming when the page reloads. The transcript
after the run must equal the one of the same question asked without a
reload, and no text the answer bubble ever showed may hold a delta twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.harness import ServerProcess, run_server
from tests.e2e.web.pages import (
    Browser,
    ask,
    expect,
    expect_connected,
    last_turn,
    open_page,
    record_wire,
    screenshot,
    sign_in,
    user_name,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
in_browser = pytest.mark.asyncio(loop_scope="module")

TYPIST = """
from agentsocket.agents import DemoAgent

agent = DemoAgent(name="typist", chunk=3, delay=0.15)
"""
PROMPT = "what is 17*23 in hex?"
ANSWER = "17*23 = 391, which is 0x187 in hexadecimal."
#: Every text the last answer bubble shows, from the moment the page loads.
WATCH_ANSWER = """
document.addEventListener("DOMContentLoaded", () => {
  window.answerTexts = [];
  const transcript = document.getElementById("transcript");
  new MutationObserver(() => {
    const bubbles = transcript.querySelectorAll(".turn.assistant > .bubble.assistant");
    const text = bubbles.length ? bubbles[bubbles.length - 1].textContent : "";
    if (text && window.answerTexts[window.answerTexts.length - 1] !== text) {
      window.answerTexts.push(text);
    }
  }).observe(transcript, { subtree: true, childList: true, characterData: true });
});
"""
#: The transcript as the user reads it, without durations (they differ from run to run).
TRANSCRIPT = """() => [...document.querySelectorAll("#transcript > .turn")].map((turn) => {
  if (turn.classList.contains("user")) return ["user", turn.textContent];
  const steps = [...turn.querySelectorAll(".timeline li.event")].map((step) => {
    const copy = step.cloneNode(true);
    for (const noise of copy.querySelectorAll(".duration, .run-status")) noise.remove();
    return [step.className, step.dataset.status ?? "", copy.textContent];
  });
  const answer = turn.querySelector(":scope > .bubble.assistant").textContent;
  return ["assistant", turn.dataset.status, answer, steps];
})"""


@pytest.fixture(scope="module")
def typist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("web-typist")
    (home / "typist.py").write_text(TYPIST)
    with run_server(home, args=["--dev", "--agent", "typist:agent"], cwd=home) as server:
        yield server


def root_deltas(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        f
        for f in frames
        if f["type"] == "agent_message_delta" and f["data"]["parent_run_id"] is None
    ]


@in_browser
async def test_reload_mid_run_continues_the_stream_without_a_gap(
    browser: Browser, typist: ServerProcess
) -> None:
    async with open_page(browser) as page:
        await page.add_init_script(WATCH_ANSWER)
        await sign_in(page, typist.http, user_name("rejoin"))
        # The same question without a reload, for comparison.
        await ask(page, PROMPT)
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        reference = await page.evaluate(TRANSCRIPT)
        assert [turn[0] for turn in reference] == ["user", "assistant"]  # the question once
        assert reference[-1][2] == ANSWER

        await page.get_by_role("button", name="New chat").click()
        await ask(page, PROMPT)
        # Reload once the answer has begun to stream in, well before it ends.
        await expect(last_turn(page).locator(".bubble.assistant")).to_contain_text("17")
        assert await last_turn(page).get_attribute("data-status") == "running"
        saved = await page.evaluate("JSON.parse(sessionStorage.getItem('agentsocket.stream'))")
        wire = record_wire(page)
        await page.reload()
        await expect_connected(page)
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        await screenshot(page, "rejoin-after-reload")
        rejoined = await page.evaluate(TRANSCRIPT)
        texts: list[str] = await page.evaluate("window.answerTexts")

    # The run went on on screen: the same transcript as without the reload.
    assert rejoined == reference
    # It was mid-run: the reloaded page showed the answer growing, never a delta twice.
    assert texts[-1] == ANSWER
    assert any(text != ANSWER for text in texts), texts
    assert all(ANSWER.startswith(text) for text in texts), texts
    # The page resumed its stream from the kept position instead of starting afresh.
    # (Deltas keep arriving between reading the kept position and the reload, so the
    # position the page resumed from may be later than the one read here, never earlier.)
    assert saved["seq"] > 0
    query = parse_qs(urlsplit(wire.urls[0]).query)
    assert int(query["last_seq"][0]) >= saved["seq"]
    assert query["epoch"] == [saved["epoch"]]
    # The history's events up to its cut, then live deltas past it: the answer, each once.
    history = next(f for f in wire.received if f["type"] == "thread_history")
    cut = history["data"]["stream_seq"]
    snapshot = root_deltas(history["data"]["events"])
    live = [f for f in root_deltas(wire.received) if f["seq"] > cut]
    assert snapshot, "the history carried none of the run"
    assert live, "nothing of the run came after the reload"
    seqs = [f["seq"] for f in snapshot + live]
    assert seqs == sorted(set(seqs))
    assert "".join(f["data"]["content"] for f in snapshot + live) == ANSWER


@in_browser
async def test_another_tab_shows_the_question_and_joins_the_run_mid_way(
    browser: Browser, typist: ServerProcess
) -> None:
    user = user_name("tabs")
    async with open_page(browser) as a, open_page(browser) as b:
        await sign_in(a, typist.http, user)
        await sign_in(b, typist.http, user)
        await ask(a, PROMPT)
        await expect(last_turn(a).locator(".bubble.assistant")).to_contain_text("17")
        # Tab B opens the new thread while its answer streams: question, run so far, the rest.
        await b.locator(".thread .thread-open").first.click()
        await expect(last_turn(b)).to_have_attribute("data-status", "completed")
        await expect(b.locator("#transcript .bubble.user")).to_have_text([PROMPT])
        await expect(last_turn(b).locator(".bubble.assistant")).to_have_text(ANSWER)
        # With the thread open in both tabs, a question asked in A shows in B at once; each once.
        await ask(a, "what is 6*7?")
        await expect(b.locator("#transcript .bubble.user")).to_have_text([PROMPT, "what is 6*7?"])
        await expect(last_turn(b).locator(".bubble.assistant")).to_have_text("6*7 = 42.")
        await expect(a.locator("#transcript .bubble.user")).to_have_text([PROMPT, "what is 6*7?"])
        await expect(a.locator("#transcript .turn.assistant")).to_have_count(2)
        await expect(b.locator("#transcript .turn.assistant")).to_have_count(2)
        assert await a.evaluate(TRANSCRIPT) == await b.evaluate(TRANSCRIPT)
        await screenshot(b, "rejoin-other-tab")
