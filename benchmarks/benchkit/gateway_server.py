"""The real gateway, serving one extra agent that streams as fast as the gateway takes it.

Run: ``PYTHONPATH=benchmarks python -m benchkit.gateway_server --port N``, with
the gateway's settings in ``AGENTSOCKET_*`` environment variables as usual.

The benchmark agent reads its prompt as ``<kind> <count> <chars>``:

* ``delta``: ``count`` ``agent_message_delta`` events of ``chars`` characters,
  in messages of at most :data:`DELTAS_PER_MESSAGE` deltas (each message ends
  with its ``agent_message``, which carries the whole text: one message for
  40,000 deltas would be a 2 MB frame);
* ``think``: ``count`` ``agent_thinking`` events, for v1, which has no
  streamed text (the gateway drops every delta for v1 clients).

It yields to the event loop once per event, as an agent reading a model's
streamed response does; without that it would publish the whole run before
any connection could send a frame, and the stream log would trim it.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
from typing import Any

import uvicorn

from agentsocket.agents import RunContext
from agentsocket.server.app import create_app
from agentsocket.server.settings import Settings
from benchkit.system import SERVER_CPU, pin, raise_file_limit

AGENT_NAME = "bench"
DELTAS_PER_MESSAGE = 200


class BenchAgent:
    """Emits what its prompt asks for, as fast as the gateway accepts it."""

    def __init__(self, name: str = AGENT_NAME) -> None:
        self.name = name

    async def run(self, ctx: RunContext, prompt: str) -> None:
        kind, count, chars = parse_prompt(prompt)
        piece = "x" * chars
        if kind == "think":
            for _ in range(count):
                await ctx.think(piece)
                await asyncio.sleep(0)
            return
        left = count
        while left:
            async with ctx.message() as message:
                for _ in range(min(left, DELTAS_PER_MESSAGE)):
                    await message.write(piece)
                    await asyncio.sleep(0)
                    left -= 1


def parse_prompt(prompt: str) -> tuple[str, int, int]:
    """``"delta 40000 60"`` → ``("delta", 40000, 60)``; anything else is a ValueError."""
    kind, count, chars = prompt.split()
    if kind not in {"delta", "think"}:
        raise ValueError(f"unknown kind {kind!r}")
    return kind, int(count), int(chars)


def build_app(settings: Settings) -> Any:
    """The gateway's app with :class:`BenchAgent` as the default agent, whatever the version.

    Newer gateways take ``create_app(settings, agents=...)``. Older ones build
    their agent set in ``agentsocket.server.runs.build_agents`` and accept only
    the names they hard-code, so there the benchmark agent is put in place of
    ``demo`` (the default agent) by replacing that function before the app is
    built. This is a benchmark-only patch; the gateway never does this.
    """
    parameters = inspect.signature(create_app).parameters
    if "agents" in parameters:
        agent = BenchAgent()
        settings = settings.model_copy(update={"default_agent": agent.name})
        wants_mapping = "dict" in str(parameters["agents"].annotation) or "Mapping" in str(
            parameters["agents"].annotation
        )
        agents: Any = {agent.name: agent} if wants_mapping else [agent]
        return create_app(settings, agents=agents)  # type: ignore[call-arg, unused-ignore]
    from agentsocket.server import runs

    if not hasattr(runs, "build_agents"):
        raise SystemExit("this gateway has neither create_app(agents=...) nor runs.build_agents")

    def build_agents(*_: Any, **__: Any) -> dict[str, Any]:
        return {settings.default_agent: BenchAgent()}

    runs.build_agents = build_agents
    return create_app(settings)


def config(app: Any, settings: Settings, port: int) -> uvicorn.Config:
    """The gateway's own uvicorn configuration where it has one, else the same by hand."""
    try:
        from agentsocket.server.serve import uvicorn_config
    except ImportError:
        return uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ws="websockets-sansio",
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
    cfg = uvicorn_config(app, settings.model_copy(update={"port": port, "host": "127.0.0.1"}))
    assert isinstance(cfg, uvicorn.Config)
    return cfg


def configure_tracing() -> None:
    """Tracing as ``agentsocket serve`` sets it up (``OTEL_*``), where the gateway has it."""
    try:
        from agentsocket import tracing
    except ImportError:
        return
    tracing.configure("agentsocket-gateway")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=SERVER_CPU)
    args = parser.parse_args()
    pin(args.cpu)
    raise_file_limit()
    settings = Settings()
    configure_tracing()
    app = build_app(settings)
    uvicorn.Server(config(app, settings, args.port)).run()


if __name__ == "__main__":
    main()
