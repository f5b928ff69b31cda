"""Which agents are served: code, module:attribute specs, AG-UI, entry points, defaults."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import types
import uuid
from pathlib import Path

import pytest

from agentsocket.agents import DemoAgent, OpenAIChatAgent, RunContext
from agentsocket.agents.adapters import adapt
from agentsocket.runs import AgentSet, AgentSpecError, build_agent_set, load_spec
from agentsocket.settings import Settings

AGENT_MODULE = '''
class Echo:
    """Says the prompt back."""

    name = "echo"

    async def run(self, ctx, prompt):
        await ctx.say(prompt)


class Named:
    description = "Has a name given when made."

    def __init__(self, name="named"):
        self.name = name

    async def run(self, ctx, prompt):
        await ctx.say(prompt)


class Needy:
    name = "needy"

    def __init__(self, key):
        self.key = key

    async def run(self, ctx, prompt):
        pass


class Sync:
    name = "sync"

    def run(self, ctx, prompt):
        pass


def make():
    return Named("made")


async def make_later():
    return Echo()


def broken():
    raise RuntimeError("no config file\\nsecond line")


agent = Echo()
number = 42
holder = type("Holder", (), {"inner": Named("inner")})
'''


class Plain:
    name = "plain"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.say(prompt)


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh agents module in the current directory (not yet on sys.path)."""
    name = f"agents_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(AGENT_MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return name


def settings(**fields: object) -> Settings:
    return Settings(jwt_secret="x" * 40, **fields)  # type: ignore[arg-type]


def test__adapt__our_agent_as_is_others_none() -> None:
    agent = Plain()
    assert adapt(agent) is agent
    assert adapt(Plain) is None
    assert adapt(42) is None
    assert adapt(type("Nameless", (), {"run": Plain.run})()) is None


@pytest.mark.parametrize(
    ("attribute", "name"),
    [("agent", "echo"), ("Echo", "echo"), ("make", "made"), ("holder.inner", "inner")],
)
def test__spec__object_class_factory_or_dotted(module: str, attribute: str, name: str) -> None:
    assert load_spec(f"{module}:{attribute}").name == name


@pytest.mark.parametrize(
    ("attribute", "problem"),
    [
        ("nope", "has no attribute 'nope'"),
        ("number", "is not an agent (got int)"),
        ("Sync", "is not an agent"),
        ("Needy", "creating the agent failed: TypeError"),
        ("broken", "creating the agent failed: RuntimeError: no config file second line"),
        ("make_later", "the factory is async"),
    ],
)
def test__bad_spec__one_line_naming_it(module: str, attribute: str, problem: str) -> None:
    with pytest.raises(AgentSpecError) as raised:
        load_spec(f"{module}:{attribute}")
    message = str(raised.value)
    assert message.startswith(f"--agent '{module}:{attribute}'")
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize("spec", ["nomodule_here_at_all:agent", "nomodule_here_at_all.sub:x"])
def test__missing_module__named(spec: str) -> None:
    with pytest.raises(AgentSpecError, match="no module named 'nomodule_here_at_all'"):
        load_spec(spec)


@pytest.mark.parametrize("spec", ["agent", ":agent", "module:"])
def test__malformed_spec__asks_for_module_colon_attribute(spec: str) -> None:
    with pytest.raises(AgentSpecError, match="expected module:attribute"):
        load_spec(spec)


def test__module_that_fails_to_import__says_why(tmp_path: Path, module: str) -> None:
    (tmp_path / f"{module}_bad.py").write_text("import not_installed_anywhere\n")
    with pytest.raises(AgentSpecError, match="No module named 'not_installed_anywhere'"):
        load_spec(f"{module}_bad:agent")


def test__nothing_given__the_demo_agent() -> None:
    agents = build_agent_set(settings())
    assert agents.names == ("demo",)
    assert agents.default == "demo"
    assert isinstance(agents.get("demo"), DemoAgent)


def test__openai_configured__added_beside_the_others(module: str) -> None:
    agents = build_agent_set(
        settings(agents=(f"{module}:agent",), openai_base_url="http://127.0.0.1:1/v1")
    )
    assert agents.names == ("echo", "openai")
    assert isinstance(agents.get("openai"), OpenAIChatAgent)
    assert agents.default == "echo"


def test__code_then_specs__in_order_default_chosen(module: str) -> None:
    agents = build_agent_set(
        settings(agents=(f"{module}:agent", f"{module}:make"), default_agent="made"),
        [Plain()],
    )
    assert agents.names == ("plain", "echo", "made")
    assert agents.default == "made"
    assert [(i.name, i.description) for i in agents.infos] == [
        ("plain", None),
        ("echo", "Says the prompt back."),
        ("made", "Has a name given when made."),
    ]


