"""``agentsocket chat URL``: a line-based terminal chat, built on the client SDK.

One line of input is one message; lines starting with ``/`` are commands
(``/help``). Input may be piped: lines are handled in order, and lines that arrive while
a run streams wait for it to end, except ``/stop``, ``/approve``, ``/deny`` and
``/answer``, which act during the run once every line before them has been handled.

The output shows the run as it happens: thinking lines dimmed, tool calls with
their arguments, results and durations, sub-agent runs indented, the answer
streamed. A sub-agent's own answer is not printed: the agent that delegated
answers the user. A tool approval or a question the run waits for is shown with
how to answer it (``/approve``, ``/deny``, ``/answer``), and its resolution,
whichever connection of the user answered, with what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx
from rich.console import Console
from rich.text import Text

from agentsocket.chat_answers import describe, parse_answer
from agentsocket.client import (
    ClientError,
    Connection,
    ConnectionRejected,
    MessageNotInVersion,
    RequestError,
    State,
    StateChange,
    connect,
)
from agentsocket.protocol import TERMINAL_EVENTS, ServerEnvelope, supported_versions
from agentsocket.protocol import server_messages as s

HELP = """\
commands:
  /threads          list your threads (* marks the current one)
  /new [TITLE]      start a new thread
  /thread ID        continue thread ID
  /history          show the current thread's messages
  /agent [NAME]     list the agents (* marks yours), or talk to NAME from now on
  /stop             stop the running answer
  /approve, /deny   answer the pending tool approval (v3)
  /approve {JSON}   approve it with edited arguments, if the tool allows it
  /answer ANSWER    answer the agent's question (v3): JSON, or name=value per field
  /quit             leave (also: end of input)
anything else is sent as a message."""

#: Commands that act while a run is streaming; other lines wait for it to end.
_NOW = ("/stop", "/approve", "/deny", "/answer")


def dev_token_url(ws_url: str) -> str:
    """The dev-token endpoint beside a WebSocket URL: ``.../ws`` → ``.../auth/dev-token``."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    base = parts.path.removesuffix("/").removesuffix("/ws")
    return urlunsplit((scheme, parts.netloc, f"{base}/auth/dev-token", "", ""))


async def dev_token(ws_url: str, user: str | None = None) -> str:
    """A token for ``user`` from a dev-mode gateway (``POST /auth/dev-token``).

    Args:
        ws_url: The gateway's WebSocket URL.
        user: The user id; None lets the gateway choose its default user.

    Raises:
        RuntimeError: the gateway does not offer dev tokens, or cannot be reached.
    """
    url = dev_token_url(ws_url)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(url, json={} if user is None else {"user_id": user})
    except httpx.HTTPError as exc:
        raise RuntimeError(f"cannot reach {url}: {exc}") from None
    if response.status_code in (404, 405):  # no such route: not in dev mode
        raise RuntimeError(
            "the gateway has no dev tokens (start it with --dev); give --token or set "
            "AGENTSOCKET_TOKEN"
        )
    if not response.is_success:
        raise RuntimeError(f"{url} answered HTTP {response.status_code}")
    token: str = response.json()["token"]
    return token


# --- rendering -------------------------------------------------------------------------


