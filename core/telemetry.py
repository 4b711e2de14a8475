"""What each delivery leaves behind: one span, two metric points and one log record.

The lifecycle ([`qstash_receiver.lifecycle`][qstash_receiver.lifecycle]) watches every delivery an
endpoint sees, from its first step to its answer, with a [`Watch`][qstash_receiver.telemetry.Watch]
that ends once, with one of the [`OUTCOMES`][qstash_receiver.telemetry.OUTCOMES] (see the docs'
"Observing deliveries" page for what each means). Whenever the delivery was not handled,
``error.type`` (the log record's ``qstash_reason``) is its reason
code: the answer's reason (``invalid_signature``, ``configuration_error``, ``duplicate``...),
the class name of the handler's exception, or the status of its non-2xx answer.

OpenTelemetry (extra ``otel``: ``opentelemetry-api``) is imported once, on the first delivery, and
never looked for again when it is missing; its spans and metrics cost next to nothing until the
application configures an SDK. The delivery log is the logger ``qstash_receiver.delivery``; other
observers (Powertools on Lambda) are an [`Observer`][qstash_receiver.telemetry.Observer].
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from . import names as N
from ._otel import Facts, otel
from .answers import Answer
from .headers import HeaderInput, Headers, decimal
from .message import VerifiedMessage
from .retry_control import NonRetryableError, RetryLater

__all__ = ["DELIVERY_LOGGER", "OUTCOMES", "DeliveryRecord", "Observer", "Watch", "refused"]

#: The logger of the delivery log: one record per delivery.
DELIVERY_LOGGER: Final = "qstash_receiver.delivery"
logger = logging.getLogger(DELIVERY_LOGGER)
_diagnostics = logging.getLogger("qstash_receiver")

HANDLED, REJECTED, DUPLICATE, IN_PROGRESS = "handled", "rejected", "duplicate", "in_progress"
FAILED, NON_RETRYABLE, RETRY_LATER = "failed", "non_retryable", "retry_later"
UNAVAILABLE: Final = "unavailable"
#: Every value of ``messaging.qstash.outcome``.
OUTCOMES: Final = (
    HANDLED, REJECTED, DUPLICATE, IN_PROGRESS, FAILED, NON_RETRYABLE, RETRY_LATER, UNAVAILABLE,
)  # fmt: skip
# Every refusal is INFO: an anonymous caller's request is not our error. A message the handler
# gave up on (DLQ) is WARNING; a failed handler and our own faults (keys, store) are ERROR.
_LEVELS: Final = {
    **dict.fromkeys((HANDLED, REJECTED, DUPLICATE, IN_PROGRESS, RETRY_LATER), logging.INFO),
    NON_RETRYABLE: logging.WARNING,
    **dict.fromkeys((FAILED, UNAVAILABLE), logging.ERROR),
}
_GUARD_ANSWERS: Final = {"duplicate": DUPLICATE, "in_progress": IN_PROGRESS}
_SHOWN = 128  # characters of a client-supplied message id that are kept


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery once answered: what the log record, the metrics and observers get.

    Attributes:
        outcome: one of [`OUTCOMES`][qstash_receiver.telemetry.OUTCOMES].
        error_type: the reason code when not handled, else ``None``.
        region: the normalised ``Upstash-Region`` (``None`` when absent or not a region).
        message_id: the ``Upstash-Message-Id`` (client-supplied when refused; cut to 128).
        retried: the ``Upstash-Retried`` count, when it is a number.
        key_source: where the keys that verified it came from (``None`` when not verified).
        duration: seconds from the first step (reading the request) to the answer.
    """

    outcome: str
    error_type: str | None
    region: str | None
    message_id: str | None
    retried: int | None
    key_source: str | None
    duration: float


class Observer(Protocol):
    """Something else that watches deliveries: Powertools' metrics and tracer on Lambda.

    [`begin()`][qstash_receiver.telemetry.Observer.begin] runs when a delivery starts being
    processed (for one refused before its handler, just before it ends); the function it returns is
    called once with the record. Whatever either raises is logged and ignored: the delivery's answer
    stands.
    """

    def begin(self) -> Callable[[DeliveryRecord], None]: ...


