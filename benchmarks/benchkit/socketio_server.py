"""The python-socketio comparison: an ``AsyncServer`` on uvicorn (websockets-sansio, uvloop).

Run: ``PYTHONPATH=benchmarks python -m benchkit.socketio_server --port N``.

Clients connect over the WebSocket transport (``/socket.io/?EIO=4&transport=websocket``)
with ``{"user": U}`` as their auth and join room ``U``. Events:

* ``push`` ``{"n": n, "size": s}``: emits ``n`` ``delta`` events to room ``U``,
  each a packet of ``s`` bytes on the wire (one connection, or a fan-out);
* ``ping`` ``{...}``: emits ``pong`` with the same data to the sender.

This is what an application on python-socketio would write for the same job,
with the library's defaults.
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio  # type: ignore[import-untyped]
import uvicorn

from benchkit.system import SERVER_CPU, pin, raise_file_limit

#: Bytes of ``42["delta",{"d":""}]`` around the padding.
PACKET_OVERHEAD = len('42["delta",{"d":""}]')


def build_app() -> Any:
    sio = socketio.AsyncServer(async_mode="asgi")
    rooms: dict[str, str] = {}

    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> None:
        user = str((auth or {}).get("user", "u"))
        rooms[sid] = user
        await sio.enter_room(sid, user)

    async def disconnect(sid: str, *_: Any) -> None:
        rooms.pop(sid, None)

    async def push(sid: str, data: dict[str, Any]) -> None:
        payload = {"d": "x" * max(0, int(data["size"]) - PACKET_OVERHEAD)}
        room = rooms[sid]
        for _ in range(int(data["n"])):
            await sio.emit("delta", payload, room=room)

    async def ping(sid: str, data: Any) -> None:
        await sio.emit("pong", data, to=sid)

    for handler in (connect, disconnect, push, ping):
        sio.on(handler.__name__, handler)
    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=SERVER_CPU)
    args = parser.parse_args()
    pin(args.cpu)
    raise_file_limit()
    uvicorn.run(
        build_app(),
        host="127.0.0.1",
        port=args.port,
        ws="websockets-sansio",
        loop="uvloop",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