@dataclass
class Renderer:
    """Prints server messages as they arrive; tracks runs, pending approvals and questions."""

    console: Console
    #: Set when the connection's messages have ended.
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set while a tool call waits for approval.
    asking: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set while a question waits for an answer.
    questioned: asyncio.Event = field(default_factory=asyncio.Event)
    depth: dict[str, int] = field(default_factory=dict)
    approvals: deque[s.ToolApprovalRequired] = field(default_factory=deque)
    questions: deque[s.AgentQuestion] = field(default_factory=deque)
    #: ``client_message_id`` of every message this terminal sent: its own questions are
    #: on screen already, those from another tab or device are shown when they arrive.
    sent: set[str] = field(default_factory=set)
    _finished: dict[str, asyncio.Event] = field(default_factory=dict)
    _streaming: str | None = None  # message_id of the answer being streamed
    _streamed: set[str] = field(default_factory=set)

    def finished(self, run_id: str) -> asyncio.Event:
        """Set once run ``run_id`` has ended (or the connection has)."""
        return self._finished.setdefault(run_id, asyncio.Event())

    def forget(self, interrupt_id: str) -> None:
        """Approval or question ``interrupt_id`` waits no more (answered here or elsewhere)."""
        self.approvals = deque(r for r in self.approvals if r.tool_call_id != interrupt_id)
        self.questions = deque(q for q in self.questions if q.question_id != interrupt_id)
        if not self.approvals:
            self.asking.clear()
        if not self.questions:
            self.questioned.clear()

    def end_all(self) -> None:
        self.ended.set()
        for event in self._finished.values():
            event.set()

    def show(self, envelope: ServerEnvelope) -> None:
        message = envelope.message
        if isinstance(message, s.AgentEvent):
            self._event(message)
        elif isinstance(message, s.UserMessageAccepted):
            if message.client_message_id not in self.sent:
                self._line(Text(f"you (elsewhere): {message.content}", "bold"))
        elif isinstance(message, s.StreamGap):
            self._line(
                Text(
                    f"some messages are gone ({message.reason}); /history reloads the thread",
                    "yellow",
                )
            )
        elif isinstance(message, s.DeprecationNotice):
            self._line(Text(f"{message.message} Upgrade to {message.upgrade_to}.", "yellow"))
        elif isinstance(message, s.ServerShutdown):
            self._line(Text("the server is shutting down; reconnecting", "dim"))
        elif isinstance(message, s.Error):
            self._line(Text(f"error {message.code.value}: {message.message}", "red"))

    def state(self, change: StateChange) -> None:
        if change.state is State.RECONNECTING:
            self._line(Text(f"not connected; retrying (attempt {change.attempt})", "dim"))

    def _event(self, event: s.AgentEvent) -> None:
        if isinstance(event, s.AgentStarted):
            parent = self.depth.get(event.parent_run_id or "", -1)
            self.depth[event.run_id] = parent + 1
            if event.parent_run_id is not None:
                self._line(Text(f"↳ {event.agent_name}", "cyan"), event)
            return
        if isinstance(event, s.AgentMessageDelta | s.AgentMessage) and event.parent_run_id:
            # A sub-agent answers the agent that delegated, which words the reply the
            # user reads: its text would be shown twice. Its steps still show above.
            return
        if isinstance(event, s.AgentMessageDelta):
            self._delta(event)
            return
        if isinstance(event, s.AgentMessage):
            if event.message_id in self._streamed:
                self._close_stream()
            else:
                self._line(self._speaker(event).append(event.content), event)
            return
        if isinstance(event, s.AgentThinking):
            self._line(Text(f"… {event.content}", "dim italic"), event)
        elif isinstance(event, s.ToolExecuting):
            self._line(Text(f"⚙ {event.tool_name}({_arguments(event.arguments)})", "blue"), event)
        elif isinstance(event, s.ToolCompleted):
            self._line(_tool_result(event), event)
        elif isinstance(event, s.ToolApprovalRequired):
            self.approvals.append(event)
            self.asking.set()
            call = f"{event.tool_name}({_arguments(event.arguments)})"
            how = "/approve or /deny"
            if event.arguments_schema is not None:
                how += " (/approve {JSON} runs it with edited arguments)"
            self._line(Text(f"? {call} needs your approval: {how}", "yellow"), event)
        elif isinstance(event, s.AgentQuestion):
            self.questions.append(event)
            self.questioned.set()
            self._question(event)
        elif isinstance(event, s.InterruptResolved):
            self.forget(event.interrupt_id)
            style = "green" if event.resolution == "answered" else "yellow"
            self._line(Text(f"↪ {event.message}", style), event)
        elif isinstance(event, s.AgentError):
            self._line(Text(f"✗ {event.code}: {event.message}", "red"), event)
        elif isinstance(event, s.AgentCancelled):
            self._line(Text(f"■ stopped: {event.reason}", "yellow"), event)
        elif isinstance(event, s.AgentCompleted) and event.parent_run_id is None:
            self._line(Text(f"done in {event.duration_ms / 1000:.2f} s", "dim"), event)
        if event.TYPE in TERMINAL_EVENTS:
            self.finished(event.run_id).set()

    def _question(self, event: s.AgentQuestion) -> None:
        expires = f"(expires in {event.timeout_seconds:g} s)"
        self._line(Text(f"? {event.prompt} {expires}", "yellow bold"), event)
        for line in describe(event.answer_schema):
            self._line(Text(f"    {line}", "yellow"), event)
        self._line(Text("  answer with /answer name=value … or /answer {JSON}", "yellow"), event)

    def _delta(self, event: s.AgentMessageDelta) -> None:
        indent = self._indent(event)
        if self._streaming != event.message_id:
            self._close_stream()
            self._streaming = event.message_id
            self._streamed.add(event.message_id)
            self.console.print(Text(indent).append_text(self._speaker(event)), end="")
        self.console.print(Text(event.content.replace("\n", "\n" + indent)), end="")

    def _close_stream(self) -> None:
        if self._streaming is not None:
            self._streaming = None
            self.console.print()

    def _line(self, text: Text, event: s.AgentEvent | None = None) -> None:
        self._close_stream()
        indent = self._indent(event) if event is not None else ""
        self.console.print(Text(indent).append_text(text))

    def _speaker(self, event: s.AgentEvent) -> Text:
        """The answer is labelled with its agent (only top-level runs' answers are shown)."""
        return Text(f"{event.agent_name}: ", "bold")

    def _indent(self, event: s.AgentEvent) -> str:
        return "  " * self.depth.get(event.run_id, 0)


