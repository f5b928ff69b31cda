"""The AG-UI dialect's generated docs, served: with the extra, and without it (typed 404)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from agentsocket.server import docs_routes as routes

DOCS = Path(__file__).parents[2] / "docs" / "protocol"


@pytest.fixture
def client() -> Iterator[TestClient]:
    routes._documents.cache_clear()
    yield TestClient(Starlette(routes=routes.docs_routes("v3")))
    routes._documents.cache_clear()


def test__with_the_extra__asyncapi_and_mapping_served_as_committed(client: TestClient) -> None:
    asyncapi = client.get("/asyncapi/ag-ui.json")
    mapping = client.get("/docs/ag-ui-mapping.md")
    index = client.get("/docs").text

    assert asyncapi.status_code == 200
    assert asyncapi.json() == json.loads((DOCS / "asyncapi-ag-ui.json").read_text())
    assert mapping.text == (DOCS / "ag-ui-mapping.md").read_text()
    assert "ag-ui-mapping.md" in index


def test__without_the_extra__asyncapi_404__other_docs_still_served(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "ag_ui" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    asyncapi = client.get("/asyncapi/ag-ui.json")
    index = client.get("/docs")
    mapping = client.get("/docs/ag-ui-mapping.md")
    reference = client.get("/docs/reference-v3.md")

    assert asyncapi.status_code == 404
    assert "ag-ui extra" in asyncapi.json()["error"]
    assert index.status_code == 200
    assert "ag-ui-mapping.md" not in index.text
    assert mapping.status_code == 404
    assert reference.status_code == 200
