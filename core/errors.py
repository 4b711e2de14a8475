"""Exception hierarchy. Messages are fixed and client-safe: no key, token or signature.

Each error carries its answer: the HTTP ``status_code`` an endpoint gives and a stable ``reason``
code (see DESIGN.md "Answers an endpoint gives"); one function turns any of them into a
response (:func:`qstash_receiver.integration.rejection_for`).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import ClassVar

from .names import NON_RETRYABLE_HEADER, RETRY_AFTER_HEADER

__all__ = [
    "BodyMismatchError",
    "CallbackError",
    "ConfigError",
    "DuplicateHeaderError",
    "DuplicateSignatureError",
    "ExpiredError",
    "InProgressError",
    "InvalidClaimsError",
    "InvalidIssuerError",
    "InvalidSignatureError",
    "MalformedBodyError",
    "MalformedSignatureError",
    "MissingSignatureError",
    "NonRetryableError",
    "NotYetValidError",
    "PayloadTooLargeError",
    "QStashError",
    "ReplayedError",
    "RetryLater",
    "SignatureError",
    "StoreUnavailableError",
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


class NonRetryableError(QStashError):
    """Raised by a handler: the delivery failed for good, QStash must not retry it.

    Answered 489 with ``Upstash-NonRetryable-Error: true``: QStash marks the message as
    failed at once and moves it to the dead letter queue (DLQ). Use it for errors a retry
    cannot fix (an invalid payload, a deleted record). The message you give is logged, not
    sent: the answer's text is the fixed ``reason``.
    """

    status_code = 489
    reason = "non_retryable"

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """``Upstash-NonRetryable-Error: true``: without it QStash would retry a 489."""
        return ((NON_RETRYABLE_HEADER, "true"),)


class RetryLater(QStashError):
    """Raised by a handler: not now; QStash should try again after a delay or at a time.

    Answered 503 with ``Retry-After`` (whole seconds, rounded up). QStash caps the delay at
    its longest backoff (one day), so a longer one is sent as one day.

    Args:
        after: seconds from now (``int``/``float`` >= 0), a ``datetime.timedelta``, or an
            aware ``datetime.datetime`` to retry at.
        now: the current time, for an ``after`` given as a datetime (default: the clock).

    Raises:
        ValueError: a negative or non-finite delay, or a naive datetime.
    """

    status_code = 503
    reason = "retry_later"
    #: QStash's longest retry delay (its backoff is capped at one day).
    MAX_DELAY: ClassVar[int] = 24 * 60 * 60

    def __init__(
        self,
        after: float | _dt.timedelta | _dt.datetime = 0,
        *,
        now: _dt.datetime | None = None,
    ) -> None:
        if isinstance(after, _dt.datetime):
            if after.tzinfo is None:
                raise ValueError("RetryLater needs an aware datetime (with a timezone)")
            now = now or _dt.datetime.now(_dt.timezone.utc)
            seconds = max(0.0, (after - now).total_seconds())
        elif isinstance(after, _dt.timedelta):
            seconds = after.total_seconds()
        elif isinstance(after, (int, float)) and not isinstance(after, bool):
            seconds = float(after)
        else:
            raise TypeError("RetryLater(after=...) takes seconds, a timedelta or a datetime")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("RetryLater needs a finite delay >= 0")
        #: Whole seconds until the retry, as sent in ``Retry-After``.
        self.delay = min(math.ceil(seconds), self.MAX_DELAY)
        super().__init__(f"retry requested in {self.delay} s")

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """``Retry-After`` in whole seconds."""
        return ((RETRY_AFTER_HEADER, str(self.delay)),)


def _retry_after(seconds: float) -> int:
    # Whole seconds, at least 1 (0 would ask for an immediate retry that finds the same state)
    # and at most QStash's one-day cap (a longer value is ignored in favour of its backoff).
    if not math.isfinite(seconds):
        return RetryLater.MAX_DELAY
    return max(1, min(math.ceil(seconds), RetryLater.MAX_DELAY))


class InProgressError(QStashError):
    """Another copy of this message is being handled right now (duplicate-delivery guard).

    Answered 409 with ``Retry-After`` set to when the other copy's claim expires, so QStash
    retries once that copy has finished (a duplicate then) or its worker is known to be gone.

    Args:
        retry_after: seconds until the other copy's claim expires.
    """

    status_code = 409
    reason = "in_progress"

    def __init__(self, retry_after: float) -> None:
        #: Whole seconds sent in ``Retry-After`` (1 to one day).
        self.delay = _retry_after(retry_after)
        super().__init__(f"another copy of the message is in progress (retry in {self.delay} s)")

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """``Retry-After`` in whole seconds."""
        return ((RETRY_AFTER_HEADER, str(self.delay)),)


class StoreUnavailableError(QStashError):
    """The duplicate-delivery guard's store could not be reached (answered 503, retryable).

    The handler does not run: running it unguarded could run it twice, and answering 2xx
    would lose the message. QStash retries with its backoff.
    """

    status_code = 503
    reason = "dedupe_unavailable"


class CallbackError(NonRetryableError):
    """A body that is not a QStash callback or failure-callback payload.

    A :class:`NonRetryableError`: a handler that lets it propagate answers 489, so QStash
    does not retry a body that will never parse. ``str(error)`` names the field at fault.
    """

    reason = "not_a_callback"
