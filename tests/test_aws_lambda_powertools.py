"""Deliveries the Powertools way: ``verify_qstash(metrics=..., tracer=...)`` and
``QStashMiddleware(metrics=..., tracer=...)`` with Powertools' own classes.

Metrics: the EMF blobs Powertools prints are read back from stdout and parsed. Tracing: a real
X-Ray recorder (``aws_xray_sdk``) with sampling off and an emitter that keeps what it would
send to the daemon, so each segment's subsegments and annotations are read back offline. What
this cannot show offline: CloudWatch ingesting the EMF lines and the X-Ray daemon receiving
the segments (both are AWS's side of the same JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from aws_xray_sdk import global_sdk_config  # type: ignore[import-untyped]
from aws_xray_sdk.core.context import Context  # type: ignore[import-untyped]
from aws_xray_sdk.core.recorder import AWSXRayRecorder  # type: ignore[import-untyped]

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters import aws_lambda
from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware
from qstash_receiver.adapters.aws_lambda.powertools import (
    COUNT_METRIC,
    DURATION_METRIC,
    SUBSEGMENT,
)
from qstash_receiver.adapters.aws_lambda.testing import event_with
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

TEMPLATE = json.loads((Path(__file__).parent / "fixtures/lambda/http_api.json").read_text())
RECEIVER = Receiver(config=load_config(DEMO_ENV))
NAMESPACE = "QStashReceiverTests"


def reset_tracer() -> None:
    """Tracer keeps its configuration on the class, for every instance: start afresh."""
    Tracer._reset_config()  # type: ignore[no-untyped-call]


def event(message_id: str = "msg_ok", *, forged: bool = False) -> dict[str, Any]:
    body = b'{"order": 1}'
    headers = signed_headers(
        body, key=DEMO_KEYS["EU_CENTRAL_1"][0], region="eu-central-1", message_id=message_id
    )
    return event_with(TEMPLATE, body=body + (b"!" if forged else b""), headers=headers)


def blobs(out: str) -> list[dict[str, Any]]:
    """The EMF blobs among what was printed."""
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[Metrics]:
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    shared = Metrics(namespace=NAMESPACE, service="orders")
    shared.set_default_dimensions(environment="test")
    yield shared
    shared.clear_metrics()  # Metrics keep their data on the class, shared by every instance
    shared.clear_default_dimensions()


def test_each_delivery_is_an_emf_blob_of_its_own_with_region_and_outcome(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    @aws_lambda.verify_qstash(receiver=RECEIVER, metrics=metrics)
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        metrics.add_metric(name="OrdersTaken", unit="Count", value=1)
        return aws_lambda.http_response(event, 200, "ok")

    assert handler(event(), None)["statusCode"] == 200
    metrics.flush_metrics()  # what @metrics.log_metrics does at the end of the invocation
    assert handler(event("msg_forged", forged=True), None)["statusCode"] == 401
    delivered, own, refused = blobs(capsys.readouterr().out)

    assert delivered["outcome"] == "handled"
    assert (delivered["region"], delivered["service"], delivered["environment"]) == (
        "EU_CENTRAL_1",
        "orders",
        "test",
    )
    (directive,) = delivered["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert set(directive["Dimensions"][0]) == {"region", "outcome", "service", "environment"}
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {COUNT_METRIC: "Count", DURATION_METRIC: "Milliseconds"}
    assert delivered[COUNT_METRIC] == [1.0]
    (milliseconds,) = delivered[DURATION_METRIC]
    assert 0 < milliseconds < 10_000

    # The user's own metrics keep their own dimensions: nothing of the delivery's leaks in.
    assert own["OrdersTaken"] == [1.0]
    assert "region" not in own
    assert "outcome" not in own
    assert set(own["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == {"service", "environment"}

    assert (refused["outcome"], refused["region"], refused[COUNT_METRIC]) == (
        "rejected",
        "EU_CENTRAL_1",
        [1.0],
    )


def test_the_powertools_middleware_counts_deliveries_too(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    app = APIGatewayHttpResolver()
    app.use(middlewares=[QStashMiddleware(receiver=RECEIVER, metrics=metrics)])

    @app.post("/qstash")
    def route() -> PowertoolsResponse[str]:
        return PowertoolsResponse(status_code=503, body="later", content_type="text/plain")

    assert app.resolve(event(), None)["statusCode"] == 503  # type: ignore[arg-type]
    (blob,) = blobs(capsys.readouterr().out)
    assert (blob["outcome"], blob[COUNT_METRIC]) == ("failed", [1.0])


class KeptEmitter:
    """An X-Ray emitter keeping the entities it would send to the daemon."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address: str | None) -> None:
        pass


