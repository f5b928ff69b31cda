"""The AG-UI route without the ``ag-ui`` extra: a typed 501, never an import error."""

from __future__ import annotations

import importlib.util
from importlib.machinery import ModuleSpec

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from agentsocket.server.ag_ui_http import ag_ui_route
from agentsocket.server.gateway import Gateway


def no_gateway() -> Gateway:
    raise AssertionError("the route must not need the gateway to refuse")


def test__without_the_extra__post__501_not_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "ag_ui" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    app = Starlette(routes=[ag_ui_route("/ag-ui", no_gateway)])

    answer = TestClient(app).post("/ag-ui", json={})

    assert answer.status_code == 501
    assert answer.json()["error"] == "not_supported"
