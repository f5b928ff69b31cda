"""One example of every message, in head form.

They are the source of the golden frames under ``golden/`` (one file per
message, version and direction), of the examples in the protocol reference,
and of the contract tests. Values are fixed so every output is reproducible.
"""

from __future__ import annotations

from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.codes import ErrorCode
from agentsocket.protocol.envelope import ClientEnvelope, ServerEnvelope
from agentsocket.protocol.message import ServerMessage
from agentsocket.protocol.versions import Frame

_T = 1757332800.25  # 2025-09-08T12:00:00.250000+00:00
_RUN = {"run_id": "run_7f3a", "thread_id": "thr_42", "agent_name": "supervisor"}
#: The data of a root run's event, as a stored timeline holds it.
_EVENT = {**_RUN, "parent_run_id": None}
_SUB = {"run_id": "run_7f3b", "thread_id": "thr_42", "agent_name": "calculator"}
_THREAD = s.ThreadInfo(thread_id="thr_42", title="Hex maths", created_at=_T, updated_at=_T + 5)


def _server(message: ServerMessage, correlation_id: str | None = None) -> ServerEnvelope:
    seq = 17 if message.STREAM else None
    return ServerEnvelope(message, _T, "node-a", correlation_id, seq)


SERVER_EXAMPLES: dict[str, ServerEnvelope] = {
    env.type: env
    for env in (
        _server(
            s.ConnectionEstablished(
                connection_id="conn_1",
                user_id="user_123",
                protocol_version="v3",
                server_time=_T,
                environment="development",
                heartbeat_interval=25.0,
                max_frame_size=65536,
                stream=s.StreamPosition(epoch="ep_9c1e", seq=16),
                agents=[
                    s.AvailableAgent(
                        name="demo", description="Calculator, units, clock and search."
                    ),
                    s.AvailableAgent(name="research", description=None),
                ],
                default_agent="demo",
            )
        ),
        _server(s.Pong(server_time=_T, client_time=_T - 0.5), "req-1"),
        _server(
            s.Error(
                code=ErrorCode.VALIDATION_FAILED,
                message="invalid fields: $.data.content",
                errors=[s.ErrorDetail(path="$.data.content", reason="Field required")],
            ),
            "req-2",
        ),
        _server(
            s.DeprecationNotice(
                version="v1",
                sunset="2027-06-30",
                message="Protocol v1 is deprecated.",
                upgrade_to="v3",
            )
        ),
        _server(s.ServerShutdown(reason="deploy", reconnect_after=2.0)),
        _server(s.StreamGap(epoch="ep_9c1e", from_seq=3, to_seq=9, reason="retention")),
        _server(
            s.MessageReceived(
                message_id="msg_1", thread_id="thr_42", run_id="run_7f3a", client_message_id="cm-1"
            ),
            "req-3",
        ),
        _server(
            s.UserMessageAccepted(
                message_id="msg_1",
                thread_id="thr_42",
                run_id="run_7f3a",
                agent_name="supervisor",
                content="what is 17*23 in hex?",
                client_message_id="cm-1",
            ),
            "req-3",
        ),
        _server(s.ThreadCreated(thread=_THREAD), "req-4"),
        _server(s.ThreadList(threads=[_THREAD], has_more=False), "req-5"),
        _server(
            s.ThreadHistory(
                thread_id="thr_42",
                messages=[
                    s.HistoryMessage(
                        message_id="msg_1",
                        role="user",
                        content="what is 17*23 in hex?",
                        created_at=_T,
                    ),
                    s.HistoryMessage(
                        message_id="msg_2",
                        role="assistant",
                        content="17*23 = 391 = 0x187.",
                        run_id="run_7f3a",
                        created_at=_T + 1,
                    ),
                ],
                has_more=False,
                runs=[
                    s.RunTimeline(
                        run_id="run_7f3a",
                        status="completed",
                        complete=True,
                        events=[
                            s.TimelineEvent(position=1, type="agent_started", data=_EVENT),
                            s.TimelineEvent(
                                position=2,
                                type="tool_executing",
                                data={
                                    **_EVENT,
                                    "tool_call_id": "call_1",
                                    "tool_name": "calculator",
                                    "arguments": {"expression": "17*23"},
                                },
                            ),
                            s.TimelineEvent(
                                position=3,
                                type="tool_completed",
                                data={
                                    **_EVENT,
                                    "tool_call_id": "call_1",
                                    "tool_name": "calculator",
                                    "status": "success",
                                    "result": 391,
                                    "error": None,
                                    "duration_ms": 0.4,
                                },
                            ),
                            s.TimelineEvent(
                                position=4,
                                type="agent_message",
                                data={
                                    **_EVENT,
                                    "message_id": "msg_9",
                                    "content": "17*23 = 391 = 0x187.",
                                },
                            ),
                            s.TimelineEvent(
                                position=5,
                                type="agent_completed",
                                data={**_EVENT, "duration_ms": 812.0},
                            ),
                        ],
                    )
                ],
                events=[
                    s.StreamFrame(
                        type="agent_started",
                        data={**_RUN, "run_id": "run_7f3c", "parent_run_id": None},
                        seq=15,
                        timestamp=_T + 2,
                        server_id="node-b",
                    ),
                    s.StreamFrame(
                        type="agent_message_delta",
                        data={
                            **_RUN,
                            "run_id": "run_7f3c",
                            "parent_run_id": None,
                            "message_id": "msg_4",
                            "content": "391 = 0o",
                        },
                        seq=16,
                        timestamp=_T + 3,
                        server_id="node-b",
                    ),
                ],
                stream_seq=16,
            ),
            "req-6",
        ),
        _server(s.ThreadRenamed(thread=_THREAD), "req-7"),
        _server(s.ThreadDeleted(thread_id="thr_42"), "req-8"),
        _server(s.AgentStarted(**_RUN)),
        _server(s.AgentThinking(**_RUN, content="Delegating the arithmetic to calculator.")),
        _server(
            s.ToolExecuting(
                **_SUB,
                parent_run_id="run_7f3a",
                tool_call_id="call_1",
                tool_name="calculate",
                arguments={"expression": "17*23"},
            )
        ),
        _server(
            s.ToolCompleted(
                **_SUB,
                parent_run_id="run_7f3a",
                tool_call_id="call_1",
                tool_name="calculate",
                status="success",
                result=391,
                duration_ms=0.8,
            )
        ),
        _server(
            s.ToolApprovalRequired(
                **_RUN,
                tool_call_id="call_2",
                tool_name="delete_thread",
                arguments={"thread_id": "thr_1"},
                timeout_seconds=60.0,
                expires_at=1767225660.0,
                on_expiry="deny",
                arguments_schema={
                    "type": "object",
                    "properties": {"thread_id": {"type": "string"}},
                    "required": ["thread_id"],
                },
            )
        ),
        _server(
            s.AgentQuestion(
                **_RUN,
                question_id="q_1",
                prompt="How would you rate this demo?",
                answer_schema={
                    "type": "object",
                    "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}},
                    "required": ["rating"],
                },
                timeout_seconds=120.0,
                expires_at=1767225720.0,
            )
        ),
        _server(
            s.InterruptResolved(
                **_RUN,
                interrupt_id="call_2",
                kind="approval",
                resolution="answered",
                approved=True,
                answered_by="conn_9a1b",
                message="delete_thread was approved.",
            )
        ),
        _server(s.AgentMessageDelta(**_RUN, message_id="msg_2", content="17*23 = 391")),
        _server(s.AgentMessage(**_RUN, message_id="msg_2", content="17*23 = 391 = 0x187.")),
        _server(s.AgentCompleted(**_RUN, duration_ms=42.5)),
        _server(
            s.AgentError(
                **_RUN,
                code="upstream_timeout",
                message="The model did not answer in 30 s.",
                retryable=True,
            )
        ),
        _server(s.AgentCancelled(**_RUN, reason="user_request")),
    )
}

