"""Any AG-UI server as an agent: POST ``RunAgentInput``, read its Server-Sent Events.

A run posts the thread's earlier turns and the prompt (``Accept:
text/event-stream``), parses the SSE body as it arrives (:mod:`.sse`),
validates each event with the official ``ag_ui.core`` models and maps it
(:mod:`.mapping`) onto the :class:`~agentsocket.agents.runtime.RunContext`:
streamed text, tool calls the server's agent runs, thinking. A run that
finishes with interrupts asks the user to approve each (``tool_approval_required``)
and resumes with a new request carrying the answers as ``resume`` entries.
Events with no counterpart are logged at debug level and counted in
``agentsocket_ag_ui_events_skipped_total`` (label ``event_type``), shown on
every gateway's ``/metrics`` (:mod:`agentsocket.agents.adapters.metrics`).

Cancelling the run (``stop_agent``, a timeout) cancels the task reading the
stream, which closes the HTTP request at once.

Failures end the run with ``agent_error``:

==========================================  ==========================  =========
cause                                       code                        retryable
==========================================  ==========================  =========
connection refused, DNS failure             ``upstream_unreachable``    yes
no connection, byte or answer in time       ``upstream_timeout``        yes
HTTP 429                                    ``upstream_rate_limited``   yes
HTTP 5xx; ``RUN_ERROR`` from the server     ``upstream_error``          yes
HTTP 4xx, 3xx (a redirect)                  ``upstream_error``          no
malformed SSE, invalid event, bad order     ``upstream_malformed``      no
an event (or the stream) over its byte cap  ``upstream_too_large``      no
connection lost before ``RUN_FINISHED``     ``upstream_disconnected``   yes
==========================================  ==========================  =========
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from ag_ui.core import BaseEvent, Interrupt, Message, ResumeEntry
from prometheus_client import Counter

from agentsocket.agents.adapters.ag_ui.errors import EventTooLargeError, UpstreamProtocolError
from agentsocket.agents.adapters.ag_ui.mapping import (
    EVENT_LABELS,
    UNKNOWN,
    Action,
    CloseMessage,
    Fail,
    Finish,
    FinishTool,
    OpenMessage,
    RunMapper,
    Skip,
    StartTool,
    Think,
    UnknownEvent,
    WriteMessage,
    conversation,
    encode_input,
    parse_event,
    resume_entry,
    run_input,
)
from agentsocket.agents.adapters.ag_ui.sse import SSEParser
from agentsocket.agents.adapters.metrics import register
from agentsocket.agents.errors import AgentFailure
from agentsocket.agents.history import newest_turns
from agentsocket.agents.runtime import MessageStream, RunContext, ToolCallReport
from agentsocket.protocol.codes import AgentErrorCode

logger = logging.getLogger(__name__)

#: Events the adapter skipped, by AG-UI event type (a fixed set of labels); process-wide,
#: on the gateways' registries (not on prometheus_client's default one).
SKIPPED_EVENTS = register(
    Counter(
        "agentsocket_ag_ui_events_skipped",
        "AG-UI events with no agentsocket counterpart, by event type.",
        ["event_type"],
        registry=None,
    )
)
for _label in EVENT_LABELS:
    SKIPPED_EVENTS.labels(event_type=_label)

#: Seconds to read on after ``RUN_FINISHED``, for events that break the order.
AFTER_FINISH = 2.0
#: Characters of an error body or message shown to the user.
_MAX_DETAIL = 300
#: Bytes of an error response read to show its start.
_MAX_ERROR_BODY = 4096


class AGUIAgent:
    """An agent served by any AG-UI server (PydanticAI, LangGraph, CrewAI, Mastra, ...).

    Args:
        name: the agent's name in events.
        url: the server's AG-UI endpoint, e.g. ``http://localhost:8000/agent``.
        headers: sent with every request, e.g. ``{"Authorization": "Bearer ..."}``;
            never shown in events or logs.
        description: what the agent does, for clients choosing an agent.
        connect_timeout: seconds to connect.
        read_timeout: seconds the stream may stay silent (no byte, not even a
            comment) before the run fails with ``upstream_timeout``.
        max_event_bytes: most bytes one SSE event may take.
        max_stream_bytes: most bytes one response may take.
        max_resumes: most times one run is resumed after interrupts.
        max_history_messages: most earlier messages of the thread sent, the newest kept.
        max_history_chars: most characters of earlier messages sent.
        http_client: a client to use (and close) yourself; by default the agent
            makes one, closed by :meth:`aclose`.
    """

    def __init__(
        self,
        name: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        description: str | None = None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        max_event_bytes: int = 4 * 1024 * 1024,
        max_stream_bytes: int = 256 * 1024 * 1024,
        max_resumes: int = 8,
        max_history_messages: int = 20,
        max_history_chars: int = 24_000,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"an AG-UI URL must be http:// or https://, got {url!r}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("AG-UI timeouts must be positive")
        if max_event_bytes < 1 or max_stream_bytes < max_event_bytes:
            raise ValueError("max_event_bytes must be >= 1 and <= max_stream_bytes")
        if max_resumes < 0 or max_history_messages < 0 or max_history_chars < 0:
            raise ValueError("max_resumes and the history caps must be >= 0")
        self.name = name
        self.url = url
        self.description = description or f"An AG-UI agent at {httpx.URL(url).host}"
        self._headers = httpx.Headers(headers or {})
        self._headers["Accept"] = "text/event-stream"
        self._headers["Content-Type"] = "application/json"
        # Waiting for a free pooled connection (many runs at once) counts as reading.
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=connect_timeout, pool=read_timeout
        )
        self._max_event_bytes = max_event_bytes
        self._max_stream_bytes = max_stream_bytes
        self._max_resumes = max_resumes
        self._max_history_messages = max_history_messages
        self._max_history_chars = max_history_chars
        self._client = http_client
        self._owns_client = http_client is None

    def __repr__(self) -> str:
        # Never the headers: they hold credentials.
        return f"AGUIAgent(name={self.name!r}, url={self.url!r})"

    async def aclose(self) -> None:
        """Close the HTTP client the agent made (not one passed in)."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, ctx: RunContext, prompt: str) -> None:
        # A sub-agent answers its delegator's prompt, not the thread.
        turns = [] if ctx.parent_run_id is not None else await ctx.history()
        history = newest_turns(
            turns, max_messages=self._max_history_messages, max_chars=self._max_history_chars
        )
        messages = conversation(ctx.thread_id, history, prompt)
        session = _Session(ctx)
        try:
            await self._converse(ctx, messages, session)
        except asyncio.CancelledError:
            raise  # stopped: the calls stay as they are, like a cancelled ctx.tool
        except BaseException:
            await session.close()
            raise
        await session.close()

    async def _converse(self, ctx: RunContext, messages: list[Message], session: _Session) -> None:
        """The first request, then one more per round of interrupts answered."""
        body = run_input(ctx.thread_id, ctx.run_id, messages)
        for resumes in range(self._max_resumes + 1):
            interrupts = await self._request(encode_input(body), session)
            if not interrupts:
                return
            if resumes == self._max_resumes:
                raise AgentFailure(
                    AgentErrorCode.AGENT_FAILED,
                    f"the AG-UI agent still asked for approval after {resumes} resumes",
                )
            answers = [await session.approve(interrupt) for interrupt in interrupts]
            session.mapper.next_request()
            body = run_input(
                ctx.thread_id,
                f"{ctx.run_id}-resume-{resumes + 1}",
                [*messages, *session.mapper.transcript],
                resume=answers,
            )

    async def _request(self, body: bytes, session: _Session) -> list[Interrupt]:
        """POST one ``RunAgentInput``, carry out its events; return the interrupts it ended with."""
        client = self._http()
        parser = SSEParser(
            max_event_bytes=self._max_event_bytes, max_stream_bytes=self._max_stream_bytes
        )
        try:
            async with client.stream(
                "POST", self.url, content=body, headers=self._headers, timeout=self._timeout
            ) as response:
                if not response.is_success:
                    raise await _http_failure(response)
                _check_content_type(response)
                return await self._read(response, parser, session)
        except httpx.ConnectError as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_UNREACHABLE,
                f"could not connect to the AG-UI server {_safe_url(self.url)}: {exc}",
                retryable=True,
            ) from exc
        except httpx.PoolTimeout as exc:
            raise _timeout(self._timeout.pool, "had no free connection within", exc) from exc
        except httpx.ConnectTimeout as exc:
            raise _timeout(
                self._timeout.connect, "did not accept the connection within", exc
            ) from exc
        except httpx.TimeoutException as exc:
            raise _timeout(self._timeout.read, "did not answer within", exc) from exc
        except httpx.TransportError as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_ERROR,
                f"could not talk to the AG-UI server: {type(exc).__name__}: {exc}",
                retryable=True,
            ) from exc
        except EventTooLargeError as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_TOO_LARGE, f"the AG-UI server sent too much: {exc}"
            ) from exc
        except UpstreamProtocolError as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_MALFORMED, f"the AG-UI server broke the protocol: {exc}"
            ) from exc

    async def _read(
        self, response: httpx.Response, parser: SSEParser, session: _Session
    ) -> list[Interrupt]:
        """Carry out the events of one response; the interrupts its run finished with.

        After ``RUN_FINISHED`` the body is read on to its end, at most
        :data:`AFTER_FINISH` seconds, so events after it are caught as errors.
        """
        result: list[Interrupt] | None = None
        try:
            async with asyncio.timeout(None) as deadline:
                async for chunk in response.aiter_bytes():
                    for sse in parser.feed(chunk):
                        interrupts = await session.handle(parse_event(sse.data))
                        if result is None and session.mapper.finished:
                            result = interrupts
                            loop = asyncio.get_running_loop()
                            deadline.reschedule(loop.time() + AFTER_FINISH)
        except TimeoutError:
            if result is None:
                raise  # not the deadline's: cannot happen, but never hide it
            logger.debug("the AG-UI server kept its stream open after RUN_FINISHED")
        except httpx.TimeoutException as exc:
            if result is None:
                raise _timeout(self._timeout.read, "sent nothing for", exc) from exc
        except httpx.DecodingError as exc:
            raise UpstreamProtocolError(f"the body could not be decoded: {exc}") from exc
        except httpx.TransportError as exc:
            if result is None:
                raise _disconnected(f"{type(exc).__name__}: {exc}") from exc
        if result is None:
            raise _disconnected("the stream ended")
        return result

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client


