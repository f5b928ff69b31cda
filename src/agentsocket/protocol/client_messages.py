"""Every message a client sends to the server (head version).

Each class is the ``data`` of one message type and ``TYPE`` is its tag.
:data:`CLIENT_MESSAGES` maps tags to classes; the codec dispatches on it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator

from agentsocket.protocol.limits import (
    METADATA_MAX_DEPTH,
    check_epoch_seconds,
    check_text,
    check_value,
)
from agentsocket.protocol.message import ClientMessage

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
# The limits module's checks run as plain validators, so the released schemas stay as they were.
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_text)]
PageSize = Annotated[int, Field(ge=1, le=200)]
#: How deep an answer or edited tool arguments may nest.
ANSWER_MAX_DEPTH = 8


def _check_traceparent(value: str) -> str:
    # The pattern is the layout; a version ``ff`` or all-zero ids are invalid too (W3C).
    if value.startswith("ff") or value[3:35] == "0" * 32 or value[36:52] == "0" * 16:
        raise ValueError("not a valid W3C traceparent: version ff, or an all-zero id")
    return value


#: The layout of a W3C Trace Context ``traceparent``: version-traceid-spanid-flags, lower hex.
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
TraceParent = Annotated[
    str,
    Field(min_length=55, max_length=55, pattern=TRACEPARENT_PATTERN),
    AfterValidator(_check_traceparent),
]


class UserMessage(ClientMessage):
    """Ask the agent something; starts a run in ``thread_id`` (a new thread if omitted)."""

    TYPE: ClassVar[str] = "user_message"
    content: Annotated[str, Field(min_length=1, max_length=32_768), AfterValidator(check_text)]
    thread_id: Identifier | None = None
    client_message_id: Identifier | None = Field(
        default=None, description="Idempotency key: a resent message never starts a second run."
    )
    agent: Identifier | None = Field(default=None, description="Agent to run; server default.")
    metadata: dict[str, Any] = Field(default_factory=dict, max_length=32)
    traceparent: TraceParent | None = Field(
        default=None,
        description="W3C traceparent: the run's trace joins the client's, as a child of "
        "this span (docs/tracing.md). A malformed one is refused (validation_failed).",
    )
    double_texting: Literal["reject", "enqueue", "interrupt"] | None = Field(
        default=None,
        description="If the thread's run is still going: refuse this message, queue it, or "
        "cancel that run and start this one. None: the gateway's setting.",
    )

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_value(value, METADATA_MAX_DEPTH)  # type: ignore[no-any-return]


class StopAgent(ClientMessage):
    """Cancel a run; the server answers with ``agent_cancelled`` for it."""

    TYPE: ClassVar[str] = "stop_agent"
    run_id: Identifier


class CreateThread(ClientMessage):
    """Create an empty thread; answered by ``thread_created``."""

    TYPE: ClassVar[str] = "create_thread"
    title: Title | None = None


class ListThreads(ClientMessage):
    """List the user's threads, newest first; answered by ``thread_list``."""

    TYPE: ClassVar[str] = "list_threads"
    limit: PageSize = 50
    before: Identifier | None = Field(default=None, description="Cursor from ``next_before``.")


class GetThreadHistory(ClientMessage):
    """Read a thread's messages, one page; answered by ``thread_history``."""

    TYPE: ClassVar[str] = "get_thread_history"
    thread_id: Identifier
    limit: PageSize = 50
    before: Identifier | None = Field(default=None, description="Cursor from ``next_before``.")


class RenameThread(ClientMessage):
    """Rename a thread; answered by ``thread_renamed``."""

    TYPE: ClassVar[str] = "rename_thread"
    thread_id: Identifier
    title: Title


class DeleteThread(ClientMessage):
    """Delete a thread and its messages; answered by ``thread_deleted``."""

    TYPE: ClassVar[str] = "delete_thread"
    thread_id: Identifier


class Ping(ClientMessage):
    """Application-level liveness check; answered by ``pong`` with the same correlation id."""

    TYPE: ClassVar[str] = "ping"
    client_time: float | None = Field(default=None, allow_inf_nan=False)

    _in_range = field_validator("client_time")(check_epoch_seconds)


class Resume(ClientMessage):
    """Ask for every stream message after ``last_seq`` of ``epoch`` (sent first after reconnect)."""

    TYPE: ClassVar[str] = "resume"
    epoch: Identifier | None = Field(
        default=None, description="None: the current epoch (v1/v2 clients never see one)."
    )
    last_seq: Annotated[int, Field(ge=0)]


class ToolApproval(ClientMessage):
    """Answer a ``tool_approval_required``: run the tool, or deny it."""

    TYPE: ClassVar[str] = "tool_approval"
    run_id: Identifier
    tool_call_id: Identifier
    approved: bool
    reason: Annotated[str, Field(max_length=1000), AfterValidator(check_text)] | None = None
    arguments: dict[str, Any] | None = Field(
        default=None,
        description="Run the tool with these arguments instead (approved only); they must "
        "satisfy the request's ``arguments_schema``.",
    )

    @field_validator("arguments")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_value(value, ANSWER_MAX_DEPTH)


class QuestionAnswer(ClientMessage):
    """Answer an ``agent_question``; the answer must satisfy its ``answer_schema``."""

    TYPE: ClassVar[str] = "question_answer"
    run_id: Identifier
    question_id: Identifier
    answer: Any

    @field_validator("answer")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        return check_value(value, ANSWER_MAX_DEPTH)


CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {
    cls.TYPE: cls
    for cls in (
        UserMessage,
        StopAgent,
        CreateThread,
        ListThreads,
        GetThreadHistory,
        RenameThread,
        DeleteThread,
        Ping,
        Resume,
        ToolApproval,
        QuestionAnswer,
    )
}
