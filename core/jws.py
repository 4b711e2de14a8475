"""Compact JWS (HS256 only) parsing and HMAC check.

Hand-written rather than ``jwt.decode`` for speed: one HMAC per key tried and one decode of
each segment (pyjwt decodes the whole token again for every key). A differential test holds
its verdicts equal to pyjwt's.
"""

from __future__ import annotations

import binascii
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Literal

from .errors import (
    InvalidSignatureError,
    MalformedSignatureError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "MAX_TOKEN_LENGTH",
    "KeyUsed",
    "b64url",
    "b64url_decode",
    "decode_segment",
    "encode_hs256",
    "verify_hs256",
]

#: The longest ``Upstash-Signature`` accepted; longer ones are refused unparsed (a cheap guard,
#: not a cut into genuine traffic). A token carries the destination URL (``sub``), and QStash
#: documents no limit on that URL, so the bound comes from the longest single header a supported
#: platform passes to the application with its default settings:
#:   API Gateway HTTP API: request line and header values together 10,240 bytes; REST API: all
#:   header values 10,240 bytes (AWS "Amazon API Gateway quotas"). ALB: one header 16 KiB, the
#:   whole request header block 64 KiB (AWS "Quotas for your Application Load Balancers", HTTP
#:   headers). gunicorn: 8,190 bytes per header field (``limit_request_field_size``); uvicorn
#:   via h11: a 16 KiB header block; the standard library's HTTP server (Django runserver,
#:   the Werkzeug dev server): 65,536 bytes per header line.
#: So no default set-up delivers a longer token; at this length the guard refuses nothing a
#: platform would pass, and the largest token it lets through is cheap to parse (make bench).
MAX_TOKEN_LENGTH = 64 * 1024

KeyUsed = Literal["current", "next"]

_URLSAFE = bytes.maketrans(b"+/", b"-_")
_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"===", b"==", b"=")  # by len % 4; 1 ("===") can never decode


def b64url(raw: bytes) -> str:
    """Unpadded base64url, as JWS uses."""
    # binascii directly: base64.urlsafe_b64encode adds two Python-level calls (hot path).
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _reject_constant(_: str) -> Any:
    raise ValueError("non-finite number")


# Built once: json.loads(..., parse_constant=...) constructs a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# Its scanner, called directly for a segment with no whitespace around the value (every token
# QStash or an SDK makes): decode() adds two regex matches for that whitespace (see make bench).
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _json(text: str) -> Any:
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:  # leading whitespace, or not JSON: decode() says which
        end = -1
    if end != len(text):  # whitespace around the value, extra data or an error: the full rules
        value = _DECODER.decode(text)
    return value


def b64url_decode(segment: str) -> bytes:
    """The bytes of ``segment`` if it is canonical unpadded base64url, else ``ValueError``.

    The one base64 rule of every token part: the decoded bytes must encode back to exactly
    ``segment``. That refuses, in one comparison, characters outside the alphabet (which the
    decoder skips), ``=`` padding, the standard ``+``/``/`` spellings and non-zero unused bits
    in the last character, so every token has one spelling.
    """
    data = segment.encode("ascii")
    # binascii directly: base64.urlsafe_b64decode adds Python-level calls (hot path).
    raw = binascii.a2b_base64(data.translate(_STANDARD) + _PADDING[len(data) % 4])
    if binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=") != data:
        raise ValueError("not canonical base64url")
    return raw


def decode_segment(segment: str) -> dict[str, Any]:
    """Decode one base64url JSON-object segment, or raise MalformedSignatureError."""
    try:
        raw = b64url_decode(segment)
        # UTF-8 only (RFC 7515/7519: BASE64URL(UTF8(...))), as the TS SDK reads it; not the
        # UTF-16/32 that json.loads(bytes) would detect. A leading BOM is ignored (RFC 8259
        # allows it; TextDecoder drops it too); encoded surrogates pass, as in pyjwt.
        text = raw.decode("utf-8", "surrogatepass").removeprefix("\ufeff")
        value = _json(text)
    except (ValueError, RecursionError) as err:  # binascii, JSON and Unicode errors included
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
    if (
        "crit" in header
        or header.get("b64", True) is False  # RFC 7797 unencoded payload: unsupported
        or not isinstance(header.get("kid", ""), str)
    ):
        raise MalformedSignatureError()


_COMPACT = (",", ":")
# Every token this library makes carries the same header, as QStash's do.
_HEADER_SEGMENT = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=_COMPACT).encode())


def encode_hs256(payload: dict[str, Any], key: str) -> str:
    """A compact HS256 JWS of ``payload`` (compact JSON), signed with ``key`` (UTF-8)."""
    body = b64url(json.dumps(payload, separators=_COMPACT).encode())
    signing_input = f"{_HEADER_SEGMENT}.{body}"
    mac = hmac.digest(key.encode("utf-8"), signing_input.encode("ascii"), "sha256")
    return f"{signing_input}.{b64url(mac)}"


def verify_hs256(token: str, current: bytes, next_: bytes) -> tuple[dict[str, Any], KeyUsed]:
    """Check the structure, the algorithm and the HMAC of ``token``; return its claims.

    The next key is tried only when the signature does not match the current key.

    Raises:
        MalformedSignatureError: not a compact JWS of three base64url JSON segments.
        UnsupportedAlgorithmError: an ``alg`` other than HS256.
        InvalidSignatureError: the HMAC matches neither key.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise MalformedSignatureError()
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedSignatureError()
    header, payload, signature = parts
    _check_header(header)
    try:
        mac = b64url_decode(signature)
    except ValueError:
        raise InvalidSignatureError() from None
    if len(mac) != 32:
        raise InvalidSignatureError()
    # Decoded once, so the next key costs one HMAC and nothing else.
    signing_input = token[: len(header) + len(payload) + 1].encode("ascii")
    used: KeyUsed = "current"
    if not hmac.compare_digest(hmac.digest(current, signing_input, "sha256"), mac):
        used = "next"
        if not hmac.compare_digest(hmac.digest(next_, signing_input, "sha256"), mac):
            raise InvalidSignatureError()
    return decode_segment(payload), used
