"""One Redis connection in subscribe mode, for all channels of one gateway node.

We drive a raw ``redis.asyncio.Connection`` instead of redis-py's ``PubSub``
because ``PubSub`` reconnects and resubscribes silently, and the broker must
know about every outage: messages published meanwhile are lost on the wire
and have to be read from the log.

A session lives as long as its TCP connection; after any failure the broker
opens a new one. Commands are queued synchronously, so they reach Redis in
call order, and each expected reply is a future in a FIFO: Redis answers a
connection's commands in order, so ``SUBSCRIBE ch`` is confirmed by the next
unclaimed ``subscribe`` reply. Once confirmed, every later publish on ``ch``
reaches this session.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from agentsocket.aio import cancel_and_wait
from agentsocket.delivery.errors import BrokerUnavailable

logger = logging.getLogger("agentsocket.delivery")

MessageHandler = Callable[[bytes, bytes], None]
"""Called with (channel, data) for every message, in arrival order."""


def _mark_retrieved(future: asyncio.Future[Any]) -> None:
    # Fire-and-forget commands fail when the session dies; nobody awaits them.
    if not future.cancelled():
        future.exception()


class PubSubSession:
    """A subscribe-mode connection: a reader task, a writer task, a reply FIFO.

    Call ``open()``, then ``subscribe()``/``unsubscribe()`` at will;
    ``wait_closed()`` returns when the connection fails (or ``abort()`` is
    called) and ``close()`` releases it. After a failure every pending and
    later command fails with ``BrokerUnavailable``.
    """

    def __init__(
        self,
        connection: AbstractConnection,
        on_message: MessageHandler,
        *,
        ping_interval: float,
    ) -> None:
        self._conn = connection
        self._on_message = on_message
        self._ping_interval = ping_interval
        self._outbox: asyncio.Queue[tuple[str | bytes, ...]] = asyncio.Queue()
        self._replies: deque[asyncio.Future[None]] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._failed = False

    async def open(self) -> None:
        """Connect and start reading; raises redis-py errors if Redis does not answer."""
        await self._conn.connect()  # type: ignore[no-untyped-call]  # untyped in redis-py
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="agentsocket-pubsub-reader"),
            asyncio.create_task(self._write_loop(), name="agentsocket-pubsub-writer"),
        ]

    def subscribe(self, channels: Collection[bytes]) -> asyncio.Future[list[None]]:
        """Queue ``SUBSCRIBE``; the future resolves once Redis confirmed every channel."""
        return self._command("SUBSCRIBE", channels)

    def unsubscribe(self, channels: Collection[bytes]) -> None:
        """Queue ``UNSUBSCRIBE`` (nobody needs to wait for it)."""
        self._command("UNSUBSCRIBE", channels)

    async def wait_closed(self) -> BaseException | None:
        """Wait until the connection fails or is aborted; return the error, if any."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        task = done.pop()
        return None if task.cancelled() else task.exception()

    def abort(self) -> None:
        """Make ``wait_closed()`` return now (the broker saw Redis fail elsewhere)."""
        for task in self._tasks:
            task.cancel()

    async def close(self) -> None:
        """Stop both tasks, fail pending commands, drop the connection."""
        self._fail()
        for task in self._tasks:
            await cancel_and_wait(task)
        await self._conn.disconnect(nowait=True)

    def _command(self, name: str, channels: Collection[bytes]) -> asyncio.Future[list[None]]:
        loop = asyncio.get_running_loop()
        replies = [loop.create_future() for _ in range(max(1, len(channels)))]
        for future in replies:
            future.add_done_callback(_mark_retrieved)
        if self._failed:
            for future in replies:
                future.set_exception(BrokerUnavailable("the Redis pub/sub connection is down"))
        else:
            self._replies.extend(replies)
            self._outbox.put_nowait((name, *channels))
        result = asyncio.gather(*replies)
        result.add_done_callback(_mark_retrieved)
        return result

    def _fail(self) -> None:
        self._failed = True
        while self._replies:
            future = self._replies.popleft()
            if not future.done():
                future.set_exception(BrokerUnavailable("the Redis pub/sub connection is down"))

    async def _write_loop(self) -> None:
        try:
            while True:
                command = await self._outbox.get()
                await self._conn.send_command(*command, check_health=False)
        finally:
            self._fail()

    async def _read_loop(self) -> None:
        awaiting_pong = False
        try:
            while True:
                response = await self._conn.read_response(timeout=self._ping_interval)
                if response is None:  # quiet for a whole interval: is Redis still there?
                    if awaiting_pong:
                        raise RedisConnectionError(
                            f"no reply to PING within {self._ping_interval} s"
                        )
                    awaiting_pong = True
                    self._command("PING", ())
                    continue
                awaiting_pong = False
                self._dispatch(response)
        finally:
            self._fail()

    def _dispatch(self, response: Any) -> None:
        if isinstance(response, list) and response:
            kind = response[0]
            if kind == b"message":
                self._on_message(response[1], response[2])
                return
            if kind in (b"subscribe", b"unsubscribe", b"pong"):
                self._confirm()
                return
        elif response in (b"PONG", "PONG"):  # PING while subscribed to nothing
            self._confirm()
            return
        logger.warning("unexpected reply on the Redis pub/sub connection: %r", response)

    def _confirm(self) -> None:
        if self._replies:
            future = self._replies.popleft()
            if not future.done():
                future.set_result(None)