def refused(console: Console, refusal: RequestError | MessageNotInVersion) -> None:
    """Say why the server (or the protocol version) refused a request, field by field."""
    console.print(Text(f"refused: {refusal}", "red"))
    for detail in getattr(refusal, "errors", ()):
        console.print(Text(f"  {detail.path}: {detail.reason}", "red"))


def _arguments(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in arguments.items())


def _tool_result(event: s.ToolCompleted) -> Text:
    took = f"({event.duration_ms:.1f} ms)"
    if event.status == "success":
        return Text(f"✓ {event.tool_name} → {json.dumps(event.result)} {took}", "green")
    return Text(f"✗ {event.tool_name} {event.status}: {event.error} {took}", "red")


# --- input ---------------------------------------------------------------------------------


def read_lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines of ``stream``, then ``None`` at its end, read on a daemon thread.

    A daemon thread, not the executor: a read blocked on a terminal must not
    keep the process alive after ``/quit``.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\r\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="chat-input", daemon=True).start()
    return lines


def _acts_now(line: str | None) -> bool:
    return line is not None and line.strip().partition(" ")[0] in _NOW


async def _line_or(lines: asyncio.Queue[str | None], event: asyncio.Event) -> tuple[bool, Any]:
    """The next line, or ``(False, None)`` as soon as ``event`` is set."""
    if not lines.empty():
        return True, lines.get_nowait()
    getter = asyncio.ensure_future(lines.get())
    waiter = asyncio.ensure_future(event.wait())
    await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if getter.done():
        return True, getter.result()
    getter.cancel()  # a cancelled Queue.get leaves its item in the queue
    with contextlib.suppress(asyncio.CancelledError):
        await getter
    return False, None


# --- the session ------------------------------------------------------------------------------


