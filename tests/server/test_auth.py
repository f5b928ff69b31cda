"""Tests of agentsocket.server.auth: JWTs, JWKS, tickets, handshake credentials."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import httpx
import jwt
import pytest
import redis.asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

import agentsocket.server.auth as auth_package
from agentsocket.server.auth import (
    AuthenticationFailed,
    AuthFailure,
    AuthSettings,
    Credentials,
    MemoryTicketStore,
    Principal,
    RedisTicketStore,
    TicketStore,
    TokenVerifier,
    authenticate,
    extract_credentials,
    issue_token,
    safe_subprotocols,
)
from agentsocket.server.auth.jwks import parse_jwks

SECRET = "test-secret-0123456789abcdef-0123456789abcdef"
OTHER_SECRET = "other-secret-0123456789abcdef-0123456789abcd"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())

DROP = object()
"""Claim override meaning: leave the claim out."""


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    result: dict[str, Any] = {"sub": "alice", "iat": now, "exp": now + 3600}
    for name, value in overrides.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def hs_token(secret: str = SECRET, alg: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), secret, algorithm=alg)


def rs_token(
    key: rsa.RSAPrivateKey = RSA_KEY,
    kid: str | None = "rsa-1",
    alg: str = "RS256",
    **overrides: Any,
) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def es_token(
    key: ec.EllipticCurvePrivateKey = EC_KEY, kid: str | None = "ec-1", **overrides: Any
) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims(**overrides), key, algorithm="ES256", headers=headers)


def raw_token(
    header: Mapping[str, Any], payload: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    """Build a JWT by hand, for tokens PyJWT refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def alg_none_token(alg: str = "none") -> str:
    return raw_token({"alg": alg, "typ": "JWT"}, claims(), lambda _: b"")


def hs256_signed_with_rsa_public_pem() -> str:
    """The key-confusion attack: HMAC keyed with the server's public RSA key."""
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    return raw_token(header, claims(), lambda data: hmac.new(pem, data, hashlib.sha256).digest())


def tampered_payload() -> str:
    """A genuine token whose payload was swapped for another user's."""
    header, _, signature = hs_token().split(".")
    forged = b64url(json.dumps(claims(sub="mallory")).encode())
    return f"{header}.{forged}.{signature}"


def jwk(public_key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    if isinstance(public_key, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        data = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        data = ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {**data, "kid": kid, "use": "sig", **extra}


def jwks_document(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys)}


DEFAULT_JWKS = jwks_document(
    jwk(RSA_KEY.public_key(), "rsa-1"), jwk(EC_KEY.public_key(), "ec-1", alg="ES256")
)


@pytest.fixture
def jwks_path(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(DEFAULT_JWKS))
    return path


def settings_for(kind: str, jwks_path: Path, **options: Any) -> AuthSettings:
    if kind == "hs":
        return AuthSettings(secret=SECRET, **options)
    if kind == "jwks":
        return AuthSettings(jwks_file=jwks_path, jwks_min_refetch_seconds=0, **options)
    assert kind == "both"
    return AuthSettings(secret=SECRET, jwks_file=jwks_path, algorithms=("HS256", "RS256"))


async def failure_of(verifier: TokenVerifier, token: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        await verifier.verify(token)
    return caught.value


# --- settings ---------------------------------------------------------------


def test__settings__secret_only__defaults_to_hs256() -> None:
    assert AuthSettings(secret=SECRET).algorithms == ("HS256",)


def test__settings__jwks_only__defaults_to_rs256_and_es256(jwks_path: Path) -> None:
    assert AuthSettings(jwks_url="https://idp.test/jwks").algorithms == ("RS256", "ES256")
    assert AuthSettings(jwks_file=jwks_path).algorithms == ("RS256", "ES256")


def test__settings__secret_and_jwks__default_to_all_three(jwks_path: Path) -> None:
    settings = AuthSettings(secret=SECRET, jwks_file=jwks_path)
    assert settings.algorithms == ("HS256", "RS256", "ES256")


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="no-key-source"),
        pytest.param({"secret": "short"}, id="short-secret"),
        pytest.param(
            {"jwks_file": Path("k.json"), "jwks_url": "https://idp.test/jwks"}, id="two-jwks"
        ),
        pytest.param({"secret": SECRET, "algorithms": ("none",)}, id="alg-none"),
        pytest.param({"secret": SECRET, "algorithms": ("RS256",)}, id="rs256-without-jwks"),
        pytest.param(
            {"jwks_url": "https://idp.test/jwks", "algorithms": ("HS256",)}, id="hs256-no-secret"
        ),
        pytest.param({"secret": SECRET, "leeway_seconds": -1}, id="negative-leeway"),
        pytest.param({"secret": SECRET, "ticket_ttl_seconds": 0}, id="zero-ticket-ttl"),
        pytest.param({"secret": SECRET, "algorithms": ("HS512",)}, id="secret-short-for-hs512"),
    ],
)
def test__settings__invalid__raises_value_error(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        AuthSettings(**options)


def test__settings__repr__hides_the_secret() -> None:
    assert SECRET not in repr(AuthSettings(secret=SECRET))


# --- valid tokens -----------------------------------------------------------


async def test__verify__valid_hs256__returns_principal() -> None:
    token = hs_token(role="admin")
    principal = await TokenVerifier(AuthSettings(secret=SECRET)).verify(token)
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert principal.user_id == "alice"
    assert principal.expires_at == float(decoded["exp"])
    assert principal.claims["role"] == "admin"


async def test__verify__valid_rs256_from_jwks_file__returns_principal(jwks_path: Path) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_file=jwks_path))
    principal = await verifier.verify(rs_token(sub="bob"))
    assert principal.user_id == "bob"


