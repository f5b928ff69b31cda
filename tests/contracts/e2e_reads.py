"""What the e2e suites read of each server message, per protocol version.

The e2e suites (``tests/e2e/test_critical.py``, ``test_gateway_*.py``,
``test_runs.py``, ``test_resume.py``) are a consumer written like the seed's
clients: they read raw JSON, through ``harness.tag()`` (v1 ``event``, v2
``system_message`` + ``data.event``, else ``type``) and ``harness.body()``
(v1 flat, else ``data``). These declarations are kept by hand, next to what
each suite reads, and written with the wire names those suites use; they
deliberately do not derive anything from the protocol package, so a producer
change cannot silently change them.
"""

from __future__ import annotations

from agentsocket.protocol.contracts import Contract, Expectation, Read

CONSUMER = "e2e"

#: v2 sent these as ``{"type": "system_message", "data": {"event": <name>, ...}}``.
V2_SYSTEM = frozenset(
    {"connection_established", "deprecation_notice", "server_shutdown", "stream_gap"}
)
#: Wire names of the older versions where they differ from v3's.
OLD_NAMES = {"agent_message_delta": "partial_result", "agent_message": "final_report"}
AGENT_EVENTS = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_message_delta",
    "agent_message",
    "agent_completed",
)


def wire_name(version: str, message: str) -> str:
    """What ``harness.tag()`` returns for ``message`` in ``version``."""
    return message if version == "v3" else OLD_NAMES.get(message, message)


def tag_reads(version: str, message: str) -> list[Read]:
    """How the suites tell ``message`` apart in ``version``."""
    name = wire_name(version, message)
    if version == "v1":
        return [Read("$.event", equals=name)]
    if version == "v2" and message in V2_SYSTEM:
        return [Read("$.type", equals="system_message"), Read("$.data.event", equals=name)]
    return [Read("$.type", equals=name)]


def _field(version: str, declaration: str) -> Read:
    """``run_id:string`` → ``$.run_id:string`` in v1, ``$.data.run_id:string`` else.

    ``^seq:integer`` is an envelope field: at the top in every version.
    """
    if declaration.startswith("^"):
        return Read.parse("$." + declaration[1:])
    prefix = "$." if version == "v1" else "$.data."
    return Read.parse(prefix + declaration)


def reads(
    version: str, message: str, *fields: str, where: tuple[str, ...] = (), note: str
) -> Expectation:
    """An expectation: the tag plus ``fields`` (see :func:`_field`), for frames ``where``."""
    return Expectation(
        message,
        tuple(tag_reads(version, message) + [_field(version, f) for f in fields]),
        tuple(_field(version, w) for w in where),
        note=note,
    )


def _welcome(version: str) -> Expectation:
    if version == "v1":
        return reads(
            "v1",
            "connection_established",
            "connection_ready=true",
            "user_id:string",
            "server_time:string",
            "environment:string",
            note="test_gateway_handshake: the seed's old check, "
            "msg.get('event') == 'connection_established' and msg.get('connection_ready')",
        )
    if version == "v2":
        return reads(
            "v2",
            "connection_established",
            "connection_ready=true",
            "connection_id:string",
            "user_id:string",
            "^timestamp:number",
            "^server_id:string",
            "^correlation_id:null",
            note="test_gateway_handshake: the seed's Option 1, msg['type'] == 'system_message' "
            "and msg['data']['event'] == 'connection_established'",
        )
    return reads(
        "v3",
        "connection_established",
        "connection_ready=true",
        "user_id:string",
        "protocol_version:string",
        "server_time:number",
        "heartbeat_interval:number",
        "max_frame_size:integer",
        "stream.epoch:string",
        "stream.seq:integer",
        "^server_id:string",
        note="test_gateway_handshake: the v3 welcome states version, settings and stream",
    )


def _run(version: str) -> list[Expectation]:
    """The critical suite's run: ack, then the run's events up to its terminal one."""
    agent = ("run_id:string", "thread_id:string", "agent_name:string", "^seq:integer")
    note = "test_critical.run_to_end / assert_run_well_formed"
    expectations = [
        reads(
            version,
            "message_received",
            "run_id:string",
            "thread_id:string",
            "^correlation_id:string",
            where=("^correlation_id:string",),
            note="test_critical: the ack carries run, thread and the chat's correlation id",
        )
    ]
    extra = {
        "tool_executing": ("tool_call_id:string", "tool_name:string"),
        # v3: test_runs reads how approved and denied calls end (status).
        "tool_completed": ("tool_call_id:string", *(("status:string",) if version == "v3" else ())),
        "agent_message_delta": ("content:string",),
        "agent_message": ("content:string",),
    }
    for message in AGENT_EVENTS:
        if version == "v1" and message == "agent_message_delta":
            continue  # a declared drop: v1 clients get only the final text
        fields = agent + extra.get(message, ())
        expectations.append(reads(version, message, *fields, note=note))
        expectations.append(
            reads(
                version,
                message,
                *fields,
                "parent_run_id:string",
                where=("parent_run_id:string",),
                note="test_critical: events of sub-agent runs name their parent run",
            )
        )
    expectations.append(
        reads(
            version,
            "tool_completed",
            "tool_call_id:string",
            "result:integer",
            where=('tool_name="calculate"',),
            note="test_critical: 391 in the tool results",
        )
    )
    return expectations


