"""Turning objects into agents: ours as they are, framework agents wrapped.

:func:`adapt` is what ``agentsocket serve --agent module:attribute`` and
``create_app(settings, agents=[...])`` call on each object they are given.
"""

from __future__ import annotations

import inspect

from agentsocket.agents.runtime import Agent

__all__ = ["adapt"]


def adapt(obj: object) -> Agent | None:
    """``obj`` as an :class:`~agentsocket.agents.runtime.Agent`, or None if it is not one.

    An object with a non-empty string ``name`` and an async ``run(ctx,
    prompt)`` method is returned as it is. A class is not an agent (its
    instances may be).
    """
    if isinstance(obj, type):
        return None
    name = getattr(obj, "name", None)
    run = getattr(obj, "run", None)
    if isinstance(name, str) and name and inspect.iscoroutinefunction(run):
        return obj  # type: ignore[return-value]  # checked structurally above
    return None
