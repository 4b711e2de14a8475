"""``Receiver``: verify one QStash signature against the keys resolved for its region."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import names as N
from .config import ConfigWarning, QStashConfig, SigningKeys, load_config
from .errors import (
    BodyMismatchError,
    ConfigError,
    ExpiredError,
    InvalidClaimsError,
    InvalidIssuerError,
    MalformedBodyError,
    MissingSignatureError,
    NotYetValidError,
    UrlMismatchError,
)
from .headers import Headers
from .jws import KeyUsed, b64url, verify_hs256
from .message import VerifiedMessage
from .names import normalize_region

__all__ = ["MAX_CLOCK_TOLERANCE", "Body", "Receiver", "body_hash", "check_tolerance", "raw_body"]

logger = logging.getLogger("qstash_receiver")

ISSUER = "Upstash"

Body = bytes | bytearray | memoryview | str


def body_hash(body: Body) -> str:
    """Unpadded base64url SHA-256 of the raw body (``str`` is hashed as UTF-8)."""
    raw = body if isinstance(body, bytes) else raw_body(body)
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
    if type(value) is int:  # what QStash sends: the one cheap test
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidClaimsError(name)
    # Only floats can be non-finite (JSON 1e400); math.isfinite() overflows on huge ints.
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidClaimsError(name)
    return value


def check_claims(claims: Mapping[str, Any], now: float, tolerance: float) -> None:
    """Types, issuer and time window of verified claims (pyjwt's comparison rules)."""
    exp, nbf, iat = _number(claims, "exp"), _number(claims, "nbf"), _number(claims, "iat")
    for name in ("sub", "body"):
        if not isinstance(claims.get(name), str):
            raise InvalidClaimsError(name)
    if not isinstance(claims.get("jti", ""), str):
        raise InvalidClaimsError("jti")
    if claims.get("aud"):  # QStash sets no audience; PyJWT (the Python SDK) refuses one too
        raise InvalidClaimsError("aud")
    if claims.get("iss") != ISSUER:
        raise InvalidIssuerError()
    if exp <= now - tolerance:
        raise ExpiredError()
    if nbf > now + tolerance:
        raise NotYetValidError("nbf")
    if iat > now + tolerance:
        raise NotYetValidError("iat")


#: What the shared verification path yields: the claims, the keys that matched, which one.
Verified = tuple[dict[str, Any], SigningKeys, KeyUsed]


def raw_body(body: object) -> bytes:
    """The bytes of a request body as hashed: ``str`` as UTF-8, byte-like objects as they are.

    Raises:
        MalformedBodyError: a ``str`` that is not encodable (a lone surrogate) or a value
            that is not a body at all (``None``, a number).
    """
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as err:
            raise MalformedBodyError() from err
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise MalformedBodyError()


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
    than as an import-time crash. The configuration's warnings about receiving, and each
    migration-mode fallback, are logged once per receiver (logger ``qstash_receiver``).

    Raises:
        ConfigError: keys and ``config`` are both given, or only one key is given.
    """

    __slots__ = ("_clock", "_config", "_keys", "_logged")

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
        self._logged: set[ConfigWarning] = set()

    def _load(self) -> QStashConfig:
        current, nxt = self._keys
        return load_config(current_signing_key=current, next_signing_key=nxt)

    @property
    def config(self) -> QStashConfig:
        """The configuration in use, resolved on first access when not given.

        Raises:
            ConfigError: the environment is invalid (see :func:`load_config`).
        """
        config = self._config
        if config is None:
            config = self._config = self._load()
        if not self._logged:  # first use: the configuration's own warnings, once
            self._logged.add(_CONFIG_LOGGED)
            for warning in config.receive_warnings:
                self._warn(warning)
        return config

    def _warn(self, warning: ConfigWarning) -> None:
        if warning not in self._logged:
            self._logged.add(warning)
            logger.warning("%s", warning.text)

    def __repr__(self) -> str:
        state = "explicit keys" if self._keys[0] is not None else "configured"
        return f"Receiver({state})"

    def _verified(
        self,
        signature: str,
        body: bytes,
        url: str | None,
        clock_tolerance: float,
        upstash_region: str | None,
    ) -> Verified:
        # The one verification path: Receiver.verify and the request check both come here.
        keys, fallback = self.config.select_keys(upstash_region)
        if fallback is not None:
            self._warn(fallback)
        claims, used = verify_hs256(signature, keys.current.encoded, keys.next.encoded)
        check_claims(claims, self._clock(), clock_tolerance)
        signed_hash = claims["body"].rstrip("=")
        if not signed_hash.isascii() or not hmac.compare_digest(body_hash(body), signed_hash):
            raise BodyMismatchError()
        if url is not None and claims["sub"] != url:
            raise UrlMismatchError()
        return claims, keys, used

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
            ValueError: ``clock_tolerance`` is out of range (a programming error).
        """
        if not signature or not isinstance(signature, str):
            raise MissingSignatureError()
        check_tolerance(clock_tolerance)
        raw = raw_body(body)
        verified = self._verified(signature, raw, url, clock_tolerance, upstash_region)
        return message_of(raw, verified, upstash_region)


def message_of(
    raw: bytes,
    verified: Verified,
    upstash_region: str | None,
    headers: Headers | None = None,
) -> VerifiedMessage:
    """The one place a :class:`VerifiedMessage` is built; with ``headers`` the delivery
    fields are filled from them."""
    claims, keys, used = verified
    region = normalize_region(upstash_region)
    if headers is None:
        return VerifiedMessage(raw, claims, keys.source, keys.region, used, region)
    return VerifiedMessage(
        raw,
        claims,
        keys.source,
        keys.region,
        used,
        region,
        headers.first(N.MESSAGE_ID_HEADER),
        _int_or_none(headers.first(N.RETRIED_HEADER)),
        headers.first(N.SCHEDULE_ID_HEADER),
        headers.first(N.TOPIC_NAME_HEADER),
        headers.first(N.CALLER_IP_HEADER),
        headers,
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# Marks "the configuration's own warnings were logged" in Receiver._logged.
_CONFIG_LOGGED = ConfigWarning("", "")
