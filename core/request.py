"""The one framework-neutral request check every adapter calls.

This module is the only place where an answer's status code is decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .errors import (
    ConfigError,
    DuplicateSignatureError,
    MissingSignatureError,
    PayloadTooLargeError,
    QStashError,
    SignatureError,
)
from .headers import HeaderInput, Headers
from .message import VerifiedMessage
from .verify import Body, Receiver, check_tolerance

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ReceiverSource",
    "Rejection",
    "check_content_length",
    "check_options",
    "check_request",
    "rejection_for",
]

logger = logging.getLogger("qstash_receiver")

#: Default body limit (QStash's largest message size on paid plans is 10 MB).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

SIGNATURE_HEADER = "upstash-signature"

#: A receiver, or a function returning one (called per request; it may raise ConfigError,
#: e.g. when keys cannot be fetched, which is answered like any configuration error: 500).
ReceiverSource = Receiver | Callable[[], Receiver]
_TRANSPORT_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "accept-encoding", "user-agent"}
)


@dataclass(frozen=True)
class Rejection:
    """A delivery that must not reach the handler, and the answer to give.

    Attributes:
        status: 401 (not verified), 413 (body too large) or 500 (configuration; retryable).
        reason: the stable reason code, e.g. ``invalid_signature``.
    """

    status: int
    reason: str

    @property
    def text(self) -> str:
        """The short fixed response body, e.g. ``401 Unauthorized: body_mismatch``."""
        return f"{self.status} {_PHRASES[self.status]}: {self.reason}"

    @property
    def headers(self) -> dict[str, str]:
        """Response headers every adapter sends with the text."""
        return {"Content-Type": "text/plain; charset=utf-8"}


_PHRASES = {401: "Unauthorized", 413: "Payload Too Large", 500: "Internal Server Error"}


def rejection_for(error: QStashError) -> Rejection:
    """Map a library error to its answer (DESIGN.md "Answers an endpoint gives")."""
    if isinstance(error, SignatureError):
        return Rejection(401, error.reason)
    if isinstance(error, PayloadTooLargeError):
        return Rejection(413, error.reason)
    if isinstance(error, ConfigError):
        logger.error("QStash delivery answered 500: %s", error)
        return Rejection(500, "configuration_error")
    return Rejection(500, "internal_error")


def check_options(clock_tolerance: float, max_body_bytes: int) -> None:
    """Validate adapter options once, when a view or handler is decorated.

    Raises:
        ValueError: ``clock_tolerance`` negative or NaN, or ``max_body_bytes`` not an
            ``int`` >= 0 (a float NaN limit would silently switch the limit off).
    """
    check_tolerance(clock_tolerance)
    if (
        isinstance(max_body_bytes, bool)
        or not isinstance(max_body_bytes, int)
        or max_body_bytes < 0
    ):
        raise ValueError("max_body_bytes must be an int >= 0")


def check_content_length(value: str | int | None, max_body_bytes: int) -> Rejection | None:
    """A 413 rejection when a declared length exceeds the limit (check before reading)."""
    try:
        length = int(value) if value is not None else 0
    except ValueError:
        return None  # the server rejects a malformed Content-Length; the read is still capped
    if length > max_body_bytes:
        rejection = rejection_for(PayloadTooLargeError(max_body_bytes))
        logger.info("QStash delivery rejected: %s (declared %d bytes)", rejection.reason, length)
        return rejection
    return None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def check_request(
    receiver: ReceiverSource,
    headers: HeaderInput,
    body: Body,
    *,
    url: str | None = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> VerifiedMessage | Rejection:
    """Verify one request given its headers and RAW body.

    Returns the :class:`VerifiedMessage` (with the ``Upstash-*`` delivery headers filled in)
    or a :class:`Rejection` carrying the status and text to answer with. Never raises for
    bad input; a missing configuration (also one raised by a ``receiver`` factory) becomes a
    500 rejection.
    """
    view = headers if isinstance(headers, Headers) else Headers(headers)
    raw = body.encode("utf-8") if isinstance(body, str) else body  # the limit counts bytes
    try:
        active = receiver if isinstance(receiver, Receiver) else receiver()
        if len(raw) > max_body_bytes:
            raise PayloadTooLargeError(max_body_bytes)
        signatures = view.get_all(SIGNATURE_HEADER)
        if not signatures or not signatures[0]:
            raise MissingSignatureError()
        if len(signatures) > 1 or "," in signatures[0]:
            raise DuplicateSignatureError()
        message = active.verify(
            signature=signatures[0].strip(),
            body=raw,
            url=url,
            clock_tolerance=clock_tolerance,
            upstash_region=view.get("upstash-region"),
        )
    except QStashError as error:
        rejection = rejection_for(error)
        logger.info(
            "QStash delivery rejected: %s (message id %r)",  # %r: the id is client-supplied
            rejection.reason,
            (view.get("upstash-message-id") or "-")[:64],
        )
        return rejection
    # The message verify() built is completed in place: one object per request.
    flat = {name: view[name] for name in view if name != SIGNATURE_HEADER}
    message.message_id = view.get("upstash-message-id")
    message.retried = _int_or_none(view.get("upstash-retried"))
    message.schedule_id = view.get("upstash-schedule-id")
    message.topic_name = view.get("upstash-topic-name")
    message.caller_ip = view.get("upstash-caller-ip")
    message.headers = flat
    message.forwarded_headers = {
        name: value
        for name, value in flat.items()
        if not name.startswith("upstash-") and name not in _TRANSPORT_HEADERS
    }
    return message
