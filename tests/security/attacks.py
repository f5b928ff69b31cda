"""The authentication attacks of issue 12, as data: how each one connects and how it must end.

Shared by the CI test (``tests/security/test_auth_attacks.py``) and the
report script (``scripts/auth-attacks.py``). Each :class:`Attack` builds its
credentials from a :class:`Keys` (the server's real secret and RSA key, plus
an attacker's own RSA key) and names the refusal it must get: the close code
and the :class:`~agentsocket.server.auth.AuthFailure` at the start of the reason.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

AUDIENCE = "agentsocket-attack-suite"
ISSUER = "https://issuer.example"
KID = "server-key-1"
UNAUTHORIZED = 4001
TOKEN_EXPIRED = 4002
HEADER_TOO_LARGE = 431


@dataclass(frozen=True)
class Keys:
    """Everything an attack may sign with."""

    secret: str
    server_key: rsa.RSAPrivateKey
    attacker_key: rsa.RSAPrivateKey
    jku_url: str = "http://127.0.0.1:9/jwks.json"

    @classmethod
    def generate(cls, secret: str, jku_url: str = "http://127.0.0.1:9/jwks.json") -> Keys:
        def new() -> rsa.RSAPrivateKey:
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)

        return cls(secret, new(), new(), jku_url)

    def jwks(self) -> dict[str, Any]:
        """The JWKS document the server trusts: only the server's public key."""
        return {"keys": [public_jwk(self.server_key, KID)]}

    def attacker_jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.attacker_key, KID)]}


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ``victim``; an override of ``None`` drops the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "victim",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs(keys: Keys, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), keys.secret, algorithm="HS256")


