import asyncio
import json

import httpx
import websockets

GATEWAY = "127.0.0.1:8765"
QUESTION = {"type": "user_message", "data": {"content": "what is 17*23 in hex?"}}


async def main(token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(
        f"ws://{GATEWAY}/ws", subprotocols=["agentsocket.v3"], additional_headers=auth
    ) as ws:
        await ws.send(json.dumps(QUESTION))
        async for frame in ws:
            message = json.loads(frame)
            if message["data"].get("parent_run_id"):
                continue  # a sub-agent's run (the demo delegates the arithmetic)
            if message["type"] == "agent_message_delta":
                print(message["data"]["content"], end="", flush=True)
            elif message["type"] == "agent_completed":
                print()
                break


dev_token = httpx.post(f"http://{GATEWAY}/auth/dev-token", json={"user_id": "alice"})
asyncio.run(main(dev_token.json()["token"]))
