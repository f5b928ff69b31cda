"""Every benchmark in ``benchmarks/`` runs at a tiny size and reports sane figures.

This keeps the benchmarks from rotting as the gateway changes; it asserts
what was delivered and that every ratio was computed, never a speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ("agentsocket", "bare", "socketio")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def run_benchmark(script: str, tmp_path: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / f"{script}.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--smoke", "--json", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    body: dict[str, Any] = json.loads(out.read_text())
    return done.stdout, body


def check_cases(body: dict[str, Any], ratio_key: str = "ratio_") -> None:
    """Every case has a sample of every server, all sent was delivered, CPU and ratios exist."""
    assert body["cases"]
    for case in body["cases"]:
        for round_ in case["rounds"]:
            assert set(round_) == set(SERVERS), case["name"]
            for sample in round_.values():
                assert sample["messages"] == sample["extra"]["sent"] > 0, case["name"]
                assert sample["seconds"] > 0
                assert sample["server_cpu_ns"] > 0, case["name"]
        summary = case["summary"]
        for name in SERVERS:
            assert summary[name]["rate"] > 0
            assert summary[name]["cpu_us"] > 0
        if ratio_key:
            for base in ("bare", "socketio"):
                assert summary["agentsocket"][f"{ratio_key}{base}"] > 0, case["name"]
                assert summary["agentsocket"][f"cpu_{ratio_key}{base}"] > 0, case["name"]


def test_push(tmp_path: Path) -> None:
    plot = tmp_path / "push.png"
    stdout, body = run_benchmark("bench_push.py", tmp_path, "--plot", str(plot))
    check_cases(body)
    names = [case["name"] for case in body["cases"]]
    assert any("v3" in n for n in names)
    assert any("v1" in n for n in names)
    assert any("users, one run each" in n for n in names)
    assert any("connections" in n for n in names)
    for case in body["cases"]:
        # The baselines sent frames of the size the gateway's had.
        sizes = [case["summary"][name]["frame_bytes"] for name in ("agentsocket", "bare")]
        assert abs(sizes[0] - sizes[1]) <= 1, case["name"]
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert "-> " in stdout  # the printed ratios
    # A saved run reads back, and compares with itself as "before".
    again = tmp_path / "again.png"
    run = str(tmp_path / "bench_push.py.json")
    show = [sys.executable, str(ROOT / "benchmarks" / "show.py"), "push", run]
    shown = subprocess.run(
        [*show, "--before", run, "--plot", str(again)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "1.00x less server CPU" in shown.stdout
    assert again.read_bytes().startswith(b"\x89PNG")


def test_pingpong(tmp_path: Path) -> None:
    # --before with the saved "before" run: the JSON records its path as text.
    before = ROOT / "benchmarks" / "results" / "before" / "pingpong.json"
    _, body = run_benchmark("bench_pingpong.py", tmp_path, "--before", str(before))
    check_cases(body)
    assert body["args"]["before"] == str(before)
    for case in body["cases"]:
        for name in SERVERS:
            figures = case["summary"][name]
            assert 0 < figures["p50_ms"] <= figures["p99_ms"]


def test_idle(tmp_path: Path) -> None:
    plot = tmp_path / "idle.png"
    _, body = run_benchmark("bench_idle.py", tmp_path, "--plot", str(plot))
    check_cases(body, ratio_key="")
    for case in body["cases"]:
        for name in SERVERS:
            assert case["summary"][name]["rss_mb"] > 0
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_run_metrics() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_run_metrics.py"), "--events", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["agent_message_delta", "tool_completed"]
    assert all(line.endswith("us per event") for line in lines)


def test_tracing(tmp_path: Path) -> None:
    stdout, body = run_benchmark("bench_tracing.py", tmp_path)
    assert body["cases"]
    for case in body["cases"]:
        for round_ in case["rounds"]:
            assert set(round_) == {"off", "on"}, case["name"]
            for sample in round_.values():
                assert sample["messages"] == sample["extra"]["sent"] > 0, case["name"]
                assert sample["server_cpu_ns"] > 0, case["name"]
    # Every run of the traced gateway exported its spans: its accept, the two store
    # writes and the agent run.
    users = int(body["args"]["users"])
    runs = sum(users if "one run each" in c["name"] else 1 for c in body["cases"])
    assert body["spans_received"] >= 4 * runs
    assert "rate on/off" in stdout


def test_push__only_the_cases_asked_for(tmp_path: Path) -> None:
    _, body = run_benchmark("bench_push.py", tmp_path, "--cases", "v1", "users")
    assert [case["name"] for case in body["cases"]] == [
        "1 client, v1 agent_thinking",
        "3 users, one run each",
    ]
    check_cases(body)
    wrong = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_push.py"), "--cases", "nothing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 2
    assert "no case's name contains" in wrong.stderr
