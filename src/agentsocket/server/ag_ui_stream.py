"""One run's AG-UI events as Server-Sent Events, read from the user's stream.

Each SSE event carries an ``id:`` (:class:`EventId`) that names where it came
from, so a client that reconnects with ``Last-Event-ID`` can be served exactly
the events after it: the run is replayed from its start through a fresh
:class:`~agentsocket.protocol.ag_ui.RunConverter` (the conversion is
deterministic) and everything up to that id is skipped.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
from ag_ui.core import BaseEvent, CustomEvent, RunErrorEvent
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agentsocket.delivery import Entry, Gap, Subscription
from agentsocket.protocol import ServerMessage
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import CUSTOM_PREFIX, RunConverter, encode_event

#: Seconds of silence after which the stream sends an SSE comment, so proxies keep it open.
KEEPALIVE_SECONDS = 15.0
#: ``RUN_ERROR.code`` when the stream's history was lost mid-run (a new epoch).
STREAM_LOST = "stream_lost"
_EVENT_ID = re.compile(
    # Seqs are at most 18 digits, as in the WebSocket resume (docs/gateway.md).
    r"^(?P<run>[^/]{1,128})/(?P<epoch>[^:/]{1,64}):(?P<start>\d{1,18}):(?P<seq>\d{1,18})"
    r"\.(?P<i>\d{1,6})$"
)
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True, slots=True)
class EventId:
    """Where an SSE event came from: ``<run id>/<epoch>:<start seq>:<seq>.<index>``.

    Attributes:
        run_id: the head run the stream follows.
        epoch: the user's stream epoch.
        start: the stream position just before the run; a replay starts after it.
        seq: the stream entry the event was converted from.
        index: the event's place among that entry's events.
    """

    run_id: str
    epoch: str
    start: int
    seq: int
    index: int

    def __str__(self) -> str:
        return f"{self.run_id}/{self.epoch}:{self.start}:{self.seq}.{self.index}"

    @classmethod
    def before(cls, run_id: str, epoch: str, start: int) -> EventId:
        """The position before the run's first event: nothing is skipped."""
        return cls(run_id, epoch, start, start, -1)

    @classmethod
    def parse(cls, text: str) -> EventId | None:
        """Read a ``Last-Event-ID``; None when it is not one of ours."""
        match = _EVENT_ID.match(text.strip())
        if match is None:
            return None
        start, seq, index = int(match["start"]), int(match["seq"]), int(match["i"])
        if seq < start:
            return None
        return cls(match["run"], match["epoch"], start, seq, index)


class SseResponse(StreamingResponse):
    """``text/event-stream`` of a run's events; closes its subscription however it ends.

    The stream's own ``async with`` cannot do it alone: a client that goes away
    before the first chunk means the generator never starts.
    """

    def __init__(self, subscription: Subscription, converter: RunConverter, after: EventId) -> None:
        super().__init__(
            events(subscription, converter, after),
            media_type="text/event-stream",
            headers=_HEADERS,
        )
        self.subscription = subscription

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.subscription.close()


def sse_response(
    subscription: Subscription, converter: RunConverter, after: EventId
) -> SseResponse:
    """The converter's events after ``after`` as SSE; the response owns ``subscription``."""
    return SseResponse(subscription, converter, after)


async def events(
    subscription: Subscription, converter: RunConverter, after: EventId
) -> AsyncIterator[str]:
    """SSE text for the run's events after ``after``, until its AG-UI run ends.

    Ends after ``RUN_FINISHED`` / ``RUN_ERROR`` (an interrupt's ``RUN_FINISHED``
    too), or when the subscription ends (the node shuts down: the client
    resumes elsewhere). Leaving, also because the client went away, closes
    the subscription; the run itself goes on.
    """
    async with subscription:
        while not converter.finished and not converter.interrupted:
            try:
                item = await asyncio.wait_for(anext(subscription), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            except StopAsyncIteration:
                return
            if isinstance(item, Gap):
                for text in _gap(item, after):
                    yield text
                if item.reason == "epoch_changed":
                    return
                continue
            assert isinstance(item, Entry)
            message = _decode(item.payload)
            if message is None:
                continue
            epoch = subscription.position.epoch
            for index, event in enumerate(converter.convert(message)):
                if (item.seq, index) <= (after.seq, after.index):
                    continue  # the client has it
                yield _sse(EventId(after.run_id, epoch, after.start, item.seq, index), event)


def _gap(gap: Gap, after: EventId) -> list[str]:
    """A ``CUSTOM`` ``agentsocket.stream_gap`` event for entries the client misses.

    When the stream's history itself is gone (``epoch_changed``) the run cannot
    be followed any further: a ``RUN_ERROR`` ``stream_lost`` ends it.
    """
    out: list[str] = []
    event_id = EventId(after.run_id, gap.epoch, after.start, gap.to_seq, 0)
    if gap.to_seq > after.seq or gap.reason == "epoch_changed":
        notice = s.StreamGap(
            epoch=gap.epoch, from_seq=gap.from_seq, to_seq=gap.to_seq, reason=gap.reason
        )
        value = notice.model_dump(mode="json")
        out.append(_sse(event_id, CustomEvent(name=CUSTOM_PREFIX + notice.TYPE, value=value)))
    if gap.reason == "epoch_changed":
        ended = RunErrorEvent(message="the stream's history was lost", code=STREAM_LOST)
        out.append(_sse(EventId(after.run_id, gap.epoch, after.start, gap.to_seq, 1), ended))
    return out


def _sse(event_id: EventId, event: BaseEvent) -> str:
    return f"id: {event_id}\ndata: {encode_event(event)}\n\n"


def _decode(payload: bytes) -> ServerMessage | None:
    """The head message of a stream entry (``None`` for a type this node does not know)."""
    frame = orjson.loads(payload)
    model = s.SERVER_MESSAGES.get(frame.get("type"))
    return None if model is None else model.model_validate(frame["data"])
