"""Typed commands on the run queue's control channel (gateway nodes -> workers).

A gateway node publishes a command; every worker parses it and obeys it if
it runs that run. Bad input (not JSON, unknown ``op``, a field missing or of
the wrong type) raises :class:`BadCommand`, which a worker logs and skips;
fields it does not know are ignored (a newer gateway's)::

    payload = encode_command(Cancel(run_id="run_1", user_id="alice"))
    match parse_command(payload):
        case Cancel(run_id=run_id): ...
        case Resolve(run_id=run_id, interrupt_id=interrupt_id): ...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agentsocket.agents.pauses import Resolution, ResolutionKind


class _Command(BaseModel):
    # Fields a newer gateway adds are ignored, so workers can be upgraded after the
    # gateways (as for run requests); what a worker reads is still strictly typed.
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    run_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)


class Cancel(_Command):
    """Stop ``run_id`` of ``user_id``; it ends with ``agent_cancelled`` (``reason``)."""

    op: Literal["cancel"] = "cancel"
    reason: str = Field(default="user_request", min_length=1, max_length=64)


class Approve(_Command):
    """Answer the pending approval of ``tool_call_id`` in ``run_id`` (a run or a sub-run).

    What gateways before :class:`Resolve` send; workers still obey it.
    """

    op: Literal["approve"] = "approve"
    tool_call_id: str = Field(min_length=1)
    approved: bool
    reason: str | None = None


class Resolve(_Command):
    """Wake ``run_id`` (a run or a sub-run) waiting at ``interrupt_id`` with its resolution.

    The answer was claimed in the store already; the waiting process only learns it.
    """

    op: Literal["resolve"] = "resolve"
    interrupt_id: str = Field(min_length=1)
    outcome: ResolutionKind
    approved: bool | None = None
    arguments: dict[str, Any] | None = None
    reason: str | None = None
    answer: Any = None
    answered_by: str | None = None

    @classmethod
    def of(cls, user_id: str, run_id: str, interrupt_id: str, resolution: Resolution) -> Resolve:
        return cls(
            run_id=run_id,
            user_id=user_id,
            interrupt_id=interrupt_id,
            outcome=resolution.resolution,
            approved=resolution.approved,
            arguments=resolution.arguments,
            reason=resolution.reason,
            answer=resolution.answer,
            answered_by=resolution.answered_by,
        )

    def resolution(self) -> Resolution:
        return Resolution(
            self.outcome,
            approved=self.approved,
            arguments=self.arguments,
            reason=self.reason,
            answer=self.answer,
            answered_by=self.answered_by,
        )


AnyCommand = Cancel | Approve | Resolve
Command = Annotated[AnyCommand, Field(discriminator="op")]

_COMMAND: TypeAdapter[AnyCommand] = TypeAdapter(Command)


class BadCommand(ValueError):  # noqa: N818 - named for what it is, like json's errors
    """A control-channel payload that is not a valid command."""


def encode_command(command: AnyCommand) -> bytes:
    """The bytes published for ``command``."""
    return command.model_dump_json().encode()


def parse_command(payload: bytes | str) -> AnyCommand:
    """Parse a control-channel payload.

    Raises:
        BadCommand: it is not JSON, or not a known command with valid fields.
    """
    try:
        return _COMMAND.validate_json(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'command'}: {e['msg']}" for e in exc.errors()
        )
        raise BadCommand(f"bad control command: {problems}") from None
