"""agentsocket.tracing: off by default at no cost, on with OTEL_*, a run's span tree.

The run tests record in memory (the SDK's InMemorySpanExporter); the trace of a
real gateway and worker over OTLP/HTTP is tests/e2e/test_tracing.py.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import ValidationError

from agentsocket import tracing
from agentsocket.agents import ListSink, RunContext, Runner, Tool
from agentsocket.delivery.run_queue import RunRequest, decode_request
from agentsocket.protocol import client_messages as c
from agentsocket.server.logs import JsonFormatter
from tests.agents.helpers import FuncAgent

CLIENT_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_provider(None)
        provider.shutdown()


class _Collect(logging.Handler):
    """The records logged, as the gateway's handler sees them (with its LogIds filter)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(tracing.LogIds())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# --- off ---------------------------------------------------------------------------------


def test__off_by_default_span_is_one_shared_object_and_records_nothing() -> None:
    assert not tracing.enabled()
    first = tracing.span("a", {"k": 1}, kind="server", parent=CLIENT_PARENT)
    assert first is tracing.span("b")  # no allocation per call
    with first as span:
        span.set("key", "value")
        span.fail("ignored")
    started = tracing.start("c", current=True)
    started.end()
    assert tracing.traceparent() is None
    assert tracing.current_ids() is None


async def test__off_a_run_with_a_tool_works_and_logs_carry_no_trace_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = _Collect()
    records = handler.records
    logger = logging.getLogger("agentsocket.test_tracing")
    logger.addHandler(handler)
    try:
        sink = ListSink()
        outcome = await Runner().start("u", "t", _tool_agent(logger), "hi", "run_1", sink).wait()
    finally:
        logger.removeHandler(handler)
    assert outcome.status == "completed"
    assert records
    assert not any(hasattr(r, "trace_id") for r in records)


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"OTEL_SERVICE_NAME": "x"},  # naming a service asks for no export
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
        {"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
    ],
)
def test__not_requested_stays_off(environ: dict[str, str]) -> None:
    assert not tracing.requested(environ)
    assert not tracing.configure("agentsocket-test", environ)
    assert not tracing.enabled()


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "otlp"},
        {"OTEL_TRACES_EXPORTER": "console,otlp"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"},
    ],
)
def test__requested_by_the_standard_variables(environ: dict[str, str]) -> None:
    assert tracing.requested(environ)


