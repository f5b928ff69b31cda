"""``MemoryBroker``: the stream log and fan-out inside one process (the embedded default).

Memory model (docs/delivery.md, "Memory of the in-memory log"): a stream
keeps its payloads (the newest as they are, older ones deflated in blocks,
see :mod:`._payload_log`) and their publish times; seqs are not stored, they
follow from the newest seq. Each entry is charged what it holds (see
:mod:`._payload_log`), and the whole node's log stays within ``max_bytes``:
past it, the oldest entries of the least recently active streams go first,
exactly as if they had aged out (a client resuming from them gets
``stream_gap``).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from types import TracebackType
from typing import Self

from agentsocket.delivery._payload_log import ENTRY_OVERHEAD, PayloadLog
from agentsocket.delivery.errors import BrokerNotRunning
from agentsocket.delivery.subscription import LogRead, Subscription
from agentsocket.delivery.types import Entry, Position

# Idle streams examined per broker call: more than the one stream a call can
# create, so the sweep keeps up, and few enough to keep every call cheap.
_SWEEP_BATCH = 16
#: Default bound of one node's whole log, in bytes (stored payloads plus overhead).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
__all__ = ["DEFAULT_MAX_BYTES", "ENTRY_OVERHEAD", "MemoryBroker"]


class _Stream:
    __slots__ = ("active_at", "epoch", "last_seq", "payloads", "subscribers", "times")

    def __init__(self, now: float, compress: bool) -> None:
        self.epoch = uuid.uuid4().hex[:16]
        self.last_seq = 0
        # Last publish (or creation); see MemoryBroker._sweep for the other update.
        self.active_at = now
        # Stored payloads and their publish times, oldest first; the newest is last_seq.
        self.payloads = PayloadLog(compress)
        # Made with the first entry: an empty deque alone reserves ~600 bytes per stream.
        self.times: deque[float] | None = None
        self.subscribers: set[Subscription] = set()

    @property
    def first_seq(self) -> int:
        return self.last_seq - len(self.payloads) + 1

    @property
    def nbytes(self) -> int:
        return self.payloads.nbytes

    def append(self, payload: bytes, now: float, pack: bool) -> int:
        if self.times is None:
            self.times = deque()
        self.times.append(now)
        return self.payloads.append(payload, pack)

    def drop_oldest(self) -> int:
        assert self.times is not None  # the log is not empty
        self.times.popleft()
        return self.payloads.drop_oldest()


class MemoryBroker:
    """A ``Broker`` for a single process: per-user logs and subscribers in memory.

    Args:
        max_entries: entries kept per user stream; older ones are dropped.
        max_bytes: bytes the whole log of this node may hold (payloads as
            stored plus their overhead); past it the oldest entries of the
            least recently active streams are dropped.
        compress: deflate payloads in blocks of 64 (about a sixth of their
            size, for about 1 µs of CPU per publish; a catch-up unpacks whole
            blocks) once the node's log holds ``compress_above`` bytes;
            without it payloads are always kept as they are.
        compress_above: bytes of the node's log below which payloads are kept
            as they are (deflating them would spend CPU to save memory
            nobody needs yet); default a quarter of ``max_bytes``. Past it
            every publish packs its stream's oldest unpacked block.
        max_age_seconds: entries older than this are dropped; ``None`` keeps
            them until ``max_entries`` pushes them out.
        buffer_size: live entries a subscription holds before it stops
            buffering and catches up from the log instead.
        batch_size: entries a subscription reads from the log at a time.
        clock: wall clock in seconds, for the age of entries and streams.

    Streams get a fresh epoch when first used; the log and epochs do not
    survive the process, so after a restart every old position is stale.
    A stream with no subscriber and no publish for more than
    ``max_age_seconds`` is forgotten (all its entries have expired), so its
    next use starts a new epoch; idle streams are swept a few at a time on
    every broker call, without a background task.
    """

    def __init__(
        self,
        *,
        max_entries: int = 1000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        compress: bool = True,
        compress_above: int | None = None,
        max_age_seconds: float | None = 600.0,
        buffer_size: int = 256,
        batch_size: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        if max_age_seconds is not None and max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be > 0 or None")
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._compress = compress
        self._compress_above = max_bytes // 4 if compress_above is None else compress_above
        self._bytes = 0
        self._max_age = max_age_seconds
        self._buffer_size = buffer_size
        self._batch_size = batch_size
        self._clock = clock
        # Ordered by active_at, oldest first, so the sweep looks at the front only.
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        # No stream can be idle for max_age before this time: the sweep has nothing to do.
        self._sweep_at = float("-inf")
        self._running = False
        self._closed = False

    @property
    def healthy(self) -> bool:
        """True between ``start()`` and ``close()``."""
        return self._running

    async def start(self) -> None:
        """Mark the broker ready; there is nothing to connect."""
        if self._closed:
            raise BrokerNotRunning("a closed broker cannot be started again")
        self._running = True

    async def close(self) -> None:
        """End every subscription and forget all streams."""
        self._running = False
        self._closed = True
        for stream in self._streams.values():
            for subscription in stream.subscribers:
                subscription._end()
        self._streams.clear()
        self._bytes = 0

    @property
    def stored_bytes(self) -> int:
        """Bytes the log holds now, as charged against ``max_bytes``."""
        return self._bytes

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def publish(self, user_id: str, payload: bytes) -> Entry:
        """Append ``payload`` under the next seq and hand it to every subscriber."""
        now = self._clock()
        stream = self._stream(user_id, now)
        stream.last_seq += 1
        entry = Entry(stream.last_seq, payload)
        if len(stream.payloads) >= self._max_entries:
            self._bytes -= stream.drop_oldest()
        self._bytes += stream.append(payload, now, self._bytes >= self._compress_above)
        stream.active_at = now
        self._streams.move_to_end(user_id)
        self._trim(stream, now)
        self._fit()
        for subscription in stream.subscribers:
            subscription._deliver(stream.epoch, entry)
        return entry

    async def position(self, user_id: str) -> Position:
        """The stream's epoch and newest seq (creating the stream's epoch if new)."""
        stream = self._stream(user_id)
        return Position(stream.epoch, stream.last_seq)

    async def subscribe(self, user_id: str, resume_from: Position | None = None) -> Subscription:
        """Deliver the user's stream from ``resume_from`` (or from now); see ``Broker``."""
        stream = self._stream(user_id)
        subscription = Subscription(
            self, user_id, buffer_size=self._buffer_size, batch_size=self._batch_size
        )
        stream.subscribers.add(subscription)
        try:
            await subscription._start(resume_from)
        except BaseException:
            stream.subscribers.discard(subscription)
            raise
        return subscription

    async def read(self, user_id: str, after_seq: int, limit: int) -> LogRead:
        """Low-level log read: up to ``limit`` retained entries with ``seq > after_seq``."""
        stream = self._stream(user_id)
        self._trim(stream)
        entries: list[Entry] = []
        held = len(stream.payloads)
        first_seq = stream.first_seq
        # Bounded by what is held: a resume from seq 10**23 must not reach islice as is.
        start = min(held, max(0, after_seq + 1 - first_seq))
        if start < held and limit > 0:
            window = stream.payloads.read(start, min(held, start + limit))
            entries = [
                Entry(first_seq + start + offset, payload) for offset, payload in enumerate(window)
            ]
        return LogRead(stream.epoch, stream.last_seq, entries)

    async def detach(self, subscription: Subscription) -> None:
        """Stop feeding ``subscription``; called by ``Subscription.close()``."""
        stream = self._streams.get(subscription.user_id)
        if stream is not None:
            stream.subscribers.discard(subscription)

    def _stream(self, user_id: str, now: float | None = None) -> _Stream:
        if not self._running:
            raise BrokerNotRunning("call start() before using the broker")
        if now is None:
            now = self._clock()
        self._sweep(now)
        stream = self._streams.get(user_id)
        if stream is not None and self._expired(stream, now):
            # Not reached by the sweep yet, but as good as forgotten.
            self._forget(user_id)
            stream = None
        if stream is None:
            stream = self._streams[user_id] = _Stream(now, self._compress)
        return stream

    def _forget(self, user_id: str) -> None:
        self._bytes -= self._streams.pop(user_id).nbytes

    def _expired(self, stream: _Stream, now: float) -> bool:
        # Same rule as for entries: older than max_age means strictly older.
        return (
            self._max_age is not None
            and not stream.subscribers
            and stream.active_at < now - self._max_age
        )

    def _sweep(self, now: float) -> None:
        """Forget up to ``_SWEEP_BATCH`` idle streams from the front of the order."""
        if now < self._sweep_at:
            return  # the oldest stream is younger than max_age: called on every publish
        if self._max_age is None:
            self._sweep_at = float("inf")
            return
        cutoff = now - self._max_age
        for _ in range(_SWEEP_BATCH):
            if not self._streams:
                self._sweep_at = now + self._max_age  # a new stream starts now at the oldest
                return
            user_id, stream = next(iter(self._streams.items()))
            if stream.active_at >= cutoff:
                # The rest are younger; the front moves only to a younger stream.
                self._sweep_at = stream.active_at + self._max_age
                return
            if stream.subscribers:
                # Kept while subscribed; look again one max_age later instead
                # of at every call (its entries keep their own ages).
                stream.active_at = now
                self._streams.move_to_end(user_id)
            else:
                self._forget(user_id)

    def _trim(self, stream: _Stream, now: float | None = None) -> None:
        if self._max_age is None:
            return
        cutoff = (self._clock() if now is None else now) - self._max_age
        times = stream.times
        while times and times[0] < cutoff:
            self._bytes -= stream.drop_oldest()

    def _fit(self) -> None:
        """Drop the oldest entries of the least recently active streams until within max_bytes."""
        if self._bytes <= self._max_bytes:
            return
        # Front to back: least recently published first; the publisher's own stream is last.
        for stream in self._streams.values():
            while stream.payloads and self._bytes > self._max_bytes:
                self._bytes -= stream.drop_oldest()
            if self._bytes <= self._max_bytes:
                return
