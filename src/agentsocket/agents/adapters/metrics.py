"""The adapters' Prometheus metrics, shown by every gateway's ``/metrics``.

An adapter keeps its metric in a module-level object on no registry
(``registry=None``) and hands it to :func:`register`. Each gateway's registry
holds one :class:`AdapterMetrics`, which collects whatever is registered when
``/metrics`` is read, so an adapter imported after the gateway started (an
``--ag-ui-agent`` loaded later, a test) is shown too. The metrics are
process-wide: every app in the process shows the same values.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TypeVar

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["AdapterMetrics", "register", "registered"]

C = TypeVar("C", bound=Collector)

_collectors: list[Collector] = []
_lock = threading.Lock()  # /metrics may be read from another thread (a host's exporter)


def register(collector: C) -> C:
    """Show ``collector`` on every gateway's ``/metrics``; returns it (once per object)."""
    with _lock:
        if not any(known is collector for known in _collectors):
            _collectors.append(collector)
    return collector


def registered() -> tuple[Collector, ...]:
    """The adapter metrics registered so far (those of the adapters imported)."""
    with _lock:
        return tuple(_collectors)


class AdapterMetrics:
    """A collector of every registered adapter metric, for a gateway's registry.

    It has no ``describe``: the names are only known once the adapters are
    imported, and they are the adapters' own (``agentsocket_<adapter>_...``).
    """

    def collect(self) -> Iterable[Metric]:
        with _lock:
            collectors = tuple(_collectors)
        for collector in collectors:
            yield from collector.collect()
