"""The ``agentsocket`` command line: serve, protocol tools, chat.

Imports of heavy subsystems happen inside each command so ``agentsocket
schema export`` starts fast and works without a server stack.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

app = typer.Typer(
    help="agentsocket: a WebSocket gateway for AI-agent chat.",
    no_args_is_help=True,
    # Every option shows its default in --help.
    context_settings={"show_default": True},
    # Click's plain help: flags read as `--dev / --no-dev`, not as `--dev <bool>`.
    rich_markup_mode=None,
)
schema_app = typer.Typer(help="JSON Schema of the protocol.", no_args_is_help=True)
protocol_app = typer.Typer(help="Protocol artefacts: golden frames.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(protocol_app, name="protocol")

docs_app = typer.Typer(help="Generated protocol docs (docs/protocol/).", no_args_is_help=True)
app.add_typer(docs_app, name="docs")


def _print_version(value: bool) -> None:
    if value:
        from agentsocket import __version__

        typer.echo(f"agentsocket {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """agentsocket: a WebSocket gateway for AI-agent chat."""


def _given(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The options the user typed: the rest keep their ``Settings`` value (env or default).

    The CLI shows each setting's default in --help but must not pass it on, or it
    would override an ``AGENTSOCKET_<NAME>`` environment variable.
    """
    # By name: typer carries its own copy of click, so click's enum is not typer's.
    return {
        name: value
        for name, value in values.items()
        if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
    }


