"""The OpenTelemetry SDK in memory, the delivery log captured, and the deliveries that every
adapter's telemetry test sends: one per outcome and per refusal reason.

The API takes one tracer (and meter) provider per process. The SDK's providers are set once,
the first time a test asks for them (fixture ``telemetry``), and switched off again after
each such test through the globals the API reads (as OpenTelemetry's own test helpers do), so
that the rest of the suite runs as an application without an SDK does.

Each adapter is driven through :func:`check_cases`, given a function that builds the adapter's
app for some options and returns how to deliver one request to it (``Deliver``). The app runs
inside a SERVER span, opened where an HTTP instrumentation would open it (a WSGI or ASGI
middleware, around a Lambda handler); the handler opens a span of its own.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_state
from opentelemetry.sdk.metrics import Counter as CounterInstrument
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from stores import unreachable_redis

from qstash_receiver import NonRetryableError, Receiver, RetryLater, VerifiedMessage, load_config
from qstash_receiver.dedupe import DedupeStore, MemoryStore, RedisStore, dedupe_key
from qstash_receiver.integration import Endpoint, Options
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

__all__ = ["telemetry"]

URL = "https://hooks.example.com/qstash/jobs"
PATH = "/qstash/jobs"
KEY = DEMO_KEYS["US_EAST_1"][0]
OTHER_KEY = DEMO_KEYS["EU_CENTRAL_1"][0]
LIMIT = 2048
RECEIVER = Receiver(config=load_config(DEMO_ENV))
#: A receiver whose configuration cannot be resolved: every delivery is answered 500.
KEYLESS = Receiver(source=lambda: load_config({}))
REQUEST = "stand-in HTTP server span"
PUBLISHER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#: Every attribute a delivery's span may carry (DESIGN.md), and nothing else.
SPAN_KEYS = {
    "messaging.system",
    "messaging.operation.type",
    "messaging.message.id",
    "messaging.qstash.region",
    "messaging.qstash.retried",
    "messaging.qstash.outcome",
    "error.type",
}

_SPANS = InMemorySpanExporter()
_TRACER_PROVIDER = TracerProvider()
_TRACER_PROVIDER.add_span_processor(SimpleSpanProcessor(_SPANS))
_DELTA = AggregationTemporality.DELTA
_READER = InMemoryMetricReader(
    preferred_temporality={CounterInstrument: _DELTA, HistogramInstrument: _DELTA}
)
_METER_PROVIDER = MeterProvider(metric_readers=[_READER])
_installed = False
#: The options of the next Cloud Function app (tests/telemetry_gcf_source.py reads them).
GCF_OPTIONS: dict[str, Any] = {}
#: The tracer of the stand-in HTTP instrumentation and of the handlers.
TRACER = _TRACER_PROVIDER.get_tracer("tests")


def _switch(on: bool) -> None:
    global _installed
    if on and not _installed:
        trace.set_tracer_provider(_TRACER_PROVIDER)
        metrics.set_meter_provider(_METER_PROVIDER)
        _installed = True
        return
    trace._TRACER_PROVIDER = _TRACER_PROVIDER if on else None
    metrics_state._METER_PROVIDER = _METER_PROVIDER if on else None


@dataclass(frozen=True)
class Point:
    """One metric data point: its attributes, and the counter's value or histogram's count."""

    name: str
    unit: str
    attributes: dict[str, Any]
    value: float
    bounds: tuple[float, ...] = ()  # a histogram's bucket boundaries


class Captured:
    """What deliveries left behind since :meth:`clear` (metrics: since the test began)."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []

    def clear(self) -> None:
        _SPANS.clear()
        self.records.clear()

    def spans(self) -> list[ReadableSpan]:
        return list(_SPANS.get_finished_spans())

    def process_span(self) -> ReadableSpan:
        """The one delivery span (kind CONSUMER) since :meth:`clear`."""
        consumers = [s for s in self.spans() if s.kind == SpanKind.CONSUMER]
        assert len(consumers) == 1, [s.name for s in consumers]
        return consumers[0]

    def points(self) -> list[Point]:
        data = _READER.get_metrics_data()
        found: list[Point] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                if scope.scope.name != "qstash_receiver":
                    continue
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = point.count if hasattr(point, "count") else point.value
                        attributes = dict(point.attributes or {})
                        bounds = tuple(getattr(point, "explicit_bounds", None) or ())
                        unit = metric.unit or ""
                        found.append(Point(metric.name, unit, attributes, value, bounds))
        return found