class ChatSession:
    """One chat: reads lines, sends messages and commands, waits for each run to end."""

    def __init__(
        self,
        conn: Connection,
        renderer: Renderer,
        console: Console,
        thread_id: str | None,
        agent: str | None = None,
    ) -> None:
        self.conn = conn
        self.renderer = renderer
        self.console = console
        self.thread_id = thread_id
        self.agent = agent  # None: the server's default
        self.later: deque[str | None] = deque()

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        """Process lines until ``/quit``, the end of input, or the end of the connection."""
        while not self.renderer.ended.is_set():
            if self.later:
                line = self.later.popleft()
            else:
                got_line, line = await _line_or(lines, self.renderer.ended)
                if not got_line:
                    return
            if line is None or line.strip() in ("/quit", "/exit"):
                return
            line = line.strip()
            if not line:
                continue
            try:
                if line.startswith("/"):
                    await self.command(line)
                else:
                    await self.ask(line, lines)
            except (RequestError, MessageNotInVersion) as refusal:
                refused(self.console, refusal)

    async def ask(self, content: str, lines: asyncio.Queue[str | None]) -> None:
        client_message_id = uuid.uuid4().hex
        self.renderer.sent.add(client_message_id)  # before sending: the echo may come first
        received = await self.conn.send_message(
            content,
            thread_id=self.thread_id,
            agent=self.agent,
            client_message_id=client_message_id,
        )
        if received.thread_id != self.thread_id:
            self.thread_id = received.thread_id
            self.console.print(Text(f"(thread {received.thread_id})", "dim"))
        finished = self.renderer.finished(received.run_id)
        while not finished.is_set():
            # In order: a command acts during the run once every line before it has.
            while self.later and _acts_now(self.later[0]):
                await self.command(str(self.later.popleft()).strip(), run_id=received.run_id)
            got_line, line = await _line_or(lines, finished)
            if not got_line:
                break
            self.later.append(line)

    async def command(self, line: str, run_id: str | None = None) -> None:
        name, _, argument = line.partition(" ")
        argument = argument.strip()
        if name == "/threads":
            await self.threads()
        elif name == "/new":
            thread = await self.conn.create_thread(argument or None)
            self.thread_id = thread.thread_id
            self.console.print(Text(f"new thread {thread.thread_id}", "dim"))
        elif name == "/thread" and argument:
            self.thread_id = argument
            self.console.print(Text(f"now in thread {argument}", "dim"))
        elif name == "/history":
            await self.history()
        elif name == "/agent":
            self.choose_agent(argument or None)
        elif name == "/stop":
            await self.stop(run_id)
        elif name in ("/approve", "/deny"):
            await self.approve(name == "/approve", argument or None, run_id)
        elif name == "/answer":
            await self.answer(argument, run_id)
        elif name == "/help":
            self.console.print(Text(HELP))
        else:
            self.console.print(Text(f"unknown command {name}; /help lists them", "yellow"))

    def choose_agent(self, name: str | None) -> None:
        """List the agents the welcome named, or pick one (the server checks the name)."""
        welcome = self.conn.welcome
        if name is not None:
            self.agent = name
            self.console.print(Text(f"talking to {name}", "dim"))
            return
        if welcome.agents is None:
            self.console.print(Text("this protocol version does not list agents (v3 does)", "dim"))
            return
        current = self.agent or welcome.default_agent
        for agent in welcome.agents:
            mark = "*" if agent.name == current else " "
            about = f"  {agent.description}" if agent.description else ""
            self.console.print(Text(f"{mark} {agent.name}{about}"))

    async def threads(self) -> None:
        page = await self.conn.list_threads(limit=20)
        if not page.threads:
            self.console.print(Text("no threads yet", "dim"))
        for thread in page.threads:
            mark = "*" if thread.thread_id == self.thread_id else " "
            when = datetime.fromtimestamp(thread.updated_at).strftime("%Y-%m-%d %H:%M")
            self.console.print(Text(f"{mark} {thread.thread_id}  {thread.title or ''}  ({when})"))

    async def history(self) -> None:
        if self.thread_id is None:
            self.console.print(Text("no thread yet: send a message or /new", "dim"))
            return
        page = await self.conn.history(self.thread_id, limit=50)
        for message in page.messages:
            who = "you" if message.role == "user" else "agent"
            self.console.print(Text(f"{who}: ", "bold").append(message.content))

    async def stop(self, run_id: str | None) -> None:
        if run_id is None:
            self.console.print(Text("nothing is running", "dim"))
            return
        with contextlib.suppress(RequestError):  # it ended before the stop arrived
            await self.conn.stop(run_id)

    async def approve(self, approved: bool, argument: str | None, run_id: str | None) -> None:
        """``/approve`` or ``/deny`` the first pending approval.

        ``argument`` is the reason of a denial, or the edited arguments (a JSON
        object) of an approval. A refused answer leaves the approval pending.
        """
        renderer = self.renderer
        await self._waiting(renderer.approvals, renderer.asking, run_id)
        if not renderer.approvals:
            self.console.print(Text("no tool call waits for approval", "dim"))
            return
        request = renderer.approvals[0]
        arguments = None
        reason = None if approved else argument
        if approved and argument is not None:
            try:
                arguments = json.loads(argument)
            except json.JSONDecodeError as exc:
                self.console.print(Text(f"not sent: the arguments are not JSON ({exc.msg})", "red"))
                return
            if not isinstance(arguments, dict):
                self.console.print(Text("not sent: the arguments must be a JSON object", "red"))
                return
        try:
            await self.conn.approve(
                request.run_id, request.tool_call_id, approved, reason, arguments=arguments
            )
        except RequestError as refusal:
            refused(self.console, refusal)
            return
        renderer.forget(request.tool_call_id)

    async def answer(self, text: str, run_id: str | None) -> None:
        """``/answer``: answer the first pending question; a refused answer leaves it pending."""
        renderer = self.renderer
        await self._waiting(renderer.questions, renderer.questioned, run_id)
        if not renderer.questions:
            self.console.print(Text("no question waits for an answer", "dim"))
            return
        question = renderer.questions[0]
        try:
            value = parse_answer(text, question.answer_schema)
        except ValueError as bad:
            self.console.print(Text(f"not sent: {bad}", "red"))
            return
        try:
            await self.conn.answer_question(question.run_id, question.question_id, value)
        except RequestError as refusal:
            refused(self.console, refusal)
            return
        renderer.forget(question.question_id)

    async def _waiting(self, pending: deque[Any], asked: asyncio.Event, run_id: str | None) -> None:
        """Typed (or piped) ahead of the request: wait for it, or for the run's end."""
        if run_id is None or pending:
            return
        finished = self.renderer.finished(run_id)
        waits = {asyncio.ensure_future(e.wait()) for e in (asked, finished)}
        _, still = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiter in still:
            waiter.cancel()


