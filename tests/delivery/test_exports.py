"""The package's public surface: ``__all__`` is complete and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import types

import agentsocket.delivery as delivery


def test__all__lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(delivery).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    public -= {"annotations", "TYPE_CHECKING", "Any"}
    assert public | {"RedisBroker"} == set(delivery.__all__)
    for name in delivery.__all__:
        assert getattr(delivery, name) is not None


def test__import__memory_default__does_not_load_redis() -> None:
    code = "import sys, agentsocket.delivery; assert 'redis' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
