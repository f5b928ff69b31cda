"""The agents a gateway (or worker) offers, by name, with the default one."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agentsocket.agents.runtime import Agent

log = logging.getLogger("agentsocket.runs")

#: Seconds one agent's ``aclose()`` may take at shutdown before it is given up.
ACLOSE_TIMEOUT = 5.0


class AgentSpecError(ValueError):
    """An agent could not be loaded or registered; the message is one line naming why."""


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What clients are told about an agent."""

    name: str
    description: str | None


def describe(agent: Agent) -> str | None:
    """An agent's ``description`` attribute, else the first line of its class's docstring."""
    description = getattr(agent, "description", None)
    if isinstance(description, str) and description.strip():
        return description.strip()
    doc = type(agent).__dict__.get("__doc__")
    if isinstance(doc, str) and doc.strip():
        return inspect.cleandoc(doc).splitlines()[0]
    return None


class AgentSet:
    """Agents by unique name, in the order given; the default is the first unless named.

    Raises:
        AgentSpecError: no agents, two with one name, or ``default`` not among them.
    """

    def __init__(self, agents: Iterable[Agent], default: str | None = None) -> None:
        self._agents: dict[str, Agent] = {}
        for agent in agents:
            if agent.name in self._agents:
                raise AgentSpecError(f"two agents are named {agent.name!r}; names must be unique")
            self._agents[agent.name] = agent
        if not self._agents:
            raise AgentSpecError("no agents to serve")
        if default is not None and default not in self._agents:
            raise AgentSpecError(
                f"the default agent {default!r} is not one of the agents: {self.listing()}"
            )
        self.default = default if default is not None else next(iter(self._agents))
        self.infos = tuple(AgentInfo(name, describe(a)) for name, a in self._agents.items())

    def get(self, name: str) -> Agent | None:
        return self._agents.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._agents)

    def listing(self) -> str:
        """The names, comma-separated, for error messages."""
        return ", ".join(self._agents)

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[Agent]:
        return iter(self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    async def aclose(self) -> None:
        """Await each agent's optional ``aclose()`` (its HTTP clients, say).

        The gateway and the worker call it once, when they shut down. An
        ``aclose`` that fails or takes longer than :data:`ACLOSE_TIMEOUT` is
        logged and given up: one agent does not keep the others open or the
        process from stopping. An agent may be used again afterwards (it reopens
        what it needs, as ``AGUIAgent`` and ``OpenAIChatAgent`` do).
        """
        for name, agent in self._agents.items():
            close = getattr(agent, "aclose", None)
            if not callable(close):
                continue
            try:
                async with asyncio.timeout(ACLOSE_TIMEOUT):
                    closing = close()
                    if inspect.isawaitable(closing):
                        await closing
            except Exception:
                log.exception("closing agent %s failed", name, extra={"agent": name})
