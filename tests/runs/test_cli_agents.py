"""`agentsocket serve` and `agentsocket worker` refuse a bad agent at start, in one line.

Each case runs the command in-process (typer's runner) from a directory
holding the user's module; one runs the real console script as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentsocket.cli import app

CONSOLE_SCRIPT = Path(sys.executable).with_name("agentsocket")

MODULE = """
class Echo:
    name = "echo"

    async def run(self, ctx, prompt):
        await ctx.say(prompt)


agent = Echo()
number = 42
"""


def _run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSOCKET_")}
    environment |= {"PYTHONPATH": "", **(env or {})}
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-agents")
    (path / "myagent.py").write_text(MODULE)
    return path


CASES = [
    (["--agent", "missing_module:agent"], "--agent 'missing_module:agent': no module named"),
    (["--agent", "myagent:nope"], "module 'myagent' has no attribute 'nope'"),
    (["--agent", "myagent:number"], "--agent 'myagent:number' is not an agent (got int)"),
    (
        ["--agent", "myagent:agent", "--agent", "myagent:Echo"],
        "two agents are named 'echo': --agent 'myagent:agent' and --agent 'myagent:Echo'",
    ),
    (["--agent", "myagent:agent", "--default-agent", "x"], "'x' is not one of the agents: echo"),
    (["--ag-ui-agent", "research"], "expected NAME=URL"),
    (["--ag-ui-header", "research"], "expected 'NAME=Header: value'"),
]


def _in_process(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, list[str]]:
    monkeypatch.chdir(home)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("AGENTSOCKET_AGENTS", raising=False)
    for name in [m for m in sys.modules if m == "myagent"]:
        monkeypatch.delitem(sys.modules, name)
    result = CliRunner().invoke(app, list(args))
    lines = [
        line for line in result.stderr.splitlines() if "cannot serve" in line or "--ag" in line
    ]
    return result.exit_code, lines


@pytest.mark.parametrize(("args", "problem"), CASES)
def test__serve_with_a_bad_agent__stops_with_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], problem: str
) -> None:
    code, lines = _in_process(home, monkeypatch, "serve", "--dev", "--port", "0", *args)
    assert code == 2
    assert len(lines) == 1
    assert problem in lines[0]


@pytest.mark.parametrize(("args", "problem"), CASES[:4])
def test__worker_with_a_bad_agent__stops_with_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], problem: str
) -> None:
    code, lines = _in_process(home, monkeypatch, "worker", *args)
    assert code == 2
    assert len(lines) == 1
    assert problem in lines[0]


def test__console_script_env_spec__one_line_on_stderr_and_exit_2(home: Path) -> None:
    done = _run(home, "serve", "--dev", "--port", "0", env={"AGENTSOCKET_AGENTS": "myagent:nope"})
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "cannot serve the agents: --agent 'myagent:nope': module 'myagent' has no attribute 'nope'"
    )
    assert "Traceback" not in done.stderr
