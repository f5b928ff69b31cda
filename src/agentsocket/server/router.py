"""The one router: each decoded client request goes to its handler.

A handler gets the gateway's services and a :class:`Request` (who asked,
how to answer); it answers with ``request.send()`` — the emitter routes the
message by its ``STREAM`` flag — or ``request.error()``. Errors a handler
raises become typed answers here; an unexpected one costs that request
(``internal``), never the connection. ``resume`` is not here: it changes the
connection's own delivery, so the session handles it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from agentsocket.delivery import BrokerUnavailable
from agentsocket.protocol import ClientMessage, ErrorCode
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.server.context import Request
from agentsocket.server.gateway import Gateway
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
    page = await gateway.store.history_page(
        request.user_id, message.thread_id, message.limit, message.before
    )
    await request.send(
        s.ThreadHistory(
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
            runs=[run_timeline(t) for t in page.timelines],
        )
    )


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
