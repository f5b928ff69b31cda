"""The package's ``__all__`` names exactly its public API."""

from __future__ import annotations

import types

import agentsocket.store


def test__all__lists_every_public_name_and_only_those() -> None:
    public = {
        name
        for name, value in vars(agentsocket.store).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }

    assert sorted(agentsocket.store.__all__) == sorted(public)
