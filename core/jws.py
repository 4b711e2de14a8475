"""Compact JWS (HS256 only) parsing and HMAC check.

Hand-written rather than ``jwt.decode`` for speed: one HMAC per key tried and one decode of
each segment (pyjwt decodes the whole token again for every key). A differential test holds
its verdicts equal to pyjwt's.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from functools import lru_cache
from typing import Any, Literal

from .errors import (
    InvalidSignatureError,
    MalformedSignatureError,
    UnsupportedAlgorithmError,
)

__all__ = ["MAX_TOKEN_LENGTH", "KeyUsed", "b64url", "decode_segment", "verify_hs256"]

#: QStash tokens are a few hundred characters; anything past this is refused unparsed.
MAX_TOKEN_LENGTH = 8192

KeyUsed = Literal["current", "next"]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


def b64url(raw: bytes) -> str:
    """Unpadded base64url, as JWS uses."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _reject_constant(_: str) -> Any:
    raise ValueError("non-finite number")


def decode_segment(segment: str) -> dict[str, Any]:
    """Decode one base64url JSON-object segment, or raise MalformedSignatureError."""
    if len(segment) % 4 == 1 or not _SEGMENT.fullmatch(segment):
        raise MalformedSignatureError()
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, parse_constant=_reject_constant)
    except (
        binascii.Error,
        ValueError,
        RecursionError,
    ) as err:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedSignatureError() from err
    if not isinstance(value, dict):
        raise MalformedSignatureError()
    return value


@lru_cache(maxsize=32)
def _check_header(segment: str) -> None:
    # Cached: every QStash token carries the same header segment.
    header = decode_segment(segment)
    if header.get("alg") != "HS256":
        raise UnsupportedAlgorithmError()
    if "crit" in header or not isinstance(header.get("kid", ""), str):
        raise MalformedSignatureError()


def verify_hs256(token: str, current: bytes, next_: bytes) -> tuple[dict[str, Any], KeyUsed]:
    """Check the structure, the algorithm and the HMAC of ``token``; return its claims.

    The next key is tried only when the signature does not match the current key.

    Raises:
        MalformedSignatureError, UnsupportedAlgorithmError, InvalidSignatureError.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise MalformedSignatureError()
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedSignatureError()
    header, payload, signature = parts
    _check_header(header)
    signing_input = token[: len(header) + len(payload) + 1].encode("ascii")
    used: KeyUsed = "current"
    if not hmac.compare_digest(b64url(hmac.digest(current, signing_input, "sha256")), signature):
        used = "next"
        if not hmac.compare_digest(b64url(hmac.digest(next_, signing_input, "sha256")), signature):
            raise InvalidSignatureError()
    return decode_segment(payload), used
