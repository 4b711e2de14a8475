"""The errors that steer QStash's retries: raised by a handler, or answered by the guard.

A handler raises [`NonRetryableError`][qstash_receiver.retry_control.NonRetryableError] (489: QStash
stops, the message goes to the DLQ) or [`RetryLater`][qstash_receiver.retry_control.RetryLater] (503
with ``Retry-After``); the duplicate guard answers
[`InProgressError`][qstash_receiver.retry_control.InProgressError] (409) and
[`StoreUnavailableError`][qstash_receiver.retry_control.StoreUnavailableError] (503). Like every
[`QStashError`][qstash_receiver.QStashError], each carries its answer.
"""

from __future__ import annotations

import datetime as _dt
import math
import unicodedata
from typing import ClassVar

from .errors import QStashError
from .names import NON_RETRYABLE_HEADER, RETRY_AFTER_HEADER

__all__ = [
    "CallbackError",
    "InProgressError",
    "NonRetryableError",
    "RetryLater",
    "StoreUnavailableError",
]


class NonRetryableError(QStashError):
    """Raised by a handler: the delivery failed for good, QStash must not retry it.

    Answered 489 with ``Upstash-NonRetryable-Error: true``: QStash marks the message as
    failed at once and moves it to the dead letter queue (DLQ). Use it for errors a retry
    cannot fix (an invalid payload, a deleted record).

    The message you give is logged, and also sent in the answer's body, where the DLQ entry shows
    it: ``489 Error: non_retryable: order 17 was deleted``. It is your own text, so keep secrets and
    personal data out of it; it is sent as one line, without control characters, cut to 200
    characters (see
    [`response_detail`][qstash_receiver.retry_control.NonRetryableError.response_detail]).
    """

    status_code = 489
    reason = "non_retryable"

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """``Upstash-NonRetryable-Error: true``: without it QStash would retry a 489."""
        return ((NON_RETRYABLE_HEADER, "true"),)

    @property
    def response_detail(self) -> str:
        """The message, as the answer carries it: one line of printable text (control and
        format characters removed, whitespace runs as one space), at most 200
        characters (a longer one is cut and ends with ``…``); empty when there is none."""
        try:
            text = str(self)
        except Exception:  # noqa: BLE001 (a message object whose __str__ fails: no text, still 489)
            return ""
        return _one_line(text, _MAX_DETAIL)


#: The most characters of a handler's ``NonRetryableError`` message that its 489 answer carries.
_MAX_DETAIL = 200


def _one_line(text: str, limit: int) -> str:
    # Whitespace of any kind (newlines included) becomes a space; every other control, format,
    # surrogate, private-use or unassigned character (ESC, bidirectional overrides, a lone
    # surrogate that would not encode) is dropped.
    kept = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or not unicodedata.category(char).startswith("C")
    )
    line = " ".join(kept.split())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


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

    A [`NonRetryableError`][qstash_receiver.retry_control.NonRetryableError]: a handler that lets it
    propagate answers 489, so QStash does not retry a body that will never parse. ``str(error)``
    names the field at fault.
    """

    reason = "not_a_callback"