class _Session:
    """One run of ours: the mapper, open messages and tool calls across its requests."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.mapper = RunMapper()
        self._messages: dict[str, MessageStream] = {}
        self._calls: dict[str, ToolCallReport] = {}
        self._denied: dict[str, str] = {}

    async def handle(self, event: BaseEvent | UnknownEvent) -> list[Interrupt]:
        """Carry out one parsed event; the interrupts if it finished the run with some."""
        if isinstance(event, UnknownEvent):
            logger.debug("skipping an AG-UI event of unknown type %r", event.type_name)
        interrupts: list[Interrupt] = []
        for action in self.mapper.feed(event):
            interrupts += await self._do(action)
        return interrupts

    async def _do(self, action: Action) -> list[Interrupt]:
        ctx = self.ctx
        match action:
            case Think(text):
                await ctx.think(text)
            case OpenMessage(ident):
                stream = self._messages[ident] = ctx.message()
                await stream.__aenter__()
            case WriteMessage(ident, delta):
                await self._messages[ident].write(delta)
            case CloseMessage(ident):
                await self._messages.pop(ident).__aexit__(None, None, None)
            case StartTool(ident, name, arguments):
                self._calls[ident] = await ctx.tool_call(name, arguments, call_id=ident)
            case FinishTool(ident, result):
                report = self._calls.pop(ident, None)
                if report is not None and ident in self._denied:
                    # The server's result for a denied call is its note about the denial.
                    await report.failed(self._denied.pop(ident), status="denied")
                elif report is not None:
                    await report.succeeded(result)
            case Finish(interrupts):
                return list(interrupts)
            case Fail(message, code):
                detail = f"{message} ({code})" if code else message
                raise AgentFailure(
                    AgentErrorCode.UPSTREAM_ERROR,
                    f"the AG-UI agent failed: {detail[:_MAX_DETAIL]}",
                    retryable=True,
                )
            case Skip(label):
                if label != UNKNOWN:
                    logger.debug("skipping an AG-UI %s event", label)
                SKIPPED_EVENTS.labels(event_type=label).inc()
        return []

    async def approve(self, interrupt: Interrupt) -> ResumeEntry:
        """Ask the user about one interrupt; its ``resume`` entry."""
        call = self.mapper.tool_call(interrupt.tool_call_id) if interrupt.tool_call_id else None
        arguments: dict[str, Any]
        if call is not None and interrupt.tool_call_id is not None:
            name, arguments = call
            call_id = interrupt.tool_call_id
        else:
            name = interrupt.reason
            arguments = {"message": interrupt.message} if interrupt.message else {}
            call_id = interrupt.id
        decision = await self.ctx.ask_approval(name, arguments, call_id=call_id)
        if not decision.approved and call_id in self._calls:
            self._denied[call_id] = decision.reason or "the user denied this tool call"
        return resume_entry(interrupt, decision.approved, decision.reason)

    async def close(self) -> None:
        """Complete the tool calls the server left without a result."""
        for ident, report in self._calls.items():
            if ident in self._denied:
                await report.failed(self._denied[ident], status="denied")
            else:
                await report.failed("the AG-UI server sent no result for this tool call")
        self._calls.clear()


def _safe_url(url: str) -> str:
    """``url`` without credentials or query, which may hold secrets, for messages."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def _check_content_type(response: httpx.Response) -> None:
    kind = response.headers.get("content-type", "")
    if not kind.split(";")[0].strip().lower() == "text/event-stream":
        raise UpstreamProtocolError(
            f"the response is {kind or 'untyped'}, not text/event-stream"[:_MAX_DETAIL]
        )


