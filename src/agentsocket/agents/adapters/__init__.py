"""Serve agents built with other frameworks: recognise the object, wrap it.

:func:`adapt` is what ``agentsocket serve --agent module:attribute`` and
``create_app(settings, agents=[...])`` call on each object they are given; it
returns an agentsocket :class:`~agentsocket.agents.runtime.Agent`:

- an agentsocket agent as it is;
- a LangGraph compiled graph (``pip install 'agentsocket[langgraph]'``);
- a PydanticAI ``Agent`` (``agentsocket[pydantic-ai]``);
- an OpenAI Agents SDK ``Agent`` (``agentsocket[openai-agents]``).

A framework is recognised by type, and only looked at when the program has
already imported it (an object of its class cannot exist otherwise), so the
core never imports a framework and a missing extra breaks nothing.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from agentsocket.agents.runtime import Agent

__all__ = ["adapt", "is_agent"]


def is_agent(obj: object) -> bool:
    """True if ``obj`` is an agentsocket agent: a ``name`` string and an async ``run``.

    A class is not an agent (its instances may be).
    """
    if isinstance(obj, type):
        return False
    name = getattr(obj, "name", None)
    run = getattr(obj, "run", None)
    return isinstance(name, str) and bool(name) and inspect.iscoroutinefunction(run)


def adapt(obj: object, *, name: str | None = None, description: str | None = None) -> Agent | None:
    """``obj`` as an agentsocket agent, or None if it is nothing we can serve.

    Args:
        obj: an agentsocket agent, or a framework object (see the module doc).
        name: the agent's name; default: the framework object's own name.
        description: what the agent does, for clients choosing one.

    Returns:
        ``obj`` itself if it already is an agent (``name`` and ``description``
        are then ignored), a wrapper for a recognised framework object, else None.
    """
    wrapped = _framework_agent(obj, name, description)
    if wrapped is not None:
        return wrapped
    if is_agent(obj):
        return obj  # type: ignore[return-value]  # checked structurally above
    return None


def _framework_agent(obj: Any, name: str | None, description: str | None) -> Agent | None:
    # Frameworks first: a PydanticAI Agent also has a name and an async run().
    if _instance_of(obj, "langgraph.pregel", "Pregel"):
        from agentsocket.agents.adapters.langgraph import LangGraphAgent

        return LangGraphAgent(obj, name=name, description=description)
    if _instance_of(obj, "pydantic_ai.agent", "AbstractAgent"):
        from agentsocket.agents.adapters.pydantic_ai import PydanticAIAgent

        return PydanticAIAgent(obj, name=name, description=description)
    if _instance_of(obj, "agents.agent", "Agent"):
        from agentsocket.agents.adapters.openai_agents import OpenAIAgentsAgent

        return OpenAIAgentsAgent(obj, name=name, description=description)
    return None


def _instance_of(obj: object, module: str, cls: str) -> bool:
    """Whether ``obj`` is a ``module.cls``; never imports: an unloaded module has no instances."""
    found: Any = getattr(sys.modules.get(module), cls, None)
    return isinstance(found, type) and isinstance(obj, found)
