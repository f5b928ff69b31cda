"""agentsocket: a WebSocket gateway for AI-agent chat whose protocol cannot silently break.

Packages, each importable on its own (importing this one loads nothing else,
so ``agentsocket.protocol`` stays free of I/O):

- ``agentsocket.protocol``: every message, version and the codec (pure);
- ``agentsocket.server``: the gateway (``create_app``, ``Settings``);
- ``agentsocket.client``: the Python SDK (``connect``);
- ``agentsocket.agents``: the agent runtime and the built-in agents;
- ``agentsocket.runs``: the agents served, run execution and outcomes, shared
  by the gateway and ``agentsocket worker`` (``agentsocket.worker``);
- ``agentsocket.settings``: every setting (``Settings``), for gateway and worker;
- ``agentsocket.delivery`` and ``agentsocket.store``: streams and persistence.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agentsocket")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
