"""The OpenTelemetry side of [`qstash_receiver.telemetry`][qstash_receiver.telemetry]: the API,
imported once.

Only ``opentelemetry-api`` is used (extra ``otel``): its tracer and meter are proxies that do
nothing until the application configures an SDK, and pick the SDK up when it does.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Final, NamedTuple

from ._version import __version__

__all__ = ["Facts", "Otel", "otel"]

# Outcomes whose span status is ERROR: the delivery was refused or failed. A duplicate, one
# in progress elsewhere and a retry the handler asked for are expected turns, not errors.
_ERROR_STATUS: Final = frozenset({"rejected", "failed", "non_retryable", "unavailable"})
# The buckets the messaging conventions advise for messaging.process.duration (seconds).
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class Facts(NamedTuple):
    """What is known of a delivery when its span starts."""

    message_id: str | None
    region: str | None
    retried: int | None
    key_source: str | None
    destination: str | None  # the signed URL's path (verified deliveries only)
    traceparent: str | None  # the publisher's, forwarded by QStash (Upstash-Forward-Traceparent)
    tracestate: str | None


class Otel:
    """The tracer and the two instruments (built once, on the first delivery)."""

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.context, self.trace = context, trace
        self._propagator = TraceContextTextMapPropagator()
        self._tracer = trace.get_tracer("qstash_receiver", __version__)
        meter = metrics.get_meter("qstash_receiver", __version__)
        self._duration = meter.create_histogram(
            "messaging.process.duration",
            unit="s",
            description="Duration of processing operation.",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self._consumed = meter.create_counter(
            "messaging.client.consumed.messages",
            unit="{message}",
            description="Number of messages that were delivered to the application.",
        )
        self._metrics_state: object = None
        try:  # where the API keeps the meter provider an application set
            from opentelemetry.metrics import _internal as metrics_state
        except ImportError:  # pragma: no cover (another layout: taken as configured)
            pass
        else:
            self._metrics_state = metrics_state

    # Until an SDK is set, the API's proxies do nothing, at a cost of some microseconds a
    # delivery; these checks (a module global each) skip even that. An API that keeps its
    # state elsewhere counts as configured: then its proxies decide, as they should.
    def tracing(self) -> bool:
        """Whether an application has set a tracer provider."""
        return getattr(self.trace, "_TRACER_PROVIDER", True) is not None

    def metering(self) -> bool:
        """Whether an application has set a meter provider."""
        return getattr(self._metrics_state, "_METER_PROVIDER", True) is not None

    def start(self, facts: Facts, started_ns: int) -> Any:
        """The delivery's span, started when its first step did (``perf_counter_ns``): a
        CONSUMER ``process`` span, a child of the current span (the HTTP server's), linked to
        the publisher's context when the delivery carries one."""
        attributes: dict[str, Any] = {
            "messaging.system": "qstash",
            "messaging.operation.type": "process",
        }
        if facts.message_id is not None:
            attributes["messaging.message.id"] = facts.message_id
        if facts.region is not None:
            attributes["messaging.qstash.region"] = facts.region
        if facts.retried is not None:
            attributes["messaging.qstash.retried"] = facts.retried
        links = None
        if facts.traceparent is not None:
            carrier = {"traceparent": facts.traceparent, "tracestate": facts.tracestate or ""}
            publisher = self.trace.get_current_span(self._propagator.extract(carrier))
            linked = publisher.get_span_context()
            links = [self.trace.Link(linked)] if linked.is_valid else None
        start_time = time.time_ns() - (time.perf_counter_ns() - started_ns)
        name = f"process {facts.destination}" if facts.destination else "process"
        return self._tracer.start_span(
            name,
            kind=self.trace.SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
            start_time=start_time,
        )

    def end(self, span: Any, outcome: str, error_type: str | None) -> None:
        """Set the outcome on ``span`` and end it."""
        span.set_attribute("messaging.qstash.outcome", outcome)
        if error_type is not None:
            span.set_attribute("error.type", error_type)
        if outcome in _ERROR_STATUS:
            span.set_status(self.trace.StatusCode.ERROR, error_type)
        span.end()

    def measure(
        self, outcome: str, error_type: str | None, region: str | None, seconds: float
    ) -> None:
        """One point of each instrument."""
        attributes = {"messaging.system": "qstash", "messaging.qstash.outcome": outcome}
        if region is not None:
            attributes["messaging.qstash.region"] = region
        if error_type is not None:
            attributes["error.type"] = error_type
        self._duration.record(seconds, attributes)
        self._consumed.add(1, attributes)


_UNDECIDED: Final = object()
_state: object = _UNDECIDED
_deciding = threading.Lock()


def otel() -> Otel | None:
    """The API's tracer and instruments; ``None`` without ``opentelemetry-api``.

    Decided on the first call, once: without the API nothing is imported again.
    """
    global _state
    state = _state
    if state is _UNDECIDED:
        with _deciding:
            if _state is _UNDECIDED:
                try:
                    _state = Otel()
                except ImportError:
                    _state = None
            state = _state
    return state if isinstance(state, Otel) else None
