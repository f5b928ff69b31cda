"""Loading the agents to serve: built-in, given in code, named on the command line.

Sources, in this order (``docs/agents.md``, "Serve your agent"):

1. agents passed in code: ``create_app(settings, agents=[...])``;
2. ``module:attribute`` specs (``--agent``, ``AGENTSOCKET_AGENTS``): the
   attribute is an agent, an agent class, or a zero-argument factory;
   framework objects are wrapped by :func:`agentsocket.agents.adapters.adapt`;
3. remote AG-UI agents (``--ag-ui-agent NAME=URL``, ``AGENTSOCKET_AG_UI_AGENTS``);
4. installed packages' entry points in the group ``agentsocket.agents``.

With none of these, the built-in demo agent is served. The OpenAI-compatible
agent is added whenever ``openai_base_url`` is set. Every problem raises
:class:`~agentsocket.runs.agent_set.AgentSpecError` with one line naming it.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import SecretStr

from agentsocket.agents import DemoAgent, OpenAIChatAgent, SearchFunc, search_history_tool
from agentsocket.agents.adapters import adapt
from agentsocket.agents.runtime import Agent
from agentsocket.runs.agent_set import AgentSet, AgentSpecError
from agentsocket.settings import Settings

#: The entry-point group installed packages register their agents in.
ENTRY_POINT_GROUP = "agentsocket.agents"

#: Seconds between the demo agent's streamed chunks, so streaming is visible.
_DEMO_CHUNK_DELAY = 0.01

_NOT_AN_AGENT = "an agent has a `name` and an async `run(ctx, prompt)`"


def build_agent_set(
    settings: Settings, agents: Iterable[object] = (), *, search: SearchFunc | None = None
) -> AgentSet:
    """The agents to serve for ``settings`` plus ``agents`` given in code.

    Args:
        search: the demo agent's search over a user's stored messages.

    Raises:
        AgentSpecError: an agent cannot be loaded, is not an agent, or names clash.
    """
    chosen = [(f"agent {obj!r}", as_agent(obj, f"agent {obj!r}")) for obj in agents]
    chosen += [(f"--agent {spec!r}", load_spec(spec)) for spec in settings.agents]
    chosen += load_ag_ui_agents(settings.ag_ui_agents, settings.ag_ui_headers)
    chosen += entry_point_agents()
    if not chosen:
        chosen.append(("the demo agent", DemoAgent(search=search, delay=_DEMO_CHUNK_DELAY)))
    if settings.openai_base_url:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        tools = [search_history_tool(search)] if search is not None else []
        openai = OpenAIChatAgent(
            settings.openai_base_url, settings.openai_model, key, tools=tools, name="openai"
        )
        chosen.append(("the OpenAI-compatible agent (openai_base_url)", openai))
    seen: dict[str, str] = {}
    for where, agent in chosen:
        if agent.name in seen:
            raise AgentSpecError(
                f"two agents are named {agent.name!r}: {seen[agent.name]} and {where}"
            )
        seen[agent.name] = where
    return AgentSet((agent for _, agent in chosen), settings.default_agent)


def load_spec(spec: str) -> Agent:
    """Load the agent named by ``module:attribute`` (``attribute`` may be dotted).

    The module is looked up from the current directory first, as ``python
    -m`` does, so ``agentsocket serve --agent myagent:agent`` finds
    ``./myagent.py``.
    """
    where = f"--agent {spec!r}"
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise AgentSpecError(f"{where}: expected module:attribute, e.g. myagent:agent")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise AgentSpecError(f"{where}: no module named {exc.name!r}") from None
        raise AgentSpecError(f"{where}: importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise AgentSpecError(
            f"{where}: importing {module_name!r} failed: {_one_line(exc)}"
        ) from None
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise AgentSpecError(f"{where}: module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return as_agent(obj, where)


def as_agent(obj: object, where: str) -> Agent:
    """``obj`` as an agent: itself or adapted, an instance of it (a class), or what it makes.

    Raises:
        AgentSpecError: creating it failed, or the result is not an agent.
    """
    if isinstance(obj, type) or (adapt(obj) is None and callable(obj)):
        obj = _make(obj, where)
    agent = adapt(obj)
    if agent is None:
        raise AgentSpecError(f"{where} is not an agent (got {_kind(obj)}); {_NOT_AN_AGENT}")
    return agent


def load_ag_ui_agents(
    specs: Iterable[str], headers: Mapping[str, Mapping[str, SecretStr]]
) -> list[tuple[str, Agent]]:
    """Remote AG-UI agents from ``NAME=URL`` specs, with each one's HTTP headers.

    Header values are secrets (tokens): kept as :class:`SecretStr` until handed over.
    """
    specs = list(specs)
    named: dict[str, str] = {}
    for spec in specs:
        name, equals, url = (part.strip() for part in spec.partition("="))
        if not equals or not name or not url.startswith(("http://", "https://")):
            raise AgentSpecError(
                f"--ag-ui-agent {spec!r}: expected NAME=URL with an http(s) URL, "
                "e.g. research=http://127.0.0.1:8000/agent"
            )
        named[name] = url
    stray = sorted(set(headers) - set(named))
    if stray:
        raise AgentSpecError(f"headers are given for {stray}, which are no --ag-ui-agent names")
    if not named:
        return []
    try:
        # Imported here: the adapter and its dependencies are an optional extra.
        ag_ui = importlib.import_module("agentsocket.agents.adapters.ag_ui")
    except ImportError as exc:
        raise AgentSpecError(
            f"--ag-ui-agent needs the AG-UI adapter (agentsocket.agents.adapters.ag_ui), "
            f"which cannot be imported: {exc}"
        ) from None
    made: list[tuple[str, Agent]] = []
    for name, url in named.items():
        plain = {key: value.get_secret_value() for key, value in headers.get(name, {}).items()}
        agent = ag_ui.AGUIAgent(name, url, headers=plain or None)
        made.append((f"--ag-ui-agent {name}={url}", agent))
    return made


def entry_point_agents() -> list[tuple[str, Agent]]:
    """Agents installed packages register in the ``agentsocket.agents`` entry-point group."""
    found: list[tuple[str, Agent]] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {point.name!r} ({point.value})"
        try:
            obj = point.load()
        except Exception as exc:
            raise AgentSpecError(f"{where}: loading failed: {_one_line(exc)}") from None
        found.append((where, as_agent(obj, where)))
    return found


def _make(factory: Callable[[], object], where: str) -> object:
    try:
        made = factory()
    except Exception as exc:
        raise AgentSpecError(f"{where}: creating the agent failed: {_one_line(exc)}") from None
    if inspect.iscoroutine(made):
        made.close()
        raise AgentSpecError(f"{where}: the factory is async; it must return the agent")
    return made


def _kind(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}".removeprefix("builtins.")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
