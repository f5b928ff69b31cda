"""The Grafana dashboard queries only metrics the gateway or the worker exports (issue 15).

Every PromQL expression of ``deploy/grafana/agentsocket.json`` is parsed with
``promql-parser``; each metric it selects must be a series name of the live
registries (:func:`agentsocket.metrics_doc.exported_names`, with the
``_total``/``_bucket``/``_sum``/``_count`` suffixes). A renamed metric fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from agentsocket.metrics_doc import catalog, exported_names, metrics_markdown

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "agentsocket.json"
OPERATIONS = ROOT / "docs" / "operations.md"
_PROMQL_BLOCK = re.compile(r"```promql\n(.*?)```", re.DOTALL)

#: Grafana's own variables, replaced by a value of the right kind before parsing.
_RANGES = re.compile(r"\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval)\}")
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
_LABEL_VALUES = re.compile(r"label_values\((\w+)\s*,\s*\w+\)")


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query of the dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]


def selected_metrics(expr: str) -> list[str]:
    """The metric names ``expr`` selects, after replacing Grafana variables.

    Raises:
        ValueError: ``expr`` is not valid PromQL, or selects series without a metric name.
    """
    promql = _VARIABLE.sub("x", _RANGES.sub("5m", expr))
    names: list[str | None] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.append(node.name)

    promql_parser.walk(promql_parser.parse(promql), pre_visit=visit)
    if not names or any(name is None for name in names):
        raise ValueError(f"selects no metric by name: {expr}")
    return [name for name in names if name is not None]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test__every_query__parses_and_selects_only_exported_metrics(
    dashboard: dict[str, Any],
) -> None:
    exported = exported_names()
    queries = expressions(dashboard)
    assert len(queries) >= 20
    unknown = {
        (title, name)
        for title, expr in queries
        for name in selected_metrics(expr)
        if name not in exported
    }
    assert unknown == set()


def test__alerts_in_operations_md__parse_and_select_only_exported_metrics() -> None:
    alerts = _PROMQL_BLOCK.findall(OPERATIONS.read_text())
    assert len(alerts) >= 8
    exported = exported_names()
    for alert in alerts:
        names = selected_metrics(alert)
        assert set(names) <= exported, alert


def test__template_variables__query_exported_metrics(dashboard: dict[str, Any]) -> None:
    variables = [v for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert variables
    for variable in variables:
        found = _LABEL_VALUES.fullmatch(variable["definition"])
        assert found is not None, variable["definition"]
        assert found.group(1) in exported_names()


def test__dashboard__shows_runs_latency_tools_errors_and_connections(
    dashboard: dict[str, Any],
) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Runs", "Latency", "Tools", "Errors", "Connections"]
    used = {name for _, expr in expressions(dashboard) for name in selected_metrics(expr)}
    families = {
        "agentsocket_run_first_token_seconds_bucket",
        "agentsocket_run_first_event_seconds_bucket",
        "agentsocket_run_duration_seconds_bucket",
        "agentsocket_run_duration_seconds_count",
        "agentsocket_run_queue_wait_seconds_bucket",
        "agentsocket_run_tokens_per_second_bucket",
        "agentsocket_run_output_tokens_total",
        "agentsocket_run_errors_total",
        "agentsocket_tool_duration_seconds_bucket",
        "agentsocket_approvals_pending",
        "agentsocket_approval_wait_seconds_bucket",
        "agentsocket_event_loop_lag_seconds",
        "agentsocket_outbound_queued_frames_max",
        "agentsocket_slow_consumer_closes_total",
        "agentsocket_resumes_total",
        "agentsocket_stream_gaps_total",
        "agentsocket_connections",
        "agentsocket_errors_total",
    }
    assert families - used == set()
    # Percentiles come from histogram buckets, aggregated by `le`.
    for _, expr in expressions(dashboard):
        if "histogram_quantile" in expr:
            assert "_bucket" in expr
            assert re.search(r"by \(le\b", expr), expr


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("sum(rate(agentsocket_no_such_metric_total[5m]))", "unknown"),
        ("rate(agentsocket_run_duration_seconds[5m])", "unknown"),  # a histogram's bare name
        ('sum(rate({__name__="agentsocket_runs_total"}[5m]))', "nameless"),
        ("sum(rate(agentsocket_runs_total[5m])", "invalid"),
    ],
)
def test__the_check__catches_unknown_nameless_and_invalid_queries(expr: str, why: str) -> None:
    if why == "unknown":
        assert not set(selected_metrics(expr)) <= exported_names()
    else:
        with pytest.raises(ValueError, match="." if why == "invalid" else "no metric by name"):
            selected_metrics(expr)


def test__exported_names__from_the_live_registries_with_suffixes() -> None:
    gateway, worker = exported_names("gateway"), exported_names("worker")
    assert "agentsocket_runs_total" in gateway
    assert "agentsocket_runs_total" not in worker  # stored by the gateway only
    for process in (gateway, worker):
        assert {
            "agentsocket_tool_duration_seconds_bucket",
            "agentsocket_tool_duration_seconds_sum",
            "agentsocket_tool_duration_seconds_count",
            "agentsocket_event_loop_lag_seconds",
        } <= process
    assert "agentsocket_run_queue_wait_seconds_bucket" in worker
    assert "agentsocket_connections" not in worker


def test__metrics_doc__one_row_per_metric_with_its_labels() -> None:
    text = metrics_markdown()
    for info in catalog():
        assert f"`{info.name}" in text
    assert "| `agentsocket_tool_duration_seconds` | histogram | `tool`, `outcome` |" in text