def _history(version: str) -> Expectation:
    return reads(
        version,
        "thread_history",
        'messages[0].role="user"',
        "messages[0].content:string",
        'messages[1].role="assistant"',
        "messages[1].content:string",
        "messages[1].run_id:string",
        where=("has_more=false",),
        note="test_critical: history of one question survives a reconnect",
    )


def _common(version: str) -> list[Expectation]:
    """What the critical and frames suites read in every version."""
    return [
        _welcome(version),
        reads(
            version,
            "pong",
            "^correlation_id:string",
            # v1 writes every time as ISO 8601; v2 and v3 as Unix seconds.
            "server_time:string" if version == "v1" else "server_time:number",
            note="test_critical / test_gateway_frames: ping is answered, correlation echoed",
        ),
        *_run(version),
        _history(version),
        reads(
            version,
            "thread_list",
            "threads:array",
            note="test_critical: an unknown type starts nothing; the user has no threads",
        ),
    ]


def v1() -> Contract:
    return Contract(
        CONSUMER,
        "v1",
        (
            *_common("v1"),
            reads(
                "v1",
                "error",
                "error_code:string",
                "^correlation_id:string",
                where=('error_code="unknown_type"',),
                note="test_critical: body(error).get('code') or body(error).get('error_code')",
            ),
            reads(
                "v1",
                "error",
                "error_code:string",
                "details.errors[*].path:string",
                "recovery_suggestions[*]:string",
                where=('error_code="validation_failed"',),
                note="test_gateway_frames: the legacy error shape",
            ),
            reads(
                "v1",
                "deprecation_notice",
                "sunset:string",
                "upgrade_to:string",
                note="test_runs: a deprecated version gets a notice after the welcome",
            ),
            reads("v1", "server_shutdown", note="test_gateway_lifecycle: graceful shutdown"),
        ),
    )


def v2() -> Contract:
    return Contract(
        CONSUMER,
        "v2",
        (
            *_common("v2"),
            reads(
                "v2",
                "error",
                "error_code:string",
                "^correlation_id:string",
                where=('error_code="unknown_type"',),
                note="test_critical: body(error).get('code') or body(error).get('error_code')",
            ),
        ),
    )


def v3() -> Contract:
    thread = ("thread.thread_id:string", "thread.title:string")
    return Contract(
        CONSUMER,
        "v3",
        (
            *_common("v3"),
            reads(
                "v3",
                "error",
                "code:string",
                "message:string",
                "^correlation_id:string",
                where=("^correlation_id:string",),
                note="test_gateway_frames / test_runs: typed errors echo the correlation id",
            ),
            reads(
                "v3",
                "error",
                "code:string",
                "errors[*].path:string",
                where=('code="validation_failed"',),
                note="test_gateway_frames: a validation error names each bad field",
            ),
            reads(
                "v3",
                "error",
                "code:string",
                "retry_after:number",
                where=('code="rate_limited"',),
                note="test_gateway_lifecycle: a flood is answered with rate_limited",
            ),
            reads(
                "v3",
                "message_received",
                "run_id:string",
                "message_id:string",
                "thread_id:string",
                "duplicate:boolean",
                note="test_runs: a resent client_message_id is acknowledged as a duplicate",
            ),
            reads(
                "v3",
                "tool_approval_required",
                "run_id:string",
                "tool_call_id:string",
                note="test_runs: the approval request names run and tool call",
            ),
            reads(
                "v3",
                "agent_error",
                "run_id:string",
                "code:string",
                "retryable:boolean",
                note="test_runs: an agent exception ends the run with agent_error",
            ),
            reads(
                "v3",
                "agent_cancelled",
                "run_id:string",
                "reason:string",
                note="test_critical: stop_agent ends the run with agent_cancelled",
            ),
            reads(
                "v3",
                "thread_created",
                *thread,
                "^seq:integer",
                note="test_runs / test_gateway_frames: every tab sees the new thread",
            ),
            reads(
                "v3",
                "thread_renamed",
                *thread,
                "^correlation_id:string",
                note="test_runs: thread operations",
            ),
            reads(
                "v3",
                "thread_deleted",
                "thread_id:string",
                note="test_runs: thread operations",
            ),
            reads(
                "v3",
                "thread_list",
                "threads[*].title:string",
                where=("threads[0]",),
                note="test_gateway_frames / test_runs: listed threads by title",
            ),
            reads(
                "v3",
                "thread_history",
                "messages[*].content:string",
                "next_before:string",
                where=("has_more=true",),
                note="test_runs: history pages, oldest first",
            ),
            reads(
                "v3",
                "server_shutdown",
                "reconnect_after:number",
                note="test_gateway_lifecycle: graceful shutdown",
            ),
            reads(
                "v3",
                "stream_gap",
                "epoch:string",
                "from_seq:integer",
                "to_seq:integer",
                "reason:string",
                note="test_resume: a resume the log cannot serve gets an explicit gap",
            ),
        ),
    )


def contracts() -> list[Contract]:
    """The e2e suites' contracts, one per version they speak."""
    return [v1(), v2(), v3()]
