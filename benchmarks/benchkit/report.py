"""Rounds, medians and ratios, the printed table and the JSON a benchmark writes.

A ratio is taken between figures of the same round (same minute, same
neighbours), and the median of those per-round ratios is reported: a
neighbour who was busy during one round moves one ratio, not the result.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SUBJECT = "agentsocket"
BASELINES = ("bare", "socketio")
LABELS = {
    "agentsocket": "agentsocket",
    "bare": "bare uvicorn+Starlette",
    "socketio": "python-socketio",
}


@dataclass
class Sample:
    """One server doing one case once."""

    server: str
    messages: int  # frames delivered (push), round trips (ping/pong), connections (idle)
    seconds: float  # wall clock of the measured part
    server_cpu_ns: int
    client_cpu_s: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per message."""
        return self.server_cpu_ns / 1000 / self.messages if self.messages else 0.0

    @property
    def client_cpu(self) -> float:
        """Share of one core the load client used during the measured part."""
        return self.client_cpu_s / self.seconds if self.seconds > 0 else 0.0


@dataclass
class CaseResult:
    """Every round of one case, for each server."""

    name: str
    unit: str
    rounds: list[dict[str, Sample]] = field(default_factory=list)
    note: str = ""

    def servers(self) -> list[str]:
        seen: list[str] = []
        for round_ in self.rounds:
            seen += [name for name in round_ if name not in seen]
        return seen

    def median(self, server: str, metric: Callable[[Sample], float]) -> float | None:
        values = [metric(r[server]) for r in self.rounds if server in r]
        return statistics.median(values) if values else None

    def ratio(
        self, server: str, baseline: str, metric: Callable[[Sample], float] = lambda s: s.rate
    ) -> float | None:
        """Median over rounds of metric(server) / metric(baseline) in the same round."""
        ratios = [
            metric(r[server]) / metric(r[baseline])
            for r in self.rounds
            if server in r and baseline in r and metric(r[baseline]) > 0
        ]
        return statistics.median(ratios) if ratios else None

    def to_json(self) -> dict[str, Any]:
        servers = self.servers()
        summary: dict[str, Any] = {}
        for name in servers:
            summary[name] = {
                "rate": self.median(name, lambda s: s.rate),
                "cpu_us": self.median(name, lambda s: s.cpu_us),
                "client_cpu": self.median(name, lambda s: s.client_cpu),
                **{
                    key: self.median(name, lambda s, k=key: s.extra[k])  # type: ignore[misc]
                    for key in self.rounds[0].get(name, Sample(name, 0, 0, 0, 0)).extra
                },
            }
            for base in BASELINES:
                if name == SUBJECT and base in servers:
                    summary[name][f"ratio_{base}"] = self.ratio(name, base)
        return {
            "name": self.name,
            "unit": self.unit,
            "note": self.note,
            "summary": summary,
            "rounds": [
                {name: {**asdict(s), "rate": s.rate, "cpu_us": s.cpu_us} for name, s in r.items()}
                for r in self.rounds
            ],
        }


def fmt(value: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def push_table(results: Sequence[CaseResult]) -> str:
    """The issue's layout: each server's rate and CPU per message, agentsocket's ratios."""
    lines = [
        f"{'case':30} {'agentsocket':>30} {'bare uvicorn+Starlette':>36} {'python-socketio':>36}",
        "-" * 135,
    ]
    for case in results:
        cells = []
        for name in (SUBJECT, *BASELINES):
            if name not in case.servers():
                cells.append("-")
                continue
            rate = case.median(name, lambda s: s.rate)
            cpu = case.median(name, lambda s: s.cpu_us)
            cell = f"{fmt(rate)} {case.unit} ({fmt(cpu, '.1f')} us)"
            if name != SUBJECT:
                cell += f" -> {fmt(case.ratio(SUBJECT, name), '.2f', 'x')}"
            cells.append(cell)
        lines.append(f"{case.name:30} {cells[0]:>30} {cells[1]:>36} {cells[2]:>36}")
    lines.append(
        "rates are medians over rounds; (N us) = server CPU microseconds per message "
        "(schedstat); -> Nx = median of per-round ratios agentsocket / that server"
    )
    return "\n".join(lines)


def client_line(results: Sequence[CaseResult]) -> str:
    """The load client's busiest moment, to show it was not the bottleneck."""
    busiest = max(
        (s.client_cpu, case.name, s.server)
        for case in results
        for r in case.rounds
        for s in r.values()
    )
    return (
        f"load client CPU: at most {busiest[0]:.0%} of its core "
        f"({busiest[1]}, {busiest[2]}); below 100% means it was not the bottleneck"
    )


def write_json(
    path: Path,
    benchmark: str,
    header: list[str],
    args: dict[str, Any],
    results: Sequence[CaseResult],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": benchmark,
        "machine": header,
        "args": args,
        "cases": [case.to_json() for case in results],
    }
    path.write_text(json.dumps(body, indent=1) + "\n")
