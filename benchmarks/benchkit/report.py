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

    def cpu_ratio(self, server: str, baseline: str) -> float | None:
        """Median over rounds of baseline CPU per message / server CPU per message.

        What the throughput ratio would be if both servers had a core to
        themselves and used all of it; a busy neighbour does not move it.
        """
        ratios = [
            r[baseline].cpu_us / r[server].cpu_us
            for r in self.rounds
            if server in r and baseline in r and r[server].cpu_us > 0
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
                "seconds": self.median(name, lambda s: s.seconds),
                **{
                    key: self.median(name, lambda s, k=key: s.extra[k])  # type: ignore[misc]
                    for key in self.rounds[0].get(name, Sample(name, 0, 0, 0, 0)).extra
                },
            }
            for base in BASELINES:
                if name == SUBJECT and base in servers:
                    summary[name][f"ratio_{base}"] = self.ratio(name, base)
                    summary[name][f"cpu_ratio_{base}"] = self.cpu_ratio(name, base)
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


def load_results(path: Path) -> tuple[list[str], list[CaseResult]]:
    """The machine lines and every case of a run's ``--json`` file."""
    body = json.loads(path.read_text())
    results = []
    for case in body["cases"]:
        result = CaseResult(case["name"], case["unit"], note=case.get("note", ""))
        for round_ in case["rounds"]:
            result.rounds.append(
                {
                    name: Sample(
                        sample["server"],
                        sample["messages"],
                        sample["seconds"],
                        sample["server_cpu_ns"],
                        sample["client_cpu_s"],
                        sample["extra"],
                    )
                    for name, sample in round_.items()
                }
            )
        results.append(result)
    return list(body["machine"]), results


def fmt(value: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def push_table(results: Sequence[CaseResult]) -> str:
    """The issue's layout: each server's rate and CPU per message, agentsocket's ratios."""
    lines = [
        f"{'case':30} {'agentsocket':>30} {'bare uvicorn+Starlette':>48} {'python-socketio':>48}",
        "-" * 159,
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
                cell += (
                    f" -> {fmt(case.ratio(SUBJECT, name), '.2f', 'x')}"
                    f" (cpu {fmt(case.cpu_ratio(SUBJECT, name), '.2f', 'x')})"
                )
            cells.append(cell)
        lines.append(f"{case.name:30} {cells[0]:>30} {cells[1]:>48} {cells[2]:>48}")
    lines += [
        "rates are medians over rounds; (N us) = server CPU microseconds per message (schedstat)",
        "-> Nx = median of per-round ratios of wall-clock rates, agentsocket / that server",
        "(cpu Nx) = median of per-round ratios of CPU per message, that server / agentsocket:",
        "         the rate ratio if each server had a core to itself; neighbours do not move it",
    ]
    return "\n".join(lines)


def pingpong_table(results: Sequence[CaseResult]) -> str:
    """Round trips per second, p50, p99 and CPU per round trip of each server."""
    lines = [
        f"{'case':28} {'server':24} {'rt/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'us CPU/rt':>9} {'x this':>7} {'cpu x':>6}",
        "-" * 104,
    ]
    for case in results:
        for name in case.servers():
            ratio = case.ratio(SUBJECT, name) if name != SUBJECT else None
            cpu = case.cpu_ratio(SUBJECT, name) if name != SUBJECT else None
            lines.append(
                f"{case.name:28} {LABELS[name]:24} "
                f"{fmt(case.median(name, lambda s: s.rate)):>9} "
                f"{fmt(case.median(name, lambda s: s.extra['p50_ms']), '.2f'):>7} "
                f"{fmt(case.median(name, lambda s: s.extra['p99_ms']), '.2f'):>7} "
                f"{fmt(case.median(name, lambda s: s.cpu_us), '.1f'):>9} "
                f"{fmt(ratio, '.2f', 'x') if ratio is not None else '':>7} "
                f"{fmt(cpu, '.2f', 'x') if cpu is not None else '':>6}"
            )
    lines.append(
        "medians over rounds; x this = median of per-round ratios, agentsocket rt/s / this rt/s;\n"
        "cpu x = the same for CPU per round trip (this / agentsocket): neighbours do not move it"
    )
    return "\n".join(lines)


def idle_table(results: Sequence[CaseResult]) -> str:
    """KB per connection, time to open and CPU per open of each server."""
    lines = [
        f"{'case':24} {'server':24} {'KB/conn':>8} {'open s':>7} {'us CPU/open':>11} "
        f"{'RSS MB':>7} {'KB x this':>9}",
        "-" * 96,
    ]
    for case in results:
        for name in case.servers():
            ratio = (
                case.ratio(SUBJECT, name, lambda s: s.extra["kb_per_conn"])
                if name != SUBJECT
                else None
            )
            lines.append(
                f"{case.name:24} {LABELS[name]:24} "
                f"{fmt(case.median(name, lambda s: s.extra['kb_per_conn']), '.1f'):>8} "
                f"{fmt(case.median(name, lambda s: s.seconds), '.2f'):>7} "
                f"{fmt(case.median(name, lambda s: s.cpu_us), '.0f'):>11} "
                f"{fmt(case.median(name, lambda s: s.extra['rss_mb']), '.0f'):>7} "
                f"{fmt(ratio, '.2f', 'x') if ratio is not None else '':>9}"
            )
    lines.append("KB x this = agentsocket KB/conn / this server's KB/conn (median of rounds)")
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


def load_before(path: Path | None) -> dict[str, dict[str, Any]]:
    """agentsocket's medians per case name from an earlier run's JSON (``--before``)."""
    if path is None:
        return {}
    _, results = load_results(path)
    before: dict[str, dict[str, Any]] = {}
    for case in results:
        if SUBJECT not in case.servers():
            continue
        extra_keys = next(r[SUBJECT].extra for r in case.rounds if SUBJECT in r)
        before[case.name] = {
            "rate": case.median(SUBJECT, lambda s: s.rate),
            "cpu_us": case.median(SUBJECT, lambda s: s.cpu_us),
            "seconds": case.median(SUBJECT, lambda s: s.seconds),
            **{
                key: case.median(SUBJECT, lambda s, k=key: s.extra[k])  # type: ignore[misc]
                for key in extra_keys
            },
        }
    return before


def before_lines(results: Sequence[CaseResult], before: dict[str, dict[str, Any]]) -> str:
    """agentsocket now against an earlier run of it (``--before``), by CPU per message."""
    lines = []
    for case in results:
        old = before.get(case.name)
        now = case.median(SUBJECT, lambda s: s.cpu_us)
        if old is None or now is None or not old.get("cpu_us"):
            continue
        lines.append(
            f"{case.name:30} before {old['cpu_us']:.1f} us, now {now:.1f} us per message: "
            f"{old['cpu_us'] / now:.2f}x less server CPU; rate before "
            f"{fmt(old.get('rate'))}, now {fmt(case.median(SUBJECT, lambda s: s.rate))} "
            f"{case.unit} (different runs: compare the CPU)"
        )
    return "\n".join(lines)


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
        # Paths (--json, --plot, --before) as text: json cannot write a Path.
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in args.items()},
        "cases": [case.to_json() for case in results],
    }
    path.write_text(json.dumps(body, indent=1) + "\n")
