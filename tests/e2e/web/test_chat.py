"""The web chat page used as a person would, against a real gateway subprocess.

Sign in, ask, watch the answer stream in with its tool timeline, stop a run,
answer an approval, manage threads, reload, lose the network and come back. A
small TCP proxy between browser and gateway cuts connections for the
reconnect tests. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agentsocket.web import static_dir
from tests.e2e.harness import ServerProcess, body, client, recv_json, recv_until, run_server
from tests.e2e.web.pages import (
    Page,
    ask,
    expect,
    expect_connected,
    last_turn,
    record_wire,
    screenshot,
    sign_in,
    sign_in_with_token,
    user_name,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
# The browser tests share the module's event loop (and its one browser).
in_browser = pytest.mark.asyncio(loop_scope="module")

HEX_ANSWER = "17*23 = 391, which is 0x187 in hexadecimal."


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """No dev mode, heartbeats every second, and a stream log that a few runs overflow."""
    env = {"AGENTSOCKET_STREAM_MAX_ENTRIES": "12", "AGENTSOCKET_HEARTBEAT_INTERVAL": "1"}
    with run_server(tmp_path_factory.mktemp("web-plain"), env=env) as server:
        yield server


# --- a TCP proxy that can lose the network ------------------------------------------


class FlakyProxy:
    """Forwards a local port to the gateway, and can fail the ways networks fail.

    ``cut()`` resets every connection and refuses new ones until ``restore()``;
    ``freeze()`` silently drops everything on the open connections (a dead
    route: no reset, no close) while new connections work.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.blocked = False
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._frozen: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Like a network drop: every connection is reset, new ones too until ``restore()``."""
        self.blocked = True
        for browser_side, gateway_side in list(self._links):
            browser_side.transport.abort()
            gateway_side.transport.abort()

    def restore(self) -> None:
        self.blocked = False

    def freeze(self) -> None:
        for browser_side, gateway_side in self._links:
            self._frozen.update((browser_side, gateway_side))

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._links.discard(link)
            writer.transport.abort()
            up_writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if writer in self._frozen:
                    continue
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


@contextlib.asynccontextmanager
async def flaky_proxy(server: ServerProcess) -> AsyncIterator[FlakyProxy]:
    proxy = FlakyProxy(server.port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


# Records each text the newest answer bubble shows, to see it grow.
WATCH_ANSWER = """() => {
  window.answerTexts = [];
  const transcript = document.getElementById("transcript");
  new MutationObserver(() => {
    const bubbles = transcript.querySelectorAll(".turn.assistant > .bubble.assistant");
    const text = bubbles.length ? bubbles[bubbles.length - 1].textContent : "";
    if (text && window.answerTexts[window.answerTexts.length - 1] !== text) {
      window.answerTexts.push(text);
    }
  }).observe(transcript, { subtree: true, childList: true, characterData: true });
}"""


async def ask_elsewhere(server: ServerProcess, user: str, thread_id: str, text: str) -> None:
    """The same user asks from another client, straight to the gateway; waits for the answer."""
    async with client(server, user) as websocket:
        await recv_json(websocket)  # the welcome
        data = {"content": text, "thread_id": thread_id}
        await websocket.send(json.dumps({"type": "user_message", "data": data}))

        def root_run_ended(frame: dict[str, Any]) -> bool:
            return frame["type"] == "agent_completed" and body(frame)["parent_run_id"] is None

        await recv_until(websocket, root_run_ended, timeout=20)


# --- tests ---------------------------------------------------------------------------


def test_the_package_holds_every_file_the_page_loads() -> None:
    """What index.html links and the scripts import is all in static_dir() (built, shipped)."""
    static = static_dir()
    html = (static / "index.html").read_text()
    wanted = {m for m in re.findall(r'(?:src|href)="([^":]+)"', html)}
    import_map = re.search(r'<script type="importmap">(.*?)</script>', html, re.DOTALL)
    assert import_map is not None
    libraries: dict[str, str] = json.loads(import_map.group(1))["imports"]
    wanted |= {path.removeprefix("./") for path in libraries.values()}
    imported: set[str] = set()
    for script in static.glob("*.js"):
        wanted |= set(re.findall(r'from "\./([^"]+)"', script.read_text()))
        imported |= set(re.findall(r'^import .* from "([^./][^"]*)";$', script.read_text(), re.M))
    assert {"app.js", "app.css", "vendor/marked.js", "vendor/purify.js"} <= wanted
    assert sorted(name for name in wanted if not (static / name).is_file()) == []
    # Every bare import the scripts make is in the import map.
    assert sorted(imported - libraries.keys()) == []


@in_browser
async def test_answer_streams_in_with_its_tool_timeline_and_survives_a_reload(
    page: Page, dev_server: ServerProcess
) -> None:
    wire = record_wire(page)
    await sign_in(page, dev_server.http, user_name("ada"))
    await expect(page.locator("#protocol")).to_have_text("protocol v3")
    await expect(page.locator("#latency")).to_contain_text("ms")  # the first ping's answer
    await page.evaluate(WATCH_ANSWER)

    await ask(page, "what is 17*23 in hex?")

    turn = last_turn(page)
    await expect(turn.locator(".bubble.assistant")).to_have_text(HEX_ANSWER)
    await expect(turn).to_have_attribute("data-status", "completed")
    # The calculator sub-agent's run is nested in the turn, with both tool calls in it.
    subrun = turn.locator(".event.subrun")
    await expect(subrun.locator(".event-head strong")).to_have_text("calculator")
    calculate = subrun.locator('.event.tool[data-tool-name="calculate"]')
    await expect(calculate.locator(".kv.arguments")).to_contain_text('{"expression":"17*23"}')
    await expect(calculate.locator(".kv.result")).to_contain_text("391")
    await expect(calculate.locator(".duration")).to_contain_text("ms")
    convert = subrun.locator('.event.tool[data-tool-name="convert_base"]')
    await expect(convert.locator(".kv.arguments")).to_contain_text('"base":"hex"')
    await expect(convert.locator(".kv.result")).to_contain_text('"0x187"')
    await expect(convert).to_have_attribute("data-status", "success")
    await expect(turn.locator(".event.thinking").first).to_contain_text("calculator")

    # Streamed: the bubble showed a beginning of the answer before the whole of it.
    texts: list[str] = await page.evaluate("window.answerTexts")
    assert texts[-1] == HEX_ANSWER
    assert any(HEX_ANSWER.startswith(text) and text != HEX_ANSWER for text in texts), texts
    deltas = [
        f
        for f in wire.received
        if f["type"] == "agent_message_delta" and f["data"]["parent_run_id"] is None
    ]
    assert len(deltas) >= 2
    assert "".join(d["data"]["content"] for d in deltas) == HEX_ANSWER
    # A single-use ticket on the socket URL, never the token itself.
    token = await page.evaluate("sessionStorage.getItem('agentsocket.token')")
    assert wire.urls
    assert all("ticket=" in url and token not in url for url in wire.urls)
    await expect(page.locator(".thread")).to_have_count(1)
    await expect(page.locator(".thread-title")).to_have_text("what is 17*23 in hex?")
    await screenshot(page, "chat-answer-and-timeline")

    await page.reload()
    await expect_connected(page)
    await expect(page.locator("#thread-title")).to_have_text("what is 17*23 in hex?")
    await expect(page.locator(".thread[aria-current='true'] .thread-title")).to_have_text(
        "what is 17*23 in hex?"
    )
    await expect(page.locator("#transcript .bubble.user")).to_have_text(["what is 17*23 in hex?"])
    await expect(page.locator("#transcript .bubble.assistant")).to_have_text([HEX_ANSWER])
    await screenshot(page, "chat-history-after-reload")


def format_duration(ms: float) -> str:
    """The page's ``formatDuration`` (web/src/dom.ts)."""
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{_js_round(ms)} ms"
    return f"{ms / 1000:.1f} s"


