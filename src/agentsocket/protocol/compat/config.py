"""What the gate demands: a mode per direction and each version's contract on unknown types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agentsocket.protocol.compat.rules import Mode
from agentsocket.protocol.versions.change import Direction

__all__ = ["DEFAULT_CONFIG", "CompatConfig"]

#: Whether a version's clients are specified to skip message types they do not know.
#: v1 and v2 consumers (the seed's) were written against a closed set of events;
#: v3's contract says clients ignore unknown types. A new version is False until
#: its contract says otherwise here.
IGNORES_UNKNOWN_TYPES: Mapping[str, bool] = {"v1": False, "v2": False, "v3": True}


@dataclass(frozen=True, slots=True)
class CompatConfig:
    """The gate's policy.

    Attributes:
        inbound: mode for client → server messages (the server must keep accepting).
        outbound: mode for server → client messages (old clients must keep reading).
        ignores_unknown_types: per version, whether adding a server → client
            message type is allowed (clients skip types they do not know).

    Transitive modes are the default because every supported version has live
    clients at once: a head change that leaks into v1 through the version
    changes matters as much as one in head.
    """

    inbound: Mode = Mode.BACKWARD_TRANSITIVE
    outbound: Mode = Mode.FORWARD_TRANSITIVE
    ignores_unknown_types: Mapping[str, bool] = field(
        default_factory=lambda: dict(IGNORES_UNKNOWN_TYPES)
    )

    @classmethod
    def for_mode(cls, mode: Mode) -> CompatConfig:
        """The default policy with ``mode`` for both directions."""
        return cls(inbound=mode, outbound=mode)

    def mode(self, direction: Direction) -> Mode:
        return self.inbound if direction == "client" else self.outbound

    def clients_ignore_unknown_types(self, version: str) -> bool:
        return self.ignores_unknown_types.get(version, False)


DEFAULT_CONFIG = CompatConfig()
