"""Exception hierarchy. Messages are fixed and client-safe: no key, token or signature."""

from __future__ import annotations

__all__ = [
    "BodyMismatchError",
    "ConfigError",
    "DuplicateSignatureError",
    "ExpiredError",
    "InvalidClaimsError",
    "InvalidIssuerError",
    "InvalidSignatureError",
    "MalformedBodyError",
    "MalformedSignatureError",
    "MissingSignatureError",
    "NotYetValidError",
    "PayloadTooLargeError",
    "QStashError",
    "SignatureError",
    "UnsupportedAlgorithmError",
    "UrlMismatchError",
]


class QStashError(Exception):
    """Base class of every error this library raises."""


class ConfigError(QStashError):
    """The configuration cannot verify anything (no usable keys, invalid values).

    Endpoints answer it with 500 so that QStash retries the delivery once the
    configuration is fixed.
    """


class PayloadTooLargeError(QStashError):
    """The request body is larger than the configured limit (answered with 413)."""

    reason = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the limit of {limit} bytes")
        self.limit = limit


class SignatureError(QStashError):
    """A delivery could not be verified. ``reason`` is a stable, machine-readable code."""

    reason = "signature_error"
    message = "signature verification failed"

    # No __init__ of its own: a rejection must cost no more than an acceptance, and a
    # Python-level __init__ doubles the cost of raising. Raised bare, it reads ``message``.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.message


class MissingSignatureError(SignatureError):
    """No ``Upstash-Signature`` header, or an empty one."""

    reason = "missing_signature"
    message = "the Upstash-Signature header is missing"


class DuplicateSignatureError(SignatureError):
    """More than one ``Upstash-Signature`` header value."""

    reason = "duplicate_signature"
    message = "the Upstash-Signature header appears more than once"


class MalformedSignatureError(SignatureError):
    """The header is not a well-formed compact JWS with JSON object segments."""

    reason = "malformed_signature"
    message = "the signature is not a well-formed JWT"


class UnsupportedAlgorithmError(SignatureError):
    """The JWT header names an algorithm other than HS256 (``none`` included)."""

    reason = "unsupported_algorithm"
    message = "the JWT algorithm is not HS256"


class InvalidSignatureError(SignatureError):
    """The HMAC matches neither the current nor the next signing key."""

    reason = "invalid_signature"
    message = "the signature matches no signing key"


class InvalidClaimsError(SignatureError):
    """A required claim is missing or has the wrong type."""

    reason = "invalid_claims"
    message = "the JWT claims are missing or malformed"


class InvalidIssuerError(SignatureError):
    """The ``iss`` claim is not ``Upstash``."""

    reason = "invalid_issuer"
    message = "the JWT issuer is not Upstash"


class ExpiredError(SignatureError):
    """The ``exp`` claim lies in the past (beyond the clock tolerance)."""

    reason = "expired"
    message = "the signature has expired"


class NotYetValidError(SignatureError):
    """The ``nbf`` or ``iat`` claim lies in the future (beyond the clock tolerance)."""

    reason = "not_yet_valid"
    message = "the signature is not valid yet"


class BodyMismatchError(SignatureError):
    """The SHA-256 of the raw body differs from the ``body`` claim."""

    reason = "body_mismatch"
    message = "the body does not match the signed body hash"


class MalformedBodyError(SignatureError):
    """The raw body cannot be recovered from the request (e.g. invalid base64 in a Lambda event)."""

    reason = "malformed_body"
    message = "the request body cannot be decoded"


class UrlMismatchError(SignatureError):
    """The ``sub`` claim differs from the URL the endpoint expects."""

    reason = "url_mismatch"
    message = "the signed URL does not match this endpoint"
