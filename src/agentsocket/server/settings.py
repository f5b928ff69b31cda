"""The gateway's settings: :class:`agentsocket.settings.Settings`, shared with the worker."""

from agentsocket.settings import Settings

__all__ = ["Settings"]
