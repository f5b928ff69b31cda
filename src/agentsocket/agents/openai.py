"""An agent backed by any OpenAI-compatible chat-completions API, streamed over httpx.

Each round posts the conversation with ``stream: true``; text deltas become
``agent_message_delta`` events as they arrive, and tool calls the model asks
for run through ``ctx.tool`` (with events and approvals) and go back as
``role: tool`` messages for the next round, until the model answers without
calling a tool. The last allowed round forbids tools (``tool_choice: none``)
so the model has to answer.

A run first sends the thread's earlier turns (user prompts, the tool calls
earlier runs made with their results, in the model's own format, and final
answers; newest kept, within ``max_history_messages`` and
``max_history_chars``, a tool call never apart from its result) from
:meth:`RunContext.history_messages`, or from its own ``history`` loader if
given one, so the model continues the conversation; the current prompt is
always last, and sent once.

Failures end the run with ``agent_error``:

=====================================  =========================  =========
cause                                  code                       retryable
=====================================  =========================  =========
connect, read or write timeout         ``upstream_timeout``       yes
HTTP 429 (message names Retry-After)   ``upstream_rate_limited``  yes
HTTP 5xx, connection failure, error    ``upstream_error``         yes
in the stream
HTTP 401 / 403, other 4xx              ``upstream_error``         no
bad chunk, missing fields, no finish   ``upstream_malformed``     no
the history loader raised              ``agent_failed``           yes
=====================================  =========================  =========
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from agentsocket.agents.chat_stream import (
    Completion,
    MalformedStreamError,
    StreamedError,
    ToolCall,
    read_completion,
)
from agentsocket.agents.errors import AgentFailure
from agentsocket.agents.history import (
    ChatMessage,
    HistoryLoader,
    chat_messages,
    newest_messages,
)
from agentsocket.agents.runtime import RunContext
from agentsocket.agents.tool import Tool, ToolResult, describe_error, jsonable
from agentsocket.protocol.codes import AgentErrorCode

_MAX_DETAIL = 300
#: Default caps on the earlier turns sent with each run.
DEFAULT_MAX_HISTORY_MESSAGES = 20
DEFAULT_MAX_HISTORY_CHARS = 24_000


def tool_spec(tool: Tool) -> dict[str, Any]:
    """``tool`` in the chat-completions ``tools`` format."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": dict(tool.parameters),
        },
    }


