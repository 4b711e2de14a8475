"""The answers an endpoint gives in place of its handler's: status, reason and headers.

This is the one place that says which status a case gets (the table is in docs/configuration.md,
"Answers an endpoint gives"): errors carry theirs (``QStashError.status_code``),
[`answer_for()`][qstash_receiver.answers.answer_for] turns an error into an
[`Answer`][qstash_receiver.answers.Answer], and each adapter only puts an
[`Answer`][qstash_receiver.answers.Answer] into its platform's response shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from . import names as N
from .errors import PayloadTooLargeError, QStashError
from .headers import decimal
from .retry_control import NonRetryableError, RetryLater

__all__ = [
    "CLIENT_GONE",
    "DUPLICATE",
    "Answer",
    "answer_for",
    "declared_too_large",
    "handler_answer",
    "is_success",
    "refusal",
]

logger = logging.getLogger("qstash_receiver")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # 489 has no standard phrase
        return "Error"


@dataclass(frozen=True, slots=True)
class Answer:
    """A fixed answer given instead of the handler's (or in place of its failure).

    Attributes:
        status: 401 (not verified), 413 (body too large), 500 (configuration; retryable),
            489 (the handler asked for no retry), 503 (a later retry), 409 (another copy in
            progress), 200 (a copy of a message already handled).
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
        """Every response header to send with [`text`][qstash_receiver.answers.Answer.text]."""
        return {N.CONTENT_TYPE_HEADER: N.TEXT_CONTENT_TYPE, **dict(self.extra_headers)}


#: The answer to a copy of a message already handled: 2xx, so QStash stops; the handler does
#: not run.
DUPLICATE: Final = Answer(200, "duplicate")


#: The answer to a request whose client left before its body was read: nobody reads it, and
#: nothing is raised or logged as an error.
CLIENT_GONE: Final = Answer(400, "client_disconnected")


def answer_for(error: QStashError) -> Answer:
    """The answer to ``error`` (its status, reason, headers and detail)."""
    return Answer(error.status_code, error.reason, error.response_headers, error.response_detail)


def refusal(error: QStashError) -> Answer:
    """The answer to a delivery refused before its handler ran.

    A 5xx is our own fault (no keys, a store down): its cause is logged at ERROR (logger
    ``qstash_receiver``; never a key). Every refusal is also a record of the delivery log
    ([`qstash_receiver.telemetry`][qstash_receiver.telemetry]), written by the lifecycle.
    """
    answer = answer_for(error)
    if answer.status >= 500:
        logger.error("QStash delivery answered %d: %s", answer.status, error)
    return answer


def declared_too_large(content_length: object, max_body_bytes: int) -> Answer | None:
    """A 413 when a declared ``Content-Length`` exceeds ``max_body_bytes`` (check before any
    read); ``None`` otherwise, also for a malformed length (the server refuses that one, and
    every read is capped anyway)."""
    length = decimal(content_length)
    if length is None or length <= max_body_bytes:
        return None
    return answer_for(PayloadTooLargeError(max_body_bytes))


def is_success(status: int | None) -> bool:
    """Whether an answer's status is 2xx: the only answers QStash does not retry."""
    return status is not None and 200 <= status < 300


def handler_answer(error: NonRetryableError | RetryLater) -> Answer:
    """The answer to a handler that raised ``NonRetryableError`` (489) or ``RetryLater`` (503)
    (the delivery log records it: [`qstash_receiver.telemetry`][qstash_receiver.telemetry])."""
    return answer_for(error)
