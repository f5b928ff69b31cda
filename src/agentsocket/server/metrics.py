"""Prometheus metrics of one gateway process, on its own registry.

Each app gets its own :class:`Metrics` (and registry) so several apps can
live in one process (tests, a FastAPI host) without clashing.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The gateway's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge(
            "agentsocket_connections", "Open connections.", ["version"], registry=r
        )
        self.connections_total = Counter(
            "agentsocket_connections_opened", "Accepted connections.", ["version"], registry=r
        )
        self.handshake_refusals = Counter(
            "agentsocket_handshake_refusals",
            "Refused handshakes by close code.",
            ["reason"],
            registry=r,
        )
        self.frames_in = Counter(
            "agentsocket_frames_in", "Inbound frames by message type.", ["type"], registry=r
        )
        self.frames_out = Counter(
            "agentsocket_frames_out", "Outbound frames by message type.", ["type"], registry=r
        )
        self.errors = Counter(
            "agentsocket_errors", "Error replies by error code.", ["code"], registry=r
        )
        self.dropped = Counter(
            "agentsocket_messages_dropped",
            "Messages a version cannot express (declared drops).",
            ["version", "type"],
            registry=r,
        )
        self.closes = Counter(
            "agentsocket_closes", "Connections closed by the server, by code.", ["code"], registry=r
        )
        self.queue_depth = Histogram(
            "agentsocket_outbound_queue_depth",
            "Outbound queue depth seen when a frame is queued.",
            buckets=(0, 1, 4, 16, 64, 256, 1024, 4096),
            registry=r,
        )
        self.runs = Counter(
            "agentsocket_runs", "Finished agent runs by status.", ["status"], registry=r
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