async def test__verify__valid_es256_from_jwks_file__returns_principal(jwks_path: Path) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_file=jwks_path))
    principal = await verifier.verify(es_token(sub="carol"))
    assert principal.user_id == "carol"


async def test__verify__valid_hs512_with_long_secret__returns_principal() -> None:
    secret = SECRET * 2
    settings = AuthSettings(secret=secret, algorithms=("HS512",))
    principal = await TokenVerifier(settings).verify(hs_token(secret, "HS512", sub="olga"))
    assert principal.user_id == "olga"


async def test__verify__valid_eddsa_when_configured__returns_principal(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_document(jwk(key.public_key(), "ed-1"))))
    token = jwt.encode(claims(sub="pat"), key, algorithm="EdDSA", headers={"kid": "ed-1"})

    principal = await TokenVerifier(AuthSettings(jwks_file=path, algorithms=("EdDSA",))).verify(
        token
    )

    assert principal.user_id == "pat"


async def test__verify__no_kid_and_one_fitting_key__uses_that_key(jwks_path: Path) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_file=jwks_path))
    assert (await verifier.verify(rs_token(kid=None))).user_id == "alice"
    assert (await verifier.verify(es_token(kid=None))).user_id == "alice"


async def test__verify__matching_audience_and_issuer__accepted() -> None:
    settings = AuthSettings(secret=SECRET, audience="chat", issuer="https://idp.test")
    token = hs_token(aud=["other", "chat"], iss="https://idp.test")
    assert (await TokenVerifier(settings).verify(token)).user_id == "alice"


async def test__verify__secret_and_jwks_configured__each_family_uses_its_own_key(
    jwks_path: Path,
) -> None:
    verifier = TokenVerifier(settings_for("both", jwks_path))
    assert (await verifier.verify(hs_token())).user_id == "alice"
    assert (await verifier.verify(rs_token())).user_id == "alice"
    # HS256 is allowed here, but the public key is never an HMAC secret.
    failure = await failure_of(verifier, hs256_signed_with_rsa_public_pem())
    assert failure.failure is AuthFailure.BAD_SIGNATURE


# --- every failure, and the token never in the detail -----------------------


@dataclass(frozen=True)
class FailureCase:
    token: Callable[[], str]
    failure: AuthFailure
    keys: str = "hs"
    options: Mapping[str, Any] = field(default_factory=dict)


