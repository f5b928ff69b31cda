"""The gateway: an ASGI app (Starlette) serving ``/ws``, health, metrics and tickets."""

from agentsocket.server.app import create_app
from agentsocket.server.gateway import Gateway
from agentsocket.server.settings import Settings

__all__ = ["Gateway", "Settings", "create_app"]
