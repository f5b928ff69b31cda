"""Where an agent's events go: the only output an agent has.

The runner passes every event of a run, and of its sub-runs, to one
:class:`EventSink`, one at a time and in order. The server's sink stamps and
fans them out; tests and examples use :class:`ListSink`.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from agentsocket.protocol.server_messages import AgentEvent

E = TypeVar("E", bound=AgentEvent)


class EventSink(Protocol):
    """Receives a run's events in order."""

    async def emit(self, event: AgentEvent) -> None:
        """Take one event; the run waits until this returns."""
        ...


class ListSink:
    """Keeps every event in :attr:`events`, for tests and examples."""

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    async def emit(self, event: AgentEvent) -> None:
        self.events.append(event)

    def types(self, run_id: str | None = None) -> list[str]:
        """Return the events' ``type`` tags, only those of ``run_id`` if given."""
        return [e.TYPE for e in self.events if run_id is None or e.run_id == run_id]

    def of_type(self, kind: type[E]) -> list[E]:
        """Return the events of one class, in order."""
        return [e for e in self.events if isinstance(e, kind)]