def test__code_object_not_an_agent__refused() -> None:
    with pytest.raises(AgentSpecError, match="is not an agent"):
        build_agent_set(settings(), [object()])


def test__duplicate_name__names_both_sources(module: str) -> None:
    with pytest.raises(AgentSpecError) as raised:
        build_agent_set(settings(agents=(f"{module}:agent", f"{module}:Echo")))
    assert str(raised.value) == (
        f"two agents are named 'echo': --agent '{module}:agent' and --agent '{module}:Echo'"
    )


def test__unknown_default__lists_the_agents(module: str) -> None:
    with pytest.raises(AgentSpecError, match="'nope' is not one of the agents: echo"):
        build_agent_set(settings(agents=(f"{module}:agent",), default_agent="nope"))


def test__agent_set__refuses_empty_and_duplicates() -> None:
    with pytest.raises(AgentSpecError, match="no agents"):
        AgentSet([])
    with pytest.raises(AgentSpecError, match="two agents are named 'plain'"):
        AgentSet([Plain(), Plain()])


def test__env__comma_separated_specs(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSOCKET_AGENTS", f"{module}:agent, {module}:make")
    monkeypatch.setenv("AGENTSOCKET_DEFAULT_AGENT", "made")
    agents = build_agent_set(settings())
    assert (agents.names, agents.default) == (("echo", "made"), "made")


@pytest.mark.parametrize(
    "spec", ["research", "research=", "=http://x", "research=ftp://x", "research=127.0.0.1:80"]
)
def test__bad_ag_ui_spec__expected_name_equals_url(spec: str) -> None:
    with pytest.raises(AgentSpecError, match="expected NAME=URL"):
        build_agent_set(settings(ag_ui_agents=(spec,)))


def test__ag_ui_headers_for_an_unknown_name__refused() -> None:
    with pytest.raises(AgentSpecError, match=r"headers are given for \['other'\]"):
        build_agent_set(
            settings(
                ag_ui_agents=("research=http://127.0.0.1:1/agent",),
                ag_ui_headers={"other": {"Authorization": "Bearer x"}},
            )
        )


def test__ag_ui_agent__made_by_the_adapter_or_a_clear_error() -> None:
    config = settings(
        ag_ui_agents=("research=http://127.0.0.1:1/agent",),
        ag_ui_headers={"research": {"Authorization": "Bearer x"}},
    )
    if importlib.util.find_spec("agentsocket.agents.adapters.ag_ui") is None:
        with pytest.raises(AgentSpecError, match="needs the AG-UI adapter"):
            build_agent_set(config)
    else:
        assert build_agent_set(config).names == ("research",)


def test__entry_point__installed_agent_served(
    tmp_path: Path, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "shouty_agents-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shouty-agents\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[agentsocket.agents]\nmade = {module}:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    agents = build_agent_set(settings())
    assert agents.names == ("made",)  # an installed agent replaces the demo


def test__broken_entry_point__names_it(
    tmp_path: Path, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "broken_agents-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-agents\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[agentsocket.agents]\nbad = {module}:number\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AgentSpecError, match=r"entry point 'bad' \(.*:number\) is not an agent"):
        build_agent_set(settings())


async def test__create_app_and_worker__take_agents_in_code(tmp_path: Path) -> None:
    from agentsocket.server import create_app
    from agentsocket.worker import Worker

    config = settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    app = create_app(config, agents=[Plain()])
    async with app.router.lifespan_context(app):  # the gateway exists while the app runs
        assert app.state.gateway.runs.agents.names == ("plain",)
        assert [a.name for a in app.state.gateway.runs.available] == ["plain"]
    assert Worker(config, agents=[Plain()]).agents.names == ("plain",)
    with pytest.raises(AgentSpecError, match="is not an agent"):
        create_app(config, agents=["not an agent"])


def test__ag_ui_agents__made_with_their_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, str, object]] = []

    class FakeAGUIAgent:
        def __init__(self, name: str, url: str, headers: object = None) -> None:
            made.append((name, url, headers))
            self.name = name

        async def run(self, ctx: RunContext, prompt: str) -> None:
            return None

    fake = types.ModuleType("agentsocket.agents.adapters.ag_ui")
    fake.AGUIAgent = FakeAGUIAgent  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "agentsocket.agents.adapters.ag_ui", fake)
    config = settings(
        ag_ui_agents=("research=http://127.0.0.1:1/agent", "plain=https://example.test/a"),
        ag_ui_headers={"research": {"Authorization": "Bearer t0ken"}},
    )
    assert "t0ken" not in repr(config)

    agents = build_agent_set(config)

    assert agents.names == ("research", "plain")
    assert made == [
        ("research", "http://127.0.0.1:1/agent", {"Authorization": "Bearer t0ken"}),
        ("plain", "https://example.test/a", None),
    ]
