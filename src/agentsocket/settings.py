"""Every setting of the gateway and the worker, typed, from environment variables or CLI flags.

Environment variables are named ``AGENTSOCKET_<FIELD>`` (e.g.
``AGENTSOCKET_JWT_SECRET``). The defaults are the embedded default: one
process, in-memory broker, SQLite file, the built-in demo agent.
"""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agentsocket.protocol import DEFAULT_MAX_FRAME_SIZE, supported_versions


class Settings(BaseSettings):
    """Gateway configuration. ``docs/configuration.md`` lists each field (generated from here)."""

    model_config = SettingsConfigDict(env_prefix="AGENTSOCKET_", extra="ignore")

    # Serving
    host: str = Field(default="127.0.0.1", description="Interface to bind; 0.0.0.0 for all.")
    port: int = Field(default=8765, ge=0, le=65535, description="TCP port of HTTP and /ws.")
    environment: str = Field(
        default="development", description="A label sent in the welcome's `environment`."
    )
    server_id: str = Field(
        default_factory=lambda: socket.gethostname(),
        description="This node's id, sent as `server_id` on every frame. Default: the host name.",
    )
    log_level: str = Field(
        default="info", description="debug, info, warning or error (uvicorn's levels)."
    )
    log_json: bool = Field(default=False, description="One JSON object per log line.")
    trace_client_parent: bool = Field(
        default=True,
        description="With tracing on (OTEL_*, docs/tracing.md), a `user_message`'s "
        "`traceparent` becomes the parent of its run's trace; false: every run starts its own.",
    )

    # Protocol
    default_version: str = Field(
        default="v3", description="The version of a client that names none."
    )
    enabled_versions: tuple[str, ...] = Field(
        default=supported_versions(),
        description="Versions this node speaks; others are refused with 4004.",
    )
    deprecated_versions: dict[str, date] = Field(
        default_factory=dict,
        description="Version → sunset date; they get a deprecation_notice. Default: none.",
    )
    max_frame_size: int = Field(
        default=DEFAULT_MAX_FRAME_SIZE,
        gt=0,
        description="Bytes of one inbound frame; larger ones get a `too_large` error, and "
        "frames over 4 times this size close the connection with 1009.",
    )
    validate_outbound: bool = Field(
        default=False,
        description="Re-validate outbound frames; a failing frame is logged, counted and "
        "dropped. On with --dev and in tests; it costs several µs per frame.",
    )

    # AG-UI over HTTP (docs/ag-ui.md)
    ag_ui_path: str = Field(
        default="/ag-ui",
        pattern=r"^/[A-Za-z0-9_./-]*$",
        description="Path of `POST` AG-UI runs answered with SSE.",
    )
    ag_ui_max_body: int = Field(
        default=1_048_576,
        gt=0,
        description="Bytes of one AG-UI request body; larger ones get 413.",
    )

    # Liveness
    heartbeat_interval: float = Field(
        default=25.0, gt=0, description="Seconds between the transport's pings; in the welcome."
    )
    heartbeat_timeout: float = Field(
        default=20.0, gt=0, description="Seconds to wait for a pong before closing with 1011."
    )
    shutdown_grace: float = Field(
        default=5.0, ge=0, description="Seconds a shutdown waits for connections to close."
    )
    reconnect_after: float = Field(
        default=1.0, ge=0, description="`server_shutdown`'s hint: seconds before reconnecting."
    )

    # Limits
    allowed_origins: tuple[str, ...] = Field(
        default=(), description="Allowed Origin headers; empty allows any (non-browser) origin."
    )
    max_connections: int | None = Field(
        default=None,
        gt=0,
        description="Open connections of the node; more get HTTP 503 (health probes still "
        "answered). Default: the open-file limit minus a reserve of 1/8 (at least 64).",
    )
    handshake_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a new connection has to send its HTTP request or WebSocket "
        "upgrade; silent and half-sent ones are closed.",
    )
    max_connections_per_user: int = Field(
        default=20, gt=0, description="Open connections of one user; more are closed with 4005."
    )
    rate_per_connection: float = Field(
        default=20.0, gt=0, description="Frames per second of one connection."
    )
    burst_per_connection: int = Field(
        default=40, gt=0, description="Frames a connection may send at once above the rate."
    )
    rate_per_user: float = Field(
        default=50.0, gt=0, description="Frames per second of one user, all connections."
    )
    burst_per_user: int = Field(
        default=100, gt=0, description="Frames a user may send at once above the rate."
    )
    abuse_threshold: int = Field(
        default=50, gt=0, description="Refused frames in a row before closing with 4008."
    )
    outbound_queue_size: int = Field(
        default=1000, gt=0, description="Frames waiting for one client before closing with 4101."
    )
    send_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a blocked write may wait before the "
        "transport is aborted (a peer that stopped reading).",
    )
    max_runs_per_user: int = Field(
        default=3, gt=0, description="Runs of one user at once; more get `too_many_runs`."
    )
    run_timeout: float = Field(
        default=300.0, gt=0, description="Seconds a run may take before `agent_error` timeout."
    )
    approval_timeout: float = Field(
        default=120.0,
        gt=0,
        description="Seconds a tool approval or an agent's question waits for an answer; then "
        "the default applies (`APPROVAL_DEFAULT`, the question's own default).",
    )
    approval_default: Literal["deny", "approve"] = Field(
        default="deny",
        description="What a tool approval nobody answered in time gets; also applied at once "
        "for runs started from v1/v2 clients, which cannot answer.",
    )
    double_texting: Literal["reject", "enqueue", "interrupt"] = Field(
        default="enqueue",
        description="A message for a thread whose run is still going: `reject` (`conflict`), "
        "`enqueue` (runs one after another) or `interrupt` (cancel the run, start the new one).",
    )
    double_texting_queue_depth: int = Field(
        default=5,
        gt=0,
        le=100,
        description="Messages waiting per thread (enqueue); more get `conflict`.",
    )

    # Auth
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 shared secret (at least 32 bytes) that signs tokens."
    )
    jwks_file: Path | None = Field(
        default=None, description="JWKS file of RS256/ES256 public keys that verify tokens."
    )
    jwks_url: str | None = Field(default=None, description="JWKS URL, instead of a file.")
    jwt_audience: str | None = Field(default=None, description="Required `aud`, when set.")
    jwt_issuer: str | None = Field(default=None, description="Required `iss`, when set.")
    ticket_ttl: float = Field(
        default=30.0, gt=0, description="Seconds a `POST /auth/ticket` ticket stays valid."
    )
    dev_mode: bool = Field(
        default=False, description="Serve /auth/dev-token. Only an operator can turn it on."
    )

    # Backends
    database_url: str = Field(
        default="sqlite+aiosqlite:///agentsocket.db",
        description="SQLAlchemy URL of the store: sqlite+aiosqlite or postgresql+asyncpg.",
    )
    broker: Literal["memory", "redis"] = Field(
        default="memory", description="memory: one process; redis: several nodes."
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis for broker=redis and runs=queue."
    )
    redis_prefix: str = Field(default="agentsocket", description="Prefix of every Redis key.")
    stream_max_entries: int = Field(
        default=10_000, gt=0, description="Entries kept in a user's stream for resume."
    )
    stream_max_age: float = Field(
        default=24 * 3600.0, gt=0, description="Seconds a user's stream entries are kept."
    )

    # Runs
    runs: Literal["local", "queue"] = Field(
        default="local", description="local: in the gateway; queue: by `agentsocket worker`."
    )
    worker_id: str | None = Field(
        default=None, description="This worker's id. Default: worker-<host>-<pid>."
    )
    worker_concurrency: int = Field(default=16, gt=0, description="Runs a worker executes at once.")
    worker_heartbeat: float = Field(
        default=1.0, gt=0, description="Seconds between a worker's liveness beats."
    )
    worker_ttl: float = Field(default=3.0, gt=0, description="A silent worker is lost after this.")
    worker_metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus `/metrics` (on `host`; 0 picks a free one, "
        "logged). Default: none. The run metrics of queue mode are there (docs/operations.md).",
    )
    run_queue_timeout: float = Field(
        default=30.0, gt=0, description="A run no worker took after this ends with no_worker."
    )
    node_ttl: float = Field(
        default=10.0,
        gt=0,
        description="With runs=local on Redis: a node silent this long is lost, and a live node "
        "ends its runs with gateway_lost.",
    )

    # Agents (docs/agents.md, "Serve your agent")
    agents: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Agents to serve, as module:attribute specs (comma-separated)."
    )
    ag_ui_agents: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Remote AG-UI agents, as NAME=URL (comma-separated)."
    )
    ag_ui_headers: dict[str, dict[str, SecretStr]] = Field(
        default_factory=dict,
        description='HTTP headers per AG-UI agent, JSON: {"NAME": {"Authorization": "Bearer …"}}.',
    )
    default_agent: str | None = Field(
        default=None, description="Agent of a message that names none; default: the first one."
    )
    agent_cancel_grace: float = Field(
        default=5.0, gt=0, description="Seconds a stopped agent gets to unwind before it is cut."
    )
    openai_base_url: str | None = Field(
        default=None,
        description="An OpenAI-compatible API (e.g. https://api.openai.com/v1); "
        "when set, the `openai` agent exists.",
    )
    openai_model: str = Field(default="gpt-4o-mini", description="The `openai` agent's model.")
    openai_api_key: SecretStr | None = Field(
        default=None, description="Bearer key for openai_base_url, if it needs one."
    )

    @field_validator("agents", "ag_ui_agents", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # An environment variable holds a comma-separated list, or a JSON array.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return tuple(orjson.loads(value))
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        known = set(supported_versions())
        unknown = (set(self.enabled_versions) | set(self.deprecated_versions)) - known
        if unknown:
            raise ValueError(f"unknown protocol versions {sorted(unknown)}; known: {sorted(known)}")
        if self.default_version not in self.enabled_versions:
            raise ValueError(f"default_version {self.default_version} is not enabled")
        if self.runs == "queue" and self.broker != "redis":
            raise ValueError("runs=queue needs broker=redis (workers publish through Redis)")
        return self

    @property
    def can_verify_tokens(self) -> bool:
        return bool(self.jwt_secret or self.jwks_file or self.jwks_url)
