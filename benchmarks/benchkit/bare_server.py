"""The baseline: bare uvicorn + Starlette (websockets-sansio, uvloop) sending pre-encoded frames.

Run: ``PYTHONPATH=benchmarks python -m benchkit.bare_server --port N``.

``/ws?user=U&pong=B`` accepts, sends one small ``hello`` frame, then for each
frame it receives:

* ``{"push": n, "size": s}``: sends ``n`` copies of one pre-encoded ``s``-byte
  text frame to every connection of user ``U`` (one connection, or a fan-out);
* anything else (a ping): answers with one pre-encoded ``B``-byte text frame.

No parsing beyond that, no validation, no state but the connections of each
user: the fastest a Python server on the same stack can do the same job.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from benchkit.system import SERVER_CPU, pin, raise_file_limit

HELLO = '{"type":"hello"}'


def frame_of(size: int, kind: str = "agent_message_delta") -> str:
    """A JSON text frame of exactly ``size`` bytes (at least its skeleton's length)."""
    skeleton = f'{{"type":"{kind}","data":{{"content":""}}}}'
    pad = max(0, size - len(skeleton))
    return f'{{"type":"{kind}","data":{{"content":"{"x" * pad}"}}}}'


def build_app() -> Starlette:
    users: defaultdict[str, list[WebSocket]] = defaultdict(list)

    async def endpoint(websocket: WebSocket) -> None:
        user = websocket.query_params.get("user", "u")
        pong = frame_of(int(websocket.query_params.get("pong", "100")), "pong")
        await websocket.accept()
        users[user].append(websocket)
        try:
            await websocket.send_text(HELLO)
            while True:
                text = await websocket.receive_text()
                if text.startswith('{"push"'):
                    command = orjson.loads(text)
                    frame = frame_of(int(command["size"]))
                    targets = list(users[user])
                    for _ in range(int(command["push"])):
                        for target in targets:
                            await target.send_text(frame)
                else:
                    await websocket.send_text(pong)
        except WebSocketDisconnect:
            pass
        finally:
            users[user].remove(websocket)
            if not users[user]:
                del users[user]

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)])


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
