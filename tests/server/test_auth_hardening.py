"""Hardening of the HTTP side of auth (issue 12, item 11): ticket issuing, throttling, dev mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentsocket.server.auth import MemoryTicketStore, Principal, dev_mode_refusal
from agentsocket.server.auth.throttle import KeyedRateLimiter, ThrottleMiddleware


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TouchCountingDict(dict[str, Any]):
    """Counts how many entries the store looks at."""

    touched = 0

    def __getitem__(self, key: str) -> Any:
        TouchCountingDict.touched += 1
        return super().__getitem__(key)

    def items(self) -> Any:
        TouchCountingDict.touched += len(self)
        return super().items()

    def __iter__(self) -> Iterator[str]:
        for key in super().__iter__():
            TouchCountingDict.touched += 1
            yield key


async def test__issue__many_live_tickets__looks_at_a_constant_number() -> None:
    store = MemoryTicketStore(ttl_seconds=30, clock=Clock())
    store._tickets = TouchCountingDict()
    for _ in range(5000):
        await store.issue(Principal("alice"))
    TouchCountingDict.touched = 0
    await store.issue(Principal("alice"))
    # Scanning every ticket on each request made issuing O(n): 981 -> 106 requests/s.
    assert TouchCountingDict.touched <= 3


async def test__issue__expired_tickets_pruned_oldest_first() -> None:
    clock = Clock()
    store = MemoryTicketStore(ttl_seconds=30, clock=clock)
    old = [await store.issue(Principal(f"u{i}")) for i in range(100)]
    clock.now += 20
    young = await store.issue(Principal("young"))
    clock.now += 15  # the 100 old ones are past their 30 s, the young one is not
    latest = await store.issue(Principal("latest"))
    assert set(store._tickets) == {young, latest}
    assert (await store.redeem(young)).user_id == "young"
    assert old[0] not in store._tickets


# --- throttling ----------------------------------------------------------------------


def test__limiter__burst_then_rate() -> None:
    clock = Clock()
    limiter = KeyedRateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0


def test__limiter__keys_bounded() -> None:
    limiter = KeyedRateLimiter(rate=1, burst=1, max_keys=100, clock=Clock())
    for i in range(1000):
        limiter.take(f"client-{i}")
    assert len(limiter._buckets) == 100


def http_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway")


def _app(limiter: KeyedRateLimiter) -> Starlette:
    async def ticket(_: Request) -> Response:
        return JSONResponse({"ticket": "t"})

    async def other(_: Request) -> Response:
        return JSONResponse({})

    return Starlette(
        routes=[Route("/auth/ticket", ticket, methods=["POST"]), Route("/healthz", other)],
        middleware=[Middleware(ThrottleMiddleware, paths={"/auth/ticket"}, limiter=limiter)],
    )


async def test__throttle_middleware__429_with_retry_after_past_the_burst() -> None:
    client = http_client(_app(KeyedRateLimiter(rate=1, burst=2, clock=Clock())))
    codes = [(await client.post("/auth/ticket")).status_code for _ in range(3)]
    refused = await client.post("/auth/ticket")
    assert codes == [200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json() == {"error": "rate_limited"}
    assert (await client.get("/healthz")).status_code == 200  # other paths are not limited


# --- dev mode ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "secret", "jwks", "refused"),
    [
        ("development", False, False, False),
        ("test", False, False, False),
        ("production", False, False, True),
        (" Production ", False, False, True),
        ("prod", False, False, True),
        ("development", True, False, True),
        ("development", False, True, True),
    ],
)
def test__dev_mode_refusal(environment: str, secret: bool, jwks: bool, refused: bool) -> None:
    reason = dev_mode_refusal(environment, configured_secret=secret, configured_jwks=jwks)
    assert (reason is not None) == refused
