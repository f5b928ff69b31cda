"""``/ws``: the handshake (origin, version, credentials, limits), then a :class:`Session`.

A refused handshake is accepted and closed at once with a documented close
code and reason (``docs/close-codes.md``), before any data frame: browsers
cannot read an HTTP status of a failed handshake, but they can read a close
code. The subprotocol echoed is only ever a version entry, never a token.
"""

from __future__ import annotations

import logging
import re
import uuid
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from agentsocket.delivery import BrokerUnavailable
from agentsocket.delivery.run_queue import connect
from agentsocket.delivery.user_leases import ConnectionLeases
from agentsocket.protocol import CloseCode, Version, get_version
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
from agentsocket.server.core import ConnectionCore, close_reason
from agentsocket.server.gateway import Gateway
from agentsocket.server.ratelimit import TokenBucket
from agentsocket.server.session import Session

log = logging.getLogger("agentsocket.endpoint")

_AUTH_CLOSE = {
    AuthFailure.EXPIRED: CloseCode.TOKEN_EXPIRED,
    AuthFailure.JWKS_UNAVAILABLE: CloseCode.TRY_AGAIN_LATER,
}


#: A stream position in the query: ASCII digits only (``str.isdigit`` accepts "²"),
#: at most 18 of them so it fits every backend's 64-bit integers.
_SEQ = re.compile(r"[0-9]{1,18}")


class Refusal(Exception):  # noqa: N818 - a handshake outcome, not a failure of ours
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def websocket_endpoint(
    gateway: Callable[[], Gateway],
) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
    """The ``/ws`` handler; ``gateway()`` returns the app's open gateway."""

    def endpoint(websocket: WebSocket) -> Coroutine[Any, Any, None]:
        # Hands on the coroutine: a connection's life keeps no frame of this wrapper.
        return serve_connection(gateway(), websocket)

    return endpoint


async def serve_connection(gateway: Gateway, websocket: WebSocket) -> None:
    """Serve one WebSocket connection from handshake to close."""
    leases = _leases(gateway)
    opened = await _open(gateway, websocket, leases)
    if opened is None:
        return
    # Only the session is held from here on (not the handshake's headers or token claims):
    # this frame lives as long as the connection.
    session, resume, lease = opened
    try:
        try:
            await session.run(resume)
        finally:
            detach(gateway, session.connection)
    finally:
        if leases is not None and lease is not None:
            await leases.release(session.user_id, lease)


async def _open(
    gateway: Gateway, websocket: WebSocket, leases: ConnectionLeases | None
) -> tuple[Session, tuple[str | None, int] | None, str | None] | None:
    """The handshake: a ready session (with its resume position and lease), or None if refused."""
    offered = list(websocket.scope.get("subprotocols", []))
    echo = _version_entry(safe_subprotocols(offered))
    lease: str | None = None
    try:
        principal, version_subprotocol, version_name, dialect = await _handshake(
            gateway, websocket, offered
        )
        resume = _resume_position(websocket)
        if leases is not None:
            lease = await _take_lease(gateway, leases, principal.user_id)
    except Refusal as refusal:
        metrics = gateway.metrics
        metrics.child(metrics.handshake_refusals, refusal.code.name.lower()).inc()
        metrics.child(metrics.closes, str(int(refusal.code))).inc()
        log.debug("handshake refused", extra={"code": int(refusal.code)})
        await websocket.accept(subprotocol=echo)
        await websocket.close(int(refusal.code), close_reason(refusal.reason))
        return None
    try:
        version = gateway.versions.get(version_name) or get_version(version_name)
        await websocket.accept(subprotocol=version_subprotocol)
        connection = attach(gateway, websocket, principal.user_id, version, dialect)
    except BaseException:
        if leases is not None and lease is not None:
            await leases.release(principal.user_id, lease)
        raise
    connection.log.info("connected", extra={"user_id": principal.user_id, "version": version.name})
    return Session(gateway, connection, principal), resume, lease


