"""A run's timeline into the store: kept in memory, written in batches.

Every event of a run and its sub-runs that reaches the user's stream is
recorded, except ``agent_message_delta``: the ``agent_message`` that follows
carries the whole text, so the deltas would only repeat it. Recording costs
no store round trip per event. The recorder writes (one INSERT of the new
events) when :data:`FLUSH_ITEMS` events are waiting, at most
:data:`FLUSH_INTERVAL` seconds after the oldest waiting one, in the
background, and once more when the run's own terminal event comes, before
that event is published: a client that sees the run end finds its whole
timeline stored.

A process killed mid-run leaves the checkpoints it made: a prefix of the
timeline, each batch whole. A request the run waits at (an approval, a
question) is a checkpoint too, so a run continued after a restart records on
after it (``after``). Its root terminal event is missing, so history
reports the timeline as incomplete (and the run ends as ``gateway_lost`` or
``worker_lost``).

Caps, so one run cannot fill the store or a history page:

- text fields (``content``, ``message``, ``error``, ``reason``) longer than
  :data:`MAX_TEXT` characters are cut, with ``…`` at the end;
- a tool's ``arguments`` or ``result`` longer than :data:`MAX_JSON` bytes of
  JSON become a preview: the JSON's start as a string (for ``arguments``,
  as ``{"truncated": "…"}``, keeping its object shape);
- past :data:`MAX_ITEMS` events or :data:`MAX_RUN_BYTES` bytes, only terminal
  events are stored; the rest are omitted, counted as gaps in the positions.

Every cut field is named in the item's ``truncated``. U+0000, which
PostgreSQL cannot store, becomes U+FFFD.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from agentsocket.agents.sink import EventSink
from agentsocket.protocol.server_messages import AgentEvent, AgentMessageDelta
from agentsocket.store import TimelineItem, is_unavailable

log = logging.getLogger("agentsocket.runs")

#: ``append(run_id, items)``: store a batch (``Store.append_timeline``).
AppendTimeline = Callable[[str, Sequence[TimelineItem]], Awaitable[None]]

FLUSH_ITEMS = 64
FLUSH_INTERVAL = 2.0
MAX_TEXT = 32_768
MAX_JSON = 8_192
MAX_ITEMS = 1_000
MAX_RUN_BYTES = 512 * 1024

_TEXT_FIELDS = ("content", "message", "error", "reason")
_JSON_FIELDS = ("arguments", "result")
_TERMINAL = frozenset({"agent_completed", "agent_error", "agent_cancelled"})
#: Requests a run waits at: the timeline is stored up to them at once.
PAUSES = frozenset({"tool_approval_required", "agent_question"})
_ELLIPSIS = "…"


def timeline_item(position: int, event: AgentEvent) -> TimelineItem:
    """``event`` as a stored item: its wire ``data``, capped and NUL-free."""
    data: dict[str, Any] = event.model_dump(mode="json")
    if b"\\u0000" in orjson.dumps(data):
        data = _without_nul(data)
    truncated: list[str] = []
    for name in _TEXT_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            data[name] = value[: MAX_TEXT - 1] + _ELLIPSIS
            truncated.append(name)
    for name in _JSON_FIELDS:
        if name not in data:
            continue
        text = orjson.dumps(data[name])
        if len(text) > MAX_JSON:
            preview = text[:MAX_JSON].decode(errors="ignore") + _ELLIPSIS
            data[name] = {"truncated": preview} if name == "arguments" else preview
            truncated.append(name)
    return TimelineItem(position, event.TYPE, data, tuple(truncated))


class TimelineRecorder:
    """Records one run's timeline and stores it in batches.

    Args:
        append: stores a batch; called at most once at a time.
        run_id: the root run's id (the store's).
    """

    def __init__(
        self,
        append: AppendTimeline,
        run_id: str,
        *,
        flush_items: int = FLUSH_ITEMS,
        flush_interval: float = FLUSH_INTERVAL,
        after: int = 0,
    ) -> None:
        self.run_id = run_id
        self._append = append
        self._flush_items = flush_items
        self._flush_interval = flush_interval
        self._waiting: list[TimelineItem] = []
        self._position = after  # a run continued after a restart records after what is stored
        self._stored_items = 0
        self._stored_bytes = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._broken = False

    @property
    def waiting(self) -> int:
        """Events recorded but not stored yet."""
        return len(self._waiting)

    def record(self, event: AgentEvent) -> None:
        """Keep ``event`` (no I/O); a batch may start storing in the background."""
        if isinstance(event, AgentMessageDelta) or self._broken:
            return
        self._position += 1
        if self._stored_items >= MAX_ITEMS and event.TYPE not in _TERMINAL:
            return  # omitted (a gap in the positions), without building what it would store
        try:
            item = timeline_item(self._position, event)
            size = len(orjson.dumps(item.data))
        except Exception:  # e.g. a result nested past orjson's depth limit: omitted
            log.warning("could not record an event of a run", extra={"run_id": self.run_id})
            return
        over = self._stored_items >= MAX_ITEMS or self._stored_bytes + size > MAX_RUN_BYTES
        if over and item.type not in _TERMINAL:
            return  # omitted: a gap in the positions
        self._stored_items += 1
        self._stored_bytes += size
        self._waiting.append(item)
        if len(self._waiting) >= self._flush_items:
            self._flush_soon()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._flush_interval, self._flush_soon)

    async def close(self) -> None:
        """Store what is waiting, after any batch in flight; errors are logged, not raised."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._flush()

    def _flush_soon(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        async with self._lock:
            batch, self._waiting = self._waiting, []
            if not batch or self._broken:
                return
            try:
                await self._append(self.run_id, batch)
            except Exception as exc:
                if is_unavailable(exc):
                    # Kept for the next checkpoint; positions stay in order.
                    self._waiting[:0] = batch
                    log.warning("timeline not stored yet", extra={"run_id": self.run_id})
                else:
                    self._broken = True  # a run deleted with its thread, or a bug: stop trying
                    log.exception("timeline not stored", extra={"run_id": self.run_id})


class RecordingSink:
    """An event sink that records the run's timeline, then passes each event on.

    The run's own terminal event, and a request the run waits at, wait for the
    timeline to be stored before they go on, so whoever sees them can read the
    whole timeline up to them.
    """

    def __init__(self, inner: EventSink, recorder: TimelineRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    async def emit(self, event: AgentEvent) -> None:
        kind = event.TYPE
        if kind in PAUSES or (kind in _TERMINAL and event.run_id == self._recorder.run_id):
            # Stored before anyone sees it: the run's end, or a request it may wait at for
            # hours while its process may die.
            self._recorder.record(event)
            await self._recorder.close()
            await self._inner.emit(event)
            return
        await self._inner.emit(event)
        self._recorder.record(event)


def _without_nul(value: Any) -> Any:
    """``value`` with U+0000 replaced by U+FFFD in every string and key."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