FAILURE_CASES = [
    pytest.param(FailureCase(lambda: "", AuthFailure.MISSING_TOKEN), id="empty"),
    pytest.param(FailureCase(lambda: "garbage", AuthFailure.MALFORMED_TOKEN), id="garbage"),
    pytest.param(FailureCase(lambda: "a.b.c", AuthFailure.MALFORMED_TOKEN), id="three-junk-parts"),
    pytest.param(FailureCase(lambda: "x" * 9000, AuthFailure.MALFORMED_TOKEN), id="oversized"),
    pytest.param(FailureCase(lambda: hs_token(exp=DROP), AuthFailure.MALFORMED_TOKEN), id="no-exp"),
    pytest.param(
        FailureCase(lambda: hs_token(exp="soon"), AuthFailure.MALFORMED_TOKEN), id="exp-not-number"
    ),
    pytest.param(
        FailureCase(lambda: hs_token(secret=OTHER_SECRET), AuthFailure.BAD_SIGNATURE),
        id="hs256-other-secret",
    ),
    pytest.param(
        FailureCase(lambda: rs_token(key=OTHER_RSA_KEY), AuthFailure.BAD_SIGNATURE, "jwks"),
        id="rs256-other-key-same-kid",
    ),
    pytest.param(
        FailureCase(lambda: es_token(key=OTHER_EC_KEY), AuthFailure.BAD_SIGNATURE, "jwks"),
        id="es256-other-key-same-kid",
    ),
    pytest.param(FailureCase(tampered_payload, AuthFailure.BAD_SIGNATURE), id="tampered-payload"),
    pytest.param(
        FailureCase(alg_none_token, AuthFailure.ALGORITHM_NOT_ALLOWED), id="alg-none-hs-config"
    ),
    pytest.param(
        FailureCase(lambda: alg_none_token("None"), AuthFailure.ALGORITHM_NOT_ALLOWED),
        id="alg-None-capitalised",
    ),
    pytest.param(
        FailureCase(alg_none_token, AuthFailure.ALGORITHM_NOT_ALLOWED, "jwks"),
        id="alg-none-jwks-config",
    ),
    pytest.param(
        FailureCase(hs256_signed_with_rsa_public_pem, AuthFailure.ALGORITHM_NOT_ALLOWED, "jwks"),
        id="key-confusion-hs256-with-public-pem",
    ),
    pytest.param(
        FailureCase(lambda: hs_token(SECRET * 2, "HS512"), AuthFailure.ALGORITHM_NOT_ALLOWED),
        id="hs512-not-configured",
    ),
    pytest.param(
        FailureCase(lambda: rs_token(), AuthFailure.ALGORITHM_NOT_ALLOWED), id="rs256-vs-hs-only"
    ),
    pytest.param(
        FailureCase(
            lambda: es_token(kid="rsa-1"),
            AuthFailure.ALGORITHM_NOT_ALLOWED,
            "jwks",
            {"algorithms": ("RS256", "ES256")},
        ),
        id="es256-naming-an-rsa-kid",
    ),
    pytest.param(
        FailureCase(lambda: hs_token(exp=int(time.time()) - 10), AuthFailure.EXPIRED), id="expired"
    ),
    pytest.param(
        FailureCase(lambda: rs_token(exp=int(time.time()) - 10), AuthFailure.EXPIRED, "jwks"),
        id="expired-rs256",
    ),
    pytest.param(
        FailureCase(lambda: hs_token(nbf=int(time.time()) + 600), AuthFailure.NOT_YET_VALID),
        id="nbf-in-future",
    ),
    pytest.param(
        FailureCase(lambda: hs_token(iat=int(time.time()) + 600), AuthFailure.NOT_YET_VALID),
        id="iat-in-future",
    ),
    pytest.param(
        FailureCase(
            lambda: hs_token(aud="billing"),
            AuthFailure.WRONG_AUDIENCE,
            options={"audience": "chat"},
        ),
        id="wrong-aud",
    ),
    pytest.param(
        FailureCase(lambda: hs_token(), AuthFailure.WRONG_AUDIENCE, options={"audience": "chat"}),
        id="missing-aud",
    ),
    pytest.param(
        FailureCase(
            lambda: hs_token(iss="https://evil.test"),
            AuthFailure.WRONG_ISSUER,
            options={"issuer": "https://idp.test"},
        ),
        id="wrong-iss",
    ),
    pytest.param(
        FailureCase(
            lambda: hs_token(), AuthFailure.WRONG_ISSUER, options={"issuer": "https://idp.test"}
        ),
        id="missing-iss",
    ),
    pytest.param(
        FailureCase(lambda: hs_token(sub=DROP), AuthFailure.MISSING_SUBJECT), id="missing-sub"
    ),
    pytest.param(
        FailureCase(lambda: hs_token(sub=""), AuthFailure.MISSING_SUBJECT), id="empty-sub"
    ),
    pytest.param(
        FailureCase(lambda: hs_token(sub=42), AuthFailure.MISSING_SUBJECT), id="non-string-sub"
    ),
    pytest.param(
        FailureCase(lambda: hs_token(sub="a\x00b"), AuthFailure.INVALID_SUBJECT), id="nul-in-sub"
    ),
    pytest.param(
        FailureCase(lambda: rs_token(kid="rotated-away"), AuthFailure.UNKNOWN_KEY, "jwks"),
        id="unknown-kid",
    ),
    pytest.param(
        FailureCase(
            lambda: rs_token(kid=None, alg="PS256"),
            AuthFailure.ALGORITHM_NOT_ALLOWED,
            "jwks",
        ),
        id="ps256-not-configured",
    ),
]


@pytest.mark.parametrize("case", FAILURE_CASES)
async def test__verify__bad_token__fails_with_reason_and_hides_token(
    case: FailureCase, jwks_path: Path
) -> None:
    token = case.token()
    verifier = TokenVerifier(settings_for(case.keys, jwks_path, **case.options))

    failure = await failure_of(verifier, token)

    assert failure.failure is case.failure
    assert failure.detail
    if token:
        assert token not in failure.detail
        assert token not in str(failure)
        signature = token.split(".")[-1]
        if len(signature) >= 16:
            assert signature not in failure.detail