class OpenAIChatAgent:
    """Answers with a model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or
            ``http://localhost:11434/v1``; ``/chat/completions`` is appended.
        model: the model name to ask for.
        api_key: sent as a bearer token; None for servers that need none.
        tools: tools the model may call.
        timeout: seconds for connecting, and for each read of the stream.
        http_client: a client to use (and close) yourself; by default the
            agent makes one, closed by :meth:`aclose`.
        name: the agent's name in events.
        system_prompt: sent first in every conversation.
        max_rounds: most completions per run, tool rounds included.
        extra_body: more request fields, e.g. ``{"temperature": 0}``.
        history: loads the thread's stored messages (``(role, content,
            run_id)``, oldest first) to send before the prompt; None uses
            :meth:`RunContext.history`. Not used when the agent runs as a
            sub-agent.
        max_history_messages: most earlier messages sent, the newest kept.
        max_history_chars: most characters of earlier messages sent (a rough
            stand-in for tokens); older messages past it are left out.
        include_usage: ask for the tokens used (``stream_options.include_usage``)
            and report them (:meth:`RunContext.report_usage`); turn it off for a
            server that refuses the option. A server that ignores it reports none.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        tools: Sequence[Tool] = (),
        timeout: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
        *,
        name: str = "assistant",
        system_prompt: str | None = None,
        max_rounds: int = 8,
        extra_body: Mapping[str, Any] | None = None,
        history: HistoryLoader | None = None,
        max_history_messages: int = DEFAULT_MAX_HISTORY_MESSAGES,
        max_history_chars: int = DEFAULT_MAX_HISTORY_CHARS,
        include_usage: bool = True,
    ) -> None:
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
        if max_history_messages < 0:
            raise ValueError(f"max_history_messages must be >= 0, got {max_history_messages}")
        if max_history_chars < 0:
            raise ValueError(f"max_history_chars must be >= 0, got {max_history_chars}")
        self.name = name
        self.model = model
        self.tools = tuple(tools)
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Accept": "text/event-stream"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout
        self._client = http_client
        self._owns_client = http_client is None
        self._system_prompt = system_prompt
        self._max_rounds = max_rounds
        self._extra_body = dict(extra_body or {})
        self._history = history
        self._max_history_messages = max_history_messages
        self._max_history_chars = max_history_chars
        self._include_usage = include_usage

    async def aclose(self) -> None:
        """Close the HTTP client the agent made (not one passed in)."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, ctx: RunContext, prompt: str) -> None:
        messages: list[dict[str, Any]] = []
        if self._system_prompt:
            messages.append({"role": "system", "content": self._system_prompt})
        messages.extend(await self._earlier_turns(ctx))
        messages.append({"role": "user", "content": prompt})
        for round_number in range(1, self._max_rounds + 1):
            last = round_number == self._max_rounds
            completion = await self._complete(ctx, messages, allow_tools=not last)
            if not completion.tool_calls:
                return
            if last:
                raise AgentFailure(
                    AgentErrorCode.AGENT_FAILED,
                    f"the model still called tools after {self._max_rounds} rounds",
                )
            messages.append(_assistant_message(completion))
            for call in completion.tool_calls:
                messages.append(await self._call_tool(ctx, call))

    async def _earlier_turns(self, ctx: RunContext) -> list[ChatMessage]:
        # A sub-agent answers its delegator's prompt, not the thread.
        if ctx.parent_run_id is not None:
            return []
        if self._history is None:
            messages = await ctx.history_messages()
        else:
            try:
                turns = await self._history(ctx.user_id, ctx.thread_id)
            except Exception as exc:
                raise AgentFailure(
                    AgentErrorCode.AGENT_FAILED,
                    f"could not load the thread's earlier messages: {describe_error(exc)}",
                    retryable=True,
                ) from exc
            messages = chat_messages(turns, ctx.run_id)
        return newest_messages(
            messages,
            max_messages=self._max_history_messages,
            max_chars=self._max_history_chars,
        )

    async def _complete(
        self, ctx: RunContext, messages: list[dict[str, Any]], *, allow_tools: bool
    ) -> Completion:
        body: dict[str, Any] = {
            **({"stream_options": {"include_usage": True}} if self._include_usage else {}),
            **self._extra_body,
            "model": self.model,
            "messages": messages,
            "stream": True,
        }
        if self.tools:
            body["tools"] = [tool_spec(tool) for tool in self.tools]
            if not allow_tools:
                body["tool_choice"] = "none"
        client = self._http()
        try:
            async with client.stream(
                "POST", self._url, json=body, headers=self._headers, timeout=self._timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _http_failure(response)
                async with ctx.message() as stream:
                    completion = await read_completion(response.aiter_lines(), stream.write)
                if completion.usage is not None:
                    used = completion.usage
                    ctx.report_usage(used.input_tokens, used.output_tokens, used.total_tokens)
                return completion
        except httpx.TimeoutException as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_TIMEOUT,
                f"the model server did not respond within {self._timeout:g} s "
                f"({type(exc).__name__})",
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_ERROR,
                f"could not talk to the model server: {type(exc).__name__}: {exc}",
                retryable=True,
            ) from exc
        except (MalformedStreamError, httpx.DecodingError) as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_MALFORMED,
                f"the model server sent a malformed stream: {exc}",
                retryable=False,
            ) from exc
        except StreamedError as exc:
            raise AgentFailure(
                AgentErrorCode.UPSTREAM_ERROR,
                f"the model server reported an error: {exc}",
                retryable=True,
            ) from exc

    async def _call_tool(self, ctx: RunContext, call: ToolCall) -> dict[str, Any]:
        message = {"role": "tool", "tool_call_id": call.id}
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            # The model's mistake, not the server's: tell the model so it can retry.
            return {**message, "content": "error: the arguments must be a JSON object"}
        tool = next((t for t in self.tools if t.name == call.name), None)
        result = await ctx.tool(tool or call.name, arguments)
        return {**message, "content": _tool_content(result)}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client


def _assistant_message(completion: Completion) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": completion.text or None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments or "{}"},
            }
            for call in completion.tool_calls
        ],
    }


def _tool_content(result: ToolResult) -> str:
    if not result.ok:
        return f"{result.status}: {result.error}"
    if isinstance(result.value, str):
        return result.value
    return json.dumps(jsonable(result.value), ensure_ascii=False)


def _http_failure(response: httpx.Response) -> AgentFailure:
    status = response.status_code
    detail = _detail(response)
    if status == 429:
        retry_after = response.headers.get("retry-after")
        wait = ""
        if retry_after:
            unit = " seconds" if retry_after.strip().isdigit() else ""
            wait = f"; retry after {retry_after.strip()}{unit}"
        return AgentFailure(
            AgentErrorCode.UPSTREAM_RATE_LIMITED,
            f"the model server is rate limiting requests (HTTP 429){wait}",
            retryable=True,
        )
    if status in (401, 403):
        message = f"the model server refused the credentials (HTTP {status}): {detail}"
        return AgentFailure(AgentErrorCode.UPSTREAM_ERROR, message, retryable=False)
    if status >= 500:
        message = f"the model server failed (HTTP {status}): {detail}"
        return AgentFailure(AgentErrorCode.UPSTREAM_ERROR, message, retryable=True)
    message = f"the model server refused the request (HTTP {status}): {detail}"
    return AgentFailure(AgentErrorCode.UPSTREAM_ERROR, message, retryable=False)


def _detail(response: httpx.Response) -> str:
    """The server's own error message (OpenAI's ``error.message``), else the body's start."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
        if isinstance(message, str):
            return message[:_MAX_DETAIL]
    return response.text.strip()[:_MAX_DETAIL] or response.reason_phrase
