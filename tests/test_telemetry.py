"""The delivery telemetry of the lifecycle itself (:mod:`qstash_receiver.telemetry`): each
delivery ended once, its log record, its span's details, the metric instruments, observers
that fail, and OpenTelemetry's absence (the API is looked for once, never per delivery)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import RECEIVER, URL, Captured, delivery, fields

from qstash_receiver import NonRetryableError, RetryLater, VerifiedMessage
from qstash_receiver.answers import DUPLICATE, answer_for
from qstash_receiver.callbacks import CallbackError
from qstash_receiver.integration import Answer, Endpoint, Options, Processing, Responder
from qstash_receiver.retry_control import InProgressError, StoreUnavailableError
from qstash_receiver.telemetry import OUTCOMES, DeliveryRecord, Watch

ENDPOINT = Endpoint(Options(url=URL), RECEIVER)
PLAIN: Responder[Any] = Responder(lambda answer: answer, lambda result: result)


def verified(**options: Any) -> VerifiedMessage:
    body, headers = delivery(**options)
    message = ENDPOINT.verify(headers, body)
    assert isinstance(message, VerifiedMessage)
    return message


def processing(**options: Any) -> Processing:
    started = ENDPOINT.claim(verified(**options))
    assert isinstance(started, Processing)
    return started


def outcome_of(captured: Captured) -> tuple[str, str | None]:
    (record,) = captured.records
    got = fields(record)
    return got["outcome"], got["reason"]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (DUPLICATE, ("duplicate", "duplicate")),
        (answer_for(InProgressError(5)), ("in_progress", "in_progress")),
        (answer_for(StoreUnavailableError()), ("unavailable", "dedupe_unavailable")),
        (Answer(401, "invalid_signature"), ("rejected", "invalid_signature")),
        (Answer(413, "body_too_large"), ("rejected", "body_too_large")),
        (Answer(400, "client_disconnected"), ("rejected", "client_disconnected")),
        (Answer(500, "configuration_error"), ("unavailable", "configuration_error")),
    ],
)
def test_an_answer_given_for_the_handler_names_the_outcome(
    answer: Answer, outcome: tuple[str, str], telemetry: Captured
) -> None:
    assert ENDPOINT.refuse(answer, verified()) is answer
    assert outcome_of(telemetry) == outcome
    assert outcome[0] in OUTCOMES


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (NonRetryableError("gone"), ("non_retryable", "non_retryable")),
        (CallbackError(), ("non_retryable", "not_a_callback")),
        (RetryLater(7), ("retry_later", "retry_later")),
        (KeyError("x"), ("failed", "KeyError")),
        (None, ("failed", "_OTHER")),
    ],
)
def test_a_raising_handler_names_the_outcome(
    error: BaseException | None, outcome: tuple[str, str], telemetry: Captured
) -> None:
    processing().fail(error)
    assert outcome_of(telemetry) == outcome


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, ("handled", None)),
        (204, ("handled", None)),
        (302, ("failed", "302")),
        (404, ("failed", "404")),
        (489, ("failed", "489")),
        (None, ("failed", "_OTHER")),
    ],
)
def test_the_status_of_the_answer_names_the_outcome(
    status: int | None, outcome: tuple[str, str | None], telemetry: Captured
) -> None:
    processing().finish(status)
    assert outcome_of(telemetry) == outcome


def test_a_delivery_ends_once_whatever_is_called_after(telemetry: Captured) -> None:
    delivery_ = processing()
    delivery_.finish(200)
    delivery_.fail(RuntimeError("late"))
    delivery_.release()
    delivery_.finish(500)
    assert outcome_of(telemetry) == ("handled", None)
    assert len(telemetry.spans()) == 1
    assert sum(p.value for p in telemetry.points() if "consumed" in p.name) == 1


def test_a_verified_delivery_is_timed_from_its_verification(telemetry: Captured) -> None:
    body, headers = delivery()
    message = ENDPOINT.verify(headers, body)
    assert isinstance(message, VerifiedMessage)
    ENDPOINT.run(message, lambda: 200, PLAIN)
    span = telemetry.process_span()
    (record,) = telemetry.records
    assert span.start_time is not None
    assert span.end_time is not None
    assert fields(record)["duration"] == pytest.approx((span.end_time - span.start_time) / 1e9, 0.5)


def test_the_record_holds_every_field_and_a_forged_id_stays_on_one_line(
    telemetry: Captured,
) -> None:
    forged = "msg\nFAKE: accepted " + "x" * 300
    body, headers = delivery(message_id="msg_ok")
    headers["Upstash-Message-Id"] = forged
    ENDPOINT.verify(headers, body + b"!")
    (record,) = telemetry.records
    assert "\n" not in record.getMessage()
    got = fields(record)
    assert got["message_id"] == forged[:128]
    assert (got["outcome"], got["reason"]) == ("rejected", "body_mismatch")
    assert (got["region"], got["retried"], got["key_source"]) == ("US_EAST_1", 0, None)
    assert (telemetry.process_span().attributes or {})["messaging.message.id"] == forged[:128]


def test_levels_a_refusal_is_info_a_failure_error(telemetry: Captured) -> None:
    ENDPOINT.verify({}, b"")
    processing(message_id="msg_a").fail(NonRetryableError("gone"))
    processing(message_id="msg_b").finish(500)
    ENDPOINT.refuse(Answer(500, "configuration_error"))
    levels = [(fields(r)["outcome"], r.levelname) for r in telemetry.records]
    assert levels == [
        ("rejected", "INFO"),
        ("non_retryable", "WARNING"),
        ("failed", "ERROR"),
        ("unavailable", "ERROR"),
    ]


def test_a_traceparent_that_is_not_one_gives_no_link(telemetry: Captured) -> None:
    body, headers = delivery()
    headers["Traceparent"] = "00-00000000000000000000000000000000-0000000000000000-01"
    ENDPOINT.verify(headers, body + b"!")
    headers["Traceparent"] = "not a traceparent"
    ENDPOINT.verify(headers, body + b"!")
    del headers["Traceparent"]
    ENDPOINT.verify(headers, body + b"!")
    assert [list(span.links) for span in telemetry.spans()] == [[], [], []]


def test_the_link_keeps_the_publishers_tracestate(telemetry: Captured) -> None:
    body, headers = delivery()
    headers["Tracestate"] = "vendor=opaque"
    ENDPOINT.verify(headers, body + b"!")
    (link,) = telemetry.process_span().links
    assert dict(link.context.trace_state) == {"vendor": "opaque"}


def test_the_duration_histogram_has_the_advised_buckets(telemetry: Captured) -> None:
    processing().finish(200)
    points = {p.name: p for p in telemetry.points()}
    assert set(points) == {"messaging.process.duration", "messaging.client.consumed.messages"}
    assert points["messaging.process.duration"].bounds == (
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
    )  # fmt: skip


class Failing:
    """An observer failing where it is told to."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.records: list[DeliveryRecord] = []

    def begin(self) -> Any:
        if self.where == "begin":
            raise RuntimeError("observer down")

        def end(record: DeliveryRecord) -> None:
            self.records.append(record)
            if self.where == "end":
                raise RuntimeError("observer down")

        return end


