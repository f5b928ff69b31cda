"""Credentials offered in the WebSocket handshake, and turning them into a principal.

Three places can carry them (RFC 6455 section 4.1 lets a browser set neither
headers nor cookies reliably, hence the last two):

- ``Authorization: Bearer <jwt>`` header, for programs;
- a ``bearer.<jwt>`` entry among the offered subprotocols, for browsers; it
  is removed from the list the server picks its answer from, so a token is
  never echoed back;
- ``?ticket=<ticket>`` query parameter, for browsers, single use.

Exactly one place may be used: offering several is refused as ambiguous
rather than guessing which one wins.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agentsocket.server.auth.errors import AuthenticationFailed, AuthFailure
from agentsocket.server.auth.principal import Principal
from agentsocket.server.auth.tickets import TicketStore
from agentsocket.server.auth.verifier import TokenVerifier

BEARER_SUBPROTOCOL_PREFIX = "bearer."


@dataclass(frozen=True)
class Credentials:
    """What the handshake offered; the secrets are kept out of ``repr``.

    Attributes:
        token: The bearer JWT, from the header or a subprotocol entry.
        ticket: The single-use ticket from the query string.
        subprotocols: The offered subprotocols without any ``bearer.`` entry:
            the only list the server may choose its answer from.
    """

    token: str | None = field(default=None, repr=False)
    ticket: str | None = field(default=None, repr=False)
    subprotocols: list[str] = field(default_factory=list)


def _is_bearer_entry(subprotocol: str) -> bool:
    return subprotocol[: len(BEARER_SUBPROTOCOL_PREFIX)].lower() == BEARER_SUBPROTOCOL_PREFIX


def safe_subprotocols(subprotocols: Sequence[str]) -> list[str]:
    """The offered subprotocols minus every ``bearer.<token>`` entry.

    `extract_credentials` returns the same list; this is for the path where
    it raised and the server still has to accept the socket to close it.
    """
    return [entry for entry in subprotocols if not _is_bearer_entry(entry)]


def extract_credentials(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    subprotocols: Sequence[str],
) -> Credentials:
    """Collect the credentials of a WebSocket handshake.

    Args:
        headers: Request headers, keys in lower case.
        query: Query string parameters.
        subprotocols: Entries of ``Sec-WebSocket-Protocol``, in offered order.

    Returns:
        At most one of ``token`` / ``ticket`` set; neither when nothing was
        offered (then `authenticate` raises ``missing_token``).

    Raises:
        AuthenticationFailed: ``malformed_token`` when a source is present but
            empty or not Bearer, or when more than one source is used.
    """
    found: dict[str, str] = {}
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationFailed(
                AuthFailure.MALFORMED_TOKEN, "the Authorization header is not a Bearer token"
            )
        found["Authorization header"] = value.strip()
    bearer_entries = [entry for entry in subprotocols if _is_bearer_entry(entry)]
    for index, entry in enumerate(bearer_entries):
        found[f"bearer subprotocol #{index + 1}"] = entry[len(BEARER_SUBPROTOCOL_PREFIX) :]
    if "ticket" in query:
        found["ticket query parameter"] = query["ticket"]

    if len(found) > 1:
        raise AuthenticationFailed(
            AuthFailure.MALFORMED_TOKEN,
            "credentials were offered in more than one place: " + ", ".join(found),
        )
    for source, value in found.items():
        if not value:
            raise AuthenticationFailed(AuthFailure.MALFORMED_TOKEN, f"the {source} is empty")
    ticket = found.pop("ticket query parameter", None)
    token = next(iter(found.values()), None)
    return Credentials(token=token, ticket=ticket, subprotocols=safe_subprotocols(subprotocols))


async def authenticate(
    credentials: Credentials, verifier: TokenVerifier, tickets: TicketStore
) -> Principal:
    """Verify the token, or redeem the ticket, of a handshake.

    Returns:
        The principal the connection belongs to.

    Raises:
        AuthenticationFailed: ``missing_token`` when nothing was offered,
            ``expired`` when a ticket outlived its token, or whatever
            `TokenVerifier.verify` / `TicketStore.redeem` raised.
    """
    if credentials.token is not None and credentials.ticket is not None:
        raise AuthenticationFailed(
            AuthFailure.MALFORMED_TOKEN, "both a token and a ticket were offered"
        )
    if credentials.token is not None:
        return await verifier.verify(credentials.token)
    if credentials.ticket is not None:
        principal = await tickets.redeem(credentials.ticket)
        if principal.expires_at is not None and principal.expires_at <= time.time():
            raise AuthenticationFailed(
                AuthFailure.EXPIRED, "the token behind the ticket has expired"
            )
        return principal
    raise AuthenticationFailed(AuthFailure.MISSING_TOKEN, "no bearer token or ticket was offered")
