"""OpenTelemetry traces of runs: off unless the standard ``OTEL_*`` variables ask for them.

One trace per run: the gateway's accept of the ``user_message``, the store
writes, the queue hand-off, the worker's pickup, the agent run, each tool call
and each sub-run. This is the only module that touches OpenTelemetry. While
tracing is off (the default, or the ``otel`` extra is not installed) nothing of
OpenTelemetry is imported and :func:`span` returns one shared do-nothing object,
so the hot path pays a global lookup and a call.

:func:`configure` turns it on when ``OTEL_TRACES_EXPORTER`` names an exporter
(``otlp``, ``console``) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, unless ``OTEL_SDK_DISABLED`` is
true or the exporter is ``none``; the SDK reads the other variables itself
(sampler, batch sizes, headers, resource). OTLP goes over HTTP (protobuf).
See docs/tracing.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import Tracer

log = logging.getLogger("agentsocket.tracing")

Kind = Literal["internal", "server", "producer", "consumer"]
AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]

_tracer: Tracer | None = None
_provider: TracerProvider | None = None


class Span:
    """A span being recorded, or nothing at all while tracing is off."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: OtelSpan | None = None, token: object = None) -> None:
        self._span = span
        self._token = token

    def set(self, key: str, value: AttributeValue | None) -> None:
        """Set an attribute (None: left unset)."""
        if self._span is not None and value is not None:
            self._span.set_attribute(key, value)

    def fail(self, description: str) -> None:
        """Mark the span as failed (status ERROR) with ``description``."""
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, description))

    def end(self) -> None:
        """End a span from :func:`start`, once; one made current stops being current."""
        span, self._span = self._span, None
        if span is None:
            return
        if self._token is not None:
            from opentelemetry import context

            context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
        span.end()


_NOOP = Span()


class _Off:
    """What :func:`span` returns while tracing is off: one shared object, no allocation."""

    def __enter__(self) -> Span:
        return _NOOP

    def __exit__(self, *exc: object) -> None:
        return None


_OFF = _Off()


def enabled() -> bool:
    """Whether spans are being recorded."""
    return _tracer is not None


def span(
    name: str,
    attributes: Attributes | None = None,
    *,
    kind: Kind = "internal",
    parent: str | None = None,
) -> AbstractContextManager[Span]:
    """A span around a block, current inside it (child of the current span).

    An exception leaving the block is recorded and marks the span failed.

    Args:
        parent: a W3C ``traceparent`` to make the parent instead of the current
            span; an invalid one starts a new trace.
    """
    if _tracer is None:
        return _OFF
    return _recording(_tracer, name, attributes, kind, parent)


def start(name: str, attributes: Attributes | None = None, *, current: bool = False) -> Span:
    """Start a span to end later with :meth:`Span.end` (child of the current span).

    Args:
        current: make it the current span until it ends (then end it in the same
            task that started it, as a context manager would).
    """
    if _tracer is None:
        return _NOOP
    from opentelemetry import context, trace

    started = _tracer.start_span(name, attributes=attributes)
    token = context.attach(trace.set_span_in_context(started)) if current else None
    return Span(started, token)


def traceparent() -> str | None:
    """The current span as a W3C ``traceparent`` (None when there is none, or tracing is off)."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, as log lines carry them."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


class LogIds(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` to records logged inside a span (tracing on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _tracer is not None and (ids := current_ids()) is not None:
            record.trace_id, record.span_id = ids
        return True


@contextmanager
def _recording(
    tracer: Tracer, name: str, attributes: Attributes | None, kind: Kind, parent: str | None
) -> Iterator[Span]:
    from opentelemetry.trace import SpanKind

    context = _extract(parent) if parent is not None else None
    with tracer.start_as_current_span(
        name, context=context, kind=SpanKind[kind.upper()], attributes=attributes
    ) as recording:
        yield Span(recording)


def _extract(traceparent: str) -> Context:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


# --- turning it on -----------------------------------------------------------------


def requested(environ: Mapping[str, str]) -> bool:
    """Whether the ``OTEL_*`` variables in ``environ`` ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = _exporter_names(environ)
    if exporters == ["none"]:
        return False
    return bool(
        environ.get("OTEL_TRACES_EXPORTER", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )


def configure(service_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on if the ``OTEL_*`` variables ask for it; True if it is on.

    Installs an SDK tracer provider as OpenTelemetry's global one, so spans an
    agent's own instrumentation makes join the run's trace. Idempotent.

    Args:
        service_name: ``service.name`` unless ``OTEL_SERVICE_NAME`` or
            ``OTEL_RESOURCE_ATTRIBUTES`` set one.
    """
    env = os.environ if environ is None else environ
    if _tracer is not None:
        return True
    if not requested(env):
        return False
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_* variables ask for traces, but the otel extra is not installed "
            "(pip install 'agentsocket[otel]'); tracing stays off"
        )
        return False
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    exporters: list[SpanExporter] = []
    for name in _exporter_names(env) or ["otlp"]:
        exporter = _exporter(name, env)
        if exporter is not None:
            exporters.append(exporter)
    if not exporters:
        return False
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    use_provider(provider, set_global=True)
    log.info(
        "tracing on",
        extra={"service_name": resource.attributes.get(SERVICE_NAME), "exporters": len(exporters)},
    )
    return True


def use_provider(provider: TracerProvider | None, *, set_global: bool = False) -> None:
    """Record spans with ``provider`` (an application's own, or a test's); None: off again.

    Args:
        set_global: also make it OpenTelemetry's global provider (possible once per process).
    """
    global _tracer, _provider
    if provider is None:
        _tracer = _provider = None
        return
    if set_global:
        from opentelemetry import trace

        trace.set_tracer_provider(provider)
    from agentsocket import __version__

    _provider = provider
    _tracer = provider.get_tracer("agentsocket", __version__)


def shutdown() -> None:
    """Export what is still buffered and stop (the SDK also does so at exit)."""
    provider = _provider
    use_provider(None)
    if provider is not None:
        provider.shutdown()


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    value = environ.get("OTEL_TRACES_EXPORTER", "")
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter | None:
    if name == "otlp":
        protocol = environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
        ).strip()
        if protocol not in ("", "http/protobuf"):
            log.warning("OTLP protocol %r is not supported; exporting with http/protobuf", protocol)
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("the OTLP/HTTP exporter is not installed (the otel extra); no OTLP export")
            return None
        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "none":
        log.warning("unknown OTEL_TRACES_EXPORTER %r ignored (otlp, console or none)", name)
    return None
