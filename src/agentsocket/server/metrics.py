"""Prometheus metrics of one gateway process, on its own registry.

Each app gets its own :class:`Metrics` (and registry) so several apps can
live in one process (tests, a FastAPI host) without clashing.

Nothing on the per-frame path looks up a labelled child, takes a counter's
lock or observes a histogram: outbound frames are counted per connection and
added to the counter in one step when it closes, inbound ones in a plain
count per type added at each scrape (:attr:`Metrics.inbound`), and the
children used per request are looked up once and cached (:meth:`Metrics.child`).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agentsocket.agents.adapters.metrics import AdapterMetrics
from agentsocket.looplag import loop_lag_gauge
from agentsocket.runs.metrics import RunMetrics

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
            "agentsocket_frames_out",
            "Outbound frames by protocol version (counted when a connection closes).",
            ["version"],
            registry=r,
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
        self.connection_failures = Counter(
            "agentsocket_connection_failures",
            "Connections closed with 1011 after an unexpected failure of ours.",
            registry=r,
        )
        self.invalid_outbound = Counter(
            "agentsocket_invalid_outbound",
            "Outbound frames that failed validation and were dropped (validate_outbound).",
            ["version", "type"],
            registry=r,
        )
        self.runs = Counter(
            "agentsocket_runs",
            "Runs of this gateway's users that ended, by status, as stored (in queue mode only "
            "those the reaper ended; the rest are counted by the workers' run metrics).",
            ["status"],
            registry=r,
        )
        self.slow_consumer_closes = Counter(
            "agentsocket_slow_consumer_closes",
            "Connections closed with 4101 for not keeping up: outbound queue full (queue_full), "
            "or one write blocked longer than send_timeout (write_timeout).",
            ["cause"],
            registry=r,
        )
        self.outbound_queued = Gauge(
            "agentsocket_outbound_queued_frames",
            "Frames waiting in the outbound queues of all connections (read at scrape time).",
            registry=r,
        )
        self.outbound_queued_max = Gauge(
            "agentsocket_outbound_queued_frames_max",
            "Frames waiting in the fullest outbound queue; at outbound_queue_size it closes 4101.",
            registry=r,
        )
        self.resumes = Counter(
            "agentsocket_resumes",
            "Stream resumes asked for: on the handshake (?last_seq=) or with a resume message.",
            ["via"],
            registry=r,
        )
        self.gaps = Counter(
            "agentsocket_stream_gaps",
            "stream_gap notices sent on WebSocket connections, by reason.",
            ["reason"],
            registry=r,
        )
        self.loop_lag = loop_lag_gauge(r)
        #: Runs executed in this process (runs=local); workers keep their own.
        self.run = RunMetrics(r)
        # The adapters' process-wide metrics (e.g. skipped AG-UI events).
        r.register(AdapterMetrics())

        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        #: Inbound frames by type since the last scrape: the session adds 1 per frame
        #: (a plain count, no lock: the loop's thread is the only writer) and render()
        #: moves the counts into ``frames_in``.
        self.inbound: collections.Counter[str] = collections.Counter()

    def watch_outbound(self, queues: Callable[[], Iterable[int]]) -> None:
        """Read the outbound queue gauges from ``queues()`` (each connection's queued frames)
        at scrape time: nothing is counted on the send path."""
        self.outbound_queued.set_function(lambda: float(sum(queues())))
        self.outbound_queued_max.set_function(lambda: float(max(queues(), default=0)))

    def child(self, metric: Counter | Gauge, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per label set."""
        key = (metric._name, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        """The text exposition format."""
        inbound = self.inbound  # cleared in place: sessions hold it
        for kind, frames in inbound.items():
            self.child(self.frames_in, kind).inc(frames)
        inbound.clear()
        return generate_latest(self.registry)
