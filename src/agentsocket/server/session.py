"""A connection's life after the handshake: welcome, reader, writer, stream, expiry.

The welcome is queued before the reader starts, and frames the client sent
before that wait in the server's receive buffer: nothing is dropped. The
user's stream is delivered by one subscription per connection; resuming
replaces it and never re-sends a seq this connection already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from agentsocket.delivery import Entry, Gap, Position, Subscription
from agentsocket.protocol import CloseCode
from agentsocket.protocol import server_messages as s
from agentsocket.server.auth import Principal
from agentsocket.server.connection import Connection
from agentsocket.server.ratelimit import TokenBucket

if TYPE_CHECKING:
    from agentsocket.server.gateway import Gateway
    from agentsocket.server.router import Router

log = logging.getLogger("agentsocket.session")


class Session:
    """Runs one ready connection until it closes."""

    def __init__(
        self, gateway: Gateway, router: Router, connection: Connection, principal: Principal
    ) -> None:
        self.gateway = gateway
        self.router = router
        self.connection = connection
        self.principal = principal
        self.user_id = principal.user_id
        settings = gateway.settings
        self.bucket = TokenBucket(settings.rate_per_connection, settings.burst_per_connection)
        self.refusals = 0
        self._subscription: Subscription | None = None
        self._pump: asyncio.Task[None] | None = None
        self._live_from: int | None = None  # first seq sent on this connection

    async def run(self, resume: tuple[str | None, int] | None) -> None:
        """Send the welcome, then serve the connection until it ends.

        Args:
            resume: (epoch, last_seq) from the handshake; epoch None means the
                current one (v1/v2 clients never see the epoch).
        """
        gateway, connection = self.gateway, self.connection
        position = await gateway.broker.position(self.user_id)
        resume_from = None if resume is None else Position(resume[0] or position.epoch, resume[1])
        connection.reply(self._welcome(position))
        sunset = gateway.sunset_of(connection.version)
        if sunset is not None:
            connection.reply(
                s.DeprecationNotice(
                    version=connection.version.name,
                    sunset=sunset.isoformat(),
                    message=f"Protocol {connection.version.name} is deprecated; "
                    f"it will be refused after {sunset.isoformat()}.",
                    upgrade_to=gateway.default_version.name,
                )
            )
        await self._subscribe(resume_from or position)
        writer = asyncio.create_task(connection.run_writer(), name=f"writer-{connection.id}")
        reader = asyncio.create_task(self._read(), name=f"reader-{connection.id}")
        tasks = {writer, reader}
        if self.principal.expires_at is not None:
            tasks.add(asyncio.create_task(self._expire(self.principal.expires_at)))
        try:
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not writer.done():
                # The peer left: nothing more can be written.
                connection.close_soon(CloseCode.NORMAL, "bye", flush=False)
                await asyncio.wait({writer}, timeout=1.0)
        finally:
            for task in (*tasks, self._pump):
                if task is not None:
                    task.cancel()
            for task in (*tasks, self._pump):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if self._subscription is not None:
                await self._subscription.close()

    async def resume(self, position: Position) -> None:
        """Deliver the user's stream from ``position`` instead (the ``resume`` message)."""
        await self._subscribe(position)

    # --- internals ---------------------------------------------------------------------

    def _welcome(self, position: Position) -> s.ConnectionEstablished:
        settings = self.gateway.settings
        return s.ConnectionEstablished(
            connection_id=self.connection.id,
            user_id=self.user_id,
            protocol_version=self.connection.version.name,
            server_time=time.time(),
            environment=settings.environment,
            heartbeat_interval=settings.heartbeat_interval,
            max_frame_size=settings.max_frame_size,
            stream=s.StreamPosition(epoch=position.epoch, seq=position.seq),
            agents=self.gateway.runs.available,
            default_agent=self.gateway.runs.agents.default,
        )

    async def _read(self) -> None:
        websocket = self.connection.websocket
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            await self.router.handle(self, frame)

    async def _subscribe(self, position: Position) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._subscription is not None:
            await self._subscription.close()
        self._subscription = await self.gateway.broker.subscribe(self.user_id, position)
        self._pump = asyncio.create_task(self._deliver(self._subscription, position.seq))

    async def _deliver(self, subscription: Subscription, after: int) -> None:
        connection, frames = self.connection, self.gateway.frames
        already = (self._live_from, connection.last_seq) if self._live_from else None
        if self._live_from is None or after + 1 < self._live_from:
            self._live_from = after + 1
        async for item in subscription:
            if isinstance(item, Gap):
                connection.reply(
                    s.StreamGap(
                        epoch=item.epoch,
                        from_seq=item.from_seq,
                        to_seq=item.to_seq,
                        reason=item.reason,
                    )
                )
                connection.last_seq = item.to_seq
                continue
            assert isinstance(item, Entry)
            if already is not None and already[0] <= item.seq <= already[1]:
                continue  # this connection sent it before the resume
            kind, text = frames.text(self.user_id, item.seq, item.payload, connection.version)
            if text is None:
                self.gateway.metrics.dropped.labels(connection.version.name, kind).inc()
            else:
                connection.enqueue(text, kind)
            connection.last_seq = max(connection.last_seq, item.seq)

    async def _expire(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        log.info("token expired", extra={"connection_id": self.connection.id})
        self.connection.close_soon(CloseCode.TOKEN_EXPIRED, "token expired")
