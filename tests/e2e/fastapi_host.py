"""A FastAPI app hosting the gateway under /chat (started by uvicorn in an e2e test)."""

from __future__ import annotations

from fastapi import FastAPI

from agentsocket.server import Settings, create_app

gateway = create_app(Settings())
api = FastAPI(lifespan=gateway.router.lifespan_context)
api.mount("/chat", gateway)


@api.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