def rs(key: rsa.RSAPrivateKey, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
    return jwt.encode(
        claims(**overrides), key, algorithm="RS256", headers={"kid": KID, **(headers or {})}
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(alg: str, **overrides: Any) -> str:
    """A token with ``alg`` (``none`` in some casing) and an empty signature."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims(**overrides)).encode())
    return f"{header}.{body}."


def hs_with_public_key(keys: Keys) -> str:
    """HS256 "signed" with the server's public RSA key: the key-confusion attack."""
    pem = keys.server_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = b64(json.dumps(claims()).encode())
    signature = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


@dataclass(frozen=True)
class Offer:
    """What a handshake carries; ``ticket_for`` asks the runner for a fresh ticket first."""

    headers: dict[str, str] = field(default_factory=dict)
    subprotocols: list[str] = field(default_factory=lambda: ["agentsocket.v3"])
    query: str = ""
    ticket_for: str | None = None
    redeem_ticket_first: bool = False


def bearer(token: str) -> Offer:
    return Offer(headers={"Authorization": f"Bearer {token}"})


@dataclass(frozen=True)
class Attack:
    """One attack: its name, how it connects, and the refusal it must get."""

    name: str
    offer: Callable[[Keys], Offer]
    failure: str
    code: int = UNAUTHORIZED

    def secrets(self, keys: Keys, offer: Offer) -> list[str]:
        """Every credential string this attack sends: none may reach a log or header."""
        found = [
            value.removeprefix("Bearer ").strip()
            for value in offer.headers.values()
            if len(value) > 20
        ]
        found += [
            entry.removeprefix("bearer.")
            for entry in offer.subprotocols
            if entry.startswith("bearer.")
        ]
        found += [part.split("=", 1)[1] for part in offer.query.split("&") if "=" in part]
        return [value for value in found if len(value) >= 16]


ATTACKS: tuple[Attack, ...] = (
    Attack("alg none", lambda k: bearer(unsigned("none")), "algorithm_not_allowed"),
    Attack("alg None", lambda k: bearer(unsigned("None")), "algorithm_not_allowed"),
    Attack("alg NONE", lambda k: bearer(unsigned("NONE")), "algorithm_not_allowed"),
    Attack("alg nOnE", lambda k: bearer(unsigned("nOnE")), "algorithm_not_allowed"),
    Attack(
        "HS256 signed with a wrong secret",
        lambda k: bearer(jwt.encode(claims(), "x" * 48, algorithm="HS256")),
        "bad_signature",
    ),
    Attack(
        "HS512 (not an allowed algorithm)",
        lambda k: bearer(jwt.encode(claims(), k.secret * 2, algorithm="HS512")),
        "algorithm_not_allowed",
    ),
    Attack(
        "HS256 keyed with the RSA public key",
        lambda k: bearer(hs_with_public_key(k)),
        "bad_signature",
    ),
    Attack(
        "RS256 signed with the attacker's key",
        lambda k: bearer(rs(k.attacker_key)),
        "bad_signature",
    ),
    Attack(
        "RS256 with the attacker's key embedded as jwk",
        lambda k: bearer(rs(k.attacker_key, {"jwk": public_jwk(k.attacker_key, KID)})),
        "bad_signature",
    ),
    Attack(
        "RS256 with a jku to the attacker's JWKS",
        lambda k: bearer(rs(k.attacker_key, {"jku": k.jku_url})),
        "bad_signature",
    ),
    Attack(
        "RS256 with an unknown kid",
        lambda k: bearer(rs(k.attacker_key, {"kid": "attacker-kid"})),
        "unknown_key",
    ),
    Attack(
        "expired", lambda k: bearer(hs(k, exp=int(time.time()) - 600)), "expired", TOKEN_EXPIRED
    ),
    Attack(
        "not yet valid (nbf)", lambda k: bearer(hs(k, nbf=int(time.time()) + 600)), "not_yet_valid"
    ),
    Attack(
        "issued in the future (iat)",
        lambda k: bearer(hs(k, iat=int(time.time()) + 600)),
        "not_yet_valid",
    ),
    Attack("wrong audience", lambda k: bearer(hs(k, aud="another-service")), "wrong_audience"),
    Attack("no audience", lambda k: bearer(hs(k, aud=None)), "wrong_audience"),
    Attack("wrong issuer", lambda k: bearer(hs(k, iss="https://evil.example")), "wrong_issuer"),
    Attack("no issuer", lambda k: bearer(hs(k, iss=None)), "wrong_issuer"),
    Attack("no exp", lambda k: bearer(hs(k, exp=None)), "malformed_token"),
    Attack("no sub", lambda k: bearer(hs(k, sub=None)), "missing_subject"),
    Attack("sub not a string", lambda k: bearer(hs(k, sub=12345)), "missing_subject"),
    Attack(
        "oversized sub (10,000 characters)",
        lambda k: bearer(hs(k, sub="v" * 10_000)),
        "http_431",
        HEADER_TOO_LARGE,
    ),
    Attack("sub of 300 characters", lambda k: bearer(hs(k, sub="v" * 300)), "invalid_subject"),
    Attack("sub with NUL", lambda k: bearer(hs(k, sub="vic\x00tim")), "invalid_subject"),
    Attack(
        "sub with a newline (log forging)",
        lambda k: bearer(hs(k, sub="a\nERROR forged")),
        "invalid_subject",
    ),
    Attack(
        "oversized token (9,000 characters)",
        lambda k: bearer("e" * 9000),
        "http_431",
        HEADER_TOO_LARGE,
    ),
    Attack(
        "oversized bearer subprotocol (9,000 characters)",
        lambda k: Offer(subprotocols=["agentsocket.v3", "bearer." + "e" * 9000]),
        "http_431",
        HEADER_TOO_LARGE,
    ),
    Attack("not a JWT", lambda k: bearer("not-a-jwt-at-all-0123456789"), "malformed_token"),
    Attack(
        "Basic instead of Bearer",
        lambda k: Offer(headers={"Authorization": "Basic " + b64(b"victim:password-1234567")}),
        "malformed_token",
    ),
    Attack(
        "empty Bearer", lambda k: Offer(headers={"Authorization": "Bearer "}), "malformed_token"
    ),
    Attack("no credentials", lambda k: Offer(), "missing_token"),
    Attack(
        "valid token in the query string (?token=)",
        lambda k: Offer(query="token=" + hs(k)),
        "missing_token",
    ),
    Attack(
        "valid token as access_token query parameter",
        lambda k: Offer(query="access_token=" + hs(k)),
        "missing_token",
    ),
    Attack(
        "header and bearer subprotocol together",
        lambda k: Offer(
            headers={"Authorization": f"Bearer {hs(k)}"},
            subprotocols=["agentsocket.v3", f"bearer.{hs(k, sub='other')}"],
        ),
        "malformed_token",
    ),
    Attack(
        "two bearer subprotocol entries",
        lambda k: Offer(
            subprotocols=["agentsocket.v3", f"bearer.{hs(k)}", f"bearer.{hs(k, sub='x')}"]
        ),
        "malformed_token",
    ),
    Attack(
        "bearer subprotocol with a wrong-key token",
        lambda k: Offer(
            subprotocols=["agentsocket.v3", "bearer." + jwt.encode(claims(), "y" * 48, "HS256")]
        ),
        "bad_signature",
    ),
    Attack("made-up ticket", lambda k: Offer(query="ticket=" + "A" * 43), "invalid_ticket"),
    Attack(
        "replayed ticket",
        lambda k: Offer(ticket_for="victim", redeem_ticket_first=True),
        "invalid_ticket",
    ),
    Attack(
        "victim's ticket plus the attacker's own token",
        lambda k: Offer(
            headers={"Authorization": f"Bearer {hs(k, sub='attacker')}"}, ticket_for="victim"
        ),
        "malformed_token",
    ),
)


@dataclass
class Outcome:
    """What the server did with one attack."""

    attack: Attack
    code: int | None
    reason: str
    frames: list[str | bytes]
    response_headers: list[tuple[str, str]]
    secrets: list[str]

    @property
    def failure(self) -> str:
        if self.code is not None and self.code < 1000:  # refused at HTTP level, not a close
            return f"http_{self.code}"
        return self.reason.split(":", 1)[0]

    @property
    def refused_as_documented(self) -> bool:
        return (
            not self.frames
            and self.code == self.attack.code
            and self.failure == self.attack.failure
        )


async def ticket(http: str, token: str) -> str:
    async with httpx.AsyncClient() as session:
        response = await session.post(
            f"{http}/auth/ticket", headers={"Authorization": f"Bearer {token}"}
        )
    response.raise_for_status()
    value: str = response.json()["ticket"]
    return value


async def run_attack(ws_url: str, http: str, keys: Keys, attack: Attack) -> Outcome:
    """Connect as ``attack`` says; read until the server closes; report what happened."""
    offer = attack.offer(keys)
    query = offer.query
    if offer.ticket_for is not None:
        issued = await ticket(http, hs(keys, sub=offer.ticket_for))
        if offer.redeem_ticket_first:
            async with connect(f"{ws_url}?ticket={issued}", subprotocols=["agentsocket.v3"]) as ws:  # type: ignore[list-item]
                await ws.recv()  # the welcome: the ticket worked once
        query = "&".join(part for part in (query, f"ticket={issued}") if part)
    url = ws_url + (f"?{query}" if query else "")
    frames: list[str | bytes] = []
    try:
        async with connect(
            url,
            subprotocols=offer.subprotocols,  # type: ignore[arg-type]
            additional_headers=offer.headers,
            open_timeout=10,
            max_size=None,
        ) as ws:
            headers = list(ws.response.headers.raw_items()) if ws.response else []
            try:
                while True:
                    frames.append(await asyncio.wait_for(ws.recv(), 10))
            except ConnectionClosed:
                pass
            code, reason = ws.close_code, ws.close_reason or ""
    except InvalidStatus as refused:
        headers = list(refused.response.headers.raw_items())
        code, reason = (
            refused.response.status_code,
            refused.response.body.decode(errors="replace") if refused.response.body else "",
        )
    secrets = attack.secrets(keys, Offer(offer.headers, offer.subprotocols, query))
    return Outcome(attack, code, reason, frames, headers, secrets)
