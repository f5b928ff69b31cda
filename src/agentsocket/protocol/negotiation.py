"""Choose the protocol version of a new connection. Pure.

Clients name versions as ``Sec-WebSocket-Protocol`` entries
(``agentsocket.v2``); clients that cannot set subprotocols use the query
parameter ``?protocol=v2``. The server picks the newest version it supports
among those offered; a client that names none gets the configured default.

A *dialect* is another language over the same head frames: ``agentsocket.ag-ui``
(``?protocol=ag-ui``) speaks AG-UI events (``docs/ag-ui.md``). A client that
offers an enabled dialect gets it, whatever versions it offers too; the
connection's version is then the head, which the dialect is converted from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentsocket.protocol.versions import HEAD, VERSIONS, Version, supported_versions

SUBPROTOCOL_PREFIX = "agentsocket."


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The chosen version, the subprotocol to echo (None: echo nothing), and the dialect."""

    version: Version
    subprotocol: str | None
    dialect: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """No offered version is supported."""

    offered: tuple[str, ...]
    supported: tuple[str, ...]

    @property
    def reason(self) -> str:
        return (
            f"unsupported protocol version(s) {', '.join(self.offered)}; "
            f"supported: {', '.join(self.supported)}"
        )


def negotiate(
    subprotocols: Sequence[str],
    query_version: str | None,
    default: Version,
    enabled: Sequence[Version] = VERSIONS,
    dialects: Sequence[str] = (),
) -> Negotiated | Refused:
    """Pick the version for a handshake.

    Args:
        subprotocols: the offered ``Sec-WebSocket-Protocol`` entries, in order.
            Entries not starting with ``agentsocket.`` (e.g. ``bearer.*``) are ignored.
        query_version: the ``protocol`` query parameter, if any.
        default: used when the client names no version.
        enabled: the versions this server accepts.
        dialects: the dialects this server speaks (``ag-ui``).
    """
    names = {version.name: version for version in enabled}
    offered = [e.removeprefix(SUBPROTOCOL_PREFIX) for e in subprotocols if _is_version(e)]
    dialect = next((name for name in offered if name in dialects), None)
    if dialect is not None:
        return Negotiated(HEAD, SUBPROTOCOL_PREFIX + dialect, dialect)
    if offered:
        known = [names[name] for name in offered if name in names]
        if not known:
            return Refused(tuple(offered), tuple(names))
        best = max(known, key=lambda version: version.number)
        return Negotiated(best, best.subprotocol)
    if query_version:
        name = query_version.removeprefix(SUBPROTOCOL_PREFIX)
        if name in dialects:
            return Negotiated(HEAD, None, name)
        version = names.get(name)
        if version is None:
            return Refused((query_version,), tuple(names))
        return Negotiated(version, None)
    return Negotiated(default, None)


def _is_version(entry: str) -> bool:
    return entry.startswith(SUBPROTOCOL_PREFIX)


__all__ = ["SUBPROTOCOL_PREFIX", "Negotiated", "Refused", "negotiate", "supported_versions"]
