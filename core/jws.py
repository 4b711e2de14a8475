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

_URLSAFE = bytes.maketrans(b"+/", b"-_")
# base64url -> standard alphabet; "+" and "/" become "!", which a2b_base64 skips, so a
# segment using them comes out short instead of decoding like its "-"/"_" twin.
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/!!")
# A 32-byte HMAC is 43 characters; the last one carries 2 unused bits, which must be zero.
_CANONICAL_LAST = frozenset("AEIMQUYcgkosw048")


def b64url(raw: bytes) -> str:
    """Unpadded base64url, as JWS uses."""
    # binascii directly: base64.urlsafe_b64encode adds two Python-level calls (hot path).
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _reject_constant(_: str) -> Any:
    raise ValueError("non-finite number")


# Built once: json.loads(..., parse_constant=...) constructs a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_segment(segment: str) -> dict[str, Any]:
    """Decode one base64url JSON-object segment, or raise MalformedSignatureError."""
    # No separate alphabet check: the re-encoding comparison below rejects every segment
    # that is not canonical base64url, which includes any character outside the alphabet.
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        # Decoded exactly as json.loads(bytes) does (pyjwt's path): BOM/UTF-16/32 detection and
        # lone surrogates allowed, but through one decoder built at import.
        value = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (binascii.Error, ValueError, RecursionError) as err:  # incl. JSON and Unicode errors
        raise MalformedSignatureError() from err
    if not isinstance(value, dict) or b64url(raw) != segment:  # one spelling per token
        raise MalformedSignatureError()
    return value


def _signature_bytes(segment: str) -> bytes | None:
    """The HMAC in ``segment`` if it is its one canonical spelling, else ``None``."""
    if len(segment) != 43 or segment[-1] not in _CANONICAL_LAST:
        return None
    try:
        mac = binascii.a2b_base64(segment.encode("ascii").translate(_FROM_URLSAFE) + b"=")
    except binascii.Error:
        return None
    return mac if len(mac) == 32 else None  # skipped characters make it shorter


@lru_cache(maxsize=32)
def _check_header(segment: str) -> None:
    # Cached: every QStash token carries the same header segment.
    header = decode_segment(segment)
    if header.get("alg") != "HS256":
        raise UnsupportedAlgorithmError()
    if (
        "crit" in header
        or header.get("b64", True) is False  # RFC 7797 unencoded payload: unsupported
        or not isinstance(header.get("kid", ""), str)
    ):
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
    mac = _signature_bytes(signature)
    if mac is None:
        raise InvalidSignatureError()
    # Decoded once, so the next key costs one HMAC and nothing else.
    signing_input = token[: len(header) + len(payload) + 1].encode("ascii")
    used: KeyUsed = "current"
    if not hmac.compare_digest(hmac.digest(current, signing_input, "sha256"), mac):
        used = "next"
        if not hmac.compare_digest(hmac.digest(next_, signing_input, "sha256"), mac):
            raise InvalidSignatureError()
    return decode_segment(payload), used
