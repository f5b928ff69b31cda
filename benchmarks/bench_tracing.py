"""The cost of tracing: the push benchmark's cases on two gateways, tracing off and on.

Run from the project root (the ``otel`` extra, which ``dev`` pulls in)::

    .venv/bin/python benchmarks/bench_tracing.py [--events 40000] [--rounds 5] [--json F]
    .venv/bin/python benchmarks/bench_tracing.py --smoke      # seconds
    .venv/bin/python benchmarks/bench_tracing.py --control    # A/A: tracing off on both
    .venv/bin/python benchmarks/bench_tracing.py --spans-only # a run's spans, in-process

Both gateways are :mod:`benchkit.gateway_server`, started the same way, one
after the other on CPU 0 (never at once). ``off`` has ``OTEL_SDK_DISABLED=true``;
``on`` exports every span (the SDK's default sampler: always on) over OTLP/HTTP
to a local sink (:mod:`benchkit.otlp_sink`, on the client's CPU), with the
SDK's default batching. Each round runs every case on both, alternating which
goes first. The figures: frames delivered per second, server CPU microseconds
per frame (kernel schedstat of every server thread, the exporter's included),
and the medians of per-round ratios on / off. The spans the sink received
show that the traced gateway did export.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_push import DELTA_CHARS, cases, run_case
from benchkit import servers, system
from benchkit.report import CaseResult, Sample

MODES = ("off", "on")


def start_sink() -> tuple[subprocess.Popen[bytes], str]:
    port = servers.free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "benchkit.otlp_sink", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/count", timeout=1).raise_for_status()
            return sink, url
        except httpx.HTTPError:
            if sink.poll() is not None or time.monotonic() > deadline:
                sink.kill()
                raise RuntimeError("the OTLP sink did not start") from None
            time.sleep(0.1)


async def bench(args: argparse.Namespace, sink_url: str) -> list[CaseResult]:
    chosen = cases(args.users, args.fanout)
    results = [CaseResult(c.name, "frames/s") for c in chosen]
    envs = {
        "off": {"OTEL_SDK_DISABLED": "true"},
        "on": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url,
            "OTEL_SERVICE_NAME": "bench-gateway",
            **({"OTEL_BSP_SCHEDULE_DELAY": "200"} if args.smoke else {}),
        },
    }
    if args.control:
        envs["on"] = envs["off"]
    running = {mode: servers.start("agentsocket", env=envs[mode]) for mode in MODES}
    try:
        for round_no in range(1, args.rounds + 1):
            print(
                f"round {round_no}/{args.rounds}, load average {system.load_average()}", flush=True
            )
            order = MODES if round_no % 2 else MODES[::-1]
            for case, result in zip(chosen, results, strict=True):
                events = case.events(args.events)
                samples: dict[str, Sample] = {}
                for mode in order:
                    samples[mode] = await run_case(running[mode], case, events, 0)
                result.rounds.append({mode: samples[mode] for mode in MODES})
                print(
                    f"  {case.name}: "
                    + ", ".join(
                        f"{m} {s.rate:,.0f}/s {s.cpu_us:.1f} us" for m, s in samples.items()
                    ),
                    flush=True,
                )
        # The SDK exports every 5 s by default; the count is read while the gateway runs.
        await asyncio.sleep(1 if args.smoke else 6)
    finally:
        for server in running.values():
            server.stop()
    return results


def span_cost(sink_url: str, runs: int) -> dict[str, float]:
    """CPU µs of one run's gateway spans, in this process: off, and on in three ways.

    A run's gateway spans: the accept with the store write and the agent run
    inside it, then the store write of the end (what a local run makes with no
    tool). ``sdk``: spans made and ended, no processor; ``batch``: the SDK's
    batch processor with an exporter that drops everything; ``otlp``: batched
    and exported over OTLP/HTTP to the sink, flushed at the end. The process
    CPU counts the SDK's export thread too.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from agentsocket import tracing

    class Discard(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    def one_run() -> None:
        with tracing.span("agentsocket.user_message", {"k": "v"}, kind="server") as accept:
            with tracing.span("agentsocket.store.start_run"):
                pass
            accept.set("agentsocket.run_id", "run_x")
            with tracing.span("invoke_agent bench", {"gen_ai.agent.name": "bench"}) as agent:
                with tracing.span("agentsocket.store.end_run", {"agentsocket.run_id": "run_x"}):
                    pass
                agent.set("agentsocket.run.status", "completed")

    def measure(provider: TracerProvider | None) -> float:
        tracing.use_provider(provider)
        started = time.process_time()
        for _ in range(runs):
            one_run()
        if provider is not None:
            provider.force_flush()
        spent = (time.process_time() - started) / runs * 1e6
        tracing.use_provider(None)
        if provider is not None:
            provider.shutdown()
        return spent

    def with_processor(exporter: SpanExporter | None) -> TracerProvider:
        provider = TracerProvider()
        if exporter is not None:
            # A queue that holds every span: none is dropped, so every one is paid for.
            provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=4 * runs))
        return provider

    return {
        "off": measure(None),
        "sdk": measure(with_processor(None)),
        "batch": measure(with_processor(Discard())),
        "otlp": measure(with_processor(OTLPSpanExporter(f"{sink_url}/v1/traces"))),
    }


