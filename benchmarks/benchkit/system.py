"""The machine side of a benchmark: CPU pinning, file limits, per-process CPU and memory.

Server CPU is read from the kernel's per-task schedstat
(``/proc/<pid>/task/*/schedstat``, first field = nanoseconds on a CPU), so it
counts only the time the server's own threads ran: a noisy neighbour slows
the wall clock but does not add to it.
"""

from __future__ import annotations

import os
import platform
import resource
import signal
import subprocess
import time
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_CPU = 0
CLIENT_CPU = 1


def pin(cpu: int) -> bool:
    """Run this process on ``cpu`` only; False (and unpinned) where that core is not ours.

    Children inherit the mask, so a server started by the pinned client pins
    itself again to its own core.
    """
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return False
    return True


def can_pin() -> bool:
    """Server and client can each get a core of their own."""
    return (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")


def raise_file_limit() -> int:
    """Raise the soft open-files limit to the hard one; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop the servers."""

    def handler(signum: int, _: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def cpu_ns(pid: int) -> int:
    """Nanoseconds all live threads of ``pid`` have spent on a CPU (schedstat).

    Kernels without schedstat (no CONFIG_SCHED_INFO) fall back to the
    process's user + system time from ``/proc/<pid>/stat``, in clock ticks.
    """
    total = 0
    found = False
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue  # the thread ended between listing and reading
    if found:
        return total
    # Fields 14 and 15 (utime, stime) count from after the command's closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _versions(names: tuple[str, ...]) -> str:
    found = []
    for name in names:
        try:
            found.append(f"{name} {package_version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def _commit() -> str:
    """The commit of the gateway code being measured (where ``agentsocket`` imports from)."""
    import agentsocket

    where = Path(agentsocket.__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(where), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def machine() -> list[str]:
    """Lines that say where and on what a benchmark ran."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pinned = (
        f"server on CPU {SERVER_CPU}, load client on CPU {CLIENT_CPU}"
        if can_pin()
        else "NOT pinned (fewer than 2 usable CPUs)"
    )
    return [
        f"agentsocket {_commit()}, python {platform.python_version()}, "
        f"{platform.system()} {platform.release()} {platform.machine()}",
        f"cpu: {cpu}, usable CPUs {usable}, {pinned}",
        _versions(("uvicorn", "websockets", "starlette", "uvloop", "picows", "python-socketio")),
        f"load average at start: {load_average()}",
    ]


def announce() -> list[str]:
    """Pin this (load client) process, print where the benchmark runs, and return those lines."""
    header = machine()
    if not pin(CLIENT_CPU):
        print("note: fewer than 2 usable CPUs; server and client are not pinned")
    print("\n".join(header))
    return header


def print_end(started: float) -> None:
    """The closing line of a benchmark: the load average and the wall time since ``started``."""
    print(f"load average at end: {load_average()}; total {time.perf_counter() - started:.0f} s")
