"""The async client: one logical connection that survives reconnects.

A :class:`Connection` (opened by :func:`agentsocket.client.connect`) speaks
one protocol version (v1, v2 or v3) through the codec, validates every frame
it reads, hands replies to the call waiting for them and everything else to
the application in order. When the socket drops, or the server closes with a
code that says "reconnect", it reconnects with backoff, resumes the user's
stream after the last ``seq`` it delivered and resends requests that are safe
to resend: the application sees every stream message exactly once. See
``docs/client.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Literal, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    NegotiationError,
)

from agentsocket.client.errors import (
    ClientError,
    ConnectionLost,
    ConnectionRejected,
    InvalidState,
    MessageNotInVersion,
    MissedEvents,
    ProtocolViolation,
    RequestError,
    RequestInterrupted,
)
from agentsocket.client.handshake import Outcome, after_close, handshake
from agentsocket.client.inbox import Inbox
from agentsocket.client.options import (
    DEFAULT_HEARTBEAT_INTERVAL,
    Options,
    State,
    StateChange,
)
from agentsocket.client.rejoin import RunFollower
from agentsocket.client.requests import (
    Completes,
    Pending,
    Requests,
    reply,
    resolved,
    run_end,
    tool_decided,
)
from agentsocket.client.stream import StreamCursor
from agentsocket.protocol import (
    TERMINAL_EVENTS,
    ClientEnvelope,
    ClientMessage,
    ErrorCode,
    ProtocolError,
    ServerEnvelope,
    ServerMessage,
    decode_server,
    encode_client,
)
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.versions import NotInVersion

log = logging.getLogger("agentsocket.client")

#: Largest server frame accepted, in bytes (a page of history can be large).
MAX_INBOUND_FRAME = 32 * 1024 * 1024

M = TypeVar("M", bound=ServerMessage)


class _Retryable(Exception):  # noqa: N818 - control flow: "this attempt failed, try again"
    """A connection attempt failed in a way another attempt may not."""


class Connection:
    """A logical connection to the gateway; obtained from :func:`~agentsocket.client.connect`.

    Iterate it for every message that is not the answer to a request (stream
    messages in ``seq`` order without duplicates, ``stream_gap``,
    ``deprecation_notice``, ``server_shutdown``, uncorrelated ``error``); call
    the request helpers from any task.
    """

    def __init__(self, url: str, options: Options) -> None:
        self.url = url
        self.options = options
        #: The last stream position delivered to the application.
        self.cursor = StreamCursor()
        self.state = State.CONNECTING
        self._welcome: s.ConnectionEstablished | None = None
        self._ws: ClientConnection | None = None
        self._generation = 0
        self._requests = Requests()
        self._inbox = Inbox()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self._failure: BaseException | None = None
        self._reconnect_floor = 0.0

    # --- what the connection is ----------------------------------------------------

    @property
    def welcome(self) -> s.ConnectionEstablished:
        """The latest welcome (``connection_established``); a reconnect replaces it."""
        if self._welcome is None:
            raise InvalidState("not connected yet")
        return self._welcome

    @property
    def version(self) -> str:
        """The negotiated protocol version (the one asked for: the server must echo it)."""
        return self.options.version.name

    @property
    def user_id(self) -> str:
        return self.welcome.user_id

    @property
    def connection_id(self) -> str:
        """This socket's id (empty in v1, whose welcome has none; changes on reconnect)."""
        return self.welcome.connection_id

    # --- life -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (retrying transient failures within the budget) and start reading.

        Raises:
            ConnectionRejected: the server refused (e.g. ``AuthenticationRefused``).
            ConnectionLost: no attempt succeeded.
            ProtocolViolation: the server did not speak the protocol.
        """
        if self._supervisor is not None:
            raise InvalidState("already opened")
        self._notify(StateChange(State.CONNECTING))
        try:
            try:
                ws, welcome = await self._dial()
            except _Retryable as failed:
                if not self.options.reconnect:
                    raise ConnectionLost(1, failed.__cause__) from failed.__cause__
                ws, welcome = await self._redial(failed.__cause__)
        except BaseException as exc:
            self._finish(exc if isinstance(exc, ClientError) else None)
            raise
        await self._ready(ws, welcome)
        self._supervisor = asyncio.create_task(self._supervise(ws))

    async def close(self) -> None:
        """Close the connection; pending requests fail with :class:`InvalidState`. Idempotent."""
        if self._closing:
            return
        self._closing = True
        ws = self._ws
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.close()
        self._finish(None)

    async def __aenter__(self) -> Connection:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- reading ----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ServerEnvelope]:
        return self._envelopes()

    async def receive(self) -> ServerEnvelope:
        """The next message for the application.

        Raises:
            InvalidState: the connection was closed and nothing is buffered.
            ClientError: what ended the connection (e.g. :class:`ConnectionLost`).
        """
        envelope = await self._inbox.take()
        if envelope is None:
            raise InvalidState("the connection is closed")
        return envelope

    async def messages(self) -> AsyncIterator[ServerMessage]:
        """Like iterating the connection, but yields the typed messages alone."""
        async for envelope in self._envelopes():
            yield envelope.message

    async def events(self, run_id: str) -> AsyncIterator[s.AgentEvent]:
        """The events of run ``run_id`` and its sub-runs, up to the run's terminal event.

        Takes only those events out of the connection's messages; everything
        else stays for the general iterator.

        Raises:
            MissedEvents: a ``stream_gap`` arrived; some of the run's events may be gone.
        """
        family = {run_id}

        def mine(envelope: ServerEnvelope) -> bool:
            message = envelope.message
            if isinstance(message, s.StreamGap):
                return True
            return isinstance(message, s.AgentEvent) and (
                message.run_id in family or message.parent_run_id in family
            )

        while (envelope := await self._inbox.take(mine)) is not None:
            message = envelope.message
            if isinstance(message, s.StreamGap):
                raise MissedEvents(message)
            assert isinstance(message, s.AgentEvent)
            family.add(message.run_id)
            yield message
            if message.run_id == run_id and message.TYPE in TERMINAL_EVENTS:
                return

    async def follow(self, history: s.ThreadHistory) -> AsyncIterator[ServerMessage]:
        """The thread's runs in flight, whole: the answer's ``events``, then the live tail.

        Yields the events ``history`` carries, then the runs' stream messages
        with a seq past ``history.stream_seq`` (those at or before it are
        dropped: the answer had them), until each run has ended. Every event
        comes once, however far the run was when the thread was opened.
        Ends at once when nothing was in flight (and on v1/v2, which carry none).

        Raises:
            MissedEvents: a ``stream_gap`` arrived; some of the runs' events may be gone.
        """
        follower = RunFollower(history, self.options.version)
        for message in follower.snapshot:
            yield message
        while not follower.done:
            envelope = await self._inbox.take(follower.concerns)
            if envelope is None:
                return
            message = envelope.message
            if isinstance(message, s.StreamGap):
                raise MissedEvents(message)
            if not follower.fresh(envelope):
                continue
            follower.track(message)
            yield message

    async def _envelopes(self) -> AsyncIterator[ServerEnvelope]:
        while (envelope := await self._inbox.take()) is not None:
            yield envelope

    # --- requests -------------------------------------------------------------------------

    async def send_message(
        self,
        content: str,
        *,
        thread_id: str | None = None,
        client_message_id: str | None = None,
        agent: str | None = None,
        metadata: dict[str, Any] | None = None,
        traceparent: str | None = None,
        double_texting: Literal["reject", "enqueue", "interrupt"] | None = None,
    ) -> s.MessageReceived:
        """Send a ``user_message``; returns the server's receipt once it is stored.

        Resent after a reconnect with the same ``client_message_id`` (one is
        made up if not given), so it starts one run however often it is sent.

        Args:
            thread_id: the thread to post in; ``None`` starts a new thread.
            agent: the agent to run; the server's default if ``None``.
            traceparent: a W3C ``traceparent``: the run's trace joins yours (docs/tracing.md).
            double_texting: if the thread's run is still going: ``reject``,
                ``enqueue`` (the receipt says ``queued``) or ``interrupt``; the
                server's setting if ``None``. Not sent to a v2 or v1 server.

        Raises:
            ValueError: a malformed ``traceparent`` (pydantic's ValidationError), before sending.
            RequestError: e.g. ``not_found`` (thread), ``too_many_runs``,
                ``conflict`` (double-texting ``reject``: ``run_id`` is the running run).
            TimeoutError: no receipt within ``request_timeout``.
        """
        message = c.UserMessage(
            content=content,
            thread_id=thread_id,
            client_message_id=client_message_id or uuid.uuid4().hex,
            agent=agent,
            metadata=metadata or {},
            traceparent=traceparent,
            double_texting=double_texting,
        )
        return await self._call(message, s.MessageReceived, resend=True)

    async def stop(self, run_id: str) -> s.AgentEvent:
        """Stop a run; returns its terminal event (``agent_cancelled``, or how it ended first).

        Raises:
            RequestError: ``not_found`` when the run is not running.
        """
        cid = _correlation_id()
        wait = self.options.request_timeout
        return await self._request(
            c.StopAgent(run_id=run_id), run_end(run_id), cid, s.AgentEvent, False, wait
        )

    async def approve(
        self,
        run_id: str,
        tool_call_id: str,
        approved: bool,
        reason: str | None = None,
        *,
        arguments: dict[str, Any] | None = None,
    ) -> s.ToolExecuting | s.ToolCompleted:
        """Answer a ``tool_approval_required`` (v3 only), from any connection of the user.

        Args:
            arguments: run the tool with these arguments instead (approved
                only); they must satisfy the request's ``arguments_schema``
                (``None`` there: the arguments cannot be edited).

        Returns:
            The call's next event: ``tool_executing`` (with the arguments it
            runs with) when approved, ``tool_completed`` with status ``denied`` when not.

        Raises:
            MessageNotInVersion: the connection speaks v1 or v2.
            RequestError: ``not_found`` when no such approval is pending,
                ``conflict`` when it was answered already (here or elsewhere) or
                expired, ``validation_failed`` when the edited arguments do not
                satisfy the schema (``errors`` name the fields; it stays pending).
        """
        message = c.ToolApproval(
            run_id=run_id,
            tool_call_id=tool_call_id,
            approved=approved,
            reason=reason,
            arguments=arguments,
        )
        cid = _correlation_id()
        completes = tool_decided(run_id, tool_call_id)
        wait = self.options.request_timeout
        event = await self._request(message, completes, cid, s.AgentEvent, False, wait)
        assert isinstance(event, s.ToolExecuting | s.ToolCompleted)
        return event

    async def answer_question(
        self, run_id: str, question_id: str, answer: Any
    ) -> s.InterruptResolved:
        """Answer an ``agent_question`` (v3 only), from any connection of the user.

        ``answer`` must satisfy the question's ``answer_schema``. Not resent
        after a reconnect: the server may have taken it already.

        Returns:
            The question's ``interrupt_resolved`` (every connection of the user gets it).

        Raises:
            MessageNotInVersion: the connection speaks v1 or v2.
            RequestError: ``validation_failed`` when the answer does not satisfy
                the schema (``errors`` name the fields, e.g.
                ``$.data.answer.rating``; the question stays open), ``conflict``
                when it was answered already or expired, ``not_found`` when no
                such question is pending.
        """
        message = c.QuestionAnswer(run_id=run_id, question_id=question_id, answer=answer)
        cid = _correlation_id()
        wait = self.options.request_timeout
        completes = resolved(run_id, question_id)
        return await self._request(message, completes, cid, s.InterruptResolved, False, wait)

    async def create_thread(self, title: str | None = None) -> s.ThreadInfo:
        """Create an empty thread."""
        created = await self._call(c.CreateThread(title=title), s.ThreadCreated, resend=False)
        return created.thread

    async def list_threads(self, limit: int = 50, before: str | None = None) -> s.ThreadList:
        """One page of the user's threads, newest first; pass ``next_before`` for the next."""
        message = c.ListThreads(limit=limit, before=before)
        return await self._call(message, s.ThreadList, resend=True)

    async def history(
        self, thread_id: str, limit: int = 50, before: str | None = None
    ) -> s.ThreadHistory:
        """One page of a thread's messages, oldest first; pass ``next_before`` for older ones."""
        message = c.GetThreadHistory(thread_id=thread_id, limit=limit, before=before)
        return await self._call(message, s.ThreadHistory, resend=True)

    async def rename_thread(self, thread_id: str, title: str) -> s.ThreadInfo:
        """Rename a thread; returns it as renamed."""
        message = c.RenameThread(thread_id=thread_id, title=title)
        renamed = await self._call(message, s.ThreadRenamed, resend=True)
        return renamed.thread

    async def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and its messages."""
        message = c.DeleteThread(thread_id=thread_id)
        await self._call(message, s.ThreadDeleted, resend=False)

    async def ping(self) -> s.Pong:
        """Round trip to the server; ``time.time() - pong.client_time`` is the latency."""
        message = c.Ping(client_time=time.time())
        return await self._call(message, s.Pong, resend=True)

    async def _call(self, message: ClientMessage, kind: type[M], *, resend: bool) -> M:
        cid = _correlation_id()
        wait = self.options.request_timeout
        return await self._request(message, reply(kind, cid), cid, kind, resend, wait)

    async def _request(
        self,
        message: ClientMessage,
        completes: Completes,
        cid: str,
        kind: type[M],
        resend: bool,
        wait: float,
    ) -> M:
        if self._failure is not None:
            raise self._failure
        if self.state is State.CLOSED:
            raise InvalidState("the connection is closed")
        envelope = ClientEnvelope(message, cid)
        try:
            frame = encode_client(envelope, self.options.version).decode()
        except NotInVersion as missing:
            raise MessageNotInVersion(missing.type_name, self.version) from None
        waiter: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        pending = Pending(envelope, frame, completes, resend, waiter)
        self._requests.add(pending)
        try:
            async with asyncio.timeout(wait):
                if self.state is State.OPEN:
                    await self._transmit(pending)
                answer = await waiter
        finally:
            self._requests.remove(pending)
        assert isinstance(answer, kind)
        return answer

    async def _transmit(self, pending: Pending) -> bool:
        ws, generation = self._ws, self._generation
        if ws is None:
            return False
        try:
            await ws.send(pending.frame)
        except ConnectionClosed:
            return False  # sent again after the reconnect
        pending.sent_on = max(pending.sent_on, generation)
        return True

    # --- the connection's life, on the supervisor task -----------------------------------

    async def _supervise(self, ws: ClientConnection) -> None:
        try:
            while True:
                outcome = await self._serve(ws)
                if self._closing:
                    return
                if outcome is Outcome.END:
                    self._finish(None)
                    return
                ws, welcome = await self._redial(None)
                await self._ready(ws, welcome)
        except ClientError as exc:
            self._finish(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pragma: no cover - a bug of ours; do not hang the app
            log.exception("client connection failed")
            self._finish(exc)

    async def _ready(self, ws: ClientConnection, welcome: s.ConnectionEstablished) -> None:
        """Adopt a new socket: send what waited for it, then open the connection."""
        self._generation += 1
        self._ws, self._welcome = ws, welcome
        self.cursor.welcome(welcome)
        await self._flush(self._generation)
        self._notify(StateChange(State.OPEN))

    async def _serve(self, ws: ClientConnection) -> Outcome:
        """Read one socket until it closes; returns what to do next."""
        generation = self._generation
        heartbeat = None
        if self.options.heartbeat:
            interval = (
                self.options.heartbeat_interval
                or self.welcome.heartbeat_interval
                or DEFAULT_HEARTBEAT_INTERVAL
            )
            heartbeat = asyncio.create_task(self._heartbeat(ws, interval))
        try:
            while True:
                self._handle(await ws.recv())
        except ConnectionClosed:
            pass
        except ProtocolViolation:
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.close(1002, "invalid frame")
            raise
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            if not self._closing:
                self.state = State.RECONNECTING
                for pending in self._requests.interrupted(generation):
                    dropped = RequestInterrupted("the connection dropped during the request")
                    _settle(pending, dropped)
        rcvd = ws.protocol.close_rcvd
        outcome = after_close(rcvd.code if rcvd else None, rcvd.reason if rcvd else "")
        if isinstance(outcome, ConnectionRejected):
            raise outcome
        return outcome

    async def _flush(self, generation: int) -> None:
        """Send what waited for this connection; requests made meanwhile too."""
        while batch := self._requests.unsent(generation):
            for pending in batch:
                if not await self._transmit(pending):
                    return  # dropped again: the next connection sends them

    def _handle(self, frame: str | bytes) -> None:
        decoded = decode_server(frame, self.options.version)
        if isinstance(decoded, ProtocolError):
            if decoded.code is ErrorCode.UNKNOWN_TYPE:
                # Forward compatible: a newer server may add message types.
                log.warning("ignoring a server message: %s", decoded.message)
                return
            raise ProtocolViolation(f"invalid server frame: {decoded.message}", decoded, frame)
        message = decoded.message
        if isinstance(message, s.ConnectionEstablished) or not self.cursor.accept(decoded):
            return
        if isinstance(message, s.ServerShutdown):
            self._reconnect_floor = message.reconnect_after
        outcomes, consumed = self._requests.route(decoded)
        for pending, answer in outcomes:
            _settle(pending, answer)
        if not consumed:
            self._inbox.put(decoded)

    async def _heartbeat(self, ws: ClientConnection, interval: float) -> None:
        """Ping every ``interval``; no pong within ``heartbeat_timeout`` means a dead socket."""
        while True:
            await asyncio.sleep(interval)
            cid = _correlation_id()
            try:
                await self._request(
                    c.Ping(client_time=time.time()),
                    reply(s.Pong, cid),
                    cid,
                    s.Pong,
                    False,
                    self.options.heartbeat_timeout,
                )
            except TimeoutError:
                timeout = self.options.heartbeat_timeout
                log.warning("no pong within %ss: dropping the connection", timeout)
                ws.transport.abort()
                return
            except (RequestError, RequestInterrupted):
                continue  # e.g. rate limited: the connection is alive
            except ClientError:
                return  # the connection is over; the supervisor reports why

    async def _redial(
        self, error: BaseException | None
    ) -> tuple[ClientConnection, s.ConnectionEstablished]:
        """Reconnect with backoff; the retry budget counts failed attempts in a row."""
        if not self.options.reconnect:
            raise ConnectionLost(0, error)
        retries = self.options.max_retries
        for attempt in range(1, retries + 1):
            delay = self.options.backoff.delay(attempt - 1, self._reconnect_floor)
            self._reconnect_floor = 0.0
            self._notify(StateChange(State.RECONNECTING, attempt, delay, error))
            await asyncio.sleep(delay)
            try:
                return await self._dial()
            except _Retryable as failed:
                error = failed.__cause__
                log.info("reconnect attempt %d failed: %r", attempt, error)
        raise ConnectionLost(retries, error)

    async def _dial(self) -> tuple[ClientConnection, s.ConnectionEstablished]:
        """One connection attempt, up to the welcome.

        Raises:
            _Retryable: a transient failure (network, timeout, 5xx, a reconnect close code).
            ClientError: the server refused, or broke the protocol.
        """
        options, version = self.options, self.options.version
        ticket = None
        if options.ticket_factory is not None:
            try:
                ticket = await options.ticket_factory()
            except Exception as failed:  # e.g. the ticket endpoint is down too
                raise _Retryable() from failed
        request = handshake(
            self.url,
            version,
            token=options.token,
            ticket=ticket,
            resume=self.cursor.resume_query(),
        )
        try:
            ws = await ws_connect(
                request.url,
                subprotocols=list(request.subprotocols),  # type: ignore[arg-type]
                additional_headers=request.headers,
                open_timeout=options.open_timeout,
                ping_interval=None,  # the heartbeat is the protocol's ping
                max_size=MAX_INBOUND_FRAME,
            )
        except InvalidStatus as refused:
            status = refused.response.status_code
            if status >= 500:
                raise _Retryable() from refused
            raise ConnectionRejected(status, f"HTTP {status} refused the handshake") from None
        except NegotiationError as broken:
            raise ProtocolViolation(f"the server broke the handshake: {broken}") from None
        except (OSError, TimeoutError, InvalidHandshake) as failed:
            raise _Retryable() from failed
        try:
            return ws, await self._read_welcome(ws)
        except BaseException:
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.close()
            raise

    async def _read_welcome(self, ws: ClientConnection) -> s.ConnectionEstablished:
        version = self.options.version
        if ws.subprotocol != version.subprotocol:
            raise ProtocolViolation(
                f"asked for subprotocol {version.subprotocol!r}, the server chose "
                f"{ws.subprotocol!r}"
            )
        try:
            async with asyncio.timeout(self.options.open_timeout):
                frame = await ws.recv()
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            outcome = after_close(rcvd.code if rcvd else None, rcvd.reason if rcvd else "")
            if isinstance(outcome, ConnectionRejected):
                raise outcome from None
            raise _Retryable() from closed
        except TimeoutError as slow:
            raise _Retryable() from slow
        decoded = decode_server(frame, version)
        if isinstance(decoded, ProtocolError):
            raise ProtocolViolation(f"invalid welcome: {decoded.message}", decoded, frame)
        welcome = decoded.message
        if not isinstance(welcome, s.ConnectionEstablished):
            raise ProtocolViolation(
                f"expected the welcome first, got {welcome.TYPE!r}", None, frame
            )
        if welcome.protocol_version != version.name:
            raise ProtocolViolation(
                f"asked for {version.name}, the welcome says {welcome.protocol_version}"
            )
        return welcome

    def _finish(self, error: BaseException | None) -> None:
        """The connection is over: settle every waiter and end the inbox."""
        if self.state is State.CLOSED:
            return
        self._failure = error
        self._ws = None
        ended = error if error is not None else InvalidState("the connection is closed")
        for pending in self._requests:
            _settle(pending, ended)
        self._inbox.end(error)
        self._notify(StateChange(State.CLOSED, error=error))

    def _notify(self, change: StateChange) -> None:
        self.state = change.state
        if self.options.on_state is not None:
            try:
                self.options.on_state(change)
            except Exception:
                log.exception("on_state callback failed")


def _correlation_id() -> str:
    return uuid.uuid4().hex


def _settle(pending: Pending, answer: ServerMessage | BaseException) -> None:
    waiter: asyncio.Future[ServerMessage] = pending.waiter
    if waiter.done():
        return
    if isinstance(answer, BaseException):
        waiter.set_exception(answer)
    else:
        waiter.set_result(answer)
