"""``Receiver``: verify one QStash delivery against the keys resolved for its region.

[`Receiver.verify()`][qstash_receiver.verify.Receiver.verify] takes the signature and body (the
official SDK's call); [`Receiver.verify_request()`][qstash_receiver.verify.Receiver.verify_request]
takes a whole request's headers, which is what adapters use. Both go through one path: keys for the
region, the token, its claims, the body hash, the URL.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable

from . import names as N
from .config import QStashConfig, load_config
from .errors import (
    BodyMismatchError,
    ConfigError,
    DuplicateHeaderError,
    DuplicateSignatureError,
    MissingSignatureError,
    UrlMismatchError,
)
from .headers import HeaderInput, Headers
from .jws import verify_hs256
from .keys import ConfigWarning
from .message import VerifiedMessage
from .sources import ConfigSource
from .token import Body, body_hash, raw_body, validate_claims, validate_tolerance

__all__ = ["Receiver"]

logger = logging.getLogger("qstash_receiver")

# Delivery headers QStash sends once. Two of them (two headers, or one that a WSGI server
# joined with ", ") would be read differently by different platforms: refused everywhere.
_SENT_ONCE = (N.REGION_HEADER, N.MESSAGE_ID_HEADER, N.RETRIED_HEADER)


def _headers_and_signature(source: HeaderInput) -> tuple[Headers, str]:
    try:
        view, signatures = Headers.split(source, N.SIGNATURE_HEADER)
    except TypeError:  # not a mapping nor pairs at all: a request without headers
        view, signatures = Headers(), []
    for name in _SENT_ONCE:
        value = view.first(name)
        if value is not None and ("," in value or view.repeated(name)):
            raise DuplicateHeaderError(name)
    signature = signatures[0].strip() if signatures else ""
    if not signature:
        raise MissingSignatureError()
    if len(signatures) > 1 or "," in signature:
        raise DuplicateSignatureError()
    return view, signature


class Receiver:
    """Verifies ``Upstash-Signature`` headers; a superset of ``qstash.Receiver``.

    Args:
        current_signing_key: with ``next_signing_key``, keys to use for every request
            (dev mode, ``QSTASH_DEV``, still takes precedence as in the official SDKs).
        next_signing_key: tried only when the signature does not match the current key.
        config: a [`QStashConfig`][qstash_receiver.QStashConfig] from
            [`load_config()`][qstash_receiver.load_config]; keys are then chosen per request from
            the ``Upstash-Region`` header (migration mode).
        source: a function returning the configuration
            ([`qstash_receiver.sources`][qstash_receiver.sources]): called on first use and kept, or
            on every use when it has ``refresh = True``.
        clock: seconds since the epoch; injectable for tests.

    With none of keys, ``config`` and ``source``, the configuration is read from the process
    environment (``load_config()``) on first use, so a bad environment surfaces per request
    (500) rather than as an import-time crash. Each configuration's warnings about receiving,
    and each migration-mode fallback, are logged once per receiver (logger
    ``qstash_receiver``).

    Raises:
        ConfigError: more than one of keys, ``config`` and ``source`` is given, or only one
            key is given.
    """

    __slots__ = ("_clock", "_config", "_logged", "_refresh", "_source")

    def __init__(
        self,
        current_signing_key: str | None = None,
        next_signing_key: str | None = None,
        *,
        config: QStashConfig | None = None,
        source: ConfigSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (current_signing_key is None) != (next_signing_key is None):
            raise ConfigError("pass both current_signing_key and next_signing_key, or neither")
        given = (current_signing_key is not None) + (config is not None) + (source is not None)
        if given > 1:
            raise ConfigError("pass signing keys, a config or a source: one, not both")
        if config is not None:
            fixed = config

            def source() -> QStashConfig:
                return fixed

        elif source is None:
            current, nxt = current_signing_key, next_signing_key

            def source() -> QStashConfig:
                return load_config(current_signing_key=current, next_signing_key=nxt)

        self._source = source
        self._refresh = bool(getattr(source, "refresh", False))
        self._config: QStashConfig | None = None  # resolved, and its warnings logged, on first use
        self._clock = clock
        self._logged: set[ConfigWarning] = set()

    def _use(self, config: QStashConfig) -> QStashConfig:
        self._config = config
        for warning in config.receive_warnings:
            self._warn(warning)
        return config

    @property
    def config(self) -> QStashConfig:
        """The configuration in use, resolved on first access (on each, for a refreshing
        source).

        Raises:
            ConfigError: the configuration cannot be resolved (see
                [`load_config()`][qstash_receiver.load_config], or the source's own errors).
        """
        config = self._config
        if config is None or self._refresh:
            fresh = self._source()
            if fresh is not config:
                config = self._use(fresh)
        return config

    def reset(self) -> None:
        """Resolve the configuration again on the next delivery (settings changed).

        A receiver built with a fixed ``config`` keeps it.
        """
        self._config = None

    def _warn(self, warning: ConfigWarning) -> None:
        if warning not in self._logged:
            self._logged.add(warning)
            logger.warning("%s", warning.text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _message(
        self,
        signature: str,
        body: bytes,
        url: str | None,
        clock_tolerance: float,
        upstash_region: str | None,
        headers: Headers | None,
    ) -> VerifiedMessage:
        # The one verification path: verify() and verify_request() both come here.
        keys, fallback = self.config.select_keys(upstash_region)
        if fallback is not None:
            self._warn(fallback)
        claims, used = verify_hs256(signature, keys.current.encoded, keys.next.encoded)
        validate_claims(claims, self._clock(), clock_tolerance)
        signed_hash = claims["body"].rstrip("=")
        if not signed_hash.isascii() or not hmac.compare_digest(body_hash(body), signed_hash):
            raise BodyMismatchError()
        if url is not None and claims["sub"] != url:
            raise UrlMismatchError()
        return VerifiedMessage.of_delivery(body, claims, keys, used, upstash_region, headers)

    def verify(
        self,
        *,
        signature: str,
        body: Body,
        url: str | None = None,
        clock_tolerance: float = 0,
        upstash_region: str | None = None,
    ) -> VerifiedMessage:
        """Verify one delivery and return it as a
        [`VerifiedMessage`][qstash_receiver.VerifiedMessage].

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
        validate_tolerance(clock_tolerance)
        raw = raw_body(body)
        return self._message(signature, raw, url, clock_tolerance, upstash_region, None)

    def verify_request(
        self,
        headers: HeaderInput,
        body: object,
        *,
        url: str | None = None,
        clock_tolerance: float = 0,
    ) -> VerifiedMessage:
        """Verify one request given all its headers and its RAW body.

        The message's delivery fields (message id, retries, schedule, ...) and ``headers`` (without
        the signature) are filled from ``headers``. ``clock_tolerance`` is taken as validated (see
        [`validate_tolerance()`][qstash_receiver.token.validate_tolerance]).

        Raises:
            SignatureError: a subclass naming the failed check, including a missing or
                repeated signature and a repeated ``Upstash-Region``, ``Upstash-Message-Id``
                or ``Upstash-Retried``.
            MalformedBodyError: ``body`` is not bytes or text.
            ConfigError: no usable signing keys.
        """
        view, signature = _headers_and_signature(headers)
        raw = raw_body(body)
        region = view.first(N.REGION_HEADER)
        return self._message(signature, raw, url, clock_tolerance, region, view)
