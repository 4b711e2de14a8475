"""The one framework-neutral request check every adapter calls, and the answers it gives.

Statuses are decided by the errors themselves (``QStashError.status_code``); this module turns an
error into a :class:`Rejection` and is the only place that does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from . import names as N
from .errors import (
    DuplicateSignatureError,
    MissingSignatureError,
    PayloadTooLargeError,
    QStashError,
)
from .headers import HeaderInput, Headers
from .message import VerifiedMessage
from .verify import Receiver, check_tolerance, message_of, raw_body

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ReceiverSource",
    "Rejection",
    "check_content_length",
    "check_request",
    "rejection_for",
]

logger = logging.getLogger("qstash_receiver")

#: Default body limit (QStash's largest message size on paid plans is 10 MB).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

#: A receiver, or a function returning one (called per request; it may raise ConfigError,
#: e.g. when keys cannot be fetched, which is answered like any configuration error: 500).
ReceiverSource = Receiver | Callable[[], Receiver]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # 489 has no standard phrase
        return "Error"


@dataclass(frozen=True, slots=True)
class Rejection:
    """An answer to give instead of running the handler (or in place of its failure).

    Attributes:
        status: 401 (not verified), 413 (body too large), 500 (configuration; retryable),
            489 (the handler asked for no retry), 503 (the handler asked for a later retry).
        reason: the stable reason code, e.g. ``invalid_signature``.
        extra_headers: headers besides ``Content-Type`` (``Retry-After``, ...).
        detail: text after the reason (``QStashError.response_detail``: only a handler's
            ``NonRetryableError`` message), or empty.
    """

    status: int
    reason: str
    extra_headers: tuple[tuple[str, str], ...] = ()
    detail: str = ""

    @property
    def text(self) -> str:
        """The short response body, e.g. ``401 Unauthorized: body_mismatch``, or with a
        detail ``489 Error: non_retryable: order 17 was deleted``."""
        text = f"{self.status} {_phrase(self.status)}: {self.reason}"
        return f"{text}: {self.detail}" if self.detail else text

    @property
    def headers(self) -> dict[str, str]:
        """Every response header to send with :attr:`text`."""
        return {N.CONTENT_TYPE_HEADER: N.TEXT_CONTENT_TYPE, **dict(self.extra_headers)}


def rejection_for(error: QStashError) -> Rejection:
    """The answer to ``error`` (DESIGN.md "Answers an endpoint gives")."""
    return Rejection(error.status_code, error.reason, error.response_headers, error.response_detail)


def _log_rejection(rejection: Rejection, error: QStashError, message_id: str | None) -> None:
    if rejection.status >= 500:
        # Configuration errors name what is missing (never a key's value): the operator's cue.
        logger.error("QStash delivery answered %d: %s", rejection.status, error)
    else:
        logger.info(
            "QStash delivery rejected: %s (message id %r)",  # %r: the id is client-supplied
            rejection.reason,
            (message_id or "-")[:64],
        )


def check_content_length(value: object, max_body_bytes: int) -> Rejection | None:
    """A 413 rejection when a declared length exceeds the limit (check before reading)."""
    try:
        length = int(value) if isinstance(value, (str, int)) else 0
    except ValueError:
        return None  # the server rejects a malformed Content-Length; the read is still capped
    if length > max_body_bytes:
        rejection = rejection_for(PayloadTooLargeError(max_body_bytes))
        logger.info("QStash delivery rejected: %s (declared %d bytes)", rejection.reason, length)
        return rejection
    return None


def _view(headers: object) -> tuple[Headers, list[str]]:
    try:
        return Headers.split(headers, N.SIGNATURE_HEADER)  # type: ignore[arg-type]
    except TypeError:  # not a mapping nor pairs at all: a request without headers
        return Headers(), []


def check_request(
    receiver: ReceiverSource,
    headers: HeaderInput,
    body: object,
    *,
    url: str | None = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> VerifiedMessage | Rejection:
    """Verify one request given its headers and RAW body.

    Returns the complete :class:`VerifiedMessage` or a :class:`Rejection` carrying the status
    and text to answer with. Never raises for bad input (odd header names or values, a body
    that is not bytes or text); a missing configuration (also one raised by a ``receiver``
    factory) becomes a 500 rejection.

    Raises:
        ValueError: ``clock_tolerance`` is out of range (a programming error).
    """
    check_tolerance(clock_tolerance)
    view, signatures = _view(headers)
    region = view.first(N.REGION_HEADER)
    try:
        raw = raw_body(body)
        active = receiver if isinstance(receiver, Receiver) else receiver()
        if len(raw) > max_body_bytes:
            raise PayloadTooLargeError(max_body_bytes)
        signature = signatures[0].strip() if signatures else ""
        if not signature:
            raise MissingSignatureError()
        if len(signatures) > 1 or "," in signature:
            raise DuplicateSignatureError()
        verified = active._verified(signature, raw, url, clock_tolerance, region)
    except QStashError as error:
        rejection = rejection_for(error)
        _log_rejection(rejection, error, view.first(N.MESSAGE_ID_HEADER))
        return rejection
    return message_of(raw, verified, region, view)
