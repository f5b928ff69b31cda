"""The one router: every inbound frame is decoded by the protocol codec and dispatched.

A bad frame gets a typed ``error`` reply (code, message, field paths,
correlation id) and the connection stays usable; too many refused frames in a
row close it with 4008 (``ABUSE``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agentsocket.delivery import BrokerUnavailable, Position
from agentsocket.protocol import (
    ClientEnvelope,
    ClientMessage,
    CloseCode,
    ErrorCode,
    ProtocolError,
    decode_client,
)
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.server.ratelimit import TokenBucket
from agentsocket.store import InvalidArgument, NotFound, Thread

if TYPE_CHECKING:
    from agentsocket.server.gateway import Gateway
    from agentsocket.server.session import Session

log = logging.getLogger("agentsocket.router")

Handler = Callable[["Router", "Session", Any, str | None], Awaitable[None]]
_HANDLERS: dict[type[ClientMessage], Handler] = {}


def handles(kind: type[ClientMessage]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[kind] = handler
        return handler

    return register


def thread_info(thread: Thread) -> s.ThreadInfo:
    return s.ThreadInfo(
        thread_id=thread.id,
        title=thread.title,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
    )


class Router:
    """Decodes, rate-limits and dispatches the frames of every connection."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._user_buckets: dict[str, TokenBucket] = {}

    def user_bucket(self, user_id: str) -> TokenBucket:
        bucket = self._user_buckets.get(user_id)
        if bucket is None:
            s_ = self.gateway.settings
            bucket = self._user_buckets[user_id] = TokenBucket(s_.rate_per_user, s_.burst_per_user)
        return bucket

    def forget_user(self, user_id: str) -> None:
        self._user_buckets.pop(user_id, None)

    async def handle(self, session: Session, frame: str | bytes) -> None:
        """Process one inbound frame of ``session``."""
        settings = self.gateway.settings
        wait = max(session.bucket.take(), self.user_bucket(session.user_id).take())
        if wait > 0:
            self.refuse(
                session,
                ProtocolError(ErrorCode.RATE_LIMITED, "too many messages; slow down"),
                retry_after=round(wait, 3),
            )
            return
        decoded = decode_client(frame, session.connection.version, settings.max_frame_size)
        if isinstance(decoded, ProtocolError):
            self.refuse(session, decoded)
            return
        session.refusals = 0
        self.gateway.metrics.frames_in.labels(decoded.type).inc()
        handler = _HANDLERS[type(decoded.message)]
        try:
            await handler(self, session, decoded.message, decoded.correlation_id)
        except NotFound as exc:
            self.error(session, ErrorCode.NOT_FOUND, str(exc), decoded)
        except InvalidArgument as exc:
            self.error(session, ErrorCode.VALIDATION_FAILED, str(exc), decoded)
        except BrokerUnavailable:
            self.send_error(
                session,
                ProtocolError(
                    ErrorCode.UNAVAILABLE,
                    "the message stream is unavailable; retry shortly",
                    (),
                    decoded.correlation_id,
                ),
                retry_after=1.0,
            )
        except Exception:
            # A bug of ours must cost one request, not the connection.
            log.exception(
                "handler failed",
                extra={
                    "connection_id": session.connection.id,
                    "correlation_id": decoded.correlation_id,
                    "type": decoded.type,
                },
            )
            self.error(session, ErrorCode.INTERNAL, "internal error; the request failed", decoded)

    def refuse(
        self, session: Session, error: ProtocolError, retry_after: float | None = None
    ) -> None:
        """Answer a refused frame; close the connection after too many in a row."""
        self.gateway.metrics.frames_in.labels("refused").inc()
        log.debug(  # debug: a flood must not become a log flood
            "frame refused",
            extra={
                "connection_id": session.connection.id,
                "code": error.code.value,
                "correlation_id": error.correlation_id,
            },
        )
        self.send_error(session, error, retry_after)
        session.refusals += 1
        if session.refusals >= self.gateway.settings.abuse_threshold:
            session.connection.close_soon(CloseCode.ABUSE, "too many refused frames")

    def error(
        self, session: Session, code: ErrorCode, message: str, envelope: ClientEnvelope
    ) -> None:
        self.send_error(session, ProtocolError(code, message, (), envelope.correlation_id))

    def send_error(
        self, session: Session, error: ProtocolError, retry_after: float | None = None
    ) -> None:
        self.gateway.metrics.errors.labels(error.code.value).inc()
        details = [s.ErrorDetail(path=i.path, reason=i.reason) for i in error.issues]
        reply = s.Error(
            code=error.code, message=error.message, errors=details, retry_after=retry_after
        )
        session.connection.reply(reply, error.correlation_id)


