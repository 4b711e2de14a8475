"""What QStash makes of a destination's answer, and the callback body that reports it.

Sources, followed field by field:
https://upstash.com/docs/qstash/features/retry (489 with ``Upstash-NonRetryable-Error: true``
stops the retries and dead-letters the message; ``Retry-After``, ``X-RateLimit-Reset``,
``X-RateLimit-Reset-Requests`` and ``X-RateLimit-Reset-Tokens`` in seconds, an RFC 1123 date or
a duration such as ``6m5s`` steer the next retry) and
https://upstash.com/docs/qstash/features/callbacks (the callback and failure-callback body).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from qstash_receiver import names as N

from .proto import Message

__all__ = ["Answer", "callback_body", "non_retryable", "parse_retry_after", "retry_after"]

NON_RETRYABLE_STATUS = 489
NON_RETRYABLE_HEADER = N.NON_RETRYABLE_HEADER
RETRY_AFTER_HEADERS = (
    N.RETRY_AFTER_HEADER,
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-Requests",
    "X-RateLimit-Reset-Tokens",
)
_SECONDS = re.compile(r"[0-9]+")
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Answer:
    """A destination's answer: status, headers as received, body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (any case), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300


def non_retryable(answer: Answer) -> bool:
    """True when the destination asked QStash to stop retrying (489 plus the header)."""
    flag = (answer.header(NON_RETRYABLE_HEADER) or "").strip().lower()
    return answer.status == NON_RETRYABLE_STATUS and flag == "true"


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds to wait for a ``Retry-After`` value, or None when it is not one QStash reads.

    ``now`` is the wall-clock time (``time.time()``), for the date form.
    """
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    if _DURATION.fullmatch(text):
        return sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def retry_after(answer: Answer, now: float) -> float | None:
    """The delay the answer asks for before the next retry, or None (use the backoff)."""
    for name in RETRY_AFTER_HEADERS:
        value = answer.header(name)
        if value is not None and (seconds := parse_retry_after(value, now)) is not None:
            return seconds
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def callback_body(
    message: Message, answer: Answer | None, retried: int, *, dlq_id: str | None = None
) -> bytes:
    """The JSON body of the (failure) callback reporting ``answer`` to ``message``.

    Fields and their types follow the page's examples, as they are written there:
    ``header`` maps names to lists, ``sourceHeader`` to single values, ``notBefore`` and
    ``createdAt`` are strings of Unix milliseconds; ``dlqId`` only in failure callbacks. The
    examples spell the source id ``sourceMessasgeId``; that is a typo on the page, and
    ``sourceMessageId`` is sent. ``topicName``, ``endpointName`` and ``scheduleId`` are left
    out: the stand-in has no URL groups or schedules. With no answer at all (the destination
    was unreachable), ``status`` is 0 and ``header``/``body`` are empty.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in answer.headers if answer else ():
        grouped.setdefault(name, []).append(value)
    settings = message.settings
    payload: dict[str, Any] = {
        "status": answer.status if answer else 0,
        "header": grouped,
        "body": _b64(answer.body if answer else b""),
        "retried": retried,
        "maxRetries": settings.retries,
    }
    if dlq_id is not None:
        payload["dlqId"] = dlq_id
    payload |= {
        "sourceMessageId": message.message_id,
        "url": message.destination,
        "method": settings.method,
        "sourceHeader": dict(settings.forwarded),
        "sourceBody": _b64(message.body),
        "notBefore": str(message.created_ms + int(settings.delay * 1000)),
        "createdAt": str(message.created_ms),
        "callerIP": message.caller_ip,
    }
    return json.dumps(payload).encode()