def test__failure_cases__cover_every_token_failure() -> None:
    covered = {cast(FailureCase, param.values[0]).failure for param in FAILURE_CASES}
    not_about_tokens = {AuthFailure.INVALID_TICKET, AuthFailure.JWKS_UNAVAILABLE}
    assert covered == set(AuthFailure) - not_about_tokens


# --- leeway -----------------------------------------------------------------


async def test__verify__expired_within_leeway__accepted() -> None:
    token = hs_token(exp=int(time.time()) - 30)
    assert await TokenVerifier(AuthSettings(secret=SECRET, leeway_seconds=600)).verify(token)
    failure = await failure_of(TokenVerifier(AuthSettings(secret=SECRET)), token)
    assert failure.failure is AuthFailure.EXPIRED


async def test__verify__nbf_within_leeway__accepted() -> None:
    token = hs_token(nbf=int(time.time()) + 30)
    principal = await TokenVerifier(AuthSettings(secret=SECRET, leeway_seconds=600)).verify(token)
    assert principal.user_id == "alice"
    failure = await failure_of(TokenVerifier(AuthSettings(secret=SECRET)), token)
    assert failure.failure is AuthFailure.NOT_YET_VALID


# --- JWKS: parsing, file, URL, cache, rotation, outages ---------------------


def test__parse_jwks__unusable_entries__skipped() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private_jwk = json.loads(RSAAlgorithm.to_jwk(OTHER_RSA_KEY))
    document = jwks_document(
        jwk(RSA_KEY.public_key(), "good"),
        {"kty": "oct", "k": b64url(SECRET.encode()), "kid": "symmetric"},
        jwk(EC_KEY.public_key(), "encryption", use="enc"),
        jwk(weak.public_key(), "weak"),
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {**private_jwk, "kid": "private"},
        "not-an-object",  # type: ignore[arg-type]
    )

    keys = parse_jwks(json.dumps(document).encode())

    assert [key.kid for key in keys] == ["good", "private"]
    assert isinstance(keys[1].key, rsa.RSAPublicKey)


@pytest.mark.parametrize("document", [b"not json", b"[]", b'{"keys": {}}'])
def test__parse_jwks__not_a_jwks__raises_value_error(document: bytes) -> None:
    with pytest.raises(ValueError, match=r"JWKS|Expecting"):
        parse_jwks(document)


async def test__verify__jwk_pins_another_alg__algorithm_not_allowed(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_document(jwk(RSA_KEY.public_key(), "rsa-1", alg="RS256"))))
    verifier = TokenVerifier(AuthSettings(jwks_file=path, algorithms=("RS256", "PS256")))

    assert (await verifier.verify(rs_token(alg="RS256"))).user_id == "alice"
    failure = await failure_of(verifier, rs_token(alg="PS256"))
    assert failure.failure is AuthFailure.ALGORITHM_NOT_ALLOWED


async def test__verify__no_kid_and_two_fitting_keys__unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    document = jwks_document(jwk(RSA_KEY.public_key(), "a"), jwk(OTHER_RSA_KEY.public_key(), "b"))
    path.write_text(json.dumps(document))
    failure = await failure_of(TokenVerifier(AuthSettings(jwks_file=path)), rs_token(kid=None))
    assert failure.failure is AuthFailure.UNKNOWN_KEY


@pytest.mark.parametrize("content", [None, "not json", '{"no": "keys"}'])
async def test__verify__jwks_file_unreadable__jwks_unavailable(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    failure = await failure_of(TokenVerifier(AuthSettings(jwks_file=path)), rs_token())
    assert failure.failure is AuthFailure.JWKS_UNAVAILABLE


async def test__verify__jwks_file_rotated__new_kid_found_by_refetch(jwks_path: Path) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_file=jwks_path, jwks_min_refetch_seconds=0))
    assert await verifier.verify(rs_token())
    rotated = json.dumps(jwks_document(jwk(OTHER_RSA_KEY.public_key(), "rsa-2")))
    await asyncio.to_thread(jwks_path.write_text, rotated)

    principal = await verifier.verify(rs_token(key=OTHER_RSA_KEY, kid="rsa-2"))

    assert principal.user_id == "alice"


class JwksEndpoint:
    """A JWKS URL behind httpx.MockTransport: the identity provider is third-party."""

    url = "https://idp.test/.well-known/jwks.json"

    def __init__(self, document: Mapping[str, Any] = DEFAULT_JWKS) -> None:
        self.document = document
        self.status = 200
        self.requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == self.url
        self.requests += 1
        return httpx.Response(self.status, json=self.document)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[JwksEndpoint, httpx.AsyncClient]]:
    served = JwksEndpoint()
    async with httpx.AsyncClient(transport=httpx.MockTransport(served.handle)) as client:
        yield served, client


