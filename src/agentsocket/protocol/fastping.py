"""A head-version ``ping`` answered without the models: the same ``pong``, bytes for bytes.

The slow path (:func:`~agentsocket.protocol.codec.decode_client`, the ``Ping``
model, a ``Pong`` model in a ``ServerEnvelope``, :func:`encode_server`) costs
tens of microseconds, most of it pydantic both ways; a ping is the one
request a client may send many times a second. :func:`read_ping` recognises
a ping the slow path would accept, shaped only the plainest way, and
:func:`pong_frame` writes the answer the slow path would write.

The fast path only ever *narrows*: a frame it does not recognise (any other
type, an extra field, an ``int`` time, a bad correlation id, another
version) gets ``None`` and takes the slow path, which gives its usual answer
or typed error. ``tests/protocol/test_fastping.py`` checks both directions
against the slow path: every frame read here is one the slow path accepts
with the same values, and every pong written here is the slow path's bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

from agentsocket.protocol.limits import MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS

_ENVELOPE_KEYS = frozenset({"type", "data", "correlation_id"})
_DATA_KEYS = frozenset({"client_time"})
#: As the codec's: a correlation id is 1 to 128 characters, without U+0000.
_MAX_CORRELATION_ID = 128
#: A ping is a few dozen bytes; anything longer is not worth a look here.
_MAX_PING_BYTES = 512


class Ping:
    """A recognised ping: its time and correlation id, as the slow path would read them."""

    __slots__ = ("client_time", "correlation_id")

    def __init__(self, client_time: float | None, correlation_id: str | None) -> None:
        self.client_time = client_time
        self.correlation_id = correlation_id


def read_ping(frame: str | bytes, max_size: int) -> Ping | None:
    """The ping in a head-version frame, or None when the slow path must read it.

    None is not a refusal: it only means "not the plain shape of a valid ping".

    Args:
        max_size: the connection's largest inbound frame, in bytes.
    """
    if len(frame) > _MAX_PING_BYTES:
        return None
    if isinstance(frame, str) and len(frame) * 4 > max_size:
        if len(frame.encode("utf-8", "surrogatepass")) > max_size:
            return None
    elif len(frame) > max_size:
        return None
    try:
        raw: Any = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if type(raw) is not dict or raw.get("type") != "ping" or not raw.keys() <= _ENVELOPE_KEYS:
        return None
    correlation_id = raw.get("correlation_id")
    if correlation_id is not None and not (
        type(correlation_id) is str
        and 0 < len(correlation_id) <= _MAX_CORRELATION_ID
        and "\x00" not in correlation_id
    ):
        return None
    data = raw.get("data", {})
    if type(data) is not dict or not data.keys() <= _DATA_KEYS:
        return None
    client_time = data.get("client_time")
    # Only a float: the model turns an int into a float, and refuses a bool.
    if client_time is not None and not (
        type(client_time) is float and MIN_EPOCH_SECONDS <= client_time <= MAX_EPOCH_SECONDS
    ):
        return None
    return Ping(client_time, correlation_id)


def pong_frame(
    server_time: float, ping: Ping, server_id: str | None, timestamp: float | None = None
) -> bytes:
    """The head-version ``pong`` to ``ping``, as ``encode_server`` writes it.

    Args:
        server_time: the pong's ``server_time``.
        timestamp: the envelope's ``timestamp``; ``server_time`` when None
            (the slow path reads the clock twice, microseconds apart).
    """
    return orjson.dumps(
        {
            "type": "pong",
            "data": {"server_time": server_time, "client_time": ping.client_time},
            "timestamp": server_time if timestamp is None else timestamp,
            "server_id": server_id,
            "correlation_id": ping.correlation_id,
            "seq": None,
        }
    )