def _js_round(value: float) -> int:
    return int(value + 0.5)  # Math.round, for the positive values here


@in_browser
async def test_run_timings_show_first_token_tools_and_total(
    page: Page, dev_server: ServerProcess
) -> None:
    wire = record_wire(page)
    await sign_in(page, dev_server.http, user_name("tim"))
    await ask(page, "what is 17*23 in hex?")
    turn = last_turn(page)
    await expect(turn).to_have_attribute("data-status", "completed")
    await turn.locator(".activity > summary").click()  # unfold the finished timeline
    timings = turn.locator(".activity > .timings")
    await expect(timings).to_be_visible()

    # The same figures, from the frames' server timestamps the page received.
    frames = wire.received
    accepted = next(f for f in frames if f["type"] == "message_received")
    run_id = accepted["data"]["run_id"]
    root = [f for f in frames if f.get("data", {}).get("run_id") == run_id]
    first = next(f for f in root if f["type"] == "agent_message_delta")
    end = next(f for f in root if f["type"] == "agent_completed")
    tools = [f for f in frames if f["type"] == "tool_completed"]
    assert [t["data"]["tool_name"] for t in tools] == ["calculate", "convert_base"]
    since = accepted["timestamp"]
    first_token = format_duration(max(0.0, first["timestamp"] - since) * 1000)
    total = format_duration(max(0.0, end["timestamp"] - since) * 1000)
    tool_ms = format_duration(sum(t["data"]["duration_ms"] for t in tools))
    await expect(timings.locator(".first-token .value")).to_have_text(first_token)
    await expect(timings.locator(".tools .value")).to_have_text(f"{tool_ms} (2 calls)")
    await expect(timings.locator(".total .value")).to_have_text(total)
    await expect(timings).to_contain_text(re.compile(r"first token.*tools.*total"))
    # Each tool's own duration is on its line of the timeline.
    for tool in tools:
        line = turn.locator(f'.event.tool[data-tool-call-id="{tool["data"]["tool_call_id"]}"]')
        await expect(line.locator(".duration")).to_have_text(
            format_duration(tool["data"]["duration_ms"])
        )
    await screenshot(page, "chat-run-timings")


