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


def test__is_unavailable__connection_failures_yes_data_errors_no() -> None:
    from sqlalchemy import exc as sa

    from agentsocket.store import is_unavailable

    assert is_unavailable(sa.OperationalError("SELECT 1", {}, ConnectionRefusedError()))
    assert is_unavailable(sa.InterfaceError("SELECT 1", {}, OSError("connection is closed")))
    assert is_unavailable(ConnectionResetError())
    assert not is_unavailable(sa.IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not is_unavailable(sa.DataError("INSERT", {}, ValueError("invalid byte")))
    assert not is_unavailable(ValueError("bug"))
