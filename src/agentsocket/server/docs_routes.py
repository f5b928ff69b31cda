"""HTTP routes that serve the protocol's own description, generated from the models.

``/schema/{version}.json`` (JSON Schema), ``/asyncapi.json`` and
``/asyncapi/{version}.json`` (AsyncAPI 3.0; ``/asyncapi/ag-ui.json`` is the AG-UI
dialect's, with the ``ag-ui`` extra), ``/docs`` and ``/docs/{name}`` (the
Markdown reference, changelog, migration guide and AG-UI mapping).
"""

from __future__ import annotations

import html
import importlib.util
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from agentsocket.protocol import UnsupportedVersionError
from agentsocket.protocol.asyncapi import asyncapi_document
from agentsocket.protocol.compat.dialects import AG_UI as AG_UI_DIALECT
from agentsocket.protocol.reference import generated_docs
from agentsocket.protocol.schema import json_schema


@cache
def _documents() -> dict[str, bytes]:
    """Generated once per process: the docs only change with the code."""
    return {name: content for name, content in generated_docs().items() if name.endswith(".md")}


def _ag_ui_asyncapi() -> Response:
    """The AG-UI dialect's AsyncAPI document; 404 without the ``ag-ui`` extra."""
    if importlib.util.find_spec("ag_ui") is None:
        body = {
            "error": "the AG-UI dialect needs the ag-ui extra: pip install 'agentsocket[ag-ui]'"
        }
        return JSONResponse(body, status_code=404)
    return JSONResponse(_ag_ui_asyncapi_document())


@cache
def _ag_ui_asyncapi_document() -> dict[str, Any]:
    # Imported on first use: it needs the optional extra.
    from agentsocket.protocol.asyncapi_ag_ui import ag_ui_asyncapi_document

    return ag_ui_asyncapi_document()


def docs_routes(default_version: str) -> list[Route]:
    async def schema(request: Request) -> Response:
        try:
            return JSONResponse(json_schema(request.path_params["version"]))
        except UnsupportedVersionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    async def asyncapi(request: Request) -> Response:
        try:
            version = request.path_params.get("version", default_version)
            if version == AG_UI_DIALECT:
                return _ag_ui_asyncapi()
            return JSONResponse(asyncapi_document(version))
        except UnsupportedVersionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    async def index(_: Request) -> Response:
        items = "".join(
            f'<li><a href="/docs/{html.escape(name)}">{html.escape(name)}</a></li>'
            for name in sorted(_documents())
        )
        page = (
            "<!doctype html><meta charset=utf-8><title>agentsocket protocol</title>"
            f"<h1>agentsocket protocol</h1><ul>{items}"
            '<li><a href="/asyncapi.json">asyncapi.json</a></li></ul>'
        )
        return HTMLResponse(page)

    async def document(request: Request) -> Response:
        content = _documents().get(request.path_params["name"])
        if content is None:
            return JSONResponse({"error": "no such document"}, status_code=404)
        return Response(content, media_type="text/markdown; charset=utf-8")

    return [
        Route("/schema/{version}.json", schema),
        Route("/asyncapi.json", asyncapi),
        Route("/asyncapi/{version}.json", asyncapi),
        Route("/docs", index),
        Route("/docs/{name}", document),
    ]