@in_browser
async def test_stop_cancels_the_running_run(page: Page, dev_server: ServerProcess) -> None:
    await sign_in(page, dev_server.http, user_name("bob"))
    await ask(page, "take it slow")

    sleeping = last_turn(page).locator('.event.tool[data-tool-name="sleep"]')
    await expect(sleeping).to_have_attribute("data-status", "running")
    stop = page.get_by_role("button", name="Stop")
    await expect(stop).to_be_visible()
    await screenshot(page, "stop-while-running")
    await stop.click()

    turn = last_turn(page)
    await expect(turn).to_have_attribute("data-status", "cancelled")
    await expect(turn.locator("summary .run-status")).to_have_text("Stopped")
    await expect(sleeping.locator(".tool-status")).to_have_text("stopped")
    await expect(stop).to_be_hidden()
    await expect(page.locator(".thread.running")).to_have_count(0)
    await screenshot(page, "stop-cancelled")


@in_browser
async def test_approval_prompt_runs_or_skips_the_tool(
    page: Page, dev_server: ServerProcess
) -> None:
    await sign_in(page, dev_server.http, user_name("cy"))
    await ask(page, "please approve this announcement")

    approval = last_turn(page).locator(".approval")
    await expect(approval).to_be_visible()
    tool = last_turn(page).locator('.event.tool[data-tool-name="announce"]')
    await expect(tool.locator(".tool-status")).to_have_text("awaiting approval")
    await expect(tool.locator(".kv.arguments")).to_contain_text("please approve this announcement")
    await screenshot(page, "approval-prompt")
    await approval.get_by_role("button", name="Approve").click()

    await expect(last_turn(page).locator(".bubble.assistant")).to_have_text(
        "Approved, so I announce: PLEASE APPROVE THIS ANNOUNCEMENT"
    )
    await expect(tool).to_have_attribute("data-status", "success")
    await expect(approval).to_have_count(0)

    await ask(page, "approve this one too")
    denied_turn = last_turn(page)
    await denied_turn.locator(".approval").get_by_role("button", name="Deny").click()
    await expect(denied_turn.locator(".bubble.assistant")).to_contain_text("I did not announce it")
    await expect(denied_turn.locator(".event.tool")).to_have_attribute("data-status", "denied")
    await screenshot(page, "approval-answered")


@in_browser
async def test_threads_can_be_created_selected_renamed_and_deleted(
    page: Page, dev_server: ServerProcess
) -> None:
    await sign_in(page, dev_server.http, user_name("dee"))
    await ask(page, "5 miles to km")
    await expect(last_turn(page)).to_have_attribute("data-status", "completed")
    await page.get_by_role("button", name="+ New chat").click()
    await expect(page.locator("#thread-title")).to_have_text("New chat")
    await expect(page.locator("#transcript .turn")).to_have_count(0)
    await ask(page, "what is 2+2?")
    await expect(last_turn(page).locator(".bubble.assistant")).to_contain_text("4")
    await expect(page.locator(".thread-title")).to_have_text(["what is 2+2?", "5 miles to km"])

    miles = page.locator(".thread", has_text="5 miles to km")
    await miles.locator(".thread-open").click()
    await expect(page.locator("#thread-title")).to_have_text("5 miles to km")
    await expect(page.locator("#transcript .bubble.user")).to_have_text(["5 miles to km"])
    await expect(page.locator("#transcript .bubble.assistant")).to_contain_text(["km"])

    await miles.get_by_role("button", name="Rename").click()
    title = page.get_by_label("New title")
    await title.fill("Distances")
    await title.press("Enter")
    await expect(page.locator("#thread-title")).to_have_text("Distances")
    renamed = page.locator(".thread", has_text="Distances")
    await expect(renamed).to_have_attribute("aria-current", "true")
    await screenshot(page, "threads-renamed")

    await renamed.get_by_role("button", name="Delete").click()
    await renamed.get_by_role("button", name="Delete?").click()
    await expect(page.locator(".thread-title")).to_have_text(["what is 2+2?"])
    await expect(page.locator("#thread-title")).to_have_text("New chat")

    await page.reload()
    await expect_connected(page)
    await expect(page.locator(".thread-title")).to_have_text(["what is 2+2?"])