def url_verifier(
    client: httpx.AsyncClient, clock: FakeClock, *, cache: float = 300, refetch: float = 30
) -> TokenVerifier:
    settings = AuthSettings(
        jwks_url=JwksEndpoint.url, jwks_cache_seconds=cache, jwks_min_refetch_seconds=refetch
    )
    return TokenVerifier(settings, client, clock=clock)


async def test__verify__jwks_url__fetched_once_and_cached(
    endpoint: tuple[JwksEndpoint, httpx.AsyncClient],
) -> None:
    served, client = endpoint
    clock = FakeClock()
    verifier = url_verifier(client, clock)

    assert (await verifier.verify(rs_token())).user_id == "alice"
    assert (await verifier.verify(es_token())).user_id == "alice"
    assert served.requests == 1

    clock.advance(301)
    assert await verifier.verify(rs_token())
    assert served.requests == 2


async def test__verify__jwks_url_concurrent_first_use__one_fetch(
    endpoint: tuple[JwksEndpoint, httpx.AsyncClient],
) -> None:
    served, client = endpoint
    verifier = url_verifier(client, FakeClock())

    principals = await asyncio.gather(*(verifier.verify(rs_token()) for _ in range(5)))

    assert [p.user_id for p in principals] == ["alice"] * 5
    assert served.requests == 1


async def test__verify__unknown_kid__refetched_once_then_rate_limited(
    endpoint: tuple[JwksEndpoint, httpx.AsyncClient],
) -> None:
    served, client = endpoint
    clock = FakeClock()
    verifier = url_verifier(client, clock, refetch=30)
    assert await verifier.verify(rs_token())
    clock.advance(31)

    # The issuer rotates to a new key: one refetch finds it.
    served.document = jwks_document(jwk(OTHER_RSA_KEY.public_key(), "rsa-2"))
    assert await verifier.verify(rs_token(key=OTHER_RSA_KEY, kid="rsa-2"))
    assert served.requests == 2

    # Made-up kids do not reach the endpoint again within the interval.
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        failure = await failure_of(verifier, rs_token(kid=kid))
        assert failure.failure is AuthFailure.UNKNOWN_KEY
    assert served.requests == 2

    clock.advance(31)
    failure = await failure_of(verifier, rs_token(kid="made-up-4"))
    assert failure.failure is AuthFailure.UNKNOWN_KEY
    assert served.requests == 3


async def test__verify__jwks_url_down_after_first_fetch__stale_keys_still_used(
    endpoint: tuple[JwksEndpoint, httpx.AsyncClient],
) -> None:
    served, client = endpoint
    clock = FakeClock()
    verifier = url_verifier(client, clock)
    assert await verifier.verify(rs_token())

    served.status = 503
    clock.advance(301)

    assert (await verifier.verify(rs_token())).user_id == "alice"
    assert served.requests == 2


async def test__verify__jwks_url_down_from_start__unavailable_and_rate_limited(
    endpoint: tuple[JwksEndpoint, httpx.AsyncClient],
) -> None:
    served, client = endpoint
    served.status = 500
    clock = FakeClock()
    verifier = url_verifier(client, clock)

    for _ in range(3):
        failure = await failure_of(verifier, rs_token())
        assert failure.failure is AuthFailure.JWKS_UNAVAILABLE
    assert served.requests == 1

    served.status = 200
    clock.advance(31)
    assert (await verifier.verify(rs_token())).user_id == "alice"


async def test__verify__first_fetch_cancelled__next_handshake_fetches_again() -> None:
    requests = 0
    first_request_seen, never = asyncio.Event(), asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal requests
        requests += 1
        if requests == 1:
            first_request_seen.set()
            await never.wait()  # the client hangs up before the IdP answers
        return httpx.Response(200, json=DEFAULT_JWKS)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        verifier = url_verifier(client, FakeClock())
        abandoned = asyncio.create_task(verifier.verify(rs_token()))
        await first_request_seen.wait()
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned

        assert (await verifier.verify(rs_token())).user_id == "alice"
        assert requests == 2


@pytest.fixture
def jwks_http_server() -> Iterator[str]:
    """Serve DEFAULT_JWKS over real HTTP on a free 127.0.0.1 port."""
    body = json.dumps(DEFAULT_JWKS).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def test__verify__jwks_url_without_client__fetches_over_http(jwks_http_server: str) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_url=jwks_http_server))
    assert (await verifier.verify(es_token())).user_id == "alice"


