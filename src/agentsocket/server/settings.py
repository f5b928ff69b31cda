"""Every setting of the gateway, typed, from environment variables or CLI flags.

Environment variables are named ``AGENTSOCKET_<FIELD>`` (e.g.
``AGENTSOCKET_JWT_SECRET``). The defaults are the embedded default: one
process, in-memory broker, SQLite file, the built-in demo agent.
"""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentsocket.protocol import DEFAULT_MAX_FRAME_SIZE, supported_versions


class Settings(BaseSettings):
    """Gateway configuration. See ``docs/configuration.md`` for each field."""

    model_config = SettingsConfigDict(env_prefix="AGENTSOCKET_", extra="ignore")

    # Serving
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    environment: str = "development"
    server_id: str = Field(default_factory=lambda: socket.gethostname())
    log_level: str = "info"
    log_json: bool = False

    # Protocol
    default_version: str = "v3"
    enabled_versions: tuple[str, ...] = supported_versions()
    deprecated_versions: dict[str, date] = Field(
        default_factory=dict, description="Version → sunset date; they get a deprecation_notice."
    )
    max_frame_size: int = Field(default=DEFAULT_MAX_FRAME_SIZE, gt=0)
    validate_outbound: bool = Field(
        default=False,
        description="Re-validate outbound frames; a failing frame is logged, counted and "
        "dropped. On with --dev and in tests; it costs several µs per frame.",
    )

    # Liveness
    heartbeat_interval: float = Field(default=25.0, gt=0)
    heartbeat_timeout: float = Field(default=20.0, gt=0)
    shutdown_grace: float = Field(default=5.0, ge=0)
    reconnect_after: float = Field(default=1.0, ge=0)

    # Limits
    allowed_origins: tuple[str, ...] = Field(
        default=(), description="Allowed Origin headers; empty allows any (non-browser) origin."
    )
    max_connections_per_user: int = Field(default=20, gt=0)
    rate_per_connection: float = Field(default=20.0, gt=0, description="Frames per second.")
    burst_per_connection: int = Field(default=40, gt=0)
    rate_per_user: float = Field(default=50.0, gt=0)
    burst_per_user: int = Field(default=100, gt=0)
    abuse_threshold: int = Field(
        default=50, gt=0, description="Refused frames in a row before closing with 4008."
    )
    outbound_queue_size: int = Field(default=1000, gt=0)
    send_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a blocked write may wait before the "
        "transport is aborted (a peer that stopped reading).",
    )
    max_runs_per_user: int = Field(default=3, gt=0)
    run_timeout: float = Field(default=300.0, gt=0)
    approval_timeout: float = Field(default=120.0, gt=0)

    # Auth
    jwt_secret: SecretStr | None = None
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    ticket_ttl: float = Field(default=30.0, gt=0)
    dev_mode: bool = Field(
        default=False, description="Serve /auth/dev-token. Only an operator can turn it on."
    )

    # Backends
    database_url: str = "sqlite+aiosqlite:///agentsocket.db"
    broker: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "agentsocket"
    stream_max_entries: int = Field(default=10_000, gt=0)
    stream_max_age: float = Field(default=24 * 3600.0, gt=0)

    # Runs
    runs: Literal["local", "queue"] = Field(
        default="local", description="local: in the gateway; queue: by `agentsocket worker`."
    )
    worker_id: str | None = None
    worker_concurrency: int = Field(default=16, gt=0)
    worker_heartbeat: float = Field(default=1.0, gt=0)
    worker_ttl: float = Field(default=3.0, gt=0, description="A silent worker is lost after this.")
    run_queue_timeout: float = Field(
        default=30.0, gt=0, description="A run no worker took after this ends with no_worker."
    )

    # Agents
    default_agent: str = "demo"
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = None

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