def _facts(message: VerifiedMessage | None, headers: Headers | None) -> Facts:
    key_source: str | None
    if message is not None:
        view, message_id = message.headers, message.message_id
        region, retried = message.upstash_region, message.retried
        key_source, destination = message.key_source, urlsplit(message.url).path or "/"
    elif headers is not None:
        view, message_id = headers, headers.first(N.MESSAGE_ID_HEADER)
        region = N.normalize_region(headers.first(N.REGION_HEADER))
        retried = decimal(headers.first(N.RETRIED_HEADER))
        key_source = destination = None
    else:
        return Facts(None, None, None, None, None, None, None)
    return Facts(
        message_id[:_SHOWN] if message_id is not None else None,
        region,
        retried,
        key_source,
        destination,
        view.first("traceparent"),
        view.first("tracestate"),
    )


# From Endpoint.verify to the next step of the same request (claim, run): adapters call the
# two in one context. A message verified and never run stays here until the context's next
# verification (or its end); a step that finds another message starts its clock anew.
_VERIFIED: ContextVar[tuple[VerifiedMessage, int] | None] = ContextVar(
    "qstash_receiver.verified", default=None
)


def handed_over(message: VerifiedMessage, started_ns: int) -> None:
    """Keep when ``message``'s verification started, for the lifecycle's next step."""
    _VERIFIED.set((message, started_ns))


def taken(message: VerifiedMessage) -> int:
    """When ``message``'s first step started (its verification, else now)."""
    pending = _VERIFIED.get()
    if pending is None:
        return time.perf_counter_ns()
    _VERIFIED.set(None)
    return pending[1] if pending[0] is message else time.perf_counter_ns()


