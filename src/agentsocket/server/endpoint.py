"""``/ws``: the handshake (origin, version, credentials, limits), then a :class:`Session`.

A refused handshake is accepted and closed at once with a documented close
code and reason (``docs/close-codes.md``), before any data frame: browsers
cannot read an HTTP status of a failed handshake, but they can read a close
code. The subprotocol echoed is only ever a version entry, never a token.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.websockets import WebSocket

from agentsocket.delivery import BrokerUnavailable
from agentsocket.protocol import CloseCode
from agentsocket.protocol.negotiation import SUBPROTOCOL_PREFIX, Refused, negotiate
from agentsocket.server.auth import (
    AuthenticationFailed,
    AuthFailure,
    Principal,
    authenticate,
    extract_credentials,
    safe_subprotocols,
)
from agentsocket.server.connection import Connection
from agentsocket.server.gateway import Gateway
from agentsocket.server.router import Router
from agentsocket.server.session import Session

log = logging.getLogger("agentsocket.endpoint")

_AUTH_CLOSE = {
    AuthFailure.EXPIRED: CloseCode.TOKEN_EXPIRED,
    AuthFailure.JWKS_UNAVAILABLE: CloseCode.TRY_AGAIN_LATER,
}


class Refusal(Exception):  # noqa: N818 - a handshake outcome, not a failure of ours
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def websocket_endpoint(
    gateway: Gateway, router: Router
) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
    """The ``/ws`` handler bound to one gateway."""

    async def endpoint(websocket: WebSocket) -> None:
        await serve_connection(gateway, router, websocket)

    return endpoint


async def serve_connection(gateway: Gateway, router: Router, websocket: WebSocket) -> None:
    """Serve one WebSocket connection from handshake to close."""
    offered = list(websocket.scope.get("subprotocols", []))
    echo = _version_entry(safe_subprotocols(offered))
    try:
        principal, version_subprotocol, version_name = await _handshake(gateway, websocket, offered)
    except Refusal as refusal:
        gateway.metrics.handshake_refusals.labels(refusal.code.name.lower()).inc()
        gateway.metrics.closes.labels(str(int(refusal.code))).inc()
        await websocket.accept(subprotocol=echo)
        await websocket.close(int(refusal.code), refusal.reason[:120])
        return
    version = gateway.versions[version_name]
    await websocket.accept(subprotocol=version_subprotocol)
    connection = Connection(
        websocket,
        connection_id=f"conn_{uuid.uuid4().hex}",
        user_id=principal.user_id,
        version=version,
        server_id=gateway.settings.server_id,
        queue_size=gateway.settings.outbound_queue_size,
        metrics=gateway.metrics,
        validate_outbound=gateway.settings.validate_outbound,
    )
    gateway.registry.add(connection)
    gateway.metrics.connections.labels(version.name).inc()
    gateway.metrics.connections_total.labels(version.name).inc()
    log.info(
        "connected",
        extra={
            "connection_id": connection.id,
            "user_id": principal.user_id,
            "version": version.name,
        },
    )
    try:
        await Session(gateway, router, connection, principal).run(_resume_position(websocket))
    except BrokerUnavailable:
        log.warning("broker lost during connect", extra={"connection_id": connection.id})
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(int(CloseCode.NOT_READY), "backend unavailable")
    finally:
        gateway.registry.remove(connection)
        gateway.metrics.connections.labels(version.name).dec()
        if gateway.registry.count_for(principal.user_id) == 0:
            gateway.frames.forget(principal.user_id)
            router.forget_user(principal.user_id)
        log.info("disconnected", extra={"connection_id": connection.id})


async def _handshake(
    gateway: Gateway, websocket: WebSocket, offered: list[str]
) -> tuple[Principal, str | None, str]:
    settings = gateway.settings
    if gateway.shutting_down:
        raise Refusal(CloseCode.SERVICE_RESTART, "server shutting down")
    if not gateway.ready:
        raise Refusal(CloseCode.NOT_READY, "backend unavailable")
    origin = websocket.headers.get("origin")
    if settings.allowed_origins and origin not in settings.allowed_origins:
        raise Refusal(CloseCode.FORBIDDEN_ORIGIN, f"origin not allowed: {origin}")
    outcome = negotiate(
        safe_subprotocols(offered),
        websocket.query_params.get("protocol"),
        gateway.default_version,
        list(gateway.versions.values()),
    )
    if isinstance(outcome, Refused):
        raise Refusal(CloseCode.UNSUPPORTED_VERSION, outcome.reason)
    headers = {key.lower(): value for key, value in websocket.headers.items()}
    try:
        credentials = extract_credentials(headers, dict(websocket.query_params), offered)
        principal = await authenticate(credentials, gateway.verifier, gateway.tickets)
    except AuthenticationFailed as failed:
        code = _AUTH_CLOSE.get(failed.failure, CloseCode.UNAUTHORIZED)
        raise Refusal(code, f"{failed.failure.value}: {failed.detail}") from None
    except BrokerUnavailable:
        raise Refusal(CloseCode.NOT_READY, "backend unavailable") from None
    if gateway.registry.count_for(principal.user_id) >= settings.max_connections_per_user:
        raise Refusal(CloseCode.TOO_MANY_CONNECTIONS, "too many connections for this user")
    return principal, outcome.subprotocol, outcome.version.name


def _version_entry(offered: list[str]) -> str | None:
    return next((entry for entry in offered if entry.startswith(SUBPROTOCOL_PREFIX)), None)


def _resume_position(websocket: WebSocket) -> tuple[str | None, int] | None:
    """``?last_seq=N[&epoch=E]`` from the handshake; no epoch means the current one."""
    query = websocket.query_params
    last_seq = query.get("last_seq", "")
    if not last_seq.isdigit():
        return None
    return query.get("epoch") or None, int(last_seq)
