"""Public keys from a JWKS file or URL, cached, refetched at a bounded rate.

RFC 7517 (JSON Web Key). Only signature keys with a public part are kept:
symmetric (``kty: oct``) entries are dropped so that a JWKS can never turn an
HS* token into one verified with a published key.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ec import (
    EllipticCurvePrivateKey,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt import PyJWK, PyJWTError

from agentsocket.server.auth.errors import AuthenticationFailed, AuthFailure
from agentsocket.server.auth.settings import AuthSettings

PublicKeyType = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
_PrivateKeyType = RSAPrivateKey | EllipticCurvePrivateKey | Ed25519PrivateKey | Ed448PrivateKey

_log = logging.getLogger(__name__)
_FETCH_TIMEOUT_SECONDS = 5.0
_MIN_RSA_BITS = 2048
_EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}


@dataclass(frozen=True)
class JwksKey:
    """One verification key of a JWKS.

    Attributes:
        kid: The key id tokens name in their header, if the JWK has one.
        alg: The algorithm the JWK pins itself to, if any.
        key: The public key.
    """

    kid: str | None
    alg: str | None
    key: PublicKeyType

    def fits(self, alg: str) -> bool:
        """Whether this key may verify a token signed with ``alg``."""
        if self.alg is not None and self.alg != alg:
            return False
        key = self.key
        if alg.startswith(("RS", "PS")):
            return isinstance(key, RSAPublicKey)
        if alg in _EC_CURVES:
            return isinstance(key, EllipticCurvePublicKey) and key.curve.name == _EC_CURVES[alg]
        if alg == "EdDSA":
            return isinstance(key, Ed25519PublicKey | Ed448PublicKey)
        return False


def parse_jwks(document: bytes) -> list[JwksKey]:
    """Read the usable signature keys of a JWKS document.

    Unusable entries (symmetric, encryption-only, RSA under 2048 bits, not
    understood) are skipped with a warning rather than failing the whole set.

    Raises:
        ValueError: The document is not a JSON object with a ``keys`` list.
    """
    data = json.loads(document)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("a JWKS must be a JSON object with a 'keys' list")
    keys: list[JwksKey] = []
    for entry in data["keys"]:
        key = _parse_entry(entry) if isinstance(entry, dict) else None
        if key is not None:
            keys.append(key)
    return keys


def _parse_entry(entry: dict[str, Any]) -> JwksKey | None:
    kid = entry.get("kid")
    kid = kid if isinstance(kid, str) else None
    if entry.get("kty") == "oct" or entry.get("use", "sig") != "sig":
        return None
    try:
        key: Any = PyJWK(entry).key
    except PyJWTError:
        _log.warning("skipping a JWKS key that cannot be read (kid=%r)", kid)
        return None
    if isinstance(key, _PrivateKeyType):
        key = key.public_key()
    if not isinstance(key, PublicKeyType):
        return None
    if isinstance(key, RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
        _log.warning("skipping a %d-bit RSA key (kid=%r)", key.key_size, kid)
        return None
    alg = entry.get("alg")
    return JwksKey(kid=kid, alg=alg if isinstance(alg, str) else None, key=key)


class JwksKeys:
    """The keys of the configured JWKS, loaded lazily and cached.

    Reads happen at most once per ``jwks_min_refetch_seconds``, whether they
    were triggered by the cache expiring or by an unknown ``kid``. When a read
    fails, the previous keys stay in use: a JWKS outage should not lock every
    user out.
    """

    def __init__(
        self,
        settings: AuthSettings,
        http_client: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], float],
    ) -> None:
        if settings.jwks_file is None and settings.jwks_url is None:
            raise ValueError("the settings name no JWKS file or URL")
        self._settings = settings
        self._http = http_client
        self._clock = clock
        self._lock = asyncio.Lock()
        self._keys: list[JwksKey] | None = None
        self._loaded_at = 0.0
        self._attempted_at: float | None = None

    async def find(self, kid: str | None, alg: str) -> JwksKey:
        """Return the key that verifies a token with this header.

        A token without ``kid`` is accepted only when exactly one key fits its
        algorithm. An unknown ``kid`` triggers one (rate-limited) refetch, in
        case the issuer rotated its keys.

        Raises:
            AuthenticationFailed: ``unknown_key``, ``algorithm_not_allowed``
                (the ``kid`` names a key of another type) or ``jwks_unavailable``.
        """
        keys = await self._load(refetch=False)
        try:
            return _select(keys, kid, alg)
        except AuthenticationFailed as exc:
            if exc.failure is not AuthFailure.UNKNOWN_KEY:
                raise
        refreshed = await self._load(refetch=True)
        return _select(refreshed, kid, alg)

    async def _load(self, *, refetch: bool) -> list[JwksKey]:
        if not refetch and self._fresh():
            assert self._keys is not None
            return self._keys
        async with self._lock:
            # Another task may have read the JWKS while this one waited.
            if not refetch and self._fresh():
                assert self._keys is not None
                return self._keys
            recently = (
                self._attempted_at is not None
                and self._clock() - self._attempted_at < self._settings.jwks_min_refetch_seconds
            )
            if not recently:
                await self._read_into_cache()
            if self._keys is None:
                # The source stays in the server log: it may name internal hosts.
                raise AuthenticationFailed(
                    AuthFailure.JWKS_UNAVAILABLE, "the signing keys cannot be read right now"
                )
            return self._keys

    def _fresh(self) -> bool:
        age = self._clock() - self._loaded_at
        return self._keys is not None and age < self._settings.jwks_cache_seconds

    async def _read_into_cache(self) -> None:
        started = self._clock()
        try:
            keys = parse_jwks(await self._read())
        except (OSError, httpx.HTTPError, ValueError) as exc:
            _log.warning("cannot read the JWKS from %s: %s", self._source, exc)
            self._attempted_at = started
            return
        # Recorded only on completion: a handshake cancelled mid-fetch must not
        # make everyone else wait out the refetch interval.
        self._attempted_at = started
        self._keys, self._loaded_at = keys, started

    async def _read(self) -> bytes:
        if self._settings.jwks_file is not None:
            return await asyncio.to_thread(self._settings.jwks_file.read_bytes)
        assert self._settings.jwks_url is not None
        if self._http is not None:
            return await _get(self._http, self._settings.jwks_url)
        async with httpx.AsyncClient() as client:
            return await _get(client, self._settings.jwks_url)

    @property
    def _source(self) -> str:
        return str(self._settings.jwks_file or self._settings.jwks_url)


async def _get(client: httpx.AsyncClient, url: str) -> bytes:
    response = await client.get(url, timeout=_FETCH_TIMEOUT_SECONDS, follow_redirects=True)
    response.raise_for_status()
    return response.content


def _select(keys: list[JwksKey], kid: str | None, alg: str) -> JwksKey:
    if kid is None:
        fitting = [key for key in keys if key.fits(alg)]
        if len(fitting) == 1:
            return fitting[0]
        raise AuthenticationFailed(
            AuthFailure.UNKNOWN_KEY,
            f"the token has no kid and {len(fitting)} JWKS keys fit {alg}",
        )
    named = [key for key in keys if key.kid == kid]
    if not named:
        raise AuthenticationFailed(AuthFailure.UNKNOWN_KEY, f"no JWKS key has kid {kid[:64]!r}")
    for key in named:
        if key.fits(alg):
            return key
    raise AuthenticationFailed(
        AuthFailure.ALGORITHM_NOT_ALLOWED, f"the key {kid[:64]!r} cannot verify {alg}"
    )
