"""The ``agentsocket`` command line: version, help that shows defaults, flags, settings sources."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from agentsocket import __version__
from agentsocket.cli import DEV_USER, app, dev_banner
from agentsocket.server.settings import Settings

runner = CliRunner()

#: CLI option → the Settings field it sets, where the names differ.
_FIELD = {
    "concurrency": "worker_concurrency",
    "dev": "dev_mode",
    "metrics_port": "worker_metrics_port",
}


def _help(*command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test__version_option__prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output == f"agentsocket {__version__}\n"


@pytest.mark.parametrize("command", ["serve", "worker"])
def test__help__shows_each_settings_default(command: str) -> None:
    click_command = get_command(app).get_command(None, command)  # type: ignore[attr-defined]
    text = _help(command)
    checked = 0
    for param in click_command.params:
        field = Settings.model_fields.get(_FIELD.get(param.name, param.name))
        if field is None or field.default is None or field.default_factory is not None:
            # No fixed default (a host name, an id): the help describes it in words.
            continue
        shown = "no-" + param.name.replace("_", "-") if field.default is False else field.default
        assert param.default == field.default, f"--{param.name} disagrees with Settings"
        assert f"[default: {shown}]" in text, f"--{param.name} shows no default"
        checked += 1
    assert checked >= 3


def test__boolean_options__read_as_flags() -> None:
    text = _help("serve")

    assert "--dev / --no-dev" in text
    assert "--log-json / --no-log-json" in text
    assert "<bool>" not in text


def test__chat_help__names_protocol_not_version() -> None:
    text = _help("chat")

    assert "--protocol <str>" in text
    assert "--version" not in text  # the deprecated alias is hidden


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings ``serve`` would run with, instead of running."""
    started: list[Settings] = []
    monkeypatch.setattr("agentsocket.server.serve.run", started.append)
    monkeypatch.setenv("AGENTSOCKET_JWT_SECRET", "cli-test-secret-long-enough-for-hs256-0123456789")
    return started


def test__serve__environment_applies_when_the_option_is_not_given(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTSOCKET_PORT", "9123")
    monkeypatch.setenv("AGENTSOCKET_LOG_JSON", "true")

    assert runner.invoke(app, ["serve"]).exit_code == 0

    assert (served[0].port, served[0].log_json) == (9123, True)


def test__serve__option_beats_environment(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTSOCKET_PORT", "9123")
    monkeypatch.setenv("AGENTSOCKET_DEV_MODE", "true")

    result = runner.invoke(app, ["serve", "--port", "9124", "--no-dev", "--no-log-json"])

    assert result.exit_code == 0, result.output
    assert (served[0].port, served[0].dev_mode, served[0].log_json) == (9124, False, False)


def test__serve_dev__banner_names_the_page_and_the_chat_command(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTSOCKET_JWT_SECRET")  # dev mode refuses a configured secret

    result = runner.invoke(app, ["serve", "--dev"])

    assert result.exit_code == 0, result.output
    assert served[0].dev_mode
    assert "chat in your browser:  http://127.0.0.1:8765/\n" in result.output
    assert re.search(r"chat in a terminal: +.*agentsocket chat\n", result.output)


def test__dev_banner__other_address__chat_command_names_the_url() -> None:
    text = dev_banner("0.0.0.0", 9000, "TOKEN", "/srv/app/.venv/bin/agentsocket")

    assert "chat in your browser:  http://127.0.0.1:9000/\n" in text
    command = "/srv/app/.venv/bin/agentsocket chat ws://127.0.0.1:9000/ws"
    assert f"chat in a terminal:    {command}\n" in text
    assert f"a token for '{DEV_USER}' (1 h): TOKEN" in text


def test__worker_metrics_port__option_sets_the_setting_and_env_works_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[Settings] = []
    monkeypatch.setattr("agentsocket.worker.run_worker", lambda settings: started.append(settings))
    assert runner.invoke(app, ["worker", "--metrics-port", "9466"]).exit_code == 0
    monkeypatch.setenv("AGENTSOCKET_WORKER_METRICS_PORT", "9467")
    assert runner.invoke(app, ["worker"]).exit_code == 0
    assert [s.worker_metrics_port for s in started] == [9466, 9467]
    refused = runner.invoke(app, ["worker", "--metrics-port", "70000"])
    assert refused.exit_code == 2
