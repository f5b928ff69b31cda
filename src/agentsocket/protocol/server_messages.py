"""Every message the server sends to a client (head version).

Each class is the ``data`` of one message type and ``TYPE`` is its tag.
:data:`SERVER_MESSAGES` maps tags to classes. Agent events share
:class:`AgentEvent`'s fields so a UI can always tell which run, thread and
agent an event belongs to.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentsocket.protocol.codes import ErrorCode
from agentsocket.protocol.message import ServerMessage

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Milliseconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
EpochSeconds = Annotated[float, Field(allow_inf_nan=False, description="Unix time in seconds.")]


class Part(BaseModel):
    """A nested object inside a server message."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )


# --- connection -------------------------------------------------------------


class StreamPosition(Part):
    """Where the user's stream stands: resume with ``epoch`` and the last ``seq`` you saw."""

    epoch: str
    seq: Annotated[int, Field(ge=0)]


class AvailableAgent(Part):
    """An agent this gateway serves: pick it with ``user_message.agent``."""

    name: str
    description: str | None = None


class ConnectionEstablished(ServerMessage):
    """The welcome: the connection is authenticated and ready for messages."""

    TYPE: ClassVar[str] = "connection_established"
    connection_id: str
    user_id: str
    connection_ready: Literal[True] = True
    protocol_version: str
    server_time: EpochSeconds
    environment: str
    # The fields below are None only when read from a version that lacks them (v1, v2).
    heartbeat_interval: Seconds | None
    max_frame_size: Annotated[int, Field(gt=0)] | None
    stream: StreamPosition | None
    #: The agents served, and the one a ``user_message`` without ``agent`` gets
    #: (None when read from v1, v2, or from a server older than this field).
    agents: list[AvailableAgent] | None = None
    default_agent: str | None = None


class Pong(ServerMessage):
    """Answer to ``ping``; carries the ping's correlation id."""

    TYPE: ClassVar[str] = "pong"
    server_time: EpochSeconds
    client_time: EpochSeconds | None = None


class ErrorDetail(Part):
    """One bad field of a refused frame: JSON path in the sender's shape, and why."""

    path: str
    reason: str


class Error(ServerMessage):
    """A frame or request was refused. The connection stays usable."""

    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str
    errors: list[ErrorDetail] = Field(default_factory=list)
    retry_after: Seconds | None = None
    run_id: str | None = Field(
        default=None, description="The run the refusal is about (a busy thread's running run)."
    )


class DeprecationNotice(ServerMessage):
    """The negotiated protocol version is deprecated and will be removed."""

    TYPE: ClassVar[str] = "deprecation_notice"
    version: str
    sunset: str = Field(description="ISO 8601 date after which the version is refused.")
    message: str
    upgrade_to: str


class ServerShutdown(ServerMessage):
    """This node is shutting down; reconnect after ``reconnect_after`` seconds."""

    TYPE: ClassVar[str] = "server_shutdown"
    reason: str
    reconnect_after: Seconds


class StreamGap(ServerMessage):
    """A resume could not be served whole: stream entries ``from_seq``..``to_seq`` are gone.

    Reload the affected threads with ``get_thread_history``.
    """

    TYPE: ClassVar[str] = "stream_gap"
    epoch: str
    from_seq: Annotated[int, Field(ge=0)]
    to_seq: Annotated[int, Field(ge=0)]
    reason: Literal["retention", "epoch_changed"]


# --- requests ----------------------------------------------------------------


class MessageReceived(ServerMessage):
    """Acknowledges a ``user_message``: it is stored and its run is started (or already was)."""

    TYPE: ClassVar[str] = "message_received"
    message_id: str
    thread_id: str
    run_id: str
    client_message_id: str | None = None
    duplicate: bool = Field(default=False, description="True for a resent client_message_id.")
    queued: bool = Field(
        default=False,
        description="True if the run waits for the thread's running run (double_texting enqueue "
        "or interrupt); it starts when that one ends.",
    )


class UserMessageAccepted(ServerMessage):
    """A user message was accepted (stored, its run starting): the question, for every
    connection of the user (another tab, device or node).

    The run's first stream message: its events follow. The sending connection
    also gets ``message_received``; match the two by ``message_id`` (or
    ``client_message_id``) so the question shows once.
    """

    TYPE: ClassVar[str] = "user_message_accepted"
    STREAM: ClassVar[bool] = True
    message_id: str
    thread_id: str
    run_id: str
    agent_name: str
    content: str
    client_message_id: str | None = None


class ThreadInfo(Part):
    """A thread as listed."""

    thread_id: str
    title: str | None
    created_at: EpochSeconds
    updated_at: EpochSeconds


class HistoryMessage(Part):
    """A stored message of a thread: the user's text or the agent's final answer."""

    message_id: str
    role: Literal["user", "assistant"]
    content: str
    run_id: str | None = None
    created_at: EpochSeconds


