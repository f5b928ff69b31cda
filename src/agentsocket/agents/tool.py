"""Tools: functions an agent calls through ``ctx.tool``, with events and timing.

A :class:`Tool` describes a function for people and for language models
(name, description, JSON Schema of its arguments). The run context calls it
and reports the call as ``tool_executing`` / ``tool_completed`` events; the
agent gets a :class:`ToolResult` and never an exception from the tool.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_core import PydanticSerializationError, to_jsonable_python

ToolStatus = Literal["success", "error", "denied"]

# The OpenAI API's rule for function names; keeping to it lets any tool go to a model.
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Tool:
    """A function an agent may call, described for people and models.

    Attributes:
        name: how agents (and models) call it; letters, digits, ``_`` and ``-``.
        description: what it does, for a model deciding whether to call it.
        parameters: JSON Schema (``{"type": "object", ...}``) of its keyword arguments.
        func: called as ``func(**arguments)``, or ``func(context, **arguments)``
            when ``takes_context``. A coroutine function is awaited; any other
            callable runs in a worker thread, so it may block.
        requires_approval: ask the user (``tool_approval_required``) before each call.
        takes_context: pass a :class:`ToolContext` first, e.g. to act for the
            run's user without letting the arguments name another user.
        timeout_seconds: longest a call may take; past it the call ends as an
            ``error`` result (a threaded call's result is then discarded).
            ``None``: no limit. Give every CPU-bound tool one: a blocking
            function runs in a worker thread, off the event loop, but a user
            must not be able to keep that thread busy for long.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    func: Callable[..., Any]
    requires_approval: bool = False
    takes_context: bool = False
    timeout_seconds: float | None = None

    def __post_init__(self) -> None:
        if not _TOOL_NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must match {_TOOL_NAME.pattern}")
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError("timeout_seconds must be positive")


class ToolTimeoutError(TimeoutError):
    """A tool call outlived its tool's ``timeout_seconds``."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who a tool call runs for; given to tools created with ``takes_context=True``."""

    user_id: str
    thread_id: str
    run_id: str
    tool_call_id: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gave the agent.

    Attributes:
        status: ``success``, ``error`` (the tool raised) or ``denied`` (not approved).
        value: the tool's return value on success.
        error: why it failed or was denied.
    """

    tool_call_id: str
    tool_name: str
    status: ToolStatus
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the tool ran and returned :attr:`value`."""
        return self.status == "success"


async def invoke(tool: Tool, arguments: Mapping[str, Any], context: ToolContext) -> Any:
    """Call ``tool`` with ``arguments``; blocking functions run in a worker thread.

    Cancelling the caller, or passing the tool's ``timeout_seconds``, abandons
    a threaded call: its result is discarded when it finally returns.

    Raises:
        ToolTimeoutError: the call took longer than ``tool.timeout_seconds``.
        Exception: whatever the tool raised.
    """
    if tool.timeout_seconds is None:
        return await _call(tool, arguments, context)
    try:
        return await asyncio.wait_for(_call(tool, arguments, context), tool.timeout_seconds)
    except TimeoutError:
        raise ToolTimeoutError(
            f"{tool.name} took longer than {tool.timeout_seconds:g} s and was abandoned"
        ) from None


async def _call(tool: Tool, arguments: Mapping[str, Any], context: ToolContext) -> Any:
    leading = (context,) if tool.takes_context else ()
    if inspect.iscoroutinefunction(tool.func):
        return await tool.func(*leading, **arguments)
    result = await asyncio.to_thread(tool.func, *leading, **arguments)
    if inspect.isawaitable(result):
        result = await result
    return result


def jsonable(value: Any) -> Any:
    """Return ``value`` as JSON-compatible data, or its ``repr`` if it has none."""
    try:
        return to_jsonable_python(value)
    except PydanticSerializationError:
        return repr(value)


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a failed call: the message, else the exception's name."""
    text = str(exc).strip()
    return text if text else type(exc).__name__
