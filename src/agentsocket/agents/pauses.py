"""Pauses: a run waiting for a person (an approval or a question), and how each ends.

A pause is written to a :class:`PauseBook` before it is announced, so it
outlives the process that asked; the book is also where an answer and an
expiry race, and exactly one of them wins. Here a waiting run is only woken
(:class:`Waits`). A run whose process died while it waited is continued
elsewhere by running its agent again with a :class:`Replay`: up to the pause
it waited at, the agent's events are not sent again (they were sent) and its
earlier pauses get their stored resolutions; from there on the run is live.
Work before a pause is done again, so it should be idempotent (LangGraph's
``interrupt`` has the same rule).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

PauseKind = Literal["approval", "question"]
ResolutionKind = Literal["answered", "expired", "unanswerable"]


@dataclass(frozen=True, slots=True)
class Pause:
    """One request for a person's answer, as stored.

    Attributes:
        run_id: the root run's id (what a continuation restarts).
        node_run_id: the run or sub-run that waits (what a client answers for).
        ordinal: its place among the root run's pauses, from 0.
        interrupt_id: the ``tool_call_id`` or ``question_id``.
        expires_at: Unix seconds after which ``default`` applies.
        default: for an approval True (approve) or False (deny); for a question
            the answer applied on expiry, or None to expire unanswered.
        sub_run_ids: the sub-runs the root had opened so far, in order, so a
            continuation gives its sub-runs the same ids.
        announcement: the request as sent (``type`` and ``data``), to send it
            again to clients that lost it with the process that asked.
    """

    run_id: str
    node_run_id: str
    ordinal: int
    kind: PauseKind
    interrupt_id: str
    expires_at: float
    default: Any
    tool_name: str | None = None
    arguments: dict[str, Any] | None = None
    arguments_schema: dict[str, Any] | None = None
    prompt: str | None = None
    answer_schema: dict[str, Any] | None = None
    sub_run_ids: tuple[str, ...] = ()
    announcement: Mapping[str, Any] | None = None

    def resolved_by_default(self, resolution: ResolutionKind) -> Resolution:
        """The resolution that applies the default (on expiry, or when nobody can answer)."""
        if self.kind == "approval":
            return Resolution(resolution, approved=bool(self.default))
        return Resolution(resolution, answer=self.default)


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a pause ended: answered by a person, or the default applied."""

    resolution: ResolutionKind
    approved: bool | None = None
    arguments: dict[str, Any] | None = None
    reason: str | None = None
    answer: Any = None
    answered_by: str | None = None


class PauseBook(Protocol):
    """Where a run's pauses are kept (the store, for pauses that outlive a process)."""

    async def open(self, pause: Pause) -> None:
        """Record ``pause`` as pending; done before it is announced."""
        ...

    async def expire(self, pause: Pause) -> Resolution:
        """Apply the default unless an answer came first; the resolution that won."""
        ...


class MemoryPauses:
    """Pauses that live as long as the process: the default when nothing is configured."""

    async def open(self, pause: Pause) -> None:
        return None

    async def expire(self, pause: Pause) -> Resolution:
        return pause.resolved_by_default("expired")


class Waits:
    """Runs waiting for an answer in this process, keyed by (run or sub-run id, interrupt id)."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], tuple[str, Pause, asyncio.Future[Resolution]]] = {}

    def open(self, user_id: str, pause: Pause) -> asyncio.Future[Resolution]:
        future: asyncio.Future[Resolution] = asyncio.get_running_loop().create_future()
        self._waiting[pause.node_run_id, pause.interrupt_id] = (user_id, pause, future)
        return future

    def close(self, run_id: str, interrupt_id: str) -> None:
        self._waiting.pop((run_id, interrupt_id), None)

    def pending(self, run_id: str, interrupt_id: str, user_id: str | None = None) -> Pause | None:
        """The pause a run waits at here, unless resolved (or it is another user's)."""
        entry = self._waiting.get((run_id, interrupt_id))
        if entry is None or (user_id is not None and entry[0] != user_id) or entry[2].done():
            return None
        return entry[1]

    def wake(
        self, run_id: str, interrupt_id: str, resolution: Resolution, user_id: str | None = None
    ) -> bool:
        """Hand a waiting run its resolution; False if none waits (or it is another user's)."""
        entry = self._waiting.get((run_id, interrupt_id))
        if entry is None or (user_id is not None and entry[0] != user_id) or entry[2].done():
            return False
        entry[2].set_result(resolution)
        return True


@dataclass(slots=True)
class Replay:
    """What a continued run replays: its pauses' resolutions and its sub-runs' ids.

    Built from every stored pause of the root run, in order; the last one is
    the pause the run waited at when its process went away.
    """

    resolved: Sequence[tuple[Pause, Resolution]]
    sub_run_ids: deque[str] = field(default_factory=deque)

    @classmethod
    def of(cls, resolved: Sequence[tuple[Pause, Resolution]]) -> Replay:
        last = resolved[-1][0] if resolved else None
        return cls(resolved, deque(last.sub_run_ids if last else ()))

    @property
    def last_ordinal(self) -> int:
        return len(self.resolved) - 1