@in_browser
async def test_a_dropped_connection_reconnects_and_resumes(
    page: Page, dev_server: ServerProcess
) -> None:
    async with flaky_proxy(dev_server) as proxy:
        wire = record_wire(page)
        user = user_name("eve")
        await sign_in(page, proxy.url, user)
        await ask(page, "what is 17*23 in hex?")
        await expect(last_turn(page).locator(".bubble.assistant")).to_have_text(HEX_ANSWER)
        thread_id = (await page.evaluate("location.hash")).lstrip("#")

        proxy.cut()
        await expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        await expect(page.locator("#status")).to_contain_text("Reconnecting")
        await expect(page.locator("#banner")).to_contain_text("Connection lost")
        await screenshot(page, "reconnecting")
        # While the page is offline, the same user asks in this thread from elsewhere.
        await ask_elsewhere(dev_server, user, thread_id, "what is 6*7?")
        proxy.restore()

        await expect_connected(page)
        await expect(page.locator("#banner")).to_be_hidden()
        # The run it missed is replayed from the stream into the open thread, once.
        await expect(last_turn(page).locator(".bubble.assistant")).to_have_text("6*7 = 42.")
        resumed = [url for url in wire.urls if "last_seq=" in url and "epoch=" in url]
        assert resumed, wire.urls
        # Nothing is delivered twice: each stream seq reached the page once.
        seqs = [f["seq"] for f in wire.received if f.get("seq") is not None]
        assert len(seqs) == len(set(seqs))

        await ask(page, "what is 2+3 in binary?")
        await expect(last_turn(page).locator(".bubble.assistant")).to_contain_text("0b101")
        await expect(page.locator("#transcript .turn.assistant")).to_have_count(3)
        await screenshot(page, "reconnected-and-resumed")


@in_browser
async def test_missed_updates_beyond_the_stream_log_reload_the_thread(
    page: Page, plain_server: ServerProcess
) -> None:
    async with flaky_proxy(plain_server) as proxy:
        user = user_name("fay")
        await sign_in_with_token(page, proxy.url, plain_server.token(user))
        await expect(page.locator("#user-name")).to_have_text(user)
        await ask(page, "what is 1+1?")
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")
        thread_id = (await page.evaluate("location.hash")).lstrip("#")

        proxy.cut()
        await expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        # More stream entries than the log keeps (12): the page cannot resume them.
        await ask_elsewhere(plain_server, user, thread_id, "what is 17*23 in hex?")
        await ask_elsewhere(plain_server, user, thread_id, "what is 6*7?")
        proxy.restore()

        await expect_connected(page)
        await expect(page.locator("#banner")).to_contain_text("Some updates were missed")
        await expect(page.locator("#transcript .bubble.user")).to_have_text(
            ["what is 1+1?", "what is 17*23 in hex?", "what is 6*7?"]
        )
        await expect(page.locator("#transcript .bubble.assistant").nth(1)).to_have_text(HEX_ANSWER)
        await screenshot(page, "gap-reloaded")


@in_browser
async def test_a_silent_connection_is_noticed_by_the_heartbeat(
    page: Page, plain_server: ServerProcess
) -> None:
    wire = record_wire(page)
    async with flaky_proxy(plain_server) as proxy:
        await sign_in_with_token(page, proxy.url, plain_server.token(user_name("gil")))
        await expect(page.locator("#latency")).to_contain_text("ms")

        proxy.freeze()  # no close, no reset: the pings just go unanswered
        await expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        await expect(page.locator("#banner")).to_contain_text("no answer to ping")
        await expect_connected(page)

        await ask(page, "what is 6*7?")
        await expect(last_turn(page).locator(".bubble.assistant")).to_have_text("6*7 = 42.")
    assert len(wire.urls) >= 2, wire.urls
    assert "last_seq=" in wire.urls[-1]
    assert sum(f["type"] == "ping" for f in wire.sent) >= 2


@in_browser
async def test_without_dev_mode_the_page_says_so(page: Page, plain_server: ServerProcess) -> None:
    await page.goto(plain_server.http)
    await page.get_by_label("User name").fill("gus")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    error = page.locator("#signin-error")
    await expect(error).to_contain_text("Dev sign-in is off on this server")
    await expect(page.get_by_label("Access token (JWT)")).to_be_visible()
    await screenshot(page, "dev-mode-off")

    await page.get_by_label("Access token (JWT)").fill("not-a-token")
    await page.get_by_role("button", name="Sign in with token").click()
    await expect(error).to_contain_text("The server refused the token (malformed_token)")