#: Event types a stored run timeline holds: every agent event but the text deltas
#: (its ``agent_message`` carries the whole text).
TimelineEventType = Literal[
    "agent_started",
    "agent_thinking",
    "tool_approval_required",
    "tool_executing",
    "tool_completed",
    "agent_message",
    "agent_completed",
    "agent_error",
    "agent_cancelled",
]


class TimelineEvent(Part):
    """One stored event of a run: ``type`` and ``data`` exactly as the live event's.

    A field cut to a preview by the server's size caps is named in ``truncated``.
    """

    position: Annotated[int, Field(ge=1)]
    type: TimelineEventType
    data: dict[str, Any]
    truncated: list[str] = Field(default_factory=list)


class RunTimeline(Part):
    """What a run showed live, stored: its events and its sub-runs', in order.

    ``complete`` is false while the run goes on, or when its process died
    before its end was stored (``status`` then says how the run ended).
    ``omitted`` counts events left out by the server's caps (gaps in ``position``).
    """

    run_id: str
    status: Literal["running", "completed", "error", "cancelled"]
    complete: bool
    omitted: Annotated[int, Field(ge=0)] = 0
    events: list[TimelineEvent]


class ThreadCreated(ServerMessage):
    """A thread was created (by this or another of the user's connections)."""

    TYPE: ClassVar[str] = "thread_created"
    STREAM: ClassVar[bool] = True
    thread: ThreadInfo


class ThreadList(ServerMessage):
    """Answer to ``list_threads``."""

    TYPE: ClassVar[str] = "thread_list"
    threads: list[ThreadInfo]
    has_more: bool
    next_before: str | None = None


class StreamFrame(Part):
    """A stream message exactly as the live stream delivered it (a whole frame)."""

    type: str
    data: dict[str, Any]
    seq: Annotated[int, Field(ge=1)]
    timestamp: EpochSeconds
    server_id: str | None = None
    correlation_id: str | None = None


class ThreadHistory(ServerMessage):
    """Answer to ``get_thread_history``: one page, oldest first.

    ``runs`` are the timelines of the runs of the page's messages (not sent to v1, v2).
    A page may hold fewer messages than asked for when their timelines are
    large; ``has_more`` and ``next_before`` lead on.

    The first page (no ``before``) of a thread with a run in flight also
    carries that run so far (``events``) and the stream seq the answer is cut
    at (``stream_seq``): show ``messages``, then ``events``, then this
    thread's stream messages with a seq above ``stream_seq`` only. So a run
    joined mid-way shows every event exactly once (docs/delivery.md, "Rejoining
    a run").
    """

    TYPE: ClassVar[str] = "thread_history"
    thread_id: str
    messages: list[HistoryMessage]
    has_more: bool
    next_before: str | None = None
    runs: list[RunTimeline] = Field(default_factory=list)
    events: list[StreamFrame] = Field(
        default_factory=list,
        description="Stream messages of the thread's runs in flight, up to stream_seq, "
        "oldest first (first page only).",
    )
    stream_seq: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="The user's stream seq this answer reflects: apply this thread's "
        "stream messages with a greater seq only. None: the page says nothing about "
        "the stream (an older page, or a version without it).",
    )


class ThreadRenamed(ServerMessage):
    """A thread was renamed."""

    TYPE: ClassVar[str] = "thread_renamed"
    STREAM: ClassVar[bool] = True
    thread: ThreadInfo


class ThreadDeleted(ServerMessage):
    """A thread was deleted with its messages."""

    TYPE: ClassVar[str] = "thread_deleted"
    STREAM: ClassVar[bool] = True
    thread_id: str


# --- agent runs ------------------------------------------------------------------


class AgentEvent(ServerMessage):
    """Fields every agent event carries."""

    STREAM: ClassVar[bool] = True
    run_id: str
    thread_id: str
    agent_name: str
    parent_run_id: str | None = Field(default=None, description="Set for sub-agent runs.")


class AgentStarted(AgentEvent):
    """A run began; always the first event of its run."""

    TYPE: ClassVar[str] = "agent_started"


class AgentThinking(AgentEvent):
    """What the agent is working on, for a live status line."""

    TYPE: ClassVar[str] = "agent_thinking"
    content: str


class ToolExecuting(AgentEvent):
    """A tool call started; ``tool_completed`` with the same ``tool_call_id`` follows."""

    TYPE: ClassVar[str] = "tool_executing"
    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]


class ToolCompleted(AgentEvent):
    """A tool call ended: ``success`` with a result, ``error`` or ``denied`` with a reason."""

    TYPE: ClassVar[str] = "tool_completed"
    tool_call_id: str
    tool_name: str
    status: Literal["success", "error", "denied"]
    result: Any = None
    error: str | None = None
    duration_ms: Milliseconds