# --- tickets ----------------------------------------------------------------


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    prefix = f"test:auth:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def ticket_store(request: pytest.FixtureRequest) -> TicketStore:
    if request.param == "memory":
        return MemoryTicketStore()
    client = request.getfixturevalue("redis_client")
    return RedisTicketStore(client, request.getfixturevalue("redis_prefix"))


PRINCIPAL = Principal(user_id="alice", expires_at=None, claims={"role": "admin", "n": [1, 2]})


async def test__ticket__issue_then_redeem__returns_principal(ticket_store: TicketStore) -> None:
    ticket = await ticket_store.issue(PRINCIPAL)

    assert len(ticket) >= 43
    assert ticket.replace("-", "").replace("_", "").isalnum()
    assert await ticket_store.redeem(ticket) == PRINCIPAL


async def test__ticket__issued_twice__distinct(ticket_store: TicketStore) -> None:
    assert await ticket_store.issue(PRINCIPAL) != await ticket_store.issue(PRINCIPAL)


async def test__ticket__redeemed_twice__second_invalid(ticket_store: TicketStore) -> None:
    ticket = await ticket_store.issue(PRINCIPAL)
    await ticket_store.redeem(ticket)

    with pytest.raises(AuthenticationFailed) as caught:
        await ticket_store.redeem(ticket)

    assert caught.value.failure is AuthFailure.INVALID_TICKET
    assert ticket not in caught.value.detail


@pytest.mark.parametrize("ticket", ["", "never-issued", "x" * 500, "bad ticket\r\n"])
async def test__ticket__unknown__invalid(ticket_store: TicketStore, ticket: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await ticket_store.redeem(ticket)
    assert caught.value.failure is AuthFailure.INVALID_TICKET


async def test__memory_ticket__after_ttl__invalid() -> None:
    clock = FakeClock()
    store = MemoryTicketStore(ttl_seconds=30, clock=clock)
    kept, lost = await store.issue(PRINCIPAL), await store.issue(PRINCIPAL)
    clock.advance(29)
    assert await store.redeem(kept) == PRINCIPAL
    clock.advance(1)

    with pytest.raises(AuthenticationFailed) as caught:
        await store.redeem(lost)

    assert caught.value.failure is AuthFailure.INVALID_TICKET


async def test__memory_ticket__expired_entries__pruned_on_issue() -> None:
    clock = FakeClock()
    store = MemoryTicketStore(ttl_seconds=30, clock=clock)
    for _ in range(10):
        await store.issue(PRINCIPAL)
    clock.advance(31)
    await store.issue(PRINCIPAL)
    assert len(store._tickets) == 1


async def test__redis_ticket__stored_with_ttl_and_hashed_key(
    redis_client: redis.asyncio.Redis, redis_prefix: str
) -> None:
    store = RedisTicketStore(redis_client, redis_prefix, ttl_seconds=30)
    ticket = await store.issue(PRINCIPAL)

    keys = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}*")]
    assert len(keys) == 1
    assert ticket.encode() not in keys[0]
    value = await redis_client.get(keys[0])
    assert isinstance(value, bytes)
    assert ticket.encode() not in value
    assert 0 < await redis_client.pttl(keys[0]) <= 30_000


async def test__redis_ticket__after_ttl__invalid(
    redis_client: redis.asyncio.Redis, redis_prefix: str
) -> None:
    store = RedisTicketStore(redis_client, redis_prefix, ttl_seconds=0.05)
    ticket = await store.issue(PRINCIPAL)
    # Sleeping past the TTL only makes the ticket more expired: no timing race.
    await asyncio.sleep(0.3)

    with pytest.raises(AuthenticationFailed) as caught:
        await store.redeem(ticket)

    assert caught.value.failure is AuthFailure.INVALID_TICKET


async def test__redis_ticket__two_nodes_race__exactly_one_wins(
    redis_url: str, redis_prefix: str
) -> None:
    nodes = [redis.asyncio.from_url(redis_url) for _ in range(2)]
    try:
        stores = [RedisTicketStore(node, redis_prefix) for node in nodes]
        ticket = await stores[0].issue(PRINCIPAL)

        results = await asyncio.gather(
            *(stores[i % 2].redeem(ticket) for i in range(10)), return_exceptions=True
        )

        assert results.count(PRINCIPAL) == 1
        assert all(
            isinstance(r, AuthenticationFailed) and r.failure is AuthFailure.INVALID_TICKET
            for r in results
            if r != PRINCIPAL
        )
    finally:
        for node in nodes:
            await node.aclose()


