"""The CDS client's JWT, checked as CDS Hooks 2.0 requires ("Trusting CDS Clients").

Asymmetric signatures only (RS384, ES384; ``none`` and HMAC refused before any key is looked at),
``iss`` on an allowlist, the key by ``kid`` from a JWKS (a file, or a URL fetched and cached),
``aud`` equal to the URL called, ``exp``, ``iat`` and ``jti`` required, and a ``jti`` never
accepted twice while its token lives.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jwt

ALGORITHMS = ("RS384", "ES384")
_KEY_TYPES = {"RS384": "RSA", "ES384": "EC"}
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")


class CdsAuthError(Exception):
    """Why a CDS client's token was refused; ``kind`` is a bounded metrics label."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ReplayCache:
    """The ``jti`` of tokens already accepted, each kept until its token expires.

    Bounded in time (a token lives at most the verifier's maximum lifetime) and in size (past
    ``max_entries`` the entry expiring first is dropped).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def first_use(self, key: str, expires: float, now: float) -> bool:
        """Record ``key``; False when it was recorded before and has not expired."""
        with self._lock:
            while self._expiry and next(iter(self._expiry.values())) <= now:
                self._expiry.popitem(last=False)
            if key in self._expiry:
                return False
            while len(self._expiry) >= self.max_entries:
                self._expiry.popitem(last=False)
            # In order of arrival: with lifetimes bounded, that is nearly the order of expiry, and
            # an expired entry left behind a live one only costs memory until it reaches the front.
            self._expiry[key] = expires
            return True


class KeySet:
    """Public keys by ``kid``: a JWKS file read at start-up, or a URL fetched and cached."""

    def __init__(self, source: str, timeout_s: float = 5.0) -> None:
        self.source = source
        self._client: jwt.PyJWKClient | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        if source.startswith(("http://", "https://")):
            self._client = jwt.PyJWKClient(source, cache_keys=True, lifespan=300, timeout=timeout_s)
            return
        path = Path(source)
        try:
            keys = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ValueError(f"REDFLAG_CDS_JWKS: cannot read {path}: {error.strerror}") from None
        except jwt.PyJWKSetError as error:
            raise ValueError(f"REDFLAG_CDS_JWKS: {path} is not a usable JWKS: {error}") from None
        self._keys = {key.key_id: key for key in keys.keys if key.key_id}

    def key(self, kid: str) -> jwt.PyJWK:
        """The key ``kid``; CdsAuthError when the set has none."""
        if self._client is not None:
            try:
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientConnectionError as error:
                raise CdsAuthError("jwks", f"the JWKS could not be fetched: {error}") from None
            except jwt.PyJWKClientError:
                raise CdsAuthError("kid", f"no key '{kid}' in the JWKS") from None
        if kid not in self._keys:
            raise CdsAuthError("kid", f"no key '{kid}' in the JWKS")
        return self._keys[kid]


class CdsVerifier:
    """Checks a CDS client's bearer token for one audience (the URL it called)."""

    def __init__(
        self, issuers: frozenset[str], keys: KeySet, max_lifetime_s: float, leeway_s: float = 30
    ) -> None:
        self.issuers = issuers
        self.keys = keys
        self.max_lifetime_s = max_lifetime_s
        self.leeway_s = leeway_s
        self.replays = ReplayCache()

    def _header(self, token: str) -> tuple[str, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise CdsAuthError("malformed", "the bearer token is not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise CdsAuthError(
                "alg",
                f"alg '{alg}' refused: only {', '.join(ALGORITHMS)} (asymmetric) are accepted",
            )
        if not isinstance(kid, str) or not kid:
            raise CdsAuthError("kid", "the JWT header has no kid")
        return alg, kid

    def _issuer(self, token: str) -> str:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.DecodeError:
            raise CdsAuthError("malformed", "the JWT payload cannot be read") from None
        iss = claims.get("iss")
        if iss not in self.issuers:
            raise CdsAuthError("iss", f"issuer '{iss}' is not in REDFLAG_CDS_ISSUERS")
        return str(iss)

    def verify(self, token: str, audience: str, now: float | None = None) -> dict[str, Any]:
        """The token's claims; CdsAuthError saying what is wrong otherwise."""
        alg, kid = self._header(token)
        issuer = self._issuer(token)  # before any key lookup: an unknown issuer fetches nothing
        key = self.keys.key(kid)
        if key.key_type != _KEY_TYPES[alg]:
            raise CdsAuthError("alg", f"key '{kid}' is {key.key_type}, not a key for {alg}")
        claims = self._decode(token, key, alg, audience, issuer)
        now = time.time() if now is None else now
        if float(claims["exp"]) - float(claims["iat"]) > self.max_lifetime_s:
            raise CdsAuthError(
                "lifetime", f"the token lives over {self.max_lifetime_s:.0f} s (exp - iat)"
            )
        if not self.replays.first_use(f"{issuer} {claims['jti']}", float(claims["exp"]), now):
            raise CdsAuthError("replay", "jti already used: a token is accepted once")
        return claims

    def _decode(
        self, token: str, key: jwt.PyJWK, alg: str, audience: str, iss: str
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
            return claims
        except jwt.ExpiredSignatureError:
            raise CdsAuthError("expired", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise CdsAuthError("aud", f"aud is not this service's URL ({audience})") from None
        except jwt.MissingRequiredClaimError as error:
            raise CdsAuthError("claims", f"the token has no '{error.claim}' claim") from None
        except jwt.InvalidSignatureError:
            raise CdsAuthError("signature", "the signature does not verify") from None
        except jwt.PyJWTError as error:
            raise CdsAuthError("invalid", f"the token is not valid: {error}") from None
