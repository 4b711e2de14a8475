"""The QStash token in both directions: its claims, the body hash, and the signer.

One claim vocabulary: [`sign()`][qstash_receiver.token.sign] writes the claims
[`validate_claims()`][qstash_receiver.token.validate_claims] reads, with the same issuer, lifetime
and body hash, so the signer (the stand-in, ``qstash_receiver.testing``) and the verifier cannot
drift apart. The compact JWS layer is [`qstash_receiver.jws`][qstash_receiver.jws].
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Mapping
from typing import Any, Final

from . import names as N
from .errors import (
    ExpiredError,
    InvalidClaimsError,
    InvalidIssuerError,
    MalformedBodyError,
    NotYetValidError,
)
from .jws import b64url, encode_hs256
from .names import region_header

__all__ = [
    "DEFAULT_LIFETIME",
    "ISSUER",
    "MAX_CLOCK_TOLERANCE",
    "Body",
    "body_hash",
    "validate_claims",
    "raw_body",
    "sign",
    "signed_headers",
    "validate_tolerance",
]

#: The ``iss`` claim of every QStash token.
ISSUER: Final = "Upstash"
#: QStash's default token lifetime, in seconds.
DEFAULT_LIFETIME: Final = 300
#: The largest ``clock_tolerance`` accepted, in seconds: one day. QStash tokens live 5 minutes
#: by default; a tolerance on that scale covers any real clock skew, while a larger one keeps an
#: expired or not-yet-valid token valid for longer than a day, so ``exp`` stops meaning anything.
MAX_CLOCK_TOLERANCE: Final = 86_400

#: A request body as the library takes it.
Body = bytes | bytearray | memoryview | str


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


def body_hash(body: Body) -> str:
    """Unpadded base64url SHA-256 of the raw body (``str`` is hashed as UTF-8): the ``body``
    claim, which QStash sends with its ``=`` padding."""
    raw = body if isinstance(body, bytes) else raw_body(body)
    return b64url(hashlib.sha256(raw).digest())


def validate_tolerance(clock_tolerance: float) -> None:
    """Refuse a tolerance that would weaken the time checks.

    Accepted: an ``int`` or ``float`` from 0 to
        [`MAX_CLOCK_TOLERANCE`][qstash_receiver.token.MAX_CLOCK_TOLERANCE] (one day) seconds.

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


def validate_claims(claims: Mapping[str, Any], now: float, tolerance: float) -> None:
    """Types, issuer and time window of verified claims (pyjwt's comparison rules).

    Raises:
        InvalidClaimsError: a claim of the wrong type, or an audience.
        InvalidIssuerError: ``iss`` is not ``Upstash``.
        ExpiredError: ``exp`` has passed (beyond ``tolerance``).
        NotYetValidError: ``nbf`` or ``iat`` is in the future (beyond ``tolerance``).
    """
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


def sign(
    body: Body,
    *,
    key: str,
    url: str = "https://example.com/api/qstash",
    now: float | None = None,
    lifetime: int = DEFAULT_LIFETIME,
    padded: bool = True,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """An ``Upstash-Signature`` value for ``body``, as QStash makes it.

    Args:
        body: the raw body (``str`` is encoded as UTF-8).
        key: the signing key (QStash signs with the region's current key).
        url: the destination URL, signed as ``sub``.
        now: the issue time (``iat``/``nbf``); defaults to the current time.
        lifetime: seconds until ``exp`` (QStash: 300).
        padded: keep the ``=`` padding of the ``body`` claim, as QStash does.
        claims: claims to add or override (e.g. ``{"iss": "someone"}`` for negative tests).
    """
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": url,
        "exp": issued + lifetime,
        "nbf": issued,
        "iat": issued,
        "jti": f"jwt_{secrets.token_hex(12)}",
        "body": body_hash(body) + ("=" if padded else ""),
    }
    payload.update(claims or {})
    return encode_hs256(payload, key)


def signed_headers(
    body: Body,
    *,
    key: str,
    url: str = "https://example.com/api/qstash",
    region: str | None = None,
    message_id: str | None = None,
    retried: int = 0,
    caller_ip: str | None = None,
    forwarded: Mapping[str, str] | None = None,
    **sign_options: Any,
) -> dict[str, str]:
    """The headers of a QStash delivery of ``body``: signature, region, message id, retries.

    Args:
        body: the raw body the signature covers.
        key: the signing key.
        url: the destination URL, signed as ``sub``.
        region: the ``Upstash-Region`` to send (any spelling), or none.
        message_id: the ``Upstash-Message-Id`` (default: a new random id).
        retried: the ``Upstash-Retried`` count (0 on the first delivery).
        caller_ip: the ``Upstash-Caller-Ip`` to send, or none.
        forwarded: headers the publisher forwarded, sent as given (``Content-Type`` and the
            ``Upstash-Forward-*`` headers with the prefix removed); they never replace the
            headers above.
        sign_options: passed to [`sign()`][qstash_receiver.token.sign] (``now``, ``lifetime``,
            ``padded``, ``claims``).
    """
    # The spellings QStash sends (the names module keeps them lower-case for lookups).
    headers = {
        N.SIGNATURE_HEADER.title(): sign(body, key=key, url=url, **sign_options),
        N.MESSAGE_ID_HEADER.title(): message_id or f"msg_{secrets.token_hex(12)}",
        N.RETRIED_HEADER.title(): str(retried),
        N.USER_AGENT_HEADER: N.QSTASH_USER_AGENT,
    }
    if region is not None:
        headers[N.REGION_HEADER.title()] = region_header(region)
    if caller_ip is not None:
        headers[N.CALLER_IP_HEADER.title()] = caller_ip
    taken = {name.lower() for name in headers}
    headers.update((k, v) for k, v in (forwarded or {}).items() if k.lower() not in taken)
    return headers
