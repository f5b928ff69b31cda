"""The ``POST`` route of AG-UI's HTTP transport (``Settings.ag_ui_path``, ``docs/ag-ui.md``).

The AG-UI models come with the ``ag-ui`` extra (``ag-ui-protocol``); without
it the route answers ``501 not_supported`` and the rest of the gateway runs
as before, so the core install never imports them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentsocket.protocol import ErrorCode
from agentsocket.server.gateway import Gateway


def ag_ui_route(path: str, gateway: Callable[[], Gateway]) -> Route:
    """``POST path``: a ``RunAgentInput`` in, the run's AG-UI events out as SSE."""
    available = importlib.util.find_spec("ag_ui") is not None

    async def endpoint(request: Request) -> Response:
        if not available:
            body = {
                "error": ErrorCode.NOT_SUPPORTED,
                "message": "AG-UI needs the ag-ui extra: pip install 'agentsocket[ag-ui]'",
                "errors": [],
            }
            return JSONResponse(body, status_code=501)
        # Imported on first use: it needs the optional extra.
        from agentsocket.server.ag_ui_run import serve

        return await serve(request, gateway())

    return Route(path, endpoint, methods=["POST"], name="ag-ui")
