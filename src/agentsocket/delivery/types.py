"""Values that travel through a user's stream: positions, entries and gaps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

GapReason: TypeAlias = Literal["retention", "epoch_changed"]


@dataclass(frozen=True, slots=True)
class Position:
    """A point in one user's stream: the last ``seq`` a client has seen in ``epoch``.

    ``seq`` 0 means "nothing yet". A client stores the position of the last
    item it received and presents it when it reconnects, to any node.
    """

    epoch: str
    seq: int

    def __post_init__(self) -> None:
        if self.seq < 0:
            raise ValueError(f"seq must be >= 0, got {self.seq}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One published message: its ``seq`` in the user's stream and its opaque bytes."""

    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Gap:
    """Entries ``from_seq..to_seq`` (inclusive) of ``epoch`` will not be delivered.

    Delivery goes on with entries after ``to_seq`` in ``epoch``, which is the
    stream's current epoch: a client stores ``Position(epoch, to_seq)``.

    ``reason`` says why:

    * ``"retention"``: the log already dropped them (too many or too old).
    * ``"epoch_changed"``: the client's position does not belong to the
      stream's current history (the stream was lost and started again, or the
      position's seq is beyond the stream's end). The client should reload its
      state. The range may be empty (``to_seq == from_seq - 1``) when nothing of
      the new history is missing.
    """

    epoch: str
    from_seq: int
    to_seq: int
    reason: GapReason


Item: TypeAlias = Entry | Gap
"""What a subscription yields."""
