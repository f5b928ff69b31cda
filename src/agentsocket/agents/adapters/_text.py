"""The text an adapter streams: one answer message at a time, reasoning as thoughts."""

from __future__ import annotations

from agentsocket.agents.runtime import MessageStream, RunContext


class Replies:
    """Turn a framework's text and reasoning deltas into ``ctx`` messages and thoughts.

    A message stays open while deltas of the same framework message (``key``)
    arrive; a new key, a tool call or :meth:`end` closes it with its
    ``agent_message``. Reasoning deltas are gathered and shown as one
    ``agent_thinking`` when the reasoning ends, not one event per token.
    """

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._stream: MessageStream | None = None
        self._key: object = None
        self._thought: list[str] = []
        self.written = ""  # all text written, across messages

    async def write(self, delta: str, key: object = None) -> None:
        """Stream ``delta`` as part of message ``key`` (None: the open one, if any)."""
        if not delta:
            return
        await self._think()
        if self._stream is not None and key is not None and key != self._key:
            await self.end()
        if self._stream is None:
            self._stream = self._ctx.message()
            await self._stream.__aenter__()
            self._key = key
        await self._stream.write(delta)
        self.written += delta

    async def reason(self, delta: str) -> None:
        """Gather a reasoning delta; it is shown when the reasoning ends."""
        if delta:
            await self._close_message()
            self._thought.append(delta)

    async def end(self) -> None:
        """Close the open message (its ``agent_message``) and show gathered reasoning."""
        await self._think()
        await self._close_message()

    async def _close_message(self) -> None:
        stream, self._stream, self._key = self._stream, None, None
        if stream is not None:
            await stream.__aexit__(None, None, None)

    async def _think(self) -> None:
        thought = "".join(self._thought).strip()
        self._thought.clear()
        if thought:
            await self._ctx.think(thought)
