"""``Receiver``: verify one QStash signature against the keys resolved for its region."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from .config import QStashConfig, load_config
from .env import normalize_region
from .errors import (
    BodyMismatchError,
    ConfigError,
    ExpiredError,
    InvalidClaimsError,
    InvalidIssuerError,
    MissingSignatureError,
    NotYetValidError,
    UrlMismatchError,
)
from .jws import b64url, verify_hs256
from .message import VerifiedMessage

__all__ = ["MAX_CLOCK_TOLERANCE", "Body", "Receiver", "body_hash", "check_tolerance"]

ISSUER = "Upstash"

Body = bytes | bytearray | memoryview | str


def body_hash(body: Body) -> str:
    """Unpadded base64url SHA-256 of the raw body (``str`` is hashed as UTF-8)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return b64url(hashlib.sha256(raw).digest())


#: The largest ``clock_tolerance`` accepted, in seconds: one day. QStash tokens live 5 minutes
#: by default; a tolerance on that scale covers any real clock skew, while a larger one keeps an
#: expired or not-yet-valid token valid for longer than a day, so ``exp`` stops meaning anything.
MAX_CLOCK_TOLERANCE = 86_400


def check_tolerance(clock_tolerance: float) -> None:
    """Refuse a tolerance that would weaken the time checks.

    Accepted: an ``int`` or ``float`` from 0 to :data:`MAX_CLOCK_TOLERANCE` (one day) seconds.

    Raises:
        TypeError: not an ``int`` or ``float`` (a ``bool`` included).
        ValueError: negative, NaN (every comparison with NaN is false, which would pass every
            time check), infinite (no token would ever expire) or over one day.
    """
    if isinstance(clock_tolerance, bool) or not isinstance(clock_tolerance, (int, float)):
        raise TypeError("clock_tolerance must be a number of seconds (int or float)")
    if not 0 <= clock_tolerance <= MAX_CLOCK_TOLERANCE:  # False for NaN too
        raise ValueError(
            f"clock_tolerance must be a number of seconds from 0 to {MAX_CLOCK_TOLERANCE} "
            "(one day), not NaN or infinite"
        )


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidClaimsError(f"the {name} claim is missing or not a number")
    # Only floats can be non-finite (JSON 1e400); math.isfinite() overflows on huge ints.
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidClaimsError(f"the {name} claim is missing or not a number")
    return value


def check_claims(claims: Mapping[str, Any], now: float, tolerance: float) -> None:
    """Types, issuer and time window of verified claims (pyjwt's comparison rules)."""
    exp, nbf, iat = _number(claims, "exp"), _number(claims, "nbf"), _number(claims, "iat")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("body"), str):
        raise InvalidClaimsError("the sub or body claim is missing or not a string")
    if not isinstance(claims.get("jti", ""), str):
        raise InvalidClaimsError("the jti claim is not a string")
    if claims.get("aud"):  # QStash sets no audience; PyJWT (the Python SDK) refuses one too
        raise InvalidClaimsError("the token names an audience")
    if claims.get("iss") != ISSUER:
        raise InvalidIssuerError()
    if exp <= now - tolerance:
        raise ExpiredError()
    if nbf > now + tolerance or iat > now + tolerance:
        raise NotYetValidError()


class Receiver:
    """Verifies ``Upstash-Signature`` headers; a superset of ``qstash.Receiver``.

    Args:
        current_signing_key: with ``next_signing_key``, keys to use for every request
            (dev mode, ``QSTASH_DEV``, still takes precedence as in the official SDKs).
        next_signing_key: tried only when the signature does not match the current key.
        config: a :class:`QStashConfig` from :func:`load_config`; keys are then chosen per
            request from the ``Upstash-Region`` header (migration mode).
        clock: seconds since the epoch; injectable for tests.

    With neither keys nor ``config``, the configuration is read from the process environment
    (``load_config()``) on first use, so a bad environment surfaces per request (500) rather
    than as an import-time crash.

    Raises:
        ConfigError: keys and ``config`` are both given, or only one key is given.
    """

    __slots__ = ("_clock", "_config", "_keys")

    def __init__(
        self,
        current_signing_key: str | None = None,
        next_signing_key: str | None = None,
        *,
        config: QStashConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (current_signing_key is None) != (next_signing_key is None):
            raise ConfigError("pass both current_signing_key and next_signing_key, or neither")
        if config is not None and current_signing_key is not None:
            raise ConfigError("pass signing keys or a config, not both")
        self._keys = (current_signing_key, next_signing_key)
        self._config = config
        self._clock = clock

    @property
    def config(self) -> QStashConfig:
        """The configuration in use, resolved on first access when not given.

        Raises:
            ConfigError: the environment is invalid (see :func:`load_config`).
        """
        if self._config is None:
            current, nxt = self._keys
            self._config = load_config(current_signing_key=current, next_signing_key=nxt)
        return self._config

    def __repr__(self) -> str:
        state = "explicit keys" if self._keys[0] is not None else "configured"
        return f"Receiver({state})"

    def verify(
        self,
        *,
        signature: str,
        body: Body,
        url: str | None = None,
        clock_tolerance: float = 0,
        upstash_region: str | None = None,
    ) -> VerifiedMessage:
        """Verify one delivery and return it as a :class:`VerifiedMessage`.

        Args:
            signature: the ``Upstash-Signature`` header.
            body: the raw request body; ``bytes`` are hashed as they are, ``str`` as UTF-8.
            url: when given, the signed destination URL (``sub``) must equal it.
            clock_tolerance: seconds of clock skew accepted on ``exp``, ``nbf`` and ``iat``.
            upstash_region: the ``Upstash-Region`` header; selects the keys in migration mode.

        Raises:
            SignatureError: a subclass naming the failed check (``.reason``).
            ConfigError: no usable signing keys.
            ValueError: ``clock_tolerance`` is negative or NaN (a programming error).
        """
        if not signature:
            raise MissingSignatureError()
        check_tolerance(clock_tolerance)
        keys = self.config.keys_for(upstash_region)
        claims, used = verify_hs256(signature, keys.current.encoded, keys.next.encoded)
        check_claims(claims, self._clock(), clock_tolerance)
        signed_hash = claims["body"].rstrip("=")
        if not signed_hash.isascii() or not hmac.compare_digest(body_hash(body), signed_hash):
            raise BodyMismatchError()
        if url is not None and claims["sub"] != url:
            raise UrlMismatchError()
        return VerifiedMessage(
            body.encode("utf-8") if isinstance(body, str) else bytes(body),
            claims,
            keys.source,
            keys.region,
            used,
            normalize_region(upstash_region),
        )
