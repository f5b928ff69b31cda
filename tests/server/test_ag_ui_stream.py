"""SSE of one run's AG-UI events from a user's stream: ids, replay after an id, gaps."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ag_ui_validate.pytest_plugin import assert_valid_agui
from starlette.types import Message

from agentsocket.delivery import MemoryBroker, Position
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import RunConverter
from agentsocket.runs.stream import stream_payload
from agentsocket.server.ag_ui_stream import EventId, events, sse_response

USER = "u"
RUN = "run_1"


def ev(kind: type[s.AgentEvent], **fields: Any) -> s.AgentEvent:
    return kind(run_id=RUN, thread_id="t", agent_name="demo", **fields)


RUN_EVENTS = [
    ev(s.AgentStarted),
    ev(s.AgentMessageDelta, message_id="m", content="a"),
    ev(s.AgentMessageDelta, message_id="m", content="b"),
    ev(s.AgentMessage, message_id="m", content="ab"),
    ev(s.AgentCompleted, duration_ms=1),
]


async def publish_run(broker: MemoryBroker) -> Position:
    """Publish the run after an unrelated entry; returns the position before the run."""
    await broker.publish(USER, stream_payload(s.ThreadDeleted(thread_id="other"), None))
    before = await broker.position(USER)
    for message in RUN_EVENTS:
        await broker.publish(USER, stream_payload(message, None))
    return before


def parse(texts: list[str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for text in texts:
        lines = dict(line.split(": ", 1) for line in text.strip().splitlines())
        out.append((lines["id"], json.loads(lines["data"])))
    return out


async def collect(broker: MemoryBroker, start: Position, after: EventId) -> list[str]:
    subscription = await broker.subscribe(USER, resume_from=start)
    return [text async for text in events(subscription, RunConverter(RUN), after)]


def test__event_id__str_and_parse__round_trip() -> None:
    event_id = EventId("run_1", "ep0ch", 4, 9, 2)

    assert str(event_id) == "run_1/ep0ch:4:9.2"
    assert EventId.parse(str(event_id)) == event_id


def test__event_id__not_ours__none() -> None:
    for text in ("", "run_1", "run_1/e:4:9", "run_1/e:9:4.0", "run_1/e:1:2.x", "a/b/c:1:2.0"):
        assert EventId.parse(text) is None, text
    assert EventId.parse("run_1/e:1:" + "9" * 40 + ".0") is None


async def test__whole_run__events_with_increasing_ids__valid() -> None:
    async with MemoryBroker() as broker:
        before = await publish_run(broker)
        texts = await collect(broker, before, EventId.before(RUN, before.epoch, before.seq))

    received = parse(texts)
    assert_valid_agui([data for _, data in received])
    ids = [EventId.parse(event_id) for event_id, _ in received]
    assert [(i.seq, i.index) for i in ids if i] == [
        (2, 0),  # RUN_STARTED
        (3, 0),  # TEXT_MESSAGE_START
        (3, 1),  # its CONTENT
        (4, 0),
        (5, 0),
        (6, 0),
    ]
    assert all(i is not None and i.start == before.seq == 1 for i in ids)


async def test__after_an_id__exactly_the_rest() -> None:
    async with MemoryBroker() as broker:
        before = await publish_run(broker)
        whole = await collect(broker, before, EventId.before(RUN, before.epoch, before.seq))
        cut = 2
        last = EventId.parse(parse(whole)[cut - 1][0])
        assert last is not None
        rest = await collect(broker, before, last)

    assert whole[:cut] + rest == whole


async def test__retention_dropped_some__gap_event_then_the_rest() -> None:
    async with MemoryBroker(max_entries=3) as broker:
        before = await publish_run(broker)
        texts = await collect(broker, before, EventId.before(RUN, before.epoch, before.seq))

    kinds = [(data["type"], data.get("name")) for _, data in parse(texts)]
    assert kinds[0] == ("CUSTOM", "agentsocket.stream_gap")
    assert kinds[-1] == ("RUN_FINISHED", None)


async def test__epoch_changed_mid_run__gap_then_run_error() -> None:
    async with MemoryBroker() as broker:
        await publish_run(broker)
        stale = Position("an-old-epoch", 1)
        texts = await collect(broker, stale, EventId.before(RUN, stale.epoch, stale.seq))

    received = [data for _, data in parse(texts)]
    assert [d["type"] for d in received] == ["CUSTOM", "RUN_ERROR"]
    assert received[1]["code"] == "stream_lost"


async def test__client_gone_before_the_first_event__subscription_closed() -> None:
    async with MemoryBroker() as broker:
        subscription = await broker.subscribe(USER)
        start = subscription.position
        response = sse_response(
            subscription, RunConverter(RUN), EventId.before(RUN, start.epoch, start.seq)
        )
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.start":
                # The client is gone before the body starts: the generator never runs.
                await asyncio.Event().wait()

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}
        await response(scope, receive, send)

        assert subscription.closed