async def _http_failure(response: httpx.Response) -> AgentFailure:
    status = response.status_code
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= _MAX_ERROR_BODY:
            break
    detail = bytes(body).decode("utf-8", "replace").strip()[:_MAX_DETAIL] or response.reason_phrase
    if status == 429:
        return AgentFailure(
            AgentErrorCode.UPSTREAM_RATE_LIMITED,
            f"the AG-UI server is rate limiting requests (HTTP 429): {detail}",
            retryable=True,
        )
    if 300 <= status < 400:
        where = _safe_url(response.headers.get("location", "elsewhere"))
        return AgentFailure(
            AgentErrorCode.UPSTREAM_ERROR,
            f"the AG-UI server redirects (HTTP {status}) to {where}: configure that URL",
        )
    retryable = status >= 500
    verb = "failed" if retryable else "refused the request"
    return AgentFailure(
        AgentErrorCode.UPSTREAM_ERROR,
        f"the AG-UI server {verb} (HTTP {status}): {detail}",
        retryable=retryable,
    )


def _timeout(seconds: float | None, what: str, exc: Exception) -> AgentFailure:
    return AgentFailure(
        AgentErrorCode.UPSTREAM_TIMEOUT,
        f"the AG-UI server {what} {seconds:g} s ({type(exc).__name__})",
        retryable=True,
    )


def _disconnected(why: str) -> AgentFailure:
    return AgentFailure(
        AgentErrorCode.UPSTREAM_DISCONNECTED,
        f"the AG-UI server's stream broke off before RUN_FINISHED: {why}"[:_MAX_DETAIL],
        retryable=True,
    )