class ToolApprovalRequired(AgentEvent):
    """The run waits for a ``tool_approval`` before running this tool call."""

    TYPE: ClassVar[str] = "tool_approval_required"
    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]
    timeout_seconds: Seconds
    expires_at: EpochSeconds | None = Field(
        default=None,
        description="When the request expires and ``on_expiry`` applies; None from servers "
        "older than this field.",
    )
    on_expiry: Literal["approve", "deny"] = Field(
        default="deny", description="The decision applied if no answer comes before it expires."
    )
    arguments_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema of the tool's arguments: edited arguments in ``tool_approval`` "
        "must satisfy it. None: the arguments cannot be edited.",
    )


class AgentQuestion(AgentEvent):
    """The run waits for a ``question_answer``: an answer that satisfies ``answer_schema``."""

    TYPE: ClassVar[str] = "agent_question"
    question_id: str
    prompt: str = Field(description="The question, for a person to read.")
    answer_schema: dict[str, Any] = Field(description="JSON Schema the answer must satisfy.")
    timeout_seconds: Seconds
    expires_at: EpochSeconds
    default: Any = Field(
        default=None,
        description="The answer applied if none comes before it expires (null: the question "
        "expires unanswered).",
    )


class InterruptResolved(AgentEvent):
    """A ``tool_approval_required`` or ``agent_question`` was answered, expired or skipped.

    Every connection of the user gets it, so a request answered on one device
    disappears from the others.
    """

    TYPE: ClassVar[str] = "interrupt_resolved"
    interrupt_id: str = Field(description="The ``tool_call_id`` or ``question_id`` resolved.")
    kind: Literal["approval", "question"]
    resolution: Literal["answered", "expired", "unanswerable"] = Field(
        description="``answered`` by the user; ``expired`` (the default applied); "
        "``unanswerable``: the run was started from a client version that cannot answer, "
        "so the default applied at once."
    )
    approved: bool | None = Field(default=None, description="For an approval: the decision.")
    arguments: dict[str, Any] | None = Field(
        default=None, description="For an approval: the arguments the tool runs with, if edited."
    )
    answer: Any = Field(default=None, description="For a question: the answer.")
    answered_by: str | None = Field(
        default=None, description="The connection id the answer came from (``answered``)."
    )
    message: str = Field(description="What happened, for a person to read.")


class AgentMessageDelta(AgentEvent):
    """A piece of the answer's text, in order; ``agent_message`` has the whole."""

    TYPE: ClassVar[str] = "agent_message_delta"
    message_id: str
    content: str


class AgentMessage(AgentEvent):
    """The agent's whole answer text (what the deltas added up to)."""

    TYPE: ClassVar[str] = "agent_message"
    message_id: str
    content: str


#: At most 2**53 - 1, as AG-UI bounds it: a larger count does not survive a JSON round trip.
TokenCount = Annotated[int, Field(ge=0, le=9_007_199_254_740_991)]


class Usage(Part):
    """Tokens a run used, as its agent reported them (OpenAI's names)."""

    input_tokens: TokenCount
    output_tokens: TokenCount
    total_tokens: TokenCount


class AgentCompleted(AgentEvent):
    """The run ended normally; always the last event of its run."""

    TYPE: ClassVar[str] = "agent_completed"
    duration_ms: Milliseconds
    usage: Usage | None = Field(default=None, description="Tokens used, if the agent reported it.")


class AgentError(AgentEvent):
    """The run failed; the last event of its run."""

    TYPE: ClassVar[str] = "agent_error"
    code: str = Field(description="An AgentErrorCode value.")
    message: str
    retryable: bool


class AgentCancelled(AgentEvent):
    """The run was stopped; nothing of this run follows."""

    TYPE: ClassVar[str] = "agent_cancelled"
    reason: str


SERVER_MESSAGES: dict[str, type[ServerMessage]] = {
    cls.TYPE: cls
    for cls in (
        ConnectionEstablished,
        Pong,
        Error,
        DeprecationNotice,
        ServerShutdown,
        StreamGap,
        MessageReceived,
        UserMessageAccepted,
        ThreadCreated,
        ThreadList,
        ThreadHistory,
        ThreadRenamed,
        ThreadDeleted,
        AgentStarted,
        AgentThinking,
        ToolExecuting,
        ToolCompleted,
        ToolApprovalRequired,
        AgentQuestion,
        InterruptResolved,
        AgentMessageDelta,
        AgentMessage,
        AgentCompleted,
        AgentError,
        AgentCancelled,
    )
}

#: The run's lifecycle events that end it.
TERMINAL_EVENTS = frozenset({"agent_completed", "agent_error", "agent_cancelled"})