async def test__redis_ticket__decoding_client__works(redis_url: str, redis_prefix: str) -> None:
    client = redis.asyncio.from_url(redis_url, decode_responses=True)
    try:
        store = RedisTicketStore(client, redis_prefix)
        assert await store.redeem(await store.issue(PRINCIPAL)) == PRINCIPAL
    finally:
        await client.aclose()


@pytest.mark.parametrize("ttl", [0, -1])
def test__ticket_stores__non_positive_ttl__value_error(
    redis_client: redis.asyncio.Redis, ttl: float
) -> None:
    with pytest.raises(ValueError, match="ttl"):
        MemoryTicketStore(ttl_seconds=ttl)
    with pytest.raises(ValueError, match="ttl"):
        RedisTicketStore(redis_client, "p:", ttl_seconds=ttl)


# --- handshake credentials --------------------------------------------------


def test__extract__authorization_header__token() -> None:
    credentials = extract_credentials({"authorization": "Bearer abc.def.ghi"}, {}, ["v3"])
    assert credentials == Credentials(token="abc.def.ghi", ticket=None, subprotocols=["v3"])


def test__extract__lower_case_scheme__token() -> None:
    assert extract_credentials({"authorization": "bearer  t1"}, {}, []).token == "t1"


def test__extract__bearer_subprotocol__token_and_entry_stripped() -> None:
    offered = ["agentsocket.v3", "bearer.abc.def.ghi", "agentsocket.v2"]

    credentials = extract_credentials({}, {}, offered)

    assert credentials.token == "abc.def.ghi"
    assert credentials.ticket is None
    assert credentials.subprotocols == ["agentsocket.v3", "agentsocket.v2"]
    assert not any("abc" in entry for entry in credentials.subprotocols)


def test__extract__capitalised_bearer_subprotocol__also_stripped() -> None:
    credentials = extract_credentials({}, {}, ["Bearer.tok", "v3"])
    assert credentials.token == "tok"
    assert credentials.subprotocols == ["v3"]


def test__extract__ticket_query__ticket() -> None:
    credentials = extract_credentials({}, {"ticket": "tkt", "v": "3"}, ["v3"])
    assert credentials == Credentials(token=None, ticket="tkt", subprotocols=["v3"])


def test__extract__nothing__empty_credentials() -> None:
    assert extract_credentials({"host": "x"}, {}, ["v3"]) == Credentials(subprotocols=["v3"])


