"""Read one streamed OpenAI chat completion: SSE lines in, text deltas and tool calls out.

The server sends ``data: {chunk}`` lines and ends with ``data: [DONE]``. Each
chunk's ``choices[0].delta`` may carry a piece of ``content`` or pieces of
``tool_calls``: the first piece of a call names its ``index``, ``id`` and
``function.name``, later pieces add ``function.arguments`` fragments for the
same ``index``. A chunk with a ``finish_reason`` ends the answer.

Anything else (a chunk that is not JSON or lacks ``choices``, a tool call
without a name, a stream that ends without a ``finish_reason``) raises
:class:`MalformedStreamError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class MalformedStreamError(ValueError):
    """The server's stream does not follow the chat-completions format."""


class StreamedError(RuntimeError):
    """The server reported an error inside the stream (``data: {"error": ...}``)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _FunctionDelta(_Model):
    name: str | None = None
    arguments: str | None = None


class _ToolCallDelta(_Model):
    index: int
    id: str | None = None
    function: _FunctionDelta | None = None


class _Delta(_Model):
    content: str | None = None
    tool_calls: list[_ToolCallDelta] | None = None


class _Choice(_Model):
    index: int = 0
    delta: _Delta = _Delta()
    finish_reason: str | None = None


class _ErrorBody(_Model):
    message: str = "unknown error"


class _Usage(_Model):
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)


class _Chunk(_Model):
    choices: list[_Choice] | None = None
    error: _ErrorBody | None = None
    usage: _Usage | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """The tokens one completion used, as the server reported them."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


@dataclass(slots=True)
class ToolCall:
    """A tool call the model asked for; ``arguments`` is the JSON text it wrote."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Completion:
    """One round's answer: its text, the tool calls it asked for, and why it stopped."""

    text: str
    tool_calls: list[ToolCall]
    finish_reason: str
    usage: TokenUsage | None = None


@dataclass(slots=True)
class _PartialCall:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


async def read_completion(
    lines: AsyncIterator[str], on_text: Callable[[str], Awaitable[None]]
) -> Completion:
    """Read a streamed completion, passing each piece of text to ``on_text`` as it comes.

    Raises:
        MalformedStreamError: the stream breaks the format (see the module docstring).
        StreamedError: the server sent an error object instead of a chunk.
    """
    text: list[str] = []
    calls: dict[int, _PartialCall] = {}
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    async for line in lines:
        data = _data(line)
        if data is None:
            continue
        if data == "[DONE]":
            break
        chunk = _parse(data)
        if chunk.usage is not None:
            # With stream_options.include_usage: a last chunk, after the finish_reason.
            reported = chunk.usage
            total = reported.total_tokens
            usage = TokenUsage(
                reported.prompt_tokens,
                reported.completion_tokens,
                reported.prompt_tokens + reported.completion_tokens if total is None else total,
            )
        for choice in chunk.choices or ():
            if choice.index != 0:
                continue  # only one answer is asked for (n=1)
            if choice.delta.content:
                text.append(choice.delta.content)
                await on_text(choice.delta.content)
            for piece in choice.delta.tool_calls or ():
                _add_piece(calls.setdefault(piece.index, _PartialCall()), piece)
            if choice.finish_reason is not None:
                finish_reason = choice.finish_reason
    if finish_reason is None:
        raise MalformedStreamError("the stream ended before the model finished its answer")
    return Completion(
        "".join(text), [_complete(i, c) for i, c in sorted(calls.items())], finish_reason, usage
    )


def _data(line: str) -> str | None:
    """The value of an SSE ``data`` line; None for other fields, comments and blanks."""
    name, colon, value = line.rstrip("\r").partition(":")
    if not colon or name != "data":
        return None
    return value.removeprefix(" ")


def _parse(data: str) -> _Chunk:
    try:
        chunk = _Chunk.model_validate_json(data)
    except ValidationError as exc:
        raise MalformedStreamError(f"a chunk is not valid: {_first_problem(exc)}") from None
    if chunk.error is not None:
        raise StreamedError(chunk.error.message)
    if chunk.choices is None:
        raise MalformedStreamError("a chunk has no 'choices'")
    return chunk


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def _add_piece(call: _PartialCall, piece: _ToolCallDelta) -> None:
    if piece.id:
        call.id = piece.id
    if piece.function is not None:
        if piece.function.name and call.name is None:
            call.name = piece.function.name
        if piece.function.arguments:
            call.arguments.append(piece.function.arguments)


def _complete(index: int, call: _PartialCall) -> ToolCall:
    if not call.id or not call.name:
        raise MalformedStreamError(f"tool call {index} has no {'id' if not call.id else 'name'}")
    return ToolCall(call.id, call.name, "".join(call.arguments))