class Watch:
    """One delivery, watched from its first step to its answer, and ended once.

    Args:
        observer: another observer of the endpoint's deliveries, if any.
        started_ns: ``time.perf_counter_ns()`` when the delivery's first step began.
        message: the verified message (``None`` for a delivery refused before that).
        headers: the request's headers, for a delivery refused before it was verified.
    """

    __slots__ = (
        "_close", "_ended", "_facts", "_headers", "_message", "_observer", "_span", "_started",
    )  # fmt: skip

    def __init__(
        self,
        observer: Observer | None,
        started_ns: int,
        message: VerifiedMessage | None = None,
        headers: Headers | None = None,
    ) -> None:
        self._observer, self._started = observer, started_ns
        self._message, self._headers = message, headers
        self._facts: Facts | None = None
        self._ended = False
        self._span: Any = None
        self._close: Callable[[DeliveryRecord], None] | None = None

    def _known(self) -> Facts:
        facts = self._facts
        if facts is None:
            facts = self._facts = _facts(self._message, self._headers)
        return facts

    def start(self) -> Watch:
        """Open the delivery's span and the observer's part (before the guard and handler)."""
        api = otel()
        if api is not None and api.tracing():
            self._span = api.start(self._known(), self._started)
        if self._observer is not None:
            try:
                self._close = self._observer.begin()
            except Exception as error:  # noqa: BLE001 (an observer never breaks a delivery)
                _observer_failed(self._observer, error)
                self._close = _skip  # not begun: not ended either
        return self

    def activate(self) -> object:
        """Make the span current (the handler's own spans become its children); a token for
        [`deactivate()`][qstash_receiver.telemetry.Watch.deactivate], ``None`` when there is no
        span."""
        span = self._span
        api = otel() if span is not None else None
        return None if api is None else api.context.attach(api.trace.set_span_in_context(span))

    def deactivate(self, token: object) -> None:
        """Undo [`activate()`][qstash_receiver.telemetry.Watch.activate] (in the same context)."""
        api = otel() if token is not None else None
        if api is not None:
            api.context.detach(token)

    def answered(self, status: int | None) -> None:
        """End with the status of the handler's answer."""
        if status is not None and 200 <= status < 300:
            self.end(HANDLED)
        else:
            self.end(FAILED, str(status) if status is not None else "_OTHER")

    def raised(self, error: BaseException | None) -> None:
        """End for a handler that raised ``error`` (``None``: unknown)."""
        if isinstance(error, NonRetryableError):
            self.end(NON_RETRYABLE, error.reason)
        elif isinstance(error, RetryLater):
            self.end(RETRY_LATER, error.reason)
        else:
            self.end(FAILED, type(error).__qualname__ if error is not None else "_OTHER")

    def refused(self, answer: Answer) -> Answer:
        """End with ``answer``, given in place of the handler's; returns it."""
        outcome = _GUARD_ANSWERS.get(answer.reason)
        if outcome is None:
            outcome = UNAVAILABLE if answer.status >= 500 else REJECTED
        self.end(outcome, answer.reason)
        return answer

    def end(self, outcome: str, error_type: str | None = None) -> None:
        """Emit the span, the metric points and the log record (once: later calls do nothing)."""
        if self._ended:
            return
        self._ended = True
        duration = (time.perf_counter_ns() - self._started) / 1e9
        api = otel()
        span = self._span
        if span is None and api is not None and api.tracing():
            span = api.start(self._known(), self._started)
        if span is not None and api is not None:
            api.end(span, outcome, error_type)
        level = _LEVELS[outcome]
        metering = api is not None and api.metering()
        observer = self._observer
        if not (metering or observer is not None or logger.isEnabledFor(level)):
            return
        facts = self._known()
        if metering and api is not None:
            api.measure(outcome, error_type, facts.region, duration)
        record = DeliveryRecord(
            outcome,
            error_type,
            facts.region,
            facts.message_id,
            facts.retried,
            facts.key_source,
            duration,
        )
        if observer is not None:
            try:
                (self._close or observer.begin())(record)
            except Exception as error:  # noqa: BLE001 (an observer never breaks a delivery)
                _observer_failed(observer, error)
        if logger.isEnabledFor(level):
            _log(level, record)


def _skip(record: DeliveryRecord) -> None:
    pass


def _log(level: int, record: DeliveryRecord) -> None:
    logger.log(
        level,
        "QStash delivery %s%s: message %r, region %s, retried %s, keys %s, %.1f ms",
        record.outcome,
        f" ({record.error_type})" if record.error_type is not None else "",
        record.message_id or "-",
        record.region or "-",
        "-" if record.retried is None else record.retried,
        record.key_source or "-",
        record.duration * 1000,
        extra={
            "qstash_message_id": record.message_id,
            "qstash_region": record.region,
            "qstash_key_source": record.key_source,
            "qstash_outcome": record.outcome,
            "qstash_reason": record.error_type,
            "qstash_retried": record.retried,
            "qstash_duration": record.duration,
        },
    )


def _observer_failed(observer: Observer, error: Exception) -> None:
    _diagnostics.warning(
        "QStash delivery observer %s failed (%s): the delivery's answer stands",
        type(observer).__name__,
        type(error).__name__,
    )


def refused(
    answer: Answer,
    source: HeaderInput | VerifiedMessage | None = None,
    observer: Observer | None = None,
    started_ns: int | None = None,
) -> Answer:
    """Record a delivery answered ``answer`` before its handler ran; returns ``answer``.

    Args:
        answer: the answer given.
        source: the request's headers, or its verified message.
        observer: the endpoint's other observer.
        started_ns: when its first step began (``time.perf_counter_ns()``); default: now.
    """
    if isinstance(source, VerifiedMessage):
        return Watch(observer, taken(source), source).refused(answer)
    try:
        headers = Headers(source) if source is not None else None
    except TypeError:  # not headers at all
        headers = None
    started = time.perf_counter_ns() if started_ns is None else started_ns
    return Watch(observer, started, None, headers).refused(answer)