#: With the Redis broker: each gateway's leases on its users' connections, made at first use.
_LEASES: weakref.WeakKeyDictionary[Gateway, ConnectionLeases] = weakref.WeakKeyDictionary()


def _leases(gateway: Gateway) -> ConnectionLeases | None:
    settings = gateway.settings
    if settings.broker != "redis":
        return None  # one node: the registry's count is the whole count
    leases = _LEASES.get(gateway)
    if leases is None:
        redis = connect(settings.redis_url)
        leases = ConnectionLeases(redis, settings.redis_prefix, settings.node_ttl)
        _LEASES[gateway] = leases
    return leases


async def _take_lease(gateway: Gateway, leases: ConnectionLeases, user_id: str) -> str:
    """A lease on one of the user's connections on all nodes, or a refusal (4005, 4102)."""
    lease = f"lease_{uuid.uuid4().hex}"
    try:
        taken = await leases.acquire(user_id, lease, gateway.settings.max_connections_per_user)
    except (RedisError, OSError):
        raise Refusal(CloseCode.NOT_READY, "backend unavailable") from None
    if not taken:
        raise Refusal(CloseCode.TOO_MANY_CONNECTIONS, "too many connections for this user")
    return lease


def attach(
    gateway: Gateway,
    websocket: WebSocket,
    user_id: str,
    version: Version,
    dialect: str | None = None,
) -> Connection:
    """A new connection of ``user_id`` on an accepted ``websocket``, registered and counted.

    ``dialect`` ``ag-ui``: the connection speaks AG-UI events (``docs/ag-ui.md``).
    """
    settings, metrics = gateway.settings, gateway.metrics
    user = gateway.registry.user(user_id)
    core = ConnectionCore(
        version,
        bucket=TokenBucket(settings.rate_per_connection, settings.burst_per_connection),
        user_bucket=user.bucket,
        max_frame_size=settings.max_frame_size,
        abuse_threshold=settings.abuse_threshold,
    )
    connection = Connection(
        websocket,
        core,
        connection_id=f"conn_{uuid.uuid4().hex}",
        user_id=user_id,
        server_id=settings.server_id,
        queue_size=settings.outbound_queue_size,
        metrics=metrics,
        send_timeout=settings.send_timeout,
        validate_outbound=settings.validate_outbound,
    )
    if dialect is not None:
        # Imported here: the dialect needs the optional ag-ui extra.
        from agentsocket.server.ag_ui_ws import AgUiConnection

        connection.agui = AgUiConnection()
    gateway.registry.add(connection)
    metrics.child(metrics.connections, connection.label).inc()
    metrics.child(metrics.connections_total, connection.label).inc()
    return connection


def detach(gateway: Gateway, connection: Connection) -> None:
    """Unregister a closed connection and count what it sent."""
    metrics, version = gateway.metrics, connection.label
    gateway.registry.remove(connection)
    metrics.child(metrics.connections, version).dec()
    metrics.child(metrics.frames_out, version).inc(connection.frames_sent)
    connection.log.info("disconnected")


async def _handshake(
    gateway: Gateway, websocket: WebSocket, offered: list[str]
) -> tuple[Principal, str | None, str, str | None]:
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
        gateway.dialects,
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
    return principal, outcome.subprotocol, outcome.version.name, outcome.dialect


def _version_entry(offered: list[str]) -> str | None:
    return next((entry for entry in offered if entry.startswith(SUBPROTOCOL_PREFIX)), None)


def _resume_position(websocket: WebSocket) -> tuple[str | None, int] | None:
    """``?last_seq=N[&epoch=E]`` from the handshake; no epoch means the current one.

    Raises:
        Refusal: ``last_seq`` is present but not a plain decimal seq.
    """
    query = websocket.query_params
    last_seq = query.get("last_seq")
    if last_seq is None or last_seq == "":
        return None
    if not _SEQ.fullmatch(last_seq):
        raise Refusal(
            CloseCode.POLICY_VIOLATION, "last_seq must be a decimal seq of 1 to 18 digits"
        )
    return query.get("epoch") or None, int(last_seq)
