"""The contract language (``agentsocket.protocol.contracts``) and its rendering as pact bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentsocket.protocol.contracts import (
    NO_VALUE,
    Contract,
    Expectation,
    Mismatch,
    Read,
    check,
    join_path,
    kind_of,
    resolve,
    split_path,
)
from tests.contracts.pacts import body

WELCOME_V2 = {
    "type": "system_message",
    "data": {"event": "connection_established", "connection_ready": True, "user_id": "u"},
    "timestamp": 1.5,
}


@pytest.mark.parametrize(
    "declaration",
    [
        "$.data.user_id",
        "$.data.user_id:string",
        "$.data.title:null|string",
        '$.type="system_message"',
        "$.connection_ready=true",
        "$.data.threads[*].title:string",
        "$.data.messages[1].run_id:string",
        r"$.server_time~^\d{4}-\d{2}-\d{2}T.*$",
    ],
)
def test__read__parses_and_prints_its_declaration(declaration: str) -> None:
    assert str(Read.parse(declaration)) == declaration


def test__read__exact_value_implies_its_kind() -> None:
    assert Read.parse("$.connection_ready=true").kinds == {"boolean"}
    assert Read.parse("$.seq=3").kinds == {"integer"}


@pytest.mark.parametrize("bad", ["data.x", "$.data..x", "$.a[x]", "$.a:strin"])
def test__read__refuses_malformed_declarations(bad: str) -> None:
    with pytest.raises(ValueError, match=r"path|kinds|declaration"):
        Read.parse(bad)


def test__paths__split_and_join() -> None:
    segments = split_path("$.data.threads[*].tags[2]")
    assert segments == ["data", "threads", None, "tags", 2]
    assert join_path(segments) == "$.data.threads[*].tags[2]"


def test__resolve__expands_every_element_and_names_what_is_missing() -> None:
    frame = {"data": {"threads": [{"title": "a"}, {}]}}
    assert list(resolve(frame, "$.data.threads[*].title")) == [
        ("$.data.threads[0].title", "a"),
        ("$.data.threads[1].title", NO_VALUE),
    ]
    assert list(resolve(frame, "$.data.threads[5]")) == [("$.data.threads[5]", NO_VALUE)]


def test__resolve__does_not_reach_below_a_null() -> None:
    frame = {"data": {"usage": None, "runs": None}}
    assert list(resolve(frame, "$.data.usage.input_tokens")) == []
    assert list(resolve(frame, "$.data.runs[*].id")) == []
    # The nullable value's own read decides whether null is fine.
    assert [str(m) for m in check([Read.parse("$.data.usage:object")], frame)] == [
        "$.data.usage: expected object, got null"
    ]
    assert check([Read.parse("$.data.usage:null|object")], frame) == []
    assert list(resolve({"data": {}}, "$.data.usage.input_tokens")) == [("$.data.usage", NO_VALUE)]


def test__check__the_incident_v2_welcome_breaks_the_v1_reads() -> None:
    v1_reads = [
        Read.parse('$.event="connection_established"'),
        Read.parse("$.connection_ready=true"),
    ]
    assert check(v1_reads, WELCOME_V2) == [
        Mismatch("$.event", "missing"),
        Mismatch("$.connection_ready", "missing"),
    ]


def test__check__kinds_values_and_patterns() -> None:
    frame = {"n": 3, "f": 1.5, "b": True, "s": "2025-09-08T12:00:00+00:00", "z": None, "a": 1}
    assert check([Read.parse("$.n:number"), Read.parse("$.f:number")], frame) == []
    assert check([Read.parse("$.n:integer"), Read.parse("$.z:null|string")], frame) == []
    assert [str(m) for m in check([Read.parse("$.f:integer")], frame)] == [
        "$.f: expected integer, got 1.5"
    ]
    assert [str(m) for m in check([Read.parse("$.b:integer")], frame)] == [
        "$.b: expected integer, got true"
    ]
    assert [str(m) for m in check([Read.parse("$.a=true")], frame)] == [
        "$.a: expected boolean, got 1"
    ]
    assert check([Read.parse(r"$.s~^\d{4}-\d{2}-\d{2}T.*$")], frame) == []
    assert [str(m) for m in check([Read.parse(r"$.s~^\d+$")], frame)] == [
        '$.s: "2025-09-08T12:00:00+00:00" does not match ^\\d+$'
    ]
    assert [str(m) for m in check([Read.parse("$.n[*]")], frame)] == ["$.n: expected an array"]


@pytest.mark.parametrize("value", [None, True, 1, 1.5, "x", [], {}])
def test__kind_of__every_json_value(value: Any) -> None:
    assert kind_of(value) in {"null", "boolean", "integer", "number", "string", "array", "object"}


def test__expectation__selects_its_variant() -> None:
    sub_runs = Expectation(
        "agent_started",
        (Read.parse("$.data.run_id:string"),),
        where=(Read.parse("$.data.parent_run_id:string"),),
    )
    assert sub_runs.description == "agent_started where $.data.parent_run_id:string"
    assert sub_runs.selects({"data": {"run_id": "r", "parent_run_id": "p"}})
    assert not sub_runs.selects({"data": {"run_id": "r", "parent_run_id": None}})


def test__contract__round_trips_through_its_json_format() -> None:
    contract = Contract(
        "web",
        "v3",
        (
            Expectation(
                "pong",
                (
                    Read.parse('$.type="pong"'),
                    Read.parse("$.data.client_time:null|number", "app.ts"),
                ),
                note="latency",
            ),
            Expectation(
                "error",
                (Read.parse(r"$.data.code~^[a-z_]+$"),),
                where=(Read.parse("$.correlation_id:string"),),
            ),
        ),
    )
    document = json.loads(json.dumps(contract.to_json()))
    assert document["format"] == "agentsocket-contract/1"
    assert Contract.from_json(document) == contract


def test__contract__refuses_twice_the_same_expectation_and_other_formats() -> None:
    pong = Expectation("pong", (Read.parse('$.type="pong"'),))
    with pytest.raises(ValueError, match="declared twice"):
        Contract("web", "v3", (pong, pong))
    with pytest.raises(ValueError, match="not an agentsocket-contract/1"):
        Contract.from_json({"consumer": {"name": "x"}, "interactions": []})


# --- pact bodies ---------------------------------------------------------------------------


def _rules(value: Any) -> Any:
    """A pact body as plain data: each matcher as {"pact:matcher:type": ...}."""
    return json.loads(json.dumps(value, default=lambda m: m.to_integration_json()))


def test__body__cuts_the_example_to_the_reads_with_matchers() -> None:
    expectation = Expectation(
        "connection_established",
        (
            Read.parse('$.type="system_message"'),
            Read.parse('$.data.event="connection_established"'),
            Read.parse("$.data.user_id:string"),
            Read.parse("$.data:object"),
        ),
    )
    rendered = _rules(body(expectation, WELCOME_V2))
    assert rendered["type"] == "system_message"
    assert rendered["data"]["event"] == "connection_established"
    assert rendered["data"]["user_id"]["pact:matcher:type"] == "type"
    assert rendered["data"]["user_id"]["value"] == "u"
    assert "connection_ready" not in rendered["data"]
    assert "timestamp" not in rendered


def test__body__arrays_each_like_or_fixed_length() -> None:
    sample = {"data": {"threads": [{"title": "a"}], "messages": [{"role": "user"}, {}]}}
    expectation = Expectation(
        "x",
        (
            Read.parse("$.data.threads[*].title:string"),
            Read.parse('$.data.messages[1].role="assistant"'),
        ),
    )
    rendered = _rules(body(expectation, sample))
    assert rendered["data"]["threads"]["pact:matcher:type"] == "type"
    assert rendered["data"]["threads"]["min"] == 1
    assert rendered["data"]["messages"] == [{}, {"role": "assistant"}]


def test__body__refuses_what_a_pact_cannot_state() -> None:
    either = Expectation("pong", (Read.parse("$.data.client_time:null|number"),))
    with pytest.raises(ValueError, match="one kind per read"):
        body(either, {"data": {"client_time": None}})