class _Records(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    """The SDK switched on for this test; spans, metric points and delivery records kept."""
    captured = Captured()
    _switch(True)
    _READER.get_metrics_data()  # drop earlier points (delta temporality)
    _SPANS.clear()
    log = logging.getLogger("qstash_receiver.delivery")
    handler, level = _Records(captured.records), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        _switch(False)


@contextmanager
def server_span(name: str = REQUEST) -> Iterator[None]:
    """What an HTTP server instrumentation opens around a request."""
    with TRACER.start_as_current_span(name, kind=SpanKind.SERVER):
        yield


def wsgi_with_server_span(app: Any) -> Any:
    """A WSGI app inside a SERVER span (as OpenTelemetry's WSGI middleware opens one)."""

    def served(environ: dict[str, Any], start_response: Any) -> Any:
        with server_span():
            return list(app(environ, start_response))

    return served


def asgi_with_server_span(app: Any) -> Any:
    """An ASGI app inside a SERVER span (as OpenTelemetry's ASGI middleware opens one)."""

    async def served(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with server_span():
            await app(scope, receive, send)

    return served


# --- the handler every adapter runs, told by the body what to do -----------------------------


def act(message: VerifiedMessage) -> tuple[int, str]:
    """The user's handler: a span of its own, then what the body says."""
    with TRACER.start_as_current_span("handler work"):
        action = json.loads(message.body)["do"]
    if action == "nonretryable":
        raise NonRetryableError("the order is gone")
    if action == "retry_later":
        raise RetryLater(30)
    if action == "crash":
        raise RuntimeError("bug in the handler")
    return (500, "failed") if action == "fail" else (200, "handled")


# --- the deliveries --------------------------------------------------------------------------


def body_for(action: str, size: int = 0) -> bytes:
    body = json.dumps({"do": action}).encode()
    return body + b" " * max(0, size - len(body))


def delivery(
    action: str = "ok", *, message_id: str = "msg_ok", retried: int = 0, **options: Any
) -> tuple[bytes, dict[str, str]]:
    """A delivery signed as QStash signs it, with a publisher's forwarded traceparent."""
    body = options.pop("body", None) or body_for(action)
    key = options.pop("key", KEY)
    headers = signed_headers(
        body,
        key=key,
        url=options.pop("url", URL),
        region=options.pop("region", "US_EAST_1"),
        message_id=message_id,
        retried=retried,
        forwarded={"Traceparent": PUBLISHER},
        **options,
    )
    return body, headers


def _replaced(name: str, value: str, **options: Any) -> tuple[bytes, dict[str, str]]:
    body, headers = delivery(message_id="msg_refused", **options)
    headers[name] = value
    return body, headers


def _dropped(name: str) -> tuple[bytes, dict[str, str]]:
    body, headers = delivery(message_id="msg_refused")
    del headers[name]
    return body, headers


def _alg_none() -> tuple[bytes, dict[str, str]]:
    body, headers = delivery(message_id="msg_refused")
    token = headers["Upstash-Signature"]
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    headers["Upstash-Signature"] = f"{header}.{token.split('.')[1]}."
    return body, headers


def _body_mismatch() -> tuple[bytes, dict[str, str]]:
    body, headers = delivery(message_id="msg_refused")
    return body + b" ", headers


def _duplicate_signature() -> tuple[bytes, dict[str, str]]:
    body, headers = delivery(message_id="msg_refused")
    token = headers["Upstash-Signature"]
    headers["Upstash-Signature"] = f"{token}, {token}"  # two headers, as a server joins them
    return body, headers


@dataclass(frozen=True)
class Case:
    """One delivery and what it must leave behind."""

    name: str
    outcome: str
    error_type: str | None
    status: int | None  # None: the handler's exception propagates (the platform answers 500)
    request: Callable[[], tuple[bytes, dict[str, str]]]
    app: str = "main"  # main, keyless (no usable keys) or unreachable (the guard's store)
    runs_handler: bool = False
    region: str | None = "US_EAST_1"


def _now() -> int:
    return int(time.time())


#: The first case's delivery, whose signature the ``replayed`` case sends again.
_HANDLED: list[tuple[bytes, dict[str, str]]] = []


def _handled() -> tuple[bytes, dict[str, str]]:
    _HANDLED[:] = [delivery("ok")]
    return _HANDLED[0]


def _replayed() -> tuple[bytes, dict[str, str]]:
    # The handled delivery's signature under another message id: a captured token replayed.
    assert _HANDLED, "the replayed case needs the handled case to have run before it"
    body, headers = _HANDLED.pop()
    return body, {**headers, "Upstash-Message-Id": "msg_replayed"}


CASES: tuple[Case, ...] = (
    Case("handled", "handled", None, 200, _handled, runs_handler=True),
    Case("duplicate", "duplicate", "duplicate", 200, lambda: delivery("ok", retried=1)),
    Case(
        "in_progress",
        "in_progress",
        "in_progress",
        409,
        lambda: delivery("ok", message_id="msg_held"),
    ),
    Case(
        "failed_status",
        "failed",
        "500",
        500,
        lambda: delivery("fail", message_id="msg_fail"),
        runs_handler=True,
    ),
    Case(
        "failed_raise",
        "failed",
        "RuntimeError",
        None,
        lambda: delivery("crash", message_id="msg_crash"),
        runs_handler=True,
    ),
    Case(
        "non_retryable",
        "non_retryable",
        "non_retryable",
        489,
        lambda: delivery("nonretryable", message_id="msg_nr"),
        runs_handler=True,
    ),
    Case(
        "retry_later",
        "retry_later",
        "retry_later",
        503,
        lambda: delivery("retry_later", message_id="msg_rl"),
        runs_handler=True,
    ),
    Case(
        "dedupe_unavailable",
        "unavailable",
        "dedupe_unavailable",
        503,
        lambda: delivery("ok", message_id="msg_store"),
        app="unreachable",
    ),
    Case(
        "configuration_error",
        "unavailable",
        "configuration_error",
        500,
        lambda: delivery("ok", message_id="msg_keys"),
        app="keyless",
    ),
    Case("replayed", "rejected", "replayed", 401, _replayed),
    Case(
        "missing_signature",
        "rejected",
        "missing_signature",
        401,
        lambda: _dropped("Upstash-Signature"),
    ),
    Case("duplicate_signature", "rejected", "duplicate_signature", 401, _duplicate_signature),
    Case(
        "duplicate_header",
        "rejected",
        "duplicate_header",
        401,
        lambda: _replaced("Upstash-Retried", "0, 1"),
    ),
    Case(
        "unknown_region",
        "rejected",
        "unknown_region",
        401,
        lambda: _dropped("Upstash-Region"),
        region=None,
    ),
    Case(
        "malformed_signature",
        "rejected",
        "malformed_signature",
        401,
        lambda: _replaced("Upstash-Signature", "not-a-jwt"),
    ),
    Case("unsupported_algorithm", "rejected", "unsupported_algorithm", 401, _alg_none),
    Case(
        "invalid_signature",
        "rejected",
        "invalid_signature",
        401,
        lambda: delivery(message_id="msg_refused", key=OTHER_KEY),
    ),
    Case(
        "invalid_claims",
        "rejected",
        "invalid_claims",
        401,
        lambda: delivery(message_id="msg_refused", claims={"exp": "later"}),
    ),
    Case(
        "invalid_issuer",
        "rejected",
        "invalid_issuer",
        401,
        lambda: delivery(message_id="msg_refused", claims={"iss": "Upstash-but-not"}),
    ),
    Case(
        "expired",
        "rejected",
        "expired",
        401,
        lambda: delivery(message_id="msg_refused", now=_now() - 3600),
    ),
    Case(
        "not_yet_valid",
        "rejected",
        "not_yet_valid",
        401,
        lambda: delivery(message_id="msg_refused", claims={"nbf": _now() + 600}),
    ),
    Case("body_mismatch", "rejected", "body_mismatch", 401, _body_mismatch),
    Case(
        "url_mismatch",
        "rejected",
        "url_mismatch",
        401,
        lambda: delivery(message_id="msg_refused", url=URL + "/other"),
    ),
    Case(
        "body_too_large",
        "rejected",
        "body_too_large",
        413,
        lambda: delivery(message_id="msg_refused", body=body_for("ok", LIMIT + 1)),
    ),
)

#: Builds an adapter's app for some options; the function delivering one request to it
#: returns the answer's status (or raises the handler's exception).
Deliver = Callable[[bytes, Mapping[str, str]], int]
Build = Callable[[dict[str, Any]], Deliver]


def _hold(store: DedupeStore, body: bytes, headers: Mapping[str, str]) -> None:
    # Another worker holds the message: claimed through the store, as the guard claims it.
    message = Endpoint(Options(), RECEIVER).verify(headers, body)
    assert isinstance(message, VerifiedMessage)
    key = dedupe_key(message)
    assert key is not None
    store.claim(key, 60)


def check_cases(
    build: Build,
    captured: Captured,
    *,
    split_hooks: bool = False,
    skip: frozenset[str] = frozenset(),
    crash: type[BaseException] = RuntimeError,
) -> None:
    """Every case through the adapter ``build`` makes: one span each (kind, name, parent,
    attributes, status, link), one delivery record each, and the metric points they add up to.

    ``split_hooks``: the adapter ends deliveries from separate hooks (Flask's ``protect``,
    FastAPI's dependency), so the handler's span is the request's child, not the delivery's.
    """
    store = MemoryStore()
    options = {"receiver": RECEIVER, "url": URL, "max_body_bytes": LIMIT}
    apps = {
        "main": build({**options, "dedupe": store}),
        "keyless": build({**options, "receiver": KEYLESS}),
        "unreachable": build({**options, "dedupe": RedisStore(unreachable_redis())}),
    }
    expected: Counter[tuple[str, str | None, str | None]] = Counter()
    for case in CASES:
        if case.name in skip:
            continue
        captured.clear()
        body, headers = case.request()
        if case.name == "in_progress":
            _hold(store, body, headers)
        if case.status is None:
            with pytest.raises(crash):
                apps[case.app](body, headers)
        else:
            assert apps[case.app](body, headers) == case.status, case.name
        _check_span(captured, case, headers, split_hooks)
        _check_record(captured, case, headers)
        expected[(case.outcome, case.error_type, case.region)] += 1
    _check_points(captured, expected)


def _verified(case: Case) -> bool:
    """Whether the case's signature verified (a replay is refused after that, by the guard)."""
    return (case.outcome != "rejected" or case.name == "replayed") and case.app != "keyless"


def _check_span(
    captured: Captured, case: Case, headers: Mapping[str, str], split_hooks: bool
) -> None:
    span = captured.process_span()
    verified = _verified(case)
    assert span.name == (f"process {PATH}" if verified else "process"), case.name
    attributes = dict(span.attributes or {})
    assert set(attributes) <= SPAN_KEYS, case.name
    wanted: dict[str, Any] = {
        "messaging.system": "qstash",
        "messaging.operation.type": "process",
        "messaging.message.id": headers["Upstash-Message-Id"],
        "messaging.qstash.outcome": case.outcome,
        "messaging.qstash.retried": int(headers["Upstash-Retried"].split(",")[0]),
    }
    if case.region is not None:
        wanted["messaging.qstash.region"] = case.region
    if case.error_type is not None:
        wanted["error.type"] = case.error_type
    if case.name == "duplicate_header":  # "0, 1" is no count
        del wanted["messaging.qstash.retried"]
    assert attributes == wanted, case.name
    errors = {"rejected", "failed", "non_retryable", "unavailable"}
    status = StatusCode.ERROR if case.outcome in errors else StatusCode.UNSET
    assert span.status.status_code == status, case.name
    links = [link.context for link in span.links]
    assert [(c.trace_id, c.span_id) for c in links] == [
        (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7)
    ], case.name
    # A child of the span active in the request: the stand-in instrumentation's SERVER span,
    # or one inside it (FastAPI >= 0.160 opens its own SERVER span, parented on the request's
    # traceparent, and a span around solving dependencies).
    spans = {s.context.span_id: s for s in captured.spans()}
    assert span.parent is not None, case.name
    server = spans[span.parent.span_id]
    while server.kind != SpanKind.SERVER:
        assert server.parent is not None, case.name
        server = spans[server.parent.span_id]
    assert span.context.trace_id == server.context.trace_id, case.name
    # Within the request (the stand-in's span: install()'s middleware ends a FastAPI delivery
    # once the response is sent, after FastAPI's own span ended).
    (request,) = (s for s in spans.values() if s.kind == SpanKind.SERVER and s.name == REQUEST)
    times = (request.start_time, span.start_time, span.end_time, request.end_time)
    assert list(times) == sorted(t or 0 for t in times), case.name
    work = [s for s in spans.values() if s.name == "handler work"]
    assert len(work) == (1 if case.runs_handler else 0), case.name
    if work:  # the handler's own span: the delivery's child, unless hooks end the delivery
        assert work[0].parent is not None
        assert (work[0].parent.span_id == span.context.span_id) != split_hooks, case.name
        assert work[0].context.trace_id == span.context.trace_id, case.name


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """A delivery record's fields (its ``qstash_*`` attributes), by name."""
    return {name: getattr(record, f"qstash_{name}") for name in _RECORD_FIELDS}


def _check_record(captured: Captured, case: Case, headers: Mapping[str, str]) -> None:
    (record,) = captured.records
    assert record.name == "qstash_receiver.delivery"
    levels = {"failed": logging.ERROR, "unavailable": logging.ERROR}
    levels["non_retryable"] = logging.WARNING
    assert record.levelno == levels.get(case.outcome, logging.INFO), case.name
    got = fields(record)
    assert got["outcome"] == case.outcome, case.name
    assert got["reason"] == case.error_type, case.name
    assert got["message_id"] == headers["Upstash-Message-Id"], case.name
    assert got["region"] == case.region, case.name
    verified = _verified(case)
    assert got["key_source"] == ("region" if verified else None), case.name
    assert isinstance(got["duration"], float), case.name
    assert 0 <= got["duration"] < 10, case.name


_RECORD_FIELDS = ("message_id", "region", "key_source", "outcome", "reason", "retried", "duration")


def _check_points(
    captured: Captured, expected: Counter[tuple[str, str | None, str | None]]
) -> None:
    points = captured.points()
    for name, unit in (
        ("messaging.client.consumed.messages", "{message}"),
        ("messaging.process.duration", "s"),
    ):
        got: Counter[tuple[str, str | None, str | None]] = Counter()
        for point in points:
            if point.name != name:
                continue
            assert point.unit == unit
            attributes = dict(point.attributes)
            assert attributes.pop("messaging.system") == "qstash"
            key = (
                attributes.pop("messaging.qstash.outcome"),
                attributes.pop("error.type", None),
                attributes.pop("messaging.qstash.region", None),
            )
            assert attributes == {}, attributes
            got[key] += int(point.value)
        assert got == expected, name


def pieces(secret: str, size: int = 8) -> set[str]:
    """Every ``size``-character piece of ``secret``."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def signature_parts(headers: Mapping[str, str]) -> list[str]:
    """The secret parts of a delivery's signature: its payload and its MAC."""
    token = headers.get("Upstash-Signature", "")
    return [part for part in token.replace(",", ".").split(".")[1:] if len(part) >= 8]


def everything_emitted(captured: Captured) -> str:
    """Every span name, attribute, event, link, status, metric attribute and log record."""
    out: list[str] = []
    for span in captured.spans():
        out += [span.name, repr(dict(span.attributes or {})), str(span.status.description)]
        out += [f"{e.name} {dict(e.attributes or {})}" for e in span.events]
        out += [repr(dict(link.attributes or {})) for link in span.links]
    for point in captured.points():
        out.append(repr(point))
    for record in captured.records:
        out += [record.getMessage(), repr(vars(record))]
    return "\n".join(out)


# Secrets of a migration-mode environment: keys and tokens of both regions, the default pair.
SECRET_ENV = {
    "QSTASH_REGION": "US_EAST_1",
    "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": "sig_Qm8vXr2LwT9kPzA4nYc6JhD1sEfGbU3o",
    "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": "sig_Wn5tRk8ZpX2vLq7MdC4hYb9JsA6eFgU1",
    "US_EAST_1_QSTASH_TOKEN": "eyJVc2VySUQiOiJ0ZWxlbWV0cnktdGVzdCIsIlBhc3N3b3JkIjoiWjd4In0=",
    "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": "sig_Ht3pVz6QmK9wLr2XcB8nYf5DsJ4aGe7u",
    "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": "sig_Pk2sNx7WqV4zMt9RhC6bLj3FyD8eAg5o",
    "EU_CENTRAL_1_QSTASH_TOKEN": "eyJVc2VySUQiOiJldS10ZWxlbWV0cnkiLCJQYXNzd29yZCI6IlE5In0=",
    "QSTASH_CURRENT_SIGNING_KEY": "sig_Lm4tXq8ZvR2kWp6NcH9sBd3JyF7eAu5g",
    "QSTASH_NEXT_SIGNING_KEY": "sig_Rz7wMk3PqT9vXn2LcD6hYs8BfJ4eGa5u",
    "QSTASH_TOKEN": "eyJVc2VySUQiOiJkZWZhdWx0LXRlbGVtZXRyeSIsIlBhc3N3b3JkIjoiSzIifQ==",
}


def check_no_secrets(build: Build, captured: Captured) -> None:
    """Deliveries of every kind through ``build``'s app, guarded, with the keys and tokens of
    ``SECRET_ENV``: handled, failed, 489, 503, forged, and a replayed signature. No 8-character
    piece of any key, token or signature payload or MAC is in a span, a metric point or a log
    record (of any logger, at any level)."""
    logged: list[logging.LogRecord] = []
    root = logging.getLogger()
    handler = _Records(logged)
    # Every logger at DEBUG while the deliveries run (also ours, whatever level a test left).
    loggers = [root, *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    levels = [(logger, logger.level) for logger in loggers]
    for logger, _ in levels:
        logger.setLevel(logging.DEBUG)
    root.addHandler(handler)
    sent: list[Mapping[str, str]] = []
    try:
        options = {"receiver": Receiver(config=load_config(SECRET_ENV)), "url": URL}
        options["max_body_bytes"] = LIMIT
        deliver = build({**options, "dedupe": MemoryStore()})
        key = SECRET_ENV["US_EAST_1_QSTASH_CURRENT_SIGNING_KEY"]
        expected = {"ok": 200, "fail": 500, "nonretryable": 489, "retry_later": 503}
        for action, status in expected.items():
            body, headers = delivery(action, message_id=f"msg_{action}", key=key)
            forged = {**headers, "Upstash-Signature": headers["Upstash-Signature"][:-4] + "AAAA"}
            replayed = {**headers, "Upstash-Message-Id": f"msg_{action}_replayed"}
            assert [deliver(body, h) for h in (headers, forged, replayed)] == [status, 401, 401]
            sent += [headers, forged]
    finally:
        root.removeHandler(handler)
        for logger, level in levels:
            logger.setLevel(level)
    emitted = everything_emitted(captured) + "\n".join(
        f"{r.name} {r.getMessage()} {vars(r)!r}" for r in logged
    )
    for seen in ("msg_ok", "invalid_signature", "replayed"):  # the scan sees what was recorded
        assert seen in emitted, seen
    secrets = [value for name, value in SECRET_ENV.items() if name != "QSTASH_REGION"]
    secrets += [part for headers in sent for part in signature_parts(headers)]
    leaked = sorted(piece for s in secrets for piece in pieces(s) if piece in emitted)
    assert leaked == [], f"{len(leaked)} pieces of a key, token or signature leaked"
