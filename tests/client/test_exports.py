"""The client package's public surface, and that it stays light."""

from __future__ import annotations

import subprocess
import sys
import types

import agentsocket.client as client


def test__all__lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(client.__all__)


def test__import__pulls_in_no_server_stack() -> None:
    heavy = ["agentsocket.server", "starlette", "sqlalchemy", "redis", "uvicorn"]
    code = (
        "import sys, agentsocket.client\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