@docs_app.command("build")
def docs_build(
    directory: Annotated[Path, typer.Option(help="Where the generated docs live.")] = Path(
        "docs/protocol"
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Only compare; exit 1 listing stale or missing files.")
    ] = False,
) -> None:
    """Write (or check) the protocol references, changelog, migration guide and AsyncAPI docs."""
    from agentsocket.protocol.reference import generated_docs

    _sync_generated(
        directory, generated_docs(), write=not check, what="generated docs", command="docs build"
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev/--no-dev",
            help="Dev mode: /auth/dev-token, a secret made for this run, outbound validation.",
        ),
    ] = False,
    database_url: Annotated[
        str, typer.Option(help="SQLAlchemy URL of the store.")
    ] = "sqlite+aiosqlite:///agentsocket.db",
    broker: Annotated[str, typer.Option(help="memory or redis.")] = "memory",
    redis_url: Annotated[
        str, typer.Option(help="Redis URL (broker=redis).")
    ] = "redis://127.0.0.1:6379/0",
    server_id: Annotated[
        str | None, typer.Option(help="This node's id.", show_default="the host name")
    ] = None,
    environment: Annotated[str, typer.Option(help="Shown in the welcome.")] = "development",
    log_json: Annotated[
        bool, typer.Option("--log-json/--no-log-json", help="One JSON object per log line.")
    ] = False,
    agent: _AgentOpt = None,
    ag_ui_agent: _AgUiAgentOpt = None,
    ag_ui_header: _AgUiHeaderOpt = None,
    default_agent: _DefaultAgentOpt = None,
) -> None:
    """Run the gateway. Without options: the embedded default (memory broker, SQLite, demo agent).

    Every option can also be set as an environment variable AGENTSOCKET_<NAME>;
    an option given on the command line wins.
    """
    import secrets

    from pydantic import ValidationError

    from agentsocket.server.auth.dev import dev_mode_refusal
    from agentsocket.server.serve import run
    from agentsocket.server.settings import Settings

    overrides = _given(
        ctx,
        {
            "host": host,
            "port": port,
            "database_url": database_url,
            "broker": broker,
            "redis_url": redis_url,
            "server_id": server_id,
            "environment": environment,
            "log_json": log_json,
        },
    )
    overrides |= _agent_overrides(agent, ag_ui_agent, ag_ui_header, default_agent)
    if "dev" in _given(ctx, {"dev": dev}) and not dev:  # --no-dev beats AGENTSOCKET_DEV_MODE
        overrides["dev_mode"] = False
    try:
        settings = Settings(**overrides)
        if dev or settings.dev_mode:
            # Dev mode mints tokens for anyone: never with the deployment's own keys.
            refusal = dev_mode_refusal(
                settings.environment,
                configured_secret=bool(
                    settings.jwt_secret and settings.jwt_secret.get_secret_value()
                ),
                configured_jwks=bool(settings.jwks_file or settings.jwks_url),
            )
            if refusal is not None:
                typer.echo(f"agentsocket serve --dev: {refusal}", err=True)
                raise typer.Exit(2)
            settings = Settings(
                **overrides,
                dev_mode=True,
                validate_outbound=True,
                jwt_secret=secrets.token_urlsafe(48),
            )
    except ValidationError as exc:
        typer.echo(f"invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None
    if not settings.can_verify_tokens:
        typer.echo(
            "no way to verify tokens: set AGENTSOCKET_JWT_SECRET (or AGENTSOCKET_JWKS_FILE / "
            "AGENTSOCKET_JWKS_URL), or run `agentsocket serve --dev`",
            err=True,
        )
        raise typer.Exit(2)
    if settings.dev_mode:
        _print_dev_help(settings)
    with _agent_errors():
        run(settings)


@app.command()
def worker(
    ctx: typer.Context,
    database_url: Annotated[
        str, typer.Option(help="SQLAlchemy URL of the store.")
    ] = "sqlite+aiosqlite:///agentsocket.db",
    redis_url: Annotated[
        str, typer.Option(help="Redis URL (queue and broker).")
    ] = "redis://127.0.0.1:6379/0",
    worker_id: Annotated[
        str | None, typer.Option(help="This worker's id.", show_default="worker-<host>-<pid>")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Runs at once.")] = 16,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus /metrics on this port (on AGENTSOCKET_HOST)."),
    ] = None,
    agent: _AgentOpt = None,
    ag_ui_agent: _AgUiAgentOpt = None,
    ag_ui_header: _AgUiHeaderOpt = None,
    default_agent: _DefaultAgentOpt = None,
) -> None:
    """Execute agent runs queued by gateways started with AGENTSOCKET_RUNS=queue.

    Give it the same agents as the gateways (the same --agent options or environment).
    """
    from pydantic import ValidationError

    from agentsocket import tracing
    from agentsocket.server.logs import configure
    from agentsocket.settings import Settings
    from agentsocket.worker import run_worker

    given = _given(
        ctx,
        {
            "database_url": database_url,
            "redis_url": redis_url,
            "worker_id": worker_id,
            "concurrency": concurrency,
            "metrics_port": metrics_port,
        },
    )
    if "concurrency" in given:
        given["worker_concurrency"] = given.pop("concurrency")
    if "metrics_port" in given:
        given["worker_metrics_port"] = given.pop("metrics_port")
    overrides: dict[str, Any] = {"broker": "redis", "runs": "queue", **given}
    overrides |= _agent_overrides(agent, ag_ui_agent, ag_ui_header, default_agent)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        typer.echo(f"invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None
    configure(settings.log_level, settings.log_json)
    tracing.configure("agentsocket-worker")
    try:
        with _agent_errors():
            run_worker(settings)
    finally:
        tracing.shutdown()  # export the spans still buffered


# --- agents to serve: the options `serve` and `worker` share (docs/agents.md) --------------

_AgentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--agent",
        help="Serve this agent: module:attribute (an agent, an agent class or a zero-argument "
        "factory); repeatable. Env: AGENTSOCKET_AGENTS (comma-separated).",
    ),
]
_AgUiAgentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ag-ui-agent",
        help="Serve a remote AG-UI agent: NAME=URL; repeatable. Env: AGENTSOCKET_AG_UI_AGENTS.",
    ),
]
_AgUiHeaderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ag-ui-header",
        help="An HTTP header for an AG-UI agent: 'NAME=Header: value'; repeatable. "
        'Env: AGENTSOCKET_AG_UI_HEADERS=\'{"NAME": {"Header": "value"}}\'.',
    ),
]
_DefaultAgentOpt = Annotated[
    str | None,
    typer.Option(
        help="Agent for messages that name none (default: the first). "
        "Env: AGENTSOCKET_DEFAULT_AGENT."
    ),
]


def _agent_overrides(
    agent: list[str] | None,
    ag_ui_agent: list[str] | None,
    ag_ui_header: list[str] | None,
    default_agent: str | None,
) -> dict[str, Any]:
    """Settings for the agent options that were given (they replace the environment's)."""
    overrides: dict[str, Any] = {}
    if agent:
        overrides["agents"] = tuple(agent)
    if ag_ui_agent:
        overrides["ag_ui_agents"] = tuple(ag_ui_agent)
    if default_agent is not None:
        overrides["default_agent"] = default_agent
    headers: dict[str, dict[str, str]] = {}
    for spec in ag_ui_header or ():
        name, _, header = spec.partition("=")
        key, colon, value = header.partition(":")
        if not name.strip() or not colon or not key.strip():
            typer.echo(f"--ag-ui-header {spec!r}: expected 'NAME=Header: value'", err=True)
            raise typer.Exit(2)
        headers.setdefault(name.strip(), {})[key.strip()] = value.strip()
    if headers:
        overrides["ag_ui_headers"] = headers
    return overrides