# --- handlers ----------------------------------------------------------------------------


@handles(c.Ping)
async def _ping(router: Router, session: Session, message: c.Ping, cid: str | None) -> None:
    reply = s.Pong(server_time=time.time(), client_time=message.client_time)
    session.connection.reply(reply, cid)


@handles(c.Resume)
async def _resume(router: Router, session: Session, message: c.Resume, cid: str | None) -> None:
    current = await router.gateway.broker.position(session.user_id)
    await session.resume(Position(message.epoch or current.epoch, message.last_seq))


@handles(c.UserMessage)
async def _user_message(
    router: Router, session: Session, message: c.UserMessage, cid: str | None
) -> None:
    await router.gateway.runs.submit(session, message, cid)


@handles(c.StopAgent)
async def _stop(router: Router, session: Session, message: c.StopAgent, cid: str | None) -> None:
    await router.gateway.runs.stop(session, message, cid)


@handles(c.ToolApproval)
async def _approval(
    router: Router, session: Session, message: c.ToolApproval, cid: str | None
) -> None:
    await router.gateway.runs.approve(session, message, cid)


@handles(c.CreateThread)
async def _create(
    router: Router, session: Session, message: c.CreateThread, cid: str | None
) -> None:
    thread = await router.gateway.get_store().create_thread(session.user_id, message.title)
    await router.gateway.publish(session.user_id, s.ThreadCreated(thread=thread_info(thread)), cid)


@handles(c.ListThreads)
async def _list(router: Router, session: Session, message: c.ListThreads, cid: str | None) -> None:
    store = router.gateway.get_store()
    threads = await store.list_threads(session.user_id, message.limit + 1, message.before)
    page, more = threads[: message.limit], len(threads) > message.limit
    reply = s.ThreadList(
        threads=[thread_info(t) for t in page],
        has_more=more,
        next_before=page[-1].id if more and page else None,
    )
    session.connection.reply(reply, cid)


@handles(c.GetThreadHistory)
async def _history(
    router: Router, session: Session, message: c.GetThreadHistory, cid: str | None
) -> None:
    store = router.gateway.get_store()
    page = await store.history(session.user_id, message.thread_id, message.limit, message.before)
    reply = s.ThreadHistory(
        thread_id=message.thread_id,
        messages=[
            s.HistoryMessage(
                message_id=m.id,
                role=m.role,
                content=m.content,
                run_id=m.run_id,
                created_at=m.created_at,
            )
            for m in page.messages
        ],
        has_more=page.has_more,
        next_before=page.cursor,
    )
    session.connection.reply(reply, cid)


@handles(c.RenameThread)
async def _rename(
    router: Router, session: Session, message: c.RenameThread, cid: str | None
) -> None:
    store = router.gateway.get_store()
    thread = await store.rename_thread(session.user_id, message.thread_id, message.title)
    await router.gateway.publish(session.user_id, s.ThreadRenamed(thread=thread_info(thread)), cid)


@handles(c.DeleteThread)
async def _delete(
    router: Router, session: Session, message: c.DeleteThread, cid: str | None
) -> None:
    await router.gateway.get_store().delete_thread(session.user_id, message.thread_id)
    await router.gateway.publish(session.user_id, s.ThreadDeleted(thread_id=message.thread_id), cid)


missing = set(c.CLIENT_MESSAGES.values()) - set(_HANDLERS)
if missing:  # pragma: no cover - a new client message without a handler fails at import
    raise RuntimeError(f"no handler for {sorted(m.TYPE for m in missing)}")
