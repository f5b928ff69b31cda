"""Stream entries as text frames, encoded once per protocol version per node.

A stream message is published once as head-frame bytes; every connection of
the user on this node asks for it in its own version. The first asker pays
for the conversion of all versions the user's connections speak; the rest
reuse the text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

import orjson

from agentsocket.protocol import Version, encode_frame_many
from agentsocket.runs.stream import stream_payload

__all__ = ["FrameCache", "stream_payload"]

_PER_USER = 64


class FrameCache:
    """Recently encoded stream entries, per user, seq and version."""

    def __init__(self, versions_of: Callable[[str], Iterable[Version]]) -> None:
        self._versions_of = versions_of
        self._users: dict[str, OrderedDict[int, tuple[bytes, str, dict[str, str | None]]]] = {}

    def text(
        self, user_id: str, seq: int, payload: bytes, version: Version
    ) -> tuple[str, str | None]:
        """The head type of stream entry ``seq`` and its frame in ``version``.

        The frame is ``None`` when ``version`` cannot express the message.
        """
        recent = self._users.setdefault(user_id, OrderedDict())
        cached = recent.get(seq)
        # Comparing payloads guards against a seq reused by a new epoch.
        if cached is None or version.name not in cached[2] or cached[0] != payload:
            frame = orjson.loads(payload)
            frame["seq"] = seq
            versions = {version, *self._versions_of(user_id)}
            encoded = encode_frame_many(frame, versions)
            texts = {name: None if raw is None else raw.decode() for name, raw in encoded.items()}
            cached = recent[seq] = (payload, frame["type"], texts)
            while len(recent) > _PER_USER:
                recent.popitem(last=False)
        return cached[1], cached[2][version.name]

    def forget(self, user_id: str) -> None:
        """Drop a user's entries (their last connection on this node closed)."""
        self._users.pop(user_id, None)
