"""The terminal chat's renderer: what a run looks like, fed real protocol models."""

from __future__ import annotations

import io

from rich.console import Console

from agentsocket.agents.demo import SURVEY_SCHEMA
from agentsocket.chat import Renderer
from agentsocket.protocol import ServerEnvelope, ServerMessage
from agentsocket.protocol import server_messages as s

ROOT = {"run_id": "run_1", "thread_id": "thr_1", "agent_name": "demo"}
SUB = {"run_id": "run_2", "thread_id": "thr_1", "agent_name": "calculator"}
ANSWER = "17*23 = 391, which is 0x187 in hexadecimal."


def _shown(*messages: ServerMessage) -> str:
    out = io.StringIO()
    renderer = Renderer(Console(file=out, width=200, color_system=None))
    for seq, message in enumerate(messages, 1):
        renderer.show(ServerEnvelope(message, 0.0, "node-a", None, seq))
    return out.getvalue()


def test__sub_agent_answer__when_its_parent_repeats_it__is_shown_once() -> None:
    out = _shown(
        s.AgentStarted(**ROOT),
        s.AgentStarted(**SUB, parent_run_id="run_1"),
        s.AgentMessageDelta(**SUB, parent_run_id="run_1", message_id="m_2", content=ANSWER),
        s.AgentMessage(**SUB, parent_run_id="run_1", message_id="m_2", content=ANSWER),
        s.AgentCompleted(**SUB, parent_run_id="run_1", duration_ms=3.0),
        s.AgentMessageDelta(**ROOT, message_id="m_1", content=ANSWER[:10]),
        s.AgentMessageDelta(**ROOT, message_id="m_1", content=ANSWER[10:]),
        s.AgentMessage(**ROOT, message_id="m_1", content=ANSWER),
        s.AgentCompleted(**ROOT, duration_ms=5.0),
    )
    assert out.count("0x187 in hexadecimal") == 1, out
    assert f"demo: {ANSWER}" in out
    assert "  ↳ calculator" in out


def test__root_answer__sent_whole_without_deltas__is_shown() -> None:
    out = _shown(
        s.AgentStarted(**ROOT),
        s.AgentMessage(**ROOT, message_id="m_1", content=ANSWER),
        s.AgentCompleted(**ROOT, duration_ms=5.0),
    )
    assert f"demo: {ANSWER}" in out


def test__a_question_from_another_device__shown_and_its_own_questions_not_twice() -> None:
    out = io.StringIO()
    renderer = Renderer(Console(file=out, width=200, color_system=None))
    renderer.sent.add("cm-mine")
    asked = {"thread_id": "thr_1", "agent_name": "demo"}
    for seq, message in enumerate(
        [
            s.UserMessageAccepted(
                **asked,
                message_id="msg_1",
                run_id="run_1",
                content="typed here",
                client_message_id="cm-mine",
            ),
            s.UserMessageAccepted(
                **asked,
                message_id="msg_2",
                run_id="run_2",
                content="asked on the phone",
                client_message_id="cm-phone",
            ),
            s.UserMessageAccepted(
                **asked, message_id="msg_3", run_id="run_3", content="from a client without ids"
            ),
        ],
        1,
    ):
        renderer.show(ServerEnvelope(message, 0.0, "node-a", None, seq))
    shown = out.getvalue()
    assert "typed here" not in shown
    assert "you (elsewhere): asked on the phone" in shown
    assert "you (elsewhere): from a client without ids" in shown


def test__question__shown_with_its_fields__and_gone_once_resolved_elsewhere() -> None:
    out = io.StringIO()
    renderer = Renderer(Console(file=out, width=200, color_system=None))
    question = s.AgentQuestion(
        **ROOT,
        question_id="q_1",
        prompt="How would you rate this demo?",
        answer_schema=SURVEY_SCHEMA,
        timeout_seconds=120.0,
        expires_at=1767225720.0,
    )
    approval = s.ToolApprovalRequired(
        **ROOT,
        tool_call_id="call_1",
        tool_name="announce",
        arguments={"text": "hi"},
        timeout_seconds=120.0,
        arguments_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    )
    renderer.show(ServerEnvelope(question, 0.0, "node-a", None, 1))
    renderer.show(ServerEnvelope(approval, 0.0, "node-a", None, 2))
    assert renderer.questioned.is_set()
    assert renderer.asking.is_set()
    resolved = s.InterruptResolved(
        **ROOT,
        interrupt_id="q_1",
        kind="question",
        resolution="answered",
        answer={"rating": 5},
        answered_by="conn-phone",
        message="The question was answered.",
    )
    renderer.show(ServerEnvelope(resolved, 0.0, "node-a", None, 3))
    shown = out.getvalue()
    assert "? How would you rate this demo? (expires in 120 s)" in shown
    assert "    rating (integer, ≥ 1, ≤ 5, required): Rating (1-5)" in shown
    assert "answer with /answer name=value … or /answer {JSON}" in shown
    assert (
        '? announce(text="hi") needs your approval: /approve or /deny '
        "(/approve {JSON} runs it with edited arguments)"
    ) in shown
    assert "↪ The question was answered." in shown
    # Answered on another device: nothing waits here any more but the approval.
    assert list(renderer.questions) == []
    assert not renderer.questioned.is_set()
    assert [a.tool_call_id for a in renderer.approvals] == ["call_1"]
