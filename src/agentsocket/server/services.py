"""What the run service needs from the gateway, as a protocol (so runs never import the gateway)."""

from __future__ import annotations

from typing import Protocol

from agentsocket.protocol import ServerMessage
from agentsocket.server.metrics import Metrics
from agentsocket.server.settings import Settings
from agentsocket.store import Store


class Services(Protocol):
    """The gateway's settings, metrics, store and stream, as the run service sees them."""

    @property
    def settings(self) -> Settings: ...

    @property
    def metrics(self) -> Metrics: ...

    def get_store(self) -> Store: ...

    async def publish(self, user_id: str, message: ServerMessage) -> int: ...