@pytest.mark.parametrize("where", ["begin", "end", "nowhere"])
def test_an_observer_that_fails_never_changes_the_answer(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    observer = Failing(where)
    endpoint = Endpoint(Options(url=URL), RECEIVER, observer=observer)
    body, headers = delivery()
    message = endpoint.verify(headers, body)
    assert isinstance(message, VerifiedMessage)
    with caplog.at_level(logging.WARNING, logger="qstash_receiver"):
        assert endpoint.run(message, lambda: 201, PLAIN) == 201
        assert endpoint.verify(headers, body + b"!") == Answer(401, "body_mismatch")
    warned = [r.getMessage() for r in caplog.records if r.name == "qstash_receiver"]
    if where == "nowhere":
        assert warned == []
        assert [r.outcome for r in observer.records] == ["handled", "rejected"]
    else:  # once per delivery; both answers stood
        text = (
            "QStash delivery observer Failing failed (RuntimeError): the delivery's answer stands"
        )
        assert warned == [text] * 2


def test_a_watch_with_nothing_known_still_records(telemetry: Captured) -> None:
    Watch(None, 0).refused(Answer(401, "missing_signature"))
    (record,) = telemetry.records
    got = fields(record)
    assert (got["message_id"], got["region"], got["retried"]) == (None, None, None)
    assert telemetry.process_span().name == "process"


# --- in a fresh interpreter: the API absent, or configured after the first delivery --------

_DELIVERIES = """
import logging, sys, json
from qstash_receiver import Receiver, load_config
from qstash_receiver.integration import Endpoint, Options, Responder
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers
endpoint = Endpoint(Options(), Receiver(config=load_config(DEMO_ENV)))
responder = Responder(lambda answer: answer.status, lambda result: result)
def deliveries(count):
    for index in range(count):
        body = b'{"n": %d}' % index
        headers = signed_headers(body, key=DEMO_KEYS["US_EAST_1"][0], region="US_EAST_1")
        message = endpoint.verify(headers, body)
        endpoint.run(message, lambda: 200, responder)
        endpoint.verify(headers, body + b"!")
"""


def run_python(*parts: str) -> dict[str, Any]:
    """Run the script made of ``parts`` (each dedented); the JSON it prints last."""
    script = "\n".join(textwrap.dedent(part) for part in parts)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_without_the_api_it_is_looked_for_once_and_deliveries_are_still_logged() -> None:
    result = run_python(
        """
        import sys, json, logging
        attempts = []
        class Absent:  # as if opentelemetry-api were not installed
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    attempts.append(name)
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None
        sys.meta_path.insert(0, Absent())
        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.qstash_outcome)
        logging.getLogger("qstash_receiver.delivery").addHandler(Keep())
        logging.getLogger("qstash_receiver.delivery").setLevel(logging.INFO)
        """,
        _DELIVERIES,
        """
        imported_before = list(attempts)
        deliveries(25)
        print(json.dumps({"before": imported_before, "attempts": attempts,
                          "records": records, "loaded": "opentelemetry" in sys.modules}))
        """,
    )
    assert result["before"] == []  # importing the package and the lifecycle does not look
    assert result["attempts"] == ["opentelemetry"]  # the first delivery looks, once
    assert result["records"] == ["handled", "rejected"] * 25
    assert result["loaded"] is False


def test_the_finder_sees_an_import_attempt() -> None:
    # The same finder counts an attempt when something does import the API.
    result = run_python(
        """
        import sys, json
        attempts = []
        class Absent:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("opentelemetry"):
                    attempts.append(name)
                    raise ModuleNotFoundError(name, name=name)
        sys.meta_path.insert(0, Absent())
        for _ in range(3):
            try:
                import opentelemetry.trace
            except ModuleNotFoundError:
                pass
        print(json.dumps({"attempts": attempts}))
        """
    )
    assert result["attempts"] == ["opentelemetry"] * 3


def test_an_sdk_configured_after_the_first_delivery_is_used_from_then_on() -> None:
    result = run_python(
        _DELIVERIES,
        """
import json
deliveries(2)  # the API is imported, no SDK yet: nothing recorded, nothing to call
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
deliveries(3)
counted = sum(
    point.value
    for resource in reader.get_metrics_data().resource_metrics
    for scope in resource.scope_metrics
    for metric in scope.metrics if metric.name == "messaging.client.consumed.messages"
    for point in metric.data.data_points
)
print(json.dumps({"spans": [s.name for s in spans.get_finished_spans()], "counted": counted}))
""",
    )
    assert result["spans"] == ["process /api/qstash", "process"] * 3
    assert result["counted"] == 6


def test_importing_the_lifecycle_loads_no_opentelemetry() -> None:
    result = run_python(
        """
        import json, sys
        import qstash_receiver, qstash_receiver.integration, qstash_receiver.telemetry
        import qstash_receiver.lifecycle
        print(json.dumps({"loaded": sorted(m for m in sys.modules if "opentelemetry" in m)}))
        """
    )
    assert result["loaded"] == []