def test__without_the_otel_extra_it_warns_once_and_stays_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # import fails
    with caplog.at_level(logging.WARNING, "agentsocket.tracing"):
        assert not tracing.configure("agentsocket-test", {"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing.enabled()
    assert "the otel extra is not installed" in caplog.text
    assert len(caplog.records) == 1


def test__only_unknown_exporters_leave_it_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "agentsocket.tracing"):
        assert not tracing.configure("agentsocket-test", {"OTEL_TRACES_EXPORTER": "jaeger"})
    assert not tracing.enabled()
    assert "unknown OTEL_TRACES_EXPORTER 'jaeger'" in caplog.text


# --- traceparent -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  # no flags
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # upper case
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero span id
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # version ff
        " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0\u0131",
        "x" * 10_000,
    ],
)
def test__a_malformed_traceparent_is_refused_with_its_field(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        c.UserMessage(content="hi", traceparent=value)
    assert [e["loc"] for e in caught.value.errors()] == [("traceparent",)]


def test__a_valid_traceparent_is_accepted_and_optional() -> None:
    assert c.UserMessage(content="hi", traceparent=CLIENT_PARENT).traceparent == CLIENT_PARENT
    assert c.UserMessage(content="hi").traceparent is None


# --- on ----------------------------------------------------------------------------------


def _add_tool(func: Callable[..., Awaitable[int]]) -> Tool:
    return Tool("add", "adds", {"type": "object"}, func)


def _tool_agent(logger: logging.Logger | None = None) -> FuncAgent:
    async def add(a: int, b: int) -> int:
        if logger is not None:
            logger.warning("adding")
        return a + b

    async def helper(ctx: RunContext, prompt: str) -> None:
        await ctx.tool("add", {"a": 2, "b": 3})
        await ctx.say("five")

    async def main(ctx: RunContext, prompt: str) -> None:
        await ctx.tool("add", {"a": 1, "b": 1})
        await ctx.tool("missing")  # an error result
        await ctx.delegate(FuncAgent("helper", helper, [_add_tool(add)]), "go")
        report = await ctx.tool_call("framework_tool", {"q": 1})
        await report.succeeded("ok")
        await ctx.say("done")

    return FuncAgent("main", main, [_add_tool(add)])


def _by_name(spans: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test__a_run_is_one_trace_agent_tools_and_sub_run_as_children(
    spans: InMemorySpanExporter,
) -> None:
    outcome = await Runner().start("u", "t", _tool_agent(), "hi", "run_1", ListSink()).wait()
    assert outcome.status == "completed"
    found = _by_name(spans)
    assert {s.context.trace_id for s in spans.get_finished_spans()} == {
        found["invoke_agent main"][0].context.trace_id
    }
    (agent,) = found["invoke_agent main"]
    (sub,) = found["invoke_agent helper"]
    assert agent.parent is None
    assert agent.attributes is not None
    assert agent.attributes["agentsocket.run_id"] == "run_1"
    assert agent.attributes["agentsocket.run.status"] == "completed"
    assert _parent(sub) == agent.context.span_id
    adds = found["execute_tool add"]
    assert {_parent(s) for s in adds} == {agent.context.span_id, sub.context.span_id}
    (missing,) = found["execute_tool"]  # an unknown name stays out of span names
    assert missing.attributes is not None
    assert missing.attributes["gen_ai.tool.name"] == "missing"
    assert missing.status.status_code is StatusCode.ERROR
    assert "unknown tool" in (missing.status.description or "")
    (framework,) = found["execute_tool framework_tool"]
    assert _parent(framework) == agent.context.span_id
    assert framework.attributes is not None
    assert framework.attributes["agentsocket.tool.status"] == "success"


async def test__a_failed_run_fails_its_span(spans: InMemorySpanExporter) -> None:
    async def broken(ctx: RunContext, prompt: str) -> None:
        raise RuntimeError("boom")

    outcome = (
        await Runner().start("u", "t", FuncAgent("b", broken), "x", "run_2", ListSink()).wait()
    )
    assert outcome.status == "error"
    (span,) = _by_name(spans)["invoke_agent b"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "agent_failed"


async def test__the_run_joins_the_span_that_started_it_and_logs_carry_its_ids(
    spans: InMemorySpanExporter,
) -> None:
    handler = _Collect()
    logger = logging.getLogger("agentsocket.test_tracing")
    logger.addHandler(handler)
    try:
        with tracing.span("agentsocket.user_message", kind="server", parent=CLIENT_PARENT):
            handle = Runner().start("u", "t", _tool_agent(logger), "hi", "run_3", ListSink())
        await handle.wait()
    finally:
        logger.removeHandler(handler)
    found = _by_name(spans)
    (accept,) = found["agentsocket.user_message"]
    assert f"{accept.context.trace_id:032x}" == CLIENT_PARENT[3:35]
    assert _parent(accept) == int(CLIENT_PARENT[36:52], 16)
    assert _parent(found["invoke_agent main"][0]) == accept.context.span_id
    tool_ids = {f"{s.context.span_id:016x}" for s in found["execute_tool add"]}
    formatter = JsonFormatter()
    logged = [json.loads(formatter.format(record)) for record in handler.records]
    assert logged
    assert {entry["trace_id"] for entry in logged} == {CLIENT_PARENT[3:35]}
    assert {entry["span_id"] for entry in logged} <= tool_ids


def test__a_malformed_parent_from_redis_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    with tracing.span("w", parent="not-a-traceparent"):
        assert tracing.traceparent() is not None
    (span,) = spans.get_finished_spans()
    assert span.parent is None


def test__traceparent_round_trips_through_the_queue_entry(spans: InMemorySpanExporter) -> None:
    with tracing.span("enqueue", kind="producer"):
        parent = tracing.traceparent()
    assert parent is not None
    request = RunRequest("run_1", "u", "t", "demo", "hi", traceparent=parent)
    # The JSON stays what older workers read; the traceparent is an entry field of its own.
    assert b"traceparent" not in request.encode()
    fields = {b"request": request.encode(), b"traceparent": parent.encode()}
    assert decode_request(fields) == request
    assert decode_request({b"request": request.encode()}).traceparent is None
    # A newer gateway's extra JSON field does not break this worker.
    newer = json.dumps({**json.loads(request.encode()), "priority": 1}).encode()
    assert decode_request({b"request": newer}).run_id == "run_1"
