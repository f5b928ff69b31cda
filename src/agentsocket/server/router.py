"""The one router: each decoded client request goes to its handler.

A handler gets the gateway's services and a :class:`Request` (who asked,
how to answer); it answers with ``request.send()`` — the emitter routes the
message by its ``STREAM`` flag — or ``request.error()``. Errors a handler
raises become typed answers here; an unexpected one costs that request
(``internal``), never the connection. ``resume`` is not here: it changes the
connection's own delivery, so the session handles it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from agentsocket.delivery import BrokerUnavailable
from agentsocket.protocol import ClientMessage, ErrorCode
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.server.context import Request
from agentsocket.server.gateway import Gateway
from agentsocket.server.rejoin import history_cut, stream_head
from agentsocket.server.views import run_timeline, thread_info
from agentsocket.store import InvalidArgument, NotFound, is_unavailable

Handler = Callable[[Gateway, Request, Any], Awaitable[None]]
_HANDLERS: dict[type[ClientMessage], Handler] = {}


def handles(kind: type[ClientMessage]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[kind] = handler
        return handler

    return register


async def dispatch(gateway: Gateway, request: Request, message: ClientMessage) -> None:
    """Run the handler of ``message``; every failure becomes a typed answer."""
    try:
        await _HANDLERS[type(message)](gateway, request, message)
    except NotFound as exc:
        request.error(ErrorCode.NOT_FOUND, str(exc))
    except InvalidArgument as exc:
        request.error(ErrorCode.VALIDATION_FAILED, str(exc))
    except BrokerUnavailable:
        request.error(
            ErrorCode.UNAVAILABLE, "the message stream is unavailable; retry shortly", 1.0
        )
    except Exception as exc:
        if is_unavailable(exc):  # nothing was stored (writes are atomic): a retry is safe
            request.log.warning("store unavailable", extra={"type": message.TYPE})
            request.error(ErrorCode.UNAVAILABLE, "the store is unavailable; retry shortly", 1.0)
            return
        # A bug of ours must cost one request, not the connection.
        request.log.exception("handler failed", extra={"type": message.TYPE})
        request.error(ErrorCode.INTERNAL, "internal error; the request failed")


@handles(c.Ping)
async def _ping(gateway: Gateway, request: Request, message: c.Ping) -> None:
    await request.send(s.Pong(server_time=time.time(), client_time=message.client_time))


@handles(c.UserMessage)
async def _user_message(gateway: Gateway, request: Request, message: c.UserMessage) -> None:
    await gateway.runs.submit(request, message)


@handles(c.StopAgent)
async def _stop(gateway: Gateway, request: Request, message: c.StopAgent) -> None:
    await gateway.runs.stop(request, message)


@handles(c.ToolApproval)
async def _approval(gateway: Gateway, request: Request, message: c.ToolApproval) -> None:
    await gateway.runs.approve(request, message)


@handles(c.QuestionAnswer)
async def _answer(gateway: Gateway, request: Request, message: c.QuestionAnswer) -> None:
    await gateway.runs.answer(request, message)


@handles(c.CreateThread)
async def _create(gateway: Gateway, request: Request, message: c.CreateThread) -> None:
    thread = await gateway.store.create_thread(request.user_id, message.title)
    await request.send(s.ThreadCreated(thread=thread_info(thread)))


@handles(c.ListThreads)
async def _list(gateway: Gateway, request: Request, message: c.ListThreads) -> None:
    page = await gateway.store.thread_page(request.user_id, message.limit, message.before)
    await request.send(
        s.ThreadList(
            threads=[thread_info(t) for t in page.threads],
            has_more=page.has_more,
            next_before=page.cursor,
        )
    )


@handles(c.GetThreadHistory)
async def _history(gateway: Gateway, request: Request, message: c.GetThreadHistory) -> None:
    user, thread = request.user_id, message.thread_id
    first_page = message.before is None
    # The first page also carries the thread's runs in flight; the order of these
    # reads is what makes it exact (server/rejoin.py).
    floor = await _stream_head(gateway, user) if first_page else None
    first_page = floor is not None
    store = gateway.get_store()
    running = await store.running_run_ids(user, thread) if first_page else []
    page = await store.history_page(user, thread, message.limit, message.before)
    messages = [
        s.HistoryMessage(
            message_id=m.id,
            role=m.role,
            content=m.content,
            run_id=m.run_id,
            created_at=m.created_at,
        )
        for m in page.messages
    ]
    cut = None
    if floor is not None:
        with contextlib.suppress(BrokerUnavailable):  # the page alone, as before rejoin existed
            cut = await history_cut(
                gateway.broker, user, thread, floor=floor, running=running, page=messages
            )
    rejoined = set() if cut is None else {e.data.get("run_id") for e in cut.events}
    await request.send(
        s.ThreadHistory(
            thread_id=thread,
            messages=messages,
            has_more=page.has_more,
            next_before=page.cursor,
            # A run in flight is shown from the stream (exact up to the cut), not from
            # its stored timeline so far.
            runs=[run_timeline(t) for t in page.timelines if t.run_id not in rejoined],
            events=[] if cut is None else cut.events,
            stream_seq=None if cut is None else cut.seq,
        )
    )


async def _stream_head(gateway: Gateway, user_id: str) -> int | None:
    """The stream head, or None while the stream cannot be reached (no runs in the page)."""
    try:
        return await stream_head(gateway.broker, user_id)
    except BrokerUnavailable:
        return None


@handles(c.RenameThread)
async def _rename(gateway: Gateway, request: Request, message: c.RenameThread) -> None:
    thread = await gateway.store.rename_thread(request.user_id, message.thread_id, message.title)
    await request.send(s.ThreadRenamed(thread=thread_info(thread)))


@handles(c.DeleteThread)
async def _delete(gateway: Gateway, request: Request, message: c.DeleteThread) -> None:
    await gateway.store.delete_thread(request.user_id, message.thread_id)
    await request.send(s.ThreadDeleted(thread_id=message.thread_id))


missing = set(c.CLIENT_MESSAGES.values()) - set(_HANDLERS) - {c.Resume}
if missing:  # pragma: no cover - a new client message without a handler fails at import
    raise RuntimeError(f"no handler for {sorted(m.TYPE for m in missing)}")
