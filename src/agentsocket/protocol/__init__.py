"""agentsocket's protocol: every message, every version, one codec. Pure, no I/O.

Typical server use::

    from agentsocket import protocol

    envelope = protocol.decode_client(frame, "v2")      # ClientEnvelope | ProtocolError
    frames = protocol.encode_server_many(outbound, versions)  # bytes per version
"""

from agentsocket.protocol.client_messages import CLIENT_MESSAGES
from agentsocket.protocol.codec import (
    DEFAULT_MAX_FRAME_SIZE,
    decode_client,
    decode_server,
    encode_client,
    encode_frame_many,
    encode_server,
    encode_server_many,
    head_frame,
    resolve,
)
from agentsocket.protocol.codes import AgentErrorCode, CloseCode, ErrorCode
from agentsocket.protocol.envelope import ClientEnvelope, ServerEnvelope
from agentsocket.protocol.errors import (
    AgentSocketError,
    FieldIssue,
    ProtocolError,
    UnsupportedVersionError,
)
from agentsocket.protocol.message import ClientMessage, Message, ServerMessage
from agentsocket.protocol.server_messages import SERVER_MESSAGES, TERMINAL_EVENTS
from agentsocket.protocol.versions import (
    DEFAULT_VERSION,
    HEAD,
    VERSIONS,
    Status,
    Version,
    get_version,
    supported_versions,
)

__all__ = [
    "CLIENT_MESSAGES",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_VERSION",
    "HEAD",
    "SERVER_MESSAGES",
    "TERMINAL_EVENTS",
    "VERSIONS",
    "AgentErrorCode",
    "AgentSocketError",
    "ClientEnvelope",
    "ClientMessage",
    "CloseCode",
    "ErrorCode",
    "FieldIssue",
    "Message",
    "ProtocolError",
    "ServerEnvelope",
    "ServerMessage",
    "Status",
    "UnsupportedVersionError",
    "Version",
    "decode_client",
    "decode_server",
    "encode_client",
    "encode_frame_many",
    "encode_server",
    "encode_server_many",
    "get_version",
    "head_frame",
    "resolve",
    "supported_versions",
]
