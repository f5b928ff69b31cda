"""The compat package: pure (no I/O stack), and one complete re-export point."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import agentsocket.protocol.compat as compat

FORBIDDEN = (
    "asyncio",
    "starlette",
    "uvicorn",
    "redis",
    "sqlalchemy",
    "websockets",
    "httpx",
    "typer",
    "click",
    "rich",
)
MODULES = sorted(f"{compat.__name__}.{info.name}" for info in pkgutil.iter_modules(compat.__path__))


def test__import_compat__fresh_interpreter__loads_no_io_or_cli_modules() -> None:
    code = (
        f"import sys, importlib\nfor name in {MODULES!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test__all__lists_every_public_name_of_the_package() -> None:
    public = {
        name
        for name, value in vars(compat).items()
        if not name.startswith("_") and not isinstance(value, type(compat))
    }
    assert set(compat.__all__) == public


def test__submodules__declare_all_of_existing_names() -> None:
    for name in MODULES:
        module = importlib.import_module(name)
        for exported in getattr(module, "__all__", ()):
            assert hasattr(module, exported), (name, exported)