@pytest.mark.parametrize(
    ("headers", "query", "subprotocols"),
    [
        pytest.param(
            {"authorization": "Bearer tok1"}, {}, ["bearer.tok2"], id="header+subprotocol"
        ),
        pytest.param({"authorization": "Bearer tok1"}, {"ticket": "tkt1"}, [], id="header+ticket"),
        pytest.param({}, {"ticket": "tkt1"}, ["bearer.tok1"], id="subprotocol+ticket"),
        pytest.param({}, {}, ["bearer.tok1", "bearer.tok2"], id="two-subprotocols"),
        pytest.param({"authorization": "Bearer tok1"}, {}, ["bearer.tok1"], id="same-token-twice"),
    ],
)
def test__extract__several_sources__malformed_and_hides_tokens(
    headers: dict[str, str], query: dict[str, str], subprotocols: list[str]
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        extract_credentials(headers, query, subprotocols)

    assert caught.value.failure is AuthFailure.MALFORMED_TOKEN
    for secret in ("tok1", "tok2", "tkt1"):
        assert secret not in caught.value.detail
        assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "query", "subprotocols"),
    [
        pytest.param({"authorization": "Basic dXNlcjpwYXNz"}, {}, [], id="basic-scheme"),
        pytest.param({"authorization": "Bearer "}, {}, [], id="empty-bearer"),
        pytest.param({"authorization": ""}, {}, [], id="empty-header"),
        pytest.param({}, {}, ["bearer."], id="empty-subprotocol-token"),
        pytest.param({}, {"ticket": ""}, [], id="empty-ticket"),
    ],
)
def test__extract__empty_or_foreign_credential__malformed(
    headers: dict[str, str], query: dict[str, str], subprotocols: list[str]
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        extract_credentials(headers, query, subprotocols)
    assert caught.value.failure is AuthFailure.MALFORMED_TOKEN
    assert "dXNlcjpwYXNz" not in caught.value.detail


def test__credentials__repr__hides_token_and_ticket() -> None:
    text = repr(Credentials(token="tok-secret", ticket="tkt-secret", subprotocols=["v3"]))
    assert "tok-secret" not in text
    assert "tkt-secret" not in text
    assert "v3" in text


def test__safe_subprotocols__drops_only_bearer_entries() -> None:
    offered = ["v3", "bearer.x", "BEARER.y", "bearerish", "v2"]
    assert safe_subprotocols(offered) == ["v3", "bearerish", "v2"]


# --- authenticate -----------------------------------------------------------


async def test__authenticate__token__verified() -> None:
    verifier = TokenVerifier(AuthSettings(secret=SECRET))
    credentials = extract_credentials({}, {}, ["v3", f"bearer.{hs_token(sub='dave')}"])

    principal = await authenticate(credentials, verifier, MemoryTicketStore())

    assert principal.user_id == "dave"


async def test__authenticate__bad_token__failure_without_token() -> None:
    verifier = TokenVerifier(AuthSettings(secret=SECRET))
    token = hs_token(secret=OTHER_SECRET)
    credentials = extract_credentials({"authorization": f"Bearer {token}"}, {}, [])

    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate(credentials, verifier, MemoryTicketStore())

    assert caught.value.failure is AuthFailure.BAD_SIGNATURE
    assert token not in caught.value.detail


async def test__authenticate__ticket__redeemed_once() -> None:
    verifier = TokenVerifier(AuthSettings(secret=SECRET))
    tickets = MemoryTicketStore()
    principal = await verifier.verify(hs_token(sub="erin"))
    credentials = extract_credentials({}, {"ticket": await tickets.issue(principal)}, [])

    assert await authenticate(credentials, verifier, tickets) == principal
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate(credentials, verifier, tickets)
    assert caught.value.failure is AuthFailure.INVALID_TICKET


async def test__authenticate__ticket_outlived_its_token__expired() -> None:
    tickets = MemoryTicketStore()
    stale = Principal(user_id="frank", expires_at=time.time() - 5)
    credentials = Credentials(ticket=await tickets.issue(stale))

    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate(credentials, TokenVerifier(AuthSettings(secret=SECRET)), tickets)

    assert caught.value.failure is AuthFailure.EXPIRED


async def test__authenticate__nothing__missing_token() -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate(
            extract_credentials({}, {}, ["v3"]),
            TokenVerifier(AuthSettings(secret=SECRET)),
            MemoryTicketStore(),
        )
    assert caught.value.failure is AuthFailure.MISSING_TOKEN


async def test__authenticate__token_and_ticket__malformed() -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate(
            Credentials(token="t", ticket="k"),
            TokenVerifier(AuthSettings(secret=SECRET)),
            MemoryTicketStore(),
        )
    assert caught.value.failure is AuthFailure.MALFORMED_TOKEN


# --- dev tokens, principal, exports -----------------------------------------


async def test__issue_token__verifies_with_the_same_settings() -> None:
    settings = AuthSettings(secret=SECRET, audience="chat", issuer="dev")
    token = issue_token(
        SECRET, "grace", ttl_seconds=120, audience="chat", issuer="dev", extra_claims={"tier": 2}
    )

    principal = await TokenVerifier(settings).verify(token)

    assert principal.user_id == "grace"
    assert principal.claims["exp"] - principal.claims["iat"] in (120, 121)
    assert principal.claims["tier"] == 2
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


async def test__issue_token__negative_ttl__expired() -> None:
    token = issue_token(SECRET, "henry", ttl_seconds=-60)
    failure = await failure_of(TokenVerifier(AuthSettings(secret=SECRET)), token)
    assert failure.failure is AuthFailure.EXPIRED


@pytest.mark.parametrize(("secret", "user_id"), [("short", "u"), (SECRET, "")])
def test__issue_token__bad_input__value_error(secret: str, user_id: str) -> None:
    with pytest.raises(ValueError, match=r"secret|user_id"):
        issue_token(secret, user_id)


def test__principal__claims__read_only_copy() -> None:
    source = {"role": "admin"}
    principal = Principal(user_id="ivy", expires_at=1.0, claims=source)
    source["role"] = "root"

    assert principal.claims["role"] == "admin"
    with pytest.raises(TypeError):
        principal.claims["role"] = "root"  # type: ignore[index]
    assert hash(principal) == hash(Principal(user_id="ivy", expires_at=1.0))


@pytest.mark.parametrize("user_id", ["", 42])
def test__principal__bad_user_id__value_error(user_id: Any) -> None:
    with pytest.raises(ValueError, match="user_id"):
        Principal(user_id=user_id)


def test__authentication_failed__carries_reason_and_detail() -> None:
    error = AuthenticationFailed(AuthFailure.EXPIRED, "the token has expired")
    assert error.failure == "expired"
    assert error.detail == "the token has expired"
    assert str(error) == "expired: the token has expired"


def test__package__all_is_complete() -> None:
    public = {
        name
        for name, value in vars(auth_package).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("agentsocket.server.auth.")
    }
    assert public <= set(auth_package.__all__)
    assert all(hasattr(auth_package, name) for name in auth_package.__all__)