@contextlib.contextmanager
def _agent_errors() -> Iterator[None]:
    """A bad agent stops the command with one line naming the problem (exit 2)."""
    from agentsocket.runs import AgentSpecError

    try:
        yield
    except AgentSpecError as exc:
        typer.echo(f"cannot serve the agents: {exc}", err=True)
        raise typer.Exit(2) from None


def _print_dev_help(settings: object) -> None:
    from agentsocket.server.auth import issue_token
    from agentsocket.server.settings import Settings

    assert isinstance(settings, Settings)
    assert settings.jwt_secret is not None
    token = issue_token(settings.jwt_secret.get_secret_value(), DEV_USER)
    typer.echo(dev_banner(settings.host, settings.port, token, sys.argv[0]), err=True)


#: The user ``POST /auth/dev-token`` issues a token for when the body names none.
DEV_USER = "dev-user"


def dev_banner(host: str, port: int, token: str, program: str) -> str:
    """What ``serve --dev`` prints first: where to chat, and how to get tokens.

    Args:
        host, port: Where the gateway listens.
        token: A token for :data:`DEV_USER`, signed with this run's secret.
        program: How this process was started (``sys.argv[0]``); the chat
            command is printed the same way, so it can be pasted.
    """
    if host in ("0.0.0.0", "::", ""):  # listening everywhere: loopback reaches it
        host = "127.0.0.1"
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    base = f"http://{address}"
    ws = f"ws://{address}/ws"
    name = Path(program).name
    command = program if name == "agentsocket" else f"{sys.executable} -m agentsocket"
    chat = f"{command} chat" + ("" if ws == "ws://127.0.0.1:8765/ws" else f" {ws}")
    return (
        "agentsocket dev mode: tokens are signed with a secret made for this run.\n"
        f"  chat in your browser:  {base}/\n"
        f"  chat in a terminal:    {chat}\n"
        f"  a token for '{DEV_USER}' (1 h): {token}\n"
        f"  another user: curl -s -X POST {base}/auth/dev-token "
        "-H 'content-type: application/json' -d '{\"user_id\": \"alice\"}'\n"
        f"  from a program: {ws} with header 'Authorization: Bearer <token>' "
        "and subprotocol agentsocket.v3"
    )


@schema_app.command("export")
def schema_export(
    version: Annotated[str, typer.Option(help="Protocol version, e.g. v2.")] = "v3",
    output: Annotated[Path | None, typer.Option(help="File to write; stdout if omitted.")] = None,
) -> None:
    """Print (or write) the JSON Schema (draft 2020-12) of one protocol version."""
    from agentsocket.protocol import UnsupportedVersionError
    from agentsocket.protocol.schema import json_schema

    try:
        document = json_schema(version)
    except UnsupportedVersionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.buffer.write(text)
    else:
        output.write_bytes(text)


_MODES = "backward, forward, full, backward_transitive, forward_transitive or full_transitive"