async def chat(
    url: str,
    token: str,
    *,
    version: str = "v3",
    thread_id: str | None = None,
    agent: str | None = None,
    stdin: TextIO | None = None,
    console: Console | None = None,
) -> int:
    """Run a chat session on ``url`` until ``/quit`` or the end of input.

    Returns:
        The process exit code: 0, or 1 when the connection failed.
    """
    out = console or Console(highlight=False, soft_wrap=True)
    renderer = Renderer(out)
    try:
        async with connect(url, token=token, version=version, on_state=renderer.state) as conn:
            out.print(Text(f"connected as {conn.user_id} (protocol {conn.version}); /help", "dim"))
            reading = asyncio.create_task(_render(conn, renderer))
            session = ChatSession(conn, renderer, out, thread_id, agent)
            try:
                await session.run(read_lines(stdin or sys.stdin))
            finally:
                if not reading.done():
                    reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading  # raises what ended the connection, if it failed
            return 0
    except ConnectionRejected as refused:
        out.print(Text(f"refused: {refused.reason} ({int(refused.code)})", "red"))
    except ClientError as failed:
        out.print(Text(f"connection failed: {failed}", "red"))
    return 1


async def _render(conn: Connection, renderer: Renderer) -> None:
    try:
        async for envelope in conn:
            renderer.show(envelope)
    finally:
        renderer.end_all()


def main(
    url: str,
    *,
    token: str | None,
    user: str | None,
    version: str = "v3",
    thread_id: str | None = None,
    agent: str | None = None,
) -> int:
    """The ``agentsocket chat`` command: get a token if needed, then chat.

    Without ``token``, a dev-mode gateway is asked for one (for ``user``, or
    for its default user when ``user`` is None).
    """
    err = Console(stderr=True, highlight=False)
    if token is not None and user is not None:
        err.print("give --token or --user, not both")
        return 2
    if version not in supported_versions():
        err.print(f"unknown protocol version {version}; choose {', '.join(supported_versions())}")
        return 2

    async def go() -> int:
        credential = token if token is not None else await dev_token(url, user)
        return await chat(url, credential, version=version, thread_id=thread_id, agent=agent)

    try:
        return asyncio.run(go())
    except RuntimeError as failed:
        err.print(str(failed))
        return 1
    except KeyboardInterrupt:
        return 130
