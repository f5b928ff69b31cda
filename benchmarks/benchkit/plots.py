"""PNG plots of benchmark results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import ScalarFormatter

from benchkit.report import LABELS, CaseResult

_STYLE = {"agentsocket": "o-", "bare": "s--", "socketio": "^:"}
_BEFORE = {"color": "0.55", "linestyle": "-.", "marker": "o", "label": "agentsocket before"}


def _plain(ax: Axes, xs: Sequence[int]) -> None:
    """Ticks at the measured counts, written as plain numbers even on log axes."""
    ax.set_xticks(list(xs))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.grid(True, which="both", alpha=0.3)


def _fanout_points(results: Sequence[CaseResult]) -> list[tuple[int, CaseResult]]:
    points: list[tuple[int, CaseResult]] = []
    for case in results:
        if case.name.startswith("1 client, v3"):
            points.append((1, case))
        match = re.fullmatch(r"1 user x (\d+) connections", case.name)
        if match:
            points.append((int(match.group(1)), case))
    return sorted(points, key=lambda p: p[0])


def push_plot(
    path: Path,
    results: Sequence[CaseResult],
    header: Sequence[str],
    before: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Frames/s and server CPU per frame against the number of connections of one user.

    ``before``: agentsocket's figures per case from an earlier run, drawn in grey.
    """
    points = _fanout_points(results)
    if not points:
        return
    fig, (rate_ax, cpu_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for server in LABELS:
        xs = [n for n, case in points if server in case.servers()]
        if not xs:
            continue
        cases = [case for _, case in points if server in case.servers()]
        rates = [case.median(server, lambda s: s.rate) or 0 for case in cases]
        cpus = [case.median(server, lambda s: s.cpu_us) or 0 for case in cases]
        rate_ax.plot(xs, rates, _STYLE[server], label=LABELS[server])
        cpu_ax.plot(xs, cpus, _STYLE[server], label=LABELS[server])
    old = [(n, (before or {}).get(case.name)) for n, case in points]
    old_points = [(n, figures) for n, figures in old if figures]
    if old_points:
        xs = [n for n, _ in old_points]
        rate_ax.plot(xs, [f["rate"] for _, f in old_points], **_BEFORE)
        cpu_ax.plot(xs, [f["cpu_us"] for _, f in old_points], **_BEFORE)
    for ax in (rate_ax, cpu_ax):
        ax.set_xscale("log")
        ax.set_xlabel("connections of one user (fan-out)")
        _plain(ax, [n for n, _ in points])
        ax.legend()
    rate_ax.set_ylabel("frames delivered per second")
    rate_ax.set_title("push throughput (wall clock)")
    cpu_ax.set_ylabel("server CPU µs per frame (schedstat)")
    cpu_ax.set_title("server CPU per frame")
    cpu_ax.set_ylim(bottom=0)
    fig.suptitle(" / ".join((header[0], header[-1])), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def idle_plot(
    path: Path,
    results: Sequence[CaseResult],
    header: Sequence[str],
    before: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """KB per idle connection and seconds to open them against the number of connections."""
    fig, (mem_ax, open_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    points = sorted(
        ((int(case.name.split()[0].replace(",", "")), case) for case in results),
        key=lambda p: p[0],
    )
    for server in LABELS:
        chosen = [(n, case) for n, case in points if server in case.servers()]
        if not chosen:
            continue
        xs = [n for n, _ in chosen]
        kbs = [case.median(server, lambda s: s.extra["kb_per_conn"]) or 0 for _, case in chosen]
        opens = [case.median(server, lambda s: s.seconds) or 0 for _, case in chosen]
        mem_ax.plot(xs, kbs, _STYLE[server], label=LABELS[server])
        open_ax.plot(xs, opens, _STYLE[server], label=LABELS[server])
    old_points = [(n, (before or {}).get(case.name)) for n, case in points]
    shown = [(n, f) for n, f in old_points if f]
    if shown:
        xs = [n for n, _ in shown]
        mem_ax.plot(xs, [f["kb_per_conn"] for _, f in shown], **_BEFORE)
        open_ax.plot(xs, [f["seconds"] for _, f in shown], **_BEFORE)
    for ax in (mem_ax, open_ax):
        ax.set_xlabel("idle connections")
        _plain(ax, [n for n, _ in points])
        ax.legend()
    mem_ax.set_ylabel("server RSS growth per connection (KB)")
    mem_ax.set_title("memory per idle connection")
    mem_ax.set_ylim(bottom=0)
    open_ax.set_ylabel("seconds to open them all")
    open_ax.set_title("time to open (64 handshakes in flight)")
    open_ax.set_ylim(bottom=0)
    fig.suptitle(" / ".join((header[0], header[-1])), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
