"""Stream entries as wire frames: encoded once per protocol version per node.

A stream message is published as its head (v3) frame without ``seq``
(:func:`agentsocket.runs.stream.stream_payload`). When an entry reaches this node, the user's
:class:`FrameEncoder` turns it into one frame per version the user's
connections here speak, and every connection of that version is handed the
same text. The head frame is never parsed: ``seq`` is written into the
published bytes. Older versions parse the payload once and convert it.

``FrameEncoder.encodes`` counts (entry, version) encodings, so tests can
check that the work is entries x versions, whatever the number of
connections or the size of a burst.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

import orjson

from agentsocket.protocol import (
    HEAD,
    SERVER_MESSAGES,
    ServerEnvelope,
    ServerMessage,
    Version,
    decode_server,
    encode_frame_many,
)

log = logging.getLogger("agentsocket.frames")

#: Entries kept per user. The live path hands one entry to every connection
#: before the next is published, so a few suffice; catch-up re-encodes.
_RECENT = 8
_NULL_SEQ = b',"seq":null}'
_MISSING = object()


def with_seq(payload: bytes, seq: int) -> bytes:
    """The head frame of ``payload`` at ``seq``: written into the bytes, never re-parsed."""
    if payload.endswith(_NULL_SEQ):  # published by an older node: drop its null seq
        payload = payload[: -len(_NULL_SEQ)] + b"}"
    return b'%s,"seq":%d}' % (payload[:-1], seq)


VersionsOf = Callable[[], Collection[Version]]
"""The versions a user's connections on this node speak, right now."""

Frames = dict[str, str | None]
"""One entry's text by version name; ``None`` where the version cannot express it."""


class FrameEncoder:
    """One user's recently encoded stream entries on this node.

    Args:
        versions: the versions the user's connections here speak, right now.
        validate: re-read every encoded frame with the client codec (dev and
            test); a frame that fails is logged, counted and dropped.
        on_dropped: called with (version name, type) for each entry a version
            cannot express (a declared drop), once per entry and version.
        on_invalid: called with (version name, type) for each dropped invalid frame.
    """

    __slots__ = (
        "_last_head",
        "_messages",
        "_on_dropped",
        "_on_invalid",
        "_recent",
        "_validate",
        "_versions",
        "encodes",
    )

    def __init__(
        self,
        versions: VersionsOf,
        *,
        validate: bool = False,
        on_dropped: Callable[[str, str], None] | None = None,
        on_invalid: Callable[[str, str], None] | None = None,
    ) -> None:
        self._versions = versions
        self._validate = validate
        self._on_dropped = on_dropped
        self._on_invalid = on_invalid
        self._recent: dict[int, tuple[bytes, Frames]] = {}
        # The newest entry written while every connection here speaks head.
        self._last_head: tuple[int, bytes, str | None] | None = None
        self._messages: dict[int, tuple[bytes, ServerMessage | None]] = {}
        self.encodes = 0

    def message(self, seq: int, payload: bytes) -> ServerMessage | None:
        """Entry ``seq`` as a head message, decoded once for every connection here.

        For dialects converted per connection (AG-UI); ``None`` for a type this
        node does not know.
        """
        cached = self._messages.get(seq)
        if cached is not None and (cached[0] is payload or cached[0] == payload):
            return cached[1]
        frame = orjson.loads(payload)
        model = SERVER_MESSAGES.get(frame.get("type"))
        message = None if model is None else model.model_validate(frame["data"])
        self._messages[seq] = (payload, message)
        self._messages.pop(seq - _RECENT, None)
        if len(self._messages) > 2 * _RECENT:  # seqs out of order (a resume): start over
            self._messages = {seq: (payload, message)}
        return message

    def frame(self, seq: int, payload: bytes, version: Version) -> str | None:
        """Entry ``seq`` as text in ``version``; ``None`` when not expressible (or invalid)."""
        if version is HEAD:
            last = self._last_head
            # Comparing payloads guards against a seq reused by a new epoch.
            if last is not None and last[0] == seq and (last[1] is payload or last[1] == payload):
                return last[2]
            if len(self._versions()) <= 1:
                # The usual case: every connection here speaks head. No parse, no
                # conversion, and only the newest entry kept: the live path hands an entry
                # to every connection before the next one (a catch-up writes the seq again).
                self.encodes += 1
                head = with_seq(payload, seq).decode()
                written = None if self._validate and not self._valid(head, HEAD.name) else head
                self._last_head = (seq, payload, written)
                return written
        cached = self._recent.get(seq)
        # Comparing payloads guards against a seq reused by a new epoch.
        if cached is not None and (cached[0] is payload or cached[0] == payload):
            frames = cached[1]
            text = frames.get(version.name, _MISSING)
            if text is not _MISSING:
                return text  # type: ignore[return-value]
        else:
            frames = {}
            self._recent[seq] = (payload, frames)
            self._recent.pop(seq - _RECENT, None)
            if len(self._recent) > 2 * _RECENT:  # seqs out of order (a resume): start over
                self._recent = {seq: (payload, frames)}
        wanted = {v for v in self._versions() if v.name not in frames}
        wanted.add(version)
        frames.update(self._encode(seq, payload, wanted))
        return frames[version.name]

    def _encode(self, seq: int, payload: bytes, versions: set[Version]) -> Frames:
        self.encodes += len(versions)
        encoded: dict[str, bytes | None] = {}
        older = [v for v in versions if v is not HEAD]
        if HEAD in versions:
            encoded[HEAD.name] = with_seq(payload, seq)
        kind = ""
        if older:
            frame = orjson.loads(payload)
            frame["seq"] = seq
            kind = str(frame.get("type"))
            encoded.update(encode_frame_many(frame, older))
        texts: Frames = {}
        for name, raw in encoded.items():
            if raw is None and self._on_dropped is not None:
                self._on_dropped(name, kind)
            text = None if raw is None else raw.decode()
            if text is not None and self._validate and not self._valid(text, name):
                text = None
            texts[name] = text
        return texts

    def _valid(self, text: str, version_name: str) -> bool:
        decoded = decode_server(text, version_name)
        if isinstance(decoded, ServerEnvelope):
            return True
        kind = orjson.loads(text).get("type", "?")
        log.error(
            "outbound frame fails validation; dropped",
            extra={"version": version_name, "type": kind, "error": decoded.message},
        )
        if self._on_invalid is not None:
            self._on_invalid(version_name, str(kind))
        return False