CLIENT_EXAMPLES: dict[str, ClientEnvelope] = {
    env.type: env
    for env in (
        ClientEnvelope(
            c.UserMessage(
                content="what is 17*23 in hex?",
                thread_id="thr_42",
                client_message_id="cm-1",
                metadata={"source": "web"},
            ),
            "req-3",
        ),
        ClientEnvelope(c.StopAgent(run_id="run_7f3a"), "req-9"),
        ClientEnvelope(c.CreateThread(title="Hex maths"), "req-4"),
        ClientEnvelope(c.ListThreads(limit=20), "req-5"),
        ClientEnvelope(c.GetThreadHistory(thread_id="thr_42", limit=50), "req-6"),
        ClientEnvelope(c.RenameThread(thread_id="thr_42", title="Hex maths"), "req-7"),
        ClientEnvelope(c.DeleteThread(thread_id="thr_42"), "req-8"),
        ClientEnvelope(c.Ping(client_time=_T - 0.5), "req-1"),
        ClientEnvelope(c.Resume(epoch="ep_9c1e", last_seq=16), "req-10"),
        ClientEnvelope(
            c.ToolApproval(run_id="run_7f3a", tool_call_id="call_2", approved=False, reason="no"),
            "req-11",
        ),
        ClientEnvelope(
            c.QuestionAnswer(
                run_id="run_7f3a", question_id="q_1", answer={"rating": 5, "comment": "neat"}
            ),
            "req-12",
        ),
    )
}

#: Inbound frames only older versions accept, each decoding to a ``user_message``.
LEGACY_CLIENT_EXAMPLES: dict[str, dict[str, Frame]] = {
    "v2": {
        "chat": {"type": "chat", "payload": {"text": "hello"}, "correlation_id": "req-12"},
        "chat_message": {"type": "chat_message", "data": {"content": "hello"}},
        "message": {"type": "message", "data": {"content": "hello", "thread_id": "thr_42"}},
        "execute_agent": {"type": "execute_agent", "payload": {"content": "hello"}},
        "start_agent": {"type": "start_agent", "data": {"content": "hello"}},
    },
    "v1": {
        "chat": {"type": "chat", "text": "hello", "correlation_id": "req-12"},
        "chat_message": {"type": "chat_message", "content": "hello"},
        "message": {"type": "message", "content": "hello", "thread_id": "thr_42"},
        "execute_agent": {"type": "execute_agent", "content": "hello"},
        "start_agent": {"type": "start_agent", "text": "hello"},
    },
}