@schema_app.command("check")
def schema_check(
    mode: Annotated[
        str | None,
        typer.Option(
            help=f"One mode for both directions: {_MODES}. Default: client→server "
            "backward_transitive, server→client forward_transitive."
        ),
    ] = None,
    snapshots: Annotated[Path, typer.Option(help="Directory of released snapshots.")] = Path(
        "schemas"
    ),
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Exit 1 if today's models break a released protocol version (docs/compatibility.md)."""
    from agentsocket.protocol.compat import Mode
    from agentsocket.protocol.compat.commands import run_check

    if mode is not None and mode not in Mode.__members__.values():
        typer.echo(f"unknown mode {mode!r}; choose {_MODES}", err=True)
        raise typer.Exit(2)
    if output_format not in ("text", "json"):
        typer.echo("--format is text or json", err=True)
        raise typer.Exit(2)
    code, text = run_check(snapshots, None if mode is None else Mode(mode), output_format == "json")
    typer.echo(text, nl=False, err=code == 2)
    raise typer.Exit(code)


@schema_app.command("snapshot")
def schema_snapshot(
    write: Annotated[bool, typer.Option(help="Store the snapshots (a release).")] = False,
    snapshots: Annotated[Path, typer.Option(help="Directory of released snapshots.")] = Path(
        "schemas"
    ),
    force: Annotated[
        bool, typer.Option(help="Write even though `schema check` reports violations.")
    ] = False,
) -> None:
    """Show, or with --write store, every version's JSON Schema as its released snapshot."""
    from agentsocket.protocol.compat.commands import run_snapshot

    code, text = run_snapshot(snapshots, write, force)
    typer.echo(text, nl=False, err=code != 0)
    raise typer.Exit(code)


@protocol_app.command("golden")
def protocol_golden(
    directory: Annotated[Path, typer.Option(help="Where the golden frames live.")] = Path("golden"),
    write: Annotated[bool, typer.Option(help="Rewrite the files instead of checking.")] = False,
) -> None:
    """Check (or rewrite) the golden frames of every message in every version."""
    from agentsocket.protocol.golden import golden_frames

    _sync_generated(
        directory,
        golden_frames(),
        write=write,
        what="golden frames",
        command="protocol golden --write",
    )


def _sync_generated(
    directory: Path, expected: dict[str, bytes], *, write: bool, what: str, command: str
) -> None:
    """Write generated files (relative path -> content) into ``directory``, or check them.

    Checking exits 1 listing missing, stale and extra files, so CI fails when
    someone changed the models without regenerating.
    """
    if not _sync(directory, expected, write=write, what=what, whole=True):
        typer.echo(f"run `agentsocket {command}` and review the diff", err=True)
        raise typer.Exit(1)


def _sync(
    directory: Path, expected: dict[str, bytes], *, write: bool, what: str, whole: bool
) -> bool:
    """Write or check one set of generated files; False when a check found problems.

    Args:
        whole: every file under ``directory`` is generated, so others are
            reported (and, when writing, deleted) as not generated.
    """
    if whole:
        found = {
            path.relative_to(directory).as_posix(): path.read_bytes()
            for path in (directory.rglob("*") if directory.is_dir() else ())
            if path.is_file()
        }
    else:
        found = {
            name: (directory / name).read_bytes()
            for name in expected
            if (directory / name).is_file()
        }
    if write:
        for relative, content in expected.items():
            if found.get(relative) != content:
                path = directory / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        for extra in set(found) - set(expected):
            (directory / extra).unlink()
        typer.echo(f"wrote {len(expected)} {what} to {directory}")
        return True
    problems = [f"missing: {directory / n}" for n in sorted(set(expected) - set(found))]
    problems += [f"not generated: {directory / n}" for n in sorted(set(found) - set(expected))]
    problems += [
        f"stale: {directory / n}"
        for n in sorted(set(expected) & set(found))
        if found[n] != expected[n]
    ]
    for problem in problems:
        typer.echo(problem, err=True)
    if not problems:
        typer.echo(f"{len(expected)} {what} in {directory} up to date")
    return not problems


@app.command()
def generate(
    check: Annotated[
        bool,
        typer.Option("--check", help="Only compare; exit 1 listing stale, missing or stray files."),
    ] = False,
    web: Annotated[
        bool, typer.Option("--web/--no-web", help="Also run scripts/build-web.sh (needs npm ci).")
    ] = True,
    root: Annotated[Path, typer.Option(help="The repository root.")] = Path("."),
) -> None:
    """Write (or check) every generated file listed in GENERATED.md."""
    import subprocess

    from agentsocket.generate import TARGETS

    ok = True
    for target in TARGETS:
        ok &= _sync(
            root / target.path,
            target.files(),
            write=not check,
            what=f"generated files ({target.command})",
            whole=target.whole,
        )
    if web:
        script = root / "scripts" / "build-web.sh"
        done = subprocess.run([str(script), *(["--check"] if check else [])], check=False)
        ok &= done.returncode == 0
    if not ok:
        typer.echo("run `agentsocket generate` and review the diff", err=True)
        raise typer.Exit(1)


@app.command()
def chat(
    url: Annotated[
        str, typer.Argument(help="The gateway's WebSocket URL.")
    ] = "ws://127.0.0.1:8765/ws",
    token: Annotated[
        str | None,
        typer.Option(
            help="A JWT for the gateway. Without it (and without --user), a gateway "
            "started with --dev is asked for a token for its default user.",
            envvar="AGENTSOCKET_TOKEN",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            help="Dev mode: get a token for this user from POST /auth/dev-token.",
            show_default="the gateway's default user, dev-user",
        ),
    ] = None,
    protocol: Annotated[str, typer.Option(help="Protocol version: v1, v2 or v3.")] = "v3",
    legacy_version: Annotated[
        str | None,
        typer.Option("--version", hidden=True, help="Deprecated: use --protocol."),
    ] = None,
    thread: Annotated[
        str | None, typer.Option(help="Continue this thread.", show_default="a new thread")
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(help="Talk to this agent; /agent lists them.", show_default="the gateway's"),
    ] = None,
) -> None:
    """Chat with the gateway's agent in the terminal: one line per message, /help for commands."""
    from agentsocket.chat import main as chat_main

    if legacy_version is not None:
        typer.echo("chat --version is deprecated: use --protocol", err=True)
        protocol = legacy_version
    raise typer.Exit(
        chat_main(url, token=token, user=user, version=protocol, thread_id=thread, agent=agent)
    )


def main() -> None:  # pragma: no cover - console entry point
    app()
