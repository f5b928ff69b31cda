"""Authentication of WebSocket handshakes: JWTs and single-use tickets.

What the server does with a new connection::

    credentials = extract_credentials(headers, query, subprotocols)
    principal = await authenticate(credentials, verifier, tickets)
    # answer with a subprotocol from credentials.subprotocols only

Every refusal raises `AuthenticationFailed`; its ``.failure`` (an
`AuthFailure`) maps to a close code, its ``.detail`` is safe to log.

Modules: ``settings`` (configuration), ``verifier`` and ``jwks`` (JWTs),
``tickets`` (single-use tickets), ``credentials`` (the handshake), ``dev``
(tokens for dev mode and tests).
"""

from agentsocket.server.auth.credentials import (
    BEARER_SUBPROTOCOL_PREFIX,
    Credentials,
    authenticate,
    extract_credentials,
    safe_subprotocols,
)
from agentsocket.server.auth.dev import dev_mode_refusal, issue_token
from agentsocket.server.auth.errors import AuthenticationFailed, AuthFailure
from agentsocket.server.auth.principal import Principal
from agentsocket.server.auth.settings import AuthSettings
from agentsocket.server.auth.tickets import MemoryTicketStore, RedisTicketStore, TicketStore
from agentsocket.server.auth.verifier import TokenVerifier

__all__ = [
    "BEARER_SUBPROTOCOL_PREFIX",
    "AuthFailure",
    "AuthSettings",
    "AuthenticationFailed",
    "Credentials",
    "MemoryTicketStore",
    "Principal",
    "RedisTicketStore",
    "TicketStore",
    "TokenVerifier",
    "authenticate",
    "dev_mode_refusal",
    "extract_credentials",
    "issue_token",
    "safe_subprotocols",
]
