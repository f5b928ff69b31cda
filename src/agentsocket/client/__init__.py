"""The Python client SDK: typed messages, request helpers, reconnect and resume.

::

    from agentsocket.client import connect

    async with connect("ws://localhost:8765/ws", token=token) as conn:
        received = await conn.send_message("what is 17*23 in hex?")
        async for event in conn.events(received.run_id):
            print(event.TYPE, event)

Depends on :mod:`agentsocket.protocol` only (and ``websockets``); see
``docs/client.md``.
"""

from agentsocket.client.api import connect
from agentsocket.client.backoff import Backoff
from agentsocket.client.connection import Connection
from agentsocket.client.errors import (
    AuthenticationRefused,
    ClientError,
    ConnectionLost,
    ConnectionRejected,
    InvalidState,
    MessageNotInVersion,
    MissedEvents,
    ProtocolViolation,
    RequestError,
    RequestInterrupted,
    VersionUnsupported,
)
from agentsocket.client.options import (
    DEFAULT_HEARTBEAT_INTERVAL,
    State,
    StateChange,
    TicketFactory,
)
from agentsocket.client.stream import StreamCursor

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "AuthenticationRefused",
    "Backoff",
    "ClientError",
    "Connection",
    "ConnectionLost",
    "ConnectionRejected",
    "InvalidState",
    "MessageNotInVersion",
    "MissedEvents",
    "ProtocolViolation",
    "RequestError",
    "RequestInterrupted",
    "State",
    "StateChange",
    "StreamCursor",
    "TicketFactory",
    "VersionUnsupported",
    "connect",
]
