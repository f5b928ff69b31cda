"""One stream's stored payloads: the newest as they are, older ones deflated in blocks.

Deflating each payload as it is published cost about 4 µs per publish, most
of it setting up a compressor with the preset dictionary for 300 bytes.
Here a publish only appends the payload; when the caller asks for packing and
:data:`BLOCK_ENTRIES` payloads are waiting, the oldest of them are deflated
together into one block (about 1 µs per entry, and far smaller: neighbouring
payloads share their keys and ids). The live path never reads the log; a
catch-up reads whole blocks.

Memory is charged as held: a payload waiting to be packed costs its length
plus :data:`ENTRY_OVERHEAD`; a packed entry costs :data:`PACKED_ENTRY_OVERHEAD`
while it is in the log, and its block's bytes plus :data:`BLOCK_OVERHEAD` until
the block's last entry is dropped (so dropping the oldest entry frees its
block's bytes only with the block's last one).
"""

from __future__ import annotations

from array import array
from collections import deque
from itertools import accumulate, islice

from agentsocket.delivery._compact import pack, unpack

#: Payloads deflated together into one block.
BLOCK_ENTRIES = 64
#: Bytes charged per unpacked entry beyond its payload: the bytes object's header
#: (33), its publish time (a float, 24) and two deque slots (16), rounded up.
ENTRY_OVERHEAD = 80
#: Bytes charged per packed entry beyond its share of the block: its publish
#: time (24), its deque slot (8) and its end offset in the block (4), rounded up.
PACKED_ENTRY_OVERHEAD = 40
#: Bytes charged per block beyond its packed bytes: the bytes and array
#: objects' headers, the block's tuple and deque slot.
BLOCK_OVERHEAD = 200


class _Block:
    __slots__ = ("ends", "stored")

    def __init__(self, payloads: list[bytes]) -> None:
        self.stored = pack(b"".join(payloads))
        self.ends = array("I", accumulate(map(len, payloads)))

    @property
    def nbytes(self) -> int:
        return len(self.stored) + BLOCK_OVERHEAD

    def payloads(self) -> list[bytes]:
        data = unpack(self.stored)
        starts = [0, *self.ends[:-1]]
        return [data[start:end] for start, end in zip(starts, self.ends, strict=True)]


class PayloadLog:
    """The payloads of one stream, oldest first.

    Args:
        compress: pack full blocks; without it every payload stays as it is.
    """

    __slots__ = ("_blocks", "_compress", "_count", "_dropped", "_fresh", "nbytes")

    def __init__(self, compress: bool = True) -> None:
        self._compress = compress
        # A list, not a deque: an empty deque reserves ~620 bytes per stream, and
        # dropping the oldest block (once per BLOCK_ENTRIES entries) moves only a few pointers.
        self._blocks: list[_Block] = []
        self._dropped = 0  # entries of the oldest block already dropped
        # Not packed yet, oldest first; made when needed (an empty deque reserves ~600 bytes).
        self._fresh: deque[bytes] | None = None
        self._count = 0
        self.nbytes = 0

    def __len__(self) -> int:
        return self._count

    def append(self, payload: bytes, pack: bool = True) -> int:
        """Keep ``payload`` as the newest entry; returns the change in ``nbytes``.

        With ``pack`` (and ``compress``), the oldest :data:`BLOCK_ENTRIES`
        unpacked payloads are deflated into a block once there are that many.
        """
        before = self.nbytes
        fresh = self._fresh
        if fresh is None:
            fresh = self._fresh = deque()
        fresh.append(payload)
        self._count += 1
        self.nbytes += len(payload) + ENTRY_OVERHEAD
        if pack and self._compress and len(fresh) >= BLOCK_ENTRIES:
            self._pack(fresh)
        return self.nbytes - before

    def drop_oldest(self) -> int:
        """Forget the oldest entry (the log must not be empty); returns the bytes freed."""
        if not self._blocks:
            assert self._fresh is not None  # the log is not empty
            payload = self._fresh.popleft()
            freed = len(payload) + ENTRY_OVERHEAD
        else:
            block = self._blocks[0]
            freed = PACKED_ENTRY_OVERHEAD
            self._dropped += 1
            if self._dropped == len(block.ends):
                del self._blocks[0]
                self._dropped = 0
                freed += block.nbytes
        self._count -= 1
        self.nbytes -= freed
        return freed

    def read(self, start: int, stop: int) -> list[bytes]:
        """The payloads of entries ``start`` to ``stop`` (exclusive), 0 being the oldest held."""
        found: list[bytes] = []
        if stop <= start:
            return found
        first = -self._dropped  # index of the current block's first entry
        for block in self._blocks:
            count = len(block.ends)
            if first + count > start and first < stop:
                payloads = block.payloads()
                found.extend(payloads[max(start - first, 0) : min(stop - first, count)])
            first += count
            if first >= stop:
                return found
        if self._fresh is not None:
            found.extend(islice(self._fresh, max(start - first, 0), stop - first))
        return found

    def _pack(self, fresh: deque[bytes]) -> None:
        # The oldest unpacked payloads: every block stays older than every fresh payload.
        payloads = [fresh.popleft() for _ in range(BLOCK_ENTRIES)]
        if not fresh:
            self._fresh = None
        block = _Block(payloads)
        self._blocks.append(block)
        unpacked = sum(map(len, payloads)) + ENTRY_OVERHEAD * len(payloads)
        self.nbytes += block.nbytes + PACKED_ENTRY_OVERHEAD * len(payloads) - unpacked
