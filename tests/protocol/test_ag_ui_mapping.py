"""The declared AG-UI mapping (``MAPPING``, ``NO_COUNTERPART``) against the converter's output.

A corpus of literal head runs goes through :class:`RunConverter`; every event
each message gives must be one its ``MAPPING`` row lists, in the listed order,
and every listed event must be given somewhere in the corpus. So the table in
``docs/protocol/ag-ui-mapping.md`` (rendered from the same data) cannot drift
from the code.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from ag_ui.core import EventType

from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import (
    AGENT_EVENT_FIELDS,
    MAPPING,
    NO_COUNTERPART,
    RunConverter,
    encode_event,
)
from agentsocket.protocol.ag_ui_docs import mapping_markdown
from agentsocket.protocol.ag_ui_schema import EMITTED
from agentsocket.protocol.examples import SERVER_EXAMPLES
from agentsocket.protocol.message import ServerMessage

RUN = "run-1"
SUB = "run-2"
NESTED = "run-3"
THREAD = "thread-1"
ROWS = {row.head: row for row in MAPPING}
THREAD_INFO = s.ThreadInfo(thread_id=THREAD, title="t", created_at=1.0, updated_at=2.0)


def ev(kind: type[s.AgentEvent], run_id: str = RUN, **fields: Any) -> s.AgentEvent:
    parent = fields.pop("parent_run_id", {SUB: RUN, NESTED: SUB}.get(run_id))
    return kind(run_id=run_id, thread_id=THREAD, agent_name="a", parent_run_id=parent, **fields)


def call(kind: type[s.AgentEvent], call_id: str, run_id: str = RUN, **fields: Any) -> Any:
    return ev(kind, run_id, tool_call_id=call_id, tool_name="calc", **fields)


def done(call_id: str, run_id: str = RUN, status: str = "success", **fields: Any) -> Any:
    fields.setdefault("duration_ms", 1.0)
    return call(s.ToolCompleted, call_id, run_id, status=status, **fields)


def text(run_id: str, mid: str, *deltas: str, whole: str | None = None) -> list[ServerMessage]:
    out: list[ServerMessage] = [
        ev(s.AgentMessageDelta, run_id, message_id=mid, content=d) for d in deltas
    ]
    if whole is not None:
        out.append(ev(s.AgentMessage, run_id, message_id=mid, content=whole))
    return out


def question(run_id: str, **fields: Any) -> Any:
    fields.setdefault("timeout_seconds", 30.0)
    return ev(
        s.AgentQuestion,
        run_id,
        question_id="q1",
        prompt="rate it",
        answer_schema={"type": "integer"},
        expires_at=1767225720.0,
        **fields,
    )


def resolved(run_id: str) -> Any:
    # Built directly: its ``kind`` field would clash with ev()'s first parameter.
    return s.InterruptResolved(
        run_id=run_id,
        thread_id=THREAD,
        agent_name="a",
        parent_run_id={SUB: RUN}.get(run_id),
        interrupt_id="q1",
        kind="question",
        resolution="expired",
        message="No answer within 30 seconds.",
    )


def scenarios() -> list[list[ServerMessage]]:
    """Runs that, together, reach every branch of the converter."""
    started = ev(s.AgentStarted)
    return [
        [  # text, tools, thinking, thread operations and a gap while open
            started,
            ev(s.AgentThinking, content="working"),
            ev(s.AgentThinking, content=""),
            call(s.ToolExecuting, "c1", arguments={"x": 1}),
            done("c1", result={"v": 1}),
            done("c2", status="error", error="boom"),  # never announced: restated first
            s.ThreadCreated(thread=THREAD_INFO),
            s.ThreadRenamed(thread=THREAD_INFO),
            s.StreamGap(epoch="e", from_seq=1, to_seq=2, reason="retention"),
            *text(RUN, "m1", "", "a", "b", whole="ab"),
            *text(RUN, "m2", whole="whole"),
            *text(RUN, "m3", whole=""),
            s.ThreadDeleted(thread_id=THREAD),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
        [started, *text(RUN, "m1", "open", "s"), ev(s.AgentCompleted, duration_ms=5.0)],
        [
            started,
            *text(RUN, "m1", "half"),
            ev(s.AgentError, code="agent_failed", message="x", retryable=False),
        ],
        [started, *text(RUN, "m1", "half"), ev(s.AgentCancelled, reason="stop_agent")],
        [  # approval of the run itself, then the continuation restates the call
            started,
            *text(RUN, "m1", "asking"),
            call(s.ToolApprovalRequired, "c1", arguments={}, timeout_seconds=30.0),
            done("c1", result="ok"),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
        [  # sub-runs: text, tools, thinking, nested, each way of ending
            started,
            ev(s.AgentStarted, SUB),
            ev(s.AgentThinking, SUB, content="sub"),
            call(s.ToolExecuting, "c1", SUB, arguments={"x": 1}),
            done("c1", SUB, result=1),
            done("c9", SUB, result=9),
            *text(SUB, "m1", "x", whole="x"),
            *text(SUB, "m2", whole="y"),
            ev(s.AgentStarted, NESTED),
            *text(NESTED, "m3", "open"),
            ev(s.AgentCancelled, NESTED, reason="stop"),
            *text(SUB, "m4", "open"),
            ev(s.AgentCompleted, SUB, duration_ms=1.0),
            ev(s.AgentStarted, NESTED, parent_run_id=RUN),
            *text(NESTED, "m5", "open"),
            ev(s.AgentError, NESTED, code="tool_failed", message="y", retryable=True),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
        [  # approval inside a sub-run; the sub-run's next event opens the continuation
            started,
            ev(s.AgentStarted, SUB),
            *text(SUB, "m1", "asking"),
            call(s.ToolApprovalRequired, "c1", SUB, arguments={}, timeout_seconds=30.0),
            done("c1", SUB, status="denied", error="no"),
            ev(s.AgentCompleted, SUB, duration_ms=1.0),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
        [  # a question of the run itself, the continuation opened by its resolution
            started,
            *text(RUN, "m1", "asking"),
            question(RUN),
            resolved(RUN),
            *text(RUN, "m2", whole="thanks"),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
        [  # a question inside a sub-run
            started,
            ev(s.AgentStarted, SUB),
            *text(SUB, "m1", "asking"),
            question(SUB),
            resolved(SUB),
            ev(s.AgentCompleted, SUB, duration_ms=1.0),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
        [  # joined mid-run: the first event seen opens the run
            *text(RUN, "m1", "late"),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
    ]


def observed() -> list[tuple[ServerMessage, bool, list[dict[str, Any]]]]:
    """(message, from a sub-run, the AG-UI events it gave) over the whole corpus."""
    out = []
    for run in scenarios():
        converter = RunConverter(RUN, agui_run_id="client-run")
        for message in run:
            sub = isinstance(message, s.AgentEvent) and message.run_id != RUN
            events = [json.loads(encode_event(e)) for e in converter.convert(message)]
            out.append((message, sub, events))
        assert converter.finished
    return out


def in_declared_order(got: Sequence[str], declared: Sequence[str]) -> bool:
    """``got`` uses only ``declared`` names, in their order (a name may repeat)."""
    at = 0
    for name in got:
        if name not in declared[at:]:
            return False
        at = declared.index(name, at)
    return True


def test__every_event_given__is_declared_for_its_message_in_order() -> None:
    for message, sub, events in observed():
        row = ROWS.get(message.TYPE)
        kinds = [e["type"] for e in events]
        if kinds[:1] == ["RUN_STARTED"] and (sub or message.TYPE != s.AgentStarted.TYPE):
            kinds = kinds[1:]  # the general rule: a message with no open run opens one
        declared = row.sub_events if (row and sub) else (row.events if row else ())
        assert in_declared_order(kinds, declared), (message.TYPE, sub, kinds, declared)
        if row is not None and "RUN_FINISHED" in kinds:
            finished = next(e for e in events if e["type"] == "RUN_FINISHED")
            assert finished.get("outcome", {}).get("type") == row.outcome, message.TYPE


def test__every_declared_event__is_given_somewhere() -> None:
    seen: dict[tuple[str, bool], set[str]] = defaultdict(set)
    for message, sub, events in observed():
        seen[message.TYPE, sub] |= {e["type"] for e in events}
    for row in MAPPING:
        assert set(row.events) <= seen[row.head, False], row.head
        assert set(row.sub_events) <= seen[row.head, True], row.head


def test__every_head_message__mapped_or_listed_as_unconverted() -> None:
    unconverted = [u.name for u in NO_COUNTERPART if u.kind == "message"]
    mapped = [row.head for row in MAPPING]

    assert sorted(mapped + unconverted) == sorted(s.SERVER_MESSAGES)


@pytest.mark.parametrize("name", [u.name for u in NO_COUNTERPART if u.kind == "message"])
def test__unconverted_message__inside_an_open_run__gives_nothing(name: str) -> None:
    converter = RunConverter("run_7f3a")  # the examples' run
    assert converter.convert(SERVER_EXAMPLES["agent_started"].message)

    assert converter.convert(SERVER_EXAMPLES[name].message) == []


def test__every_head_field__carried_or_listed_as_not_sent() -> None:
    dropped: dict[str, set[str]] = defaultdict(set)
    for u in NO_COUNTERPART:
        if u.kind == "field":
            head, field = u.name.split(".")
            dropped[head].add(field)
    for row in MAPPING:
        model = s.SERVER_MESSAGES[row.head]
        common = {f for f, _ in AGENT_EVENT_FIELDS} if issubclass(model, s.AgentEvent) else set()
        carried = {f for f, _ in row.carried}
        assert carried | dropped[row.head] <= set(model.model_fields), row.head
        assert set(model.model_fields) == carried | common | dropped[row.head], row.head


def test__fields_listed_as_not_sent__values_never_appear() -> None:
    marker = 98765.25
    run = [
        ev(s.AgentStarted),
        call(s.ToolApprovalRequired, "c1", arguments={}, timeout_seconds=marker),
        done("c1", duration_ms=marker),
        question(RUN, timeout_seconds=marker, default=marker),
        ev(s.AgentCompleted, duration_ms=marker),
    ]
    converter = RunConverter(RUN)
    wire = "".join(encode_event(e) for m in run for e in converter.convert(m))

    assert converter.finished
    assert "98765" not in wire


def test__ag_ui_event_types__each_sent_or_listed_as_never_sent() -> None:
    sent = {name for row in MAPPING for name in (*row.events, *row.sub_events)}
    never = {u.name for u in NO_COUNTERPART if u.kind == "event"}
    schema_types = {cls.model_fields["type"].default.value for cls in EMITTED}

    assert sent == schema_types  # the dialect's schema covers exactly what the table sends
    assert not sent & never
    assert sent | never == {e.value for e in EventType}


def test__mapping_doc__renders_every_row_and_every_unmapped_entry() -> None:
    doc = mapping_markdown()

    for row in MAPPING:
        assert f"| `{row.head}` |" in doc
    for u in NO_COUNTERPART:
        assert f"| `{u.name}` | {u.fate.replace('|', chr(92) + '|')} |" in doc
    assert "(outcome `interrupt`)" in doc
    assert "(outcome `cancelled`)" in doc
