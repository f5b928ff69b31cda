"""One consumer's view of a user's stream: log replay, then live entries, never a hole.

Both brokers share this class; a broker only has to

* hand every live entry to ``_deliver()`` as it is published (in seq order,
  without ever blocking: the subscription buffers a bounded number),
* answer ``read()`` with an atomic snapshot of the log (``LogRead``),
* call ``_resync()`` after an outage, and ``_end()`` when it closes.

A consumer that wants live entries without a task switch registers a
listener (``listen()``): while the consumer is idle with nothing pending —
waiting in ``__anext__``, or parked by ``next_ready()`` returning ``None`` —
the next contiguous live entry is handed to the listener right inside
``_deliver()``, in the publisher's call. Anything else (a backlog, a gap, a
consumer that is busy) goes through iteration as before; a parked consumer
is told so by the listener's ``on_backlog`` callback, so it needs no task
waiting in ``__anext__`` while nothing is owed.

An idle subscription holds no buffers: its queues and its waiter are made
when first needed and dropped once empty (an empty ``deque`` alone reserves
about 600 bytes, and a node may hold tens of thousands of subscriptions).

The subscription trusts the live feed only while it is contiguous. Whenever
it cannot be sure (start, a skipped seq, an overflowing buffer, a reconnect,
an entry from another epoch) it reads the log from its last seq and drops
live entries it already has, so the consumer sees every entry exactly once,
in order, or a ``Gap`` saying which ones the log no longer holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from agentsocket.delivery.errors import BrokerUnavailable
from agentsocket.delivery.types import Entry, Gap, GapReason, Item, Position

logger = logging.getLogger("agentsocket.delivery")


@dataclass(frozen=True, slots=True)
class LogRead:
    """One atomic read of a user's stream.

    ``entries`` are the retained entries with ``seq > after_seq``, oldest first,
    at most ``limit`` of them; ``last_seq`` is the newest seq of the stream.
    """

    epoch: str
    last_seq: int
    entries: list[Entry]


class StreamSource(Protocol):
    """What a subscription needs from its broker."""

    async def read(self, user_id: str, after_seq: int, limit: int) -> LogRead:
        """Read the stream's epoch, head and up to ``limit`` entries after ``after_seq``.

        Raises:
            BrokerUnavailable: the log cannot be reached; the broker will call
                ``_resync()`` on every subscription once it can again.
        """
        ...

    async def detach(self, subscription: Subscription) -> None:
        """Stop feeding ``subscription`` live entries."""
        ...


class Subscription:
    """Async iterator over one user's stream: yields ``Entry`` and ``Gap`` items.

    Obtain one from ``Broker.subscribe()``; iterate it with ``async for``; end it
    with ``close()`` (or use it as an async context manager). Iteration stops
    when the subscription or its broker is closed. One task at a time may
    iterate a subscription.

    ``position`` is where the consumer stands: after the last item yielded
    (``Position(gap.epoch, gap.to_seq)`` for a gap), or the starting point before
    the first one. Store it to resume later, on any node.
    """

    __slots__ = (
        "_batch_size",
        "_buffer_size",
        "_closed",
        "_epoch",
        "_epoch_changed",
        "_idle",
        "_last",
        "_listener",
        "_live",
        "_needs_sync",
        "_on_backlog",
        "_pos_epoch",
        "_pos_seq",
        "_ready",
        "_source",
        "_stalled",
        "_waiter",
        "user_id",
    )

    def __init__(
        self, source: StreamSource, user_id: str, *, buffer_size: int, batch_size: int
    ) -> None:
        if buffer_size < 1 or batch_size < 1:
            raise ValueError("buffer_size and batch_size must be >= 1")
        self.user_id = user_id
        self._source = source
        self._buffer_size = buffer_size
        self._batch_size = batch_size
        # Live entries not yet consumed, tagged with the epoch they were published in.
        self._live: deque[tuple[str, Entry]] | None = None
        # Items taken from the log, waiting for the consumer; at most one batch.
        self._ready: deque[Item] | None = None
        self._epoch = ""
        self._last = 0  # highest seq taken from the log or the live feed
        self._pos_epoch = ""  # position of the consumer, built lazily by .position
        self._pos_seq = 0
        self._needs_sync = False
        self._epoch_changed = False  # the next item must be an epoch_changed gap
        self._stalled = False  # the log is unreachable; wait for _resync()
        self._closed = False
        self._idle = False  # the consumer waits in __anext__, or is parked, with nothing pending
        self._listener: Callable[[Entry], None] | None = None
        self._on_backlog: Callable[[], None] | None = None
        self._waiter: asyncio.Future[None] | None = None  # the consumer waiting in __anext__

    @property
    def position(self) -> Position:
        """Epoch and seq after the last item yielded (the starting point before any)."""
        return Position(self._pos_epoch, self._pos_seq)

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called or the broker closed."""
        return self._closed

    async def close(self) -> None:
        """Stop the subscription; a pending or later ``__anext__`` ends the iteration."""
        if self._closed:
            return
        self._end()
        await self._source.detach(self)

    def listen(
        self,
        listener: Callable[[Entry], None] | None,
        on_backlog: Callable[[], None] | None = None,
    ) -> None:
        """Hand live entries to ``listener`` directly while the consumer is idle.

        The listener runs inside the publisher's call, so it must not block
        and must not raise (an exception would reach the publisher). Entries
        it gets count as yielded: ``position`` moves past them.

        Args:
            on_backlog: called (once, also inside the publisher's call, with
                the same rules) when the consumer is parked by
                :meth:`next_ready` and something it must iterate arrived: an
                entry the listener cannot take, or a resync. The consumer
                then calls :meth:`next_ready` until it returns ``None``.
        """
        self._listener = listener
        self._on_backlog = on_backlog

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Item:
        while True:
            item = await self._step()
            if item is not None:
                return item
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            self._idle = True
            try:
                await waiter
            finally:
                self._waiter = None
                self._idle = False

    async def next_ready(self) -> Item | None:
        """The next item if one is owed now, else ``None`` instead of waiting.

        ``None`` parks the consumer: live entries go to the listener, and
        ``on_backlog`` (see :meth:`listen`) says when to call this again. It
        also ends a closed subscription's iteration.
        """
        self._idle = False
        try:
            item = await self._step()
        except StopAsyncIteration:
            return None
        if item is None:
            self._idle = True
        return item

    async def _step(self) -> Item | None:
        """The next item owed (reading the log if need be); ``None`` if the consumer must wait."""
        while True:
            if self._closed:
                raise StopAsyncIteration
            ready = self._ready
            if ready:
                item = ready.popleft()
                if not ready:
                    self._ready = None
                if isinstance(item, Gap):
                    self._pos_epoch, self._pos_seq = item.epoch, item.to_seq
                else:
                    self._pos_epoch, self._pos_seq = self._epoch, item.seq
                return item
            if self._needs_sync and not self._stalled:
                await self._sync()
                continue
            live = self._live
            if live and not self._needs_sync:
                epoch, entry = live.popleft()
                if not live:
                    self._live = None
                if entry.seq <= self._last and epoch == self._epoch:
                    continue  # already delivered from the log
                if epoch != self._epoch or entry.seq != self._last + 1:
                    # A lost message or a new epoch: the log knows what happened.
                    self._needs_sync = True
                    continue
                self._last = self._pos_seq = entry.seq
                self._pos_epoch = self._epoch
                return entry
            return None

    def _queue_ready(self, item: Item) -> None:
        if self._ready is None:
            self._ready = deque()
        self._ready.append(item)

    def _wake(self) -> None:
        """Something is owed to the consumer: wake it, or tell a parked one (``on_backlog``)."""
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        elif self._idle and self._on_backlog is not None:
            self._idle = False  # told once; it iterates until parked again
            self._on_backlog()

    # -- called by the broker -------------------------------------------------

    async def _start(self, resume_from: Position | None) -> None:
        """Fix the starting point; the broker already feeds live entries."""
        if resume_from is None:
            head = await self._source.read(self.user_id, 0, 0)
            self._epoch = head.epoch
            self._last = head.last_seq
            self._pos_epoch, self._pos_seq = head.epoch, head.last_seq
            return
        self._pos_epoch, self._pos_seq = resume_from.epoch, resume_from.seq
        read = await self._source.read(self.user_id, resume_from.seq, self._batch_size)
        self._epoch = read.epoch
        if read.epoch == resume_from.epoch and resume_from.seq <= read.last_seq:
            self._last = resume_from.seq
            self._take(read)
        else:
            # A position from another history: it says nothing about what the
            # client missed, so it gets the gap and then live entries.
            self._last = read.last_seq
            self._queue_ready(Gap(read.epoch, 1, read.last_seq, "epoch_changed"))

    def _deliver(self, epoch: str, entry: Entry) -> None:
        """Take one live entry; never blocks (a full buffer is dropped and re-read)."""
        if self._closed:
            return
        if (
            self._idle
            and self._listener is not None
            and not self._live
            and not self._ready
            and not self._needs_sync
            and epoch == self._epoch
            and entry.seq == self._last + 1
        ):
            self._last = self._pos_seq = entry.seq
            self._pos_epoch = epoch
            self._listener(entry)
            return
        live = self._live
        if live is None:
            live = self._live = deque()
        if len(live) >= self._buffer_size:
            self._live = None
            self._needs_sync = True
            logger.debug("subscriber of %s fell behind; will catch up from the log", self.user_id)
        else:
            live.append((epoch, entry))
        self._wake()

    def _resync(self) -> None:
        """The log is reachable again after an outage: catch up from it."""
        self._stalled = False
        self._needs_sync = True
        self._wake()

    def _end(self) -> None:
        self._closed = True
        self._live = None
        self._ready = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- catching up from the log --------------------------------------------

    async def _sync(self) -> None:
        self._needs_sync = False
        try:
            read = await self._source.read(self.user_id, self._last, self._batch_size)
            while read.epoch != self._epoch:
                logger.info(
                    "stream of %s changed epoch %s -> %s", self.user_id, self._epoch, read.epoch
                )
                retired = self._epoch
                # Everything in the new epoch was published after what this
                # subscription delivered, so it starts from the oldest retained.
                self._epoch, self._last, self._epoch_changed = read.epoch, 0, True
                kept = [item for item in self._live or () if item[0] != retired]
                self._live = deque(kept) if kept else None
                read = await self._source.read(self.user_id, 0, self._batch_size)
        except BrokerUnavailable:
            self._needs_sync = True
            self._stalled = True
            return
        except BaseException as exc:
            # Cancelled (say, by a consumer's timeout) or failed: try again next time.
            self._needs_sync = True
            if self._closed and isinstance(exc, Exception):  # the broker closed under the read
                return
            raise
        if self._closed:
            return
        self._take(read)

    def _take(self, read: LogRead) -> None:
        """Queue what ``read`` holds after ``_last``, with gaps for what it lacks."""
        if read.last_seq < self._last:
            # Same epoch but a shorter history (Redis restored from an older
            # snapshot): seqs are being reused, so the client must resync.
            self._queue_ready(Gap(self._epoch, 1, read.last_seq, "epoch_changed"))
            self._last, self._epoch_changed = read.last_seq, False
            return
        for entry in read.entries:
            if entry.seq <= self._last:
                continue
            self._gap_to(entry.seq - 1)
            self._queue_ready(entry)
            self._last = entry.seq
        if len(read.entries) >= self._batch_size and self._last < read.last_seq:
            self._needs_sync = True  # more to read
        else:
            self._gap_to(read.last_seq)

    def _gap_to(self, to_seq: int) -> None:
        """Queue a gap for the seqs after ``_last`` up to ``to_seq``, if any are owed."""
        if to_seq <= self._last and not self._epoch_changed:
            return
        reason: GapReason = "epoch_changed" if self._epoch_changed else "retention"
        self._queue_ready(Gap(self._epoch, self._last + 1, to_seq, reason))
        self._last = max(self._last, to_seq)
        self._epoch_changed = False
