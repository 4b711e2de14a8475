"""Exception hierarchy. Messages are fixed and client-safe: no key, token or signature.

Each error carries its answer: the HTTP ``status_code`` an endpoint gives and a stable ``reason``
code (docs/configuration.md, "Answers an endpoint gives"); one function turns any of them into a
response ([`qstash_receiver.answers.answer_for()`][qstash_receiver.answers.answer_for]).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BodyMismatchError",
    "ConfigError",
    "DuplicateHeaderError",
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
    "ReplayedError",
    "SignatureError",
    "UnknownRegionError",
    "UnsupportedAlgorithmError",
    "UrlMismatchError",
]


class QStashError(Exception):
    """Base class of every error this library raises.

    Attributes:
        status_code: the HTTP status an endpoint answers this error with.
        reason: a stable, machine-readable code, sent in the answer's text.
    """

    status_code: ClassVar[int] = 500
    reason: ClassVar[str] = "internal_error"

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """Headers the answer carries besides its ``Content-Type`` (none for most errors)."""
        return ()

    @property
    def response_detail(self) -> str:
        """Text the answer carries after its reason code; empty for every error of ours (their
        messages are logged, not sent: the reason code is the client's whole answer)."""
        return ""


class ConfigError(QStashError):
    """The configuration cannot verify anything (no usable keys, invalid values).

    Endpoints answer it with 500 so that QStash retries the delivery once the
    configuration is fixed.
    """

    status_code = 500
    reason = "configuration_error"


class PayloadTooLargeError(QStashError):
    """The request body is larger than the configured limit (answered with 413)."""

    status_code = 413
    reason = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the limit of {limit} bytes")
        self.limit = limit


class SignatureError(QStashError):
    """A delivery could not be verified. ``reason`` is a stable, machine-readable code."""

    status_code = 401
    reason = "signature_error"
    message = "signature verification failed"
    #: The claim whose check failed (``exp``, ``sub``, ...), ``None`` when no claim is at fault.
    claim: str | None = None

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


class DuplicateHeaderError(SignatureError):
    """A delivery header QStash sends once came twice (or joined into one value by the server).

    ``header`` names it (``upstash-region``, ``upstash-message-id``, ``upstash-retried``): with
    two values the delivery would be read one way by one platform and another by the next.
    """

    reason = "duplicate_header"
    message = "a delivery header QStash sends once appears more than once"

    def __init__(self, header: str) -> None:
        super().__init__(f"the {header} header appears more than once")
        self.header = header


class UnknownRegionError(SignatureError):
    """Migration mode, no default key pair, and the delivery names no region QStash runs in.

    QStash always sends ``Upstash-Region``; a request without a valid one is not a delivery.
    """

    reason = "unknown_region"
    message = "the Upstash-Region header is missing or names no QStash region"


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
    """A required claim is missing or has the wrong type (``claim`` names it)."""

    reason = "invalid_claims"
    message = "the JWT claims are missing or malformed"

    def __init__(self, claim: str | None = None) -> None:
        if claim is None:
            super().__init__()
        else:
            super().__init__(f"the {claim} claim is missing or malformed")
        self.claim = claim


class InvalidIssuerError(SignatureError):
    """The ``iss`` claim is not ``Upstash``."""

    reason = "invalid_issuer"
    message = "the JWT issuer is not Upstash"
    claim = "iss"


class ExpiredError(SignatureError):
    """The ``exp`` claim lies in the past (beyond the clock tolerance)."""

    reason = "expired"
    message = "the signature has expired"
    claim = "exp"


class NotYetValidError(SignatureError):
    """The ``nbf`` or ``iat`` claim lies in the future (beyond the clock tolerance)."""

    reason = "not_yet_valid"
    message = "the signature is not valid yet"
    claim = "nbf"

    def __init__(self, claim: str = "nbf") -> None:
        super().__init__()
        self.claim = claim


class BodyMismatchError(SignatureError):
    """The SHA-256 of the raw body differs from the ``body`` claim."""

    reason = "body_mismatch"
    message = "the body does not match the signed body hash"
    claim = "body"


class MalformedBodyError(SignatureError):
    """The raw body cannot be recovered from the request (e.g. invalid base64 in a Lambda event)."""

    reason = "malformed_body"
    message = "the request body cannot be decoded"


class UrlMismatchError(SignatureError):
    """The ``sub`` claim differs from the URL the endpoint expects."""

    reason = "url_mismatch"
    message = "the signed URL does not match this endpoint"
    claim = "sub"


class ReplayedError(SignatureError):
    """The signature was used before for another message id: on a guarded route a token's
    ``jti`` is bound to the message id of its first use until it expires (a replay of a
    captured delivery under a fresh ``Upstash-Message-Id``; QStash signs each retry anew)."""

    reason = "replayed"
    message = "the signature was used before for another message id"
    claim = "jti"