def table(results: list[CaseResult]) -> str:
    lines = [
        f"{'case':30} {'off: frames/s':>14} {'us/frame':>9} {'on: frames/s':>14} {'us/frame':>9}"
        f" {'rate on/off':>12} {'cpu on/off':>11}"
    ]
    for result in results:
        off_rate = result.median("off", lambda s: s.rate) or 0.0
        on_rate = result.median("on", lambda s: s.rate) or 0.0
        off_cpu = result.median("off", lambda s: s.cpu_us) or 0.0
        on_cpu = result.median("on", lambda s: s.cpu_us) or 0.0
        rate_ratio = result.ratio("on", "off") or 0.0
        cpu_ratio = result.ratio("on", "off", lambda s: s.cpu_us) or 0.0
        lines.append(
            f"{result.name:30} {off_rate:>14,.0f} {off_cpu:>9.1f} {on_rate:>14,.0f} {on_cpu:>9.1f}"
            f" {rate_ratio:>11.2f}x {cpu_ratio:>10.2f}x"
        )
    lines.append(
        "medians over rounds; on/off = median of per-round ratios (rate: >1 faster with "
        "tracing; cpu: >1 costs more with tracing)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000, help="frames delivered per case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--fanout", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument(
        "--span-runs", type=int, default=20_000, help="runs' spans timed in this process"
    )
    parser.add_argument("--spans-only", action="store_true", help="only the in-process span timing")
    parser.add_argument(
        "--control",
        action="store_true",
        help="an A/A run: tracing off on both gateways, to see the noise between two processes",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, and export every 0.2 s (for CI)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.rounds, args.users, args.fanout = 60, 1, 3, [3]
        args.span_runs = 200
    system.exit_on_sigterm()
    system.raise_file_limit()
    header = system.announce()
    print(
        f"tracing cost: push cases, ~{args.events:,} frames per case, {args.rounds} rounds, "
        f"{DELTA_CHARS}-character deltas; gateway with tracing off and on (OTLP/HTTP to a "
        "local sink)"
        + ("; CONTROL RUN: tracing off on both ('on' is a second 'off')" if args.control else "")
        + ("; --spans-only: the push cases are skipped" if args.spans_only else "")
    )
    started = time.perf_counter()
    sink, sink_url = start_sink()
    try:
        results = [] if args.spans_only else asyncio.run(bench(args, sink_url))
        spans = int(httpx.get(f"{sink_url}/count", timeout=5).text)
        costs = span_cost(sink_url, args.span_runs)
    finally:
        sink.terminate()
        sink.wait(10)
    print()
    if results:
        print(table(results))
        print(f"spans the sink received from the traced gateway: {spans:,}")
    print(
        f"a run's 4 gateway spans, timed in the benchmark process ({args.span_runs:,} runs), "
        f"CPU per run: off {costs['off']:.2f} us; on: {costs['sdk']:.1f} us made (no "
        f"processor), {costs['batch']:.1f} us batched (exporter drops), {costs['otlp']:.1f} us "
        "exported over OTLP/HTTP"
    )
    system.print_end(started)
    if args.json:
        body = {
            "benchmark": "tracing",
            "header": header,
            "args": {k: str(v) for k, v in vars(args).items()},
            "spans_received": spans,
            "span_cost_us_per_run": costs,
            "cases": [r.to_json() for r in results],
        }
        args.json.write_text(json.dumps(body, indent=2))
    return 0 if spans > 0 or args.control or args.spans_only else 1


if __name__ == "__main__":
    sys.exit(main())
