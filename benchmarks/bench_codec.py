"""Codec micro-benchmark: ns per message, side by side with bare orjson in the same run.

Run from the project root::

    .venv/bin/python benchmarks/bench_codec.py

It times, for typical agent events (``tool_completed`` with a small result dict,
``agent_message_delta``) and a typical inbound ``user_message``:

* ``encode_server(envelope, version)`` for v3, v2 and v1, and
  ``encode_server_many(envelope, VERSIONS)`` for all three at once, against
  ``orjson.dumps`` of the same message's v3 wire dict;
* ``decode_client(frame, version)`` (parse + version conversion + validation)
  for v3, v2 and v1, against ``orjson.loads`` of the same bytes;
* a breakdown of the steps inside them, to see where the time goes.

Each figure is the median of ``--repeats`` timed loops (``time.perf_counter_ns``
through :class:`timeit.Timer`, GC off while timing), each loop sized to last
about ``--loop-ms``. Ratios compare figures of the same run only. Read the
numbers on a quiet machine; they are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Any

import orjson

from agentsocket.protocol import (
    VERSIONS,
    ClientEnvelope,
    ServerEnvelope,
    decode_client,
    encode_client,
    encode_server,
    encode_server_many,
    get_version,
    head_frame,
)
from agentsocket.protocol import versions as _versions
from agentsocket.protocol.client_messages import UserMessage
from agentsocket.protocol.server_messages import AgentMessageDelta, ToolCompleted
from agentsocket.protocol.versions.change import iso

V3, V2, V1 = (get_version(name) for name in ("v3", "v2", "v1"))
_T = 1757332800.25
_RUN = {"run_id": "run_7f3a", "thread_id": "thr_42", "agent_name": "supervisor"}

TOOL_COMPLETED = ServerEnvelope(
    ToolCompleted(
        **_RUN,
        tool_call_id="call_1",
        tool_name="calculate",
        status="success",
        result={"expression": "17*23", "value": 391, "hex": "0x187"},
        duration_ms=0.8,
    ),
    timestamp=_T,
    server_id="node-a",
    seq=17,
)
DELTA = ServerEnvelope(
    AgentMessageDelta(**_RUN, message_id="msg_2", content="17*23 = 391"),
    timestamp=_T,
    server_id="node-a",
    seq=18,
)
USER_MESSAGE = ClientEnvelope(
    UserMessage(
        content="what is 17*23 in hex?",
        thread_id="thr_42",
        client_message_id="cm-1",
        metadata={"source": "web"},
    ),
    "req-3",
)


@dataclass(frozen=True)
class Case:
    """One timed statement; ``baseline`` names the row its ratio is taken against."""

    label: str
    stmt: str
    env: Mapping[str, Any]
    baseline: str | None = None
    note: str = ""
    frames: int = 1  # frames one execution produces, for a per-frame figure


@dataclass(frozen=True)
class Result:
    case: Case
    ns: float
    spread: float  # (max - min) / median of the repeats, as a noise indicator


def measure(case: Case, repeats: int, loop_ns: int) -> Result:
    """Median ns per execution of ``case.stmt`` over ``repeats`` loops."""
    timer = timeit.Timer(case.stmt, timer=time.perf_counter_ns, globals=dict(case.env))
    number = 1
    while True:  # calibrate: grow the loop until it lasts at least a tenth of loop_ns
        elapsed = timer.timeit(number)
        if elapsed >= loop_ns // 10:
            break
        number *= 10
    number = max(1, int(number * loop_ns / max(elapsed, 1)))
    runs = [ns / number for ns in timer.repeat(repeat=repeats, number=number)]
    median = statistics.median(runs)
    return Result(case, median, (max(runs) - min(runs)) / median)


def _check_workload() -> dict[str, bytes]:
    """Fail loudly if the benchmark would time error paths instead of real work."""
    frames = {v.name: encode_client(USER_MESSAGE, v) for v in VERSIONS}
    for name, frame in frames.items():
        decoded = decode_client(frame, get_version(name))
        assert isinstance(decoded, ClientEnvelope), (name, decoded)
        assert decoded.message == USER_MESSAGE.message, name
    for envelope in (TOOL_COMPLETED, DELTA):
        assert encode_server(envelope, V3) == orjson.dumps(head_frame(envelope))
        many = encode_server_many(envelope, VERSIONS)
        assert many == {v.name: encode_server(envelope, v) for v in VERSIONS}
    assert encode_server(DELTA, V1) is None, "v1 has no streamed text: the delta is dropped"
    return frames


def encode_cases(name: str, envelope: ServerEnvelope) -> list[Case]:
    head = head_frame(envelope)
    env: dict[str, Any] = {
        "env": envelope,
        "head": head,
        "dumps": orjson.dumps,
        "encode_server": encode_server,
        "encode_server_many": encode_server_many,
        "VERSIONS": VERSIONS,
        "V3": V3,
        "V2": V2,
        "V1": V1,
    }
    base = f"orjson.dumps(v3 dict) [{name}]"
    sizes = {
        v.name: len(b) if b else 0 for v, b in ((v, encode_server(envelope, v)) for v in VERSIONS)
    }

    def size(version: str) -> str:
        return f"{sizes[version]} B" if sizes[version] else "dropped (None)"

    return [
        Case(base, "dumps(head)", env, note=f"{len(orjson.dumps(head))} B"),
        Case(f"encode_server {name} v3", "encode_server(env, V3)", env, base, size("v3")),
        Case(f"encode_server {name} v2", "encode_server(env, V2)", env, base, size("v2")),
        Case(f"encode_server {name} v1", "encode_server(env, V1)", env, base, size("v1")),
        Case(
            f"encode_server_many {name} v3+v2+v1",
            "encode_server_many(env, VERSIONS)",
            env,
            base,
            "all three at once",
            frames=3,
        ),
    ]


def decode_cases(frames: dict[str, bytes]) -> list[Case]:
    env: dict[str, Any] = {
        "loads": orjson.loads,
        "decode_client": decode_client,
        "V3": V3,
        "V2": V2,
        "V1": V1,
        **{f"frame_{name}": frame for name, frame in frames.items()},
    }
    cases: list[Case] = []
    for name in ("v3", "v2", "v1"):
        base = f"orjson.loads(bytes) [user_message {name}]"
        size = f"{len(frames[name])} B"
        cases.append(Case(base, f"loads(frame_{name})", env, note=size))
        cases.append(
            Case(
                f"decode_client user_message {name}",
                f"decode_client(frame_{name}, {name.upper()})",
                env,
                base,
                size,
            )
        )
    return cases


def breakdown_cases(frames: dict[str, bytes]) -> list[Case]:
    """The steps inside encode/decode, each timed alone on the same data."""
    head = head_frame(TOOL_COMPLETED)
    as_v2 = _versions.server_step_down(head, V3)
    assert as_v2 is not None
    raw_v2 = orjson.loads(frames["v2"])
    raw_v1 = orjson.loads(frames["v1"])
    data = orjson.loads(frames["v3"])["data"]
    env: dict[str, Any] = {
        "msg": TOOL_COMPLETED.message,
        "env": TOOL_COMPLETED,
        "head": head,
        "as_v2": as_v2,
        "head_frame": head_frame,
        "step_down": _versions.server_step_down,
        "client_up": _versions.client_up,
        "dumps": orjson.dumps,
        "loads": orjson.loads,
        "UserMessage": UserMessage,
        "data": data,
        "data_no_meta": {k: v for k, v in data.items() if k != "metadata"},
        "iso": iso,
        "ts": _T,
        "raw_v2": raw_v2,
        "raw_v1": raw_v1,
        "frame_v3": frames["v3"],
        "V3": V3,
        "V2": V2,
        "V1": V1,
    }
    out = "tool_completed, out"
    inbound = "user_message, in"
    return [
        Case(f"model_dump(mode='json')  [{out}]", "msg.model_dump(mode='json')", env),
        Case(f"model_dump() python mode  [{out}]", "msg.model_dump()", env),
        Case(
            f"__pydantic_serializer__.to_python  [{out}]",
            "msg.__pydantic_serializer__.to_python(msg, mode='json')",
            env,
            note="what model_dump calls, minus its keyword plumbing",
        ),
        Case(f"head_frame(envelope)  [{out}]", "head_frame(env)", env),
        Case(f"server_step_down v3→v2  [{out}]", "step_down(head, V3)", env),
        Case(f"server_step_down v2→v1  [{out}]", "step_down(as_v2, V2)", env),
        Case(f"iso(timestamp)  [{out}]", "iso(ts)", env, note="v1's ISO 8601 time, inside v2→v1"),
        Case(f"orjson.dumps(head dict)  [{out}]", "dumps(head)", env),
        Case(f"orjson.loads(bytes)  [{inbound}]", "loads(frame_v3)", env),
        Case(f"client_up v2→v3  [{inbound}]", "client_up(raw_v2, V2)", env),
        Case(f"client_up v1→v3  [{inbound}]", "client_up(raw_v1, V1)", env),
        Case(f"UserMessage.model_validate  [{inbound}]", "UserMessage.model_validate(data)", env),
        Case(
            f"UserMessage.model_validate, no metadata  [{inbound}]",
            "UserMessage.model_validate(data_no_meta)",
            env,
            note="skips the metadata depth validator",
        ),
    ]


def machine() -> list[str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}",
        f"cpu: {cpu}, nproc {usable}, load average {load}",
        ", ".join(
            f"{name} {package_version(name)}" for name in ("pydantic", "pydantic-core", "orjson")
        ),
    ]


def table(title: str, results: list[Result], with_ratio: bool) -> str:
    """A plain-text table; ``with_ratio`` adds each row's ratio to its baseline row."""
    by_label = {r.case.label: r for r in results}
    width = max(len(r.case.label) for r in results)
    ratio_head = f"  {'x base':>7}" if with_ratio else ""
    head = f"{'case':<{width}}  {'ns/op':>8}{ratio_head}  {'spread':>6}  note"
    lines = [title, head, "-" * len(head)]
    for r in results:
        ratio = ""
        if with_ratio:
            base = by_label[r.case.baseline].ns if r.case.baseline is not None else r.ns
            ratio = f"  {f'{r.ns / base:.1f}x':>7}"
        note = r.case.note
        if r.case.frames > 1:
            note += f", {r.ns / r.case.frames:,.0f} ns per frame"
        lines.append(
            f"{r.case.label:<{width}}  {r.ns:>8,.0f}{ratio}  {r.spread:>6.0%}  {note}".rstrip()
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=7, help="timed loops per case (median)")
    parser.add_argument("--loop-ms", type=float, default=40.0, help="duration of one timed loop")
    args = parser.parse_args(argv)
    loop_ns = int(args.loop_ms * 1e6)

    started = time.perf_counter()
    frames = _check_workload()
    groups = [
        (
            "encode: tool_completed (small result dict)",
            encode_cases("tool_completed", TOOL_COMPLETED),
            True,
        ),
        ("encode: agent_message_delta", encode_cases("agent_message_delta", DELTA), True),
        ("decode + validate: user_message", decode_cases(frames), True),
        ("breakdown (where the time goes)", breakdown_cases(frames), False),
    ]
    print("\n".join(machine()))
    print(f"median of {args.repeats} loops of ~{args.loop_ms:g} ms each; spread = (max-min)/median")
    for title, cases, with_ratio in groups:
        results = [measure(case, args.repeats, loop_ns) for case in cases]
        print()
        print(table(title, results, with_ratio))
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