@pytest.fixture
def xray() -> Iterator[tuple[AWSXRayRecorder, KeptEmitter, Tracer]]:
    enabled = global_sdk_config.sdk_enabled()
    reset_tracer()
    global_sdk_config.set_sdk_enabled(True)
    recorder, emitter = AWSXRayRecorder(), KeptEmitter()
    recorder.emitter._socket.close()  # the UDP emitter it starts with, replaced here
    recorder.configure(emitter=emitter, sampling=False, context=Context(), plugins=())
    tracer = Tracer(service="orders", disabled=False, provider=recorder, auto_patch=False)
    yield recorder, emitter, tracer
    reset_tracer()
    global_sdk_config.set_sdk_enabled(enabled)
    # Tracer(...) configured the SDK's global recorder too (Powertools turns its batching
    # off), which opened a UDP socket to the daemon; nothing here sends through it.
    from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]

    xray_recorder.emitter._socket.close()


def test_each_delivery_is_a_subsegment_around_the_handler(
    xray: tuple[AWSXRayRecorder, KeptEmitter, Tracer],
) -> None:
    recorder, emitter, tracer = xray

    @tracer.capture_method(capture_response=False)
    def take_order() -> None:
        pass

    @aws_lambda.verify_qstash(receiver=RECEIVER, tracer=tracer)
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        take_order()
        return aws_lambda.http_response(event, 200, "ok")

    recorder.begin_segment("function")  # what Lambda's facade segment is for a function
    assert handler(event(), None)["statusCode"] == 200
    assert handler(event("msg_forged", forged=True), None)["statusCode"] == 401
    recorder.end_segment()

    (segment,) = emitter.sent
    delivered, refused = segment["subsegments"]
    assert (delivered["name"], refused["name"]) == (SUBSEGMENT, SUBSEGMENT)
    assert delivered["annotations"] == {
        "qstash_outcome": "handled",
        "qstash_region": "EU_CENTRAL_1",
        "qstash_message_id": "msg_ok",
    }
    # The handler's own subsegment is inside the delivery's.
    (inner,) = delivered["subsegments"]
    assert inner["name"].endswith("take_order")
    assert refused["annotations"] == {
        "qstash_outcome": "rejected",
        "qstash_region": "EU_CENTRAL_1",
        "qstash_message_id": "msg_forged",
        "qstash_error_type": "body_mismatch",
    }
    assert "subsegments" not in refused


def test_a_disabled_tracer_leaves_deliveries_as_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enabled = global_sdk_config.sdk_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    reset_tracer()
    recorder = AWSXRayRecorder()  # not the global one: its UDP socket is closed here
    recorder.emitter._socket.close()
    try:
        tracer = Tracer(service="orders", provider=recorder)
        assert tracer.disabled

        @aws_lambda.verify_qstash(receiver=RECEIVER, tracer=tracer)
        def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
            return aws_lambda.http_response(event, 200, "ok")

        assert handler(event(), None)["statusCode"] == 200
        assert handler(event(forged=True), None)["statusCode"] == 401
    finally:
        reset_tracer()
        global_sdk_config.set_sdk_enabled(enabled)


def test_without_metrics_or_tracer_there_is_no_observer() -> None:
    from qstash_receiver.adapters.aws_lambda.powertools import observer

    assert observer(None, None) is None
