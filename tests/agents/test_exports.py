"""agentsocket.agents re-exports its whole public API, and nothing twice."""

from __future__ import annotations

import inspect

import agentsocket.agents as agents


def test__all__names_exist_and_are_unique() -> None:
    assert len(agents.__all__) == len(set(agents.__all__))
    for name in agents.__all__:
        assert hasattr(agents, name), name


def test__all__is_sorted_constants_then_classes_then_functions() -> None:
    assert agents.__all__ == sorted(agents.__all__, key=lambda n: (not n.isupper(), n))


def test__every_public_class_and_function_of_the_package_is_exported() -> None:
    exported = set(agents.__all__)
    for name, value in vars(agents).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        assert name in exported, name


def test__the_runtime_names_the_brief_promises_are_there() -> None:
    for name in (
        "Agent",
        "AgentFailure",
        "DemoAgent",
        "EventSink",
        "ListSink",
        "OpenAIChatAgent",
        "RunContext",
        "RunHandle",
        "Runner",
        "Tool",
        "ToolResult",
    ):
        assert name in agents.__all__
