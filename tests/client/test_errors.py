"""The SDK's exception tree: as drawn, with builtins for misuse, facts as attributes."""

from __future__ import annotations

import inspect

import agentsocket.client.errors as errors
from agentsocket.client import (
    AuthenticationRefused,
    ClientError,
    ConnectionLost,
    ConnectionRejected,
    InvalidState,
    MessageNotInVersion,
    VersionUnsupported,
)
from agentsocket.protocol import AgentSocketError, CloseCode


def test__tree__every_class_drawn_in_the_docstring_under_its_parent() -> None:
    assert errors.__doc__ is not None
    classes = [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, ClientError) and cls.__module__ == errors.__name__
    ]
    for cls in classes:
        assert cls.__name__ in errors.__doc__, cls
        assert issubclass(cls, AgentSocketError)
    assert issubclass(AuthenticationRefused, ConnectionRejected)
    assert issubclass(VersionUnsupported, ConnectionRejected)


def test__misuse__also_builtin_errors() -> None:
    assert issubclass(InvalidState, RuntimeError)
    assert issubclass(MessageNotInVersion, ValueError)


def test__rejected__keeps_code_and_reason() -> None:
    rejected = ConnectionRejected(4005, "too many connections for this user")
    assert rejected.code is CloseCode.TOO_MANY_CONNECTIONS
    assert rejected.reason == "too many connections for this user"
    assert ConnectionRejected(404, "HTTP 404").code == 404


def test__connection_lost__says_how_many_attempts() -> None:
    lost = ConnectionLost(3, OSError("refused"))
    assert lost.attempts == 3
    assert "3 failed attempts" in str(lost)
