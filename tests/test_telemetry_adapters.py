"""One span, two metric points and one delivery record per delivery, on every adapter.

Each adapter gets every case of ``telemetry_harness.CASES`` (every outcome, every refusal
reason a request can cause) inside a SERVER span opened where an HTTP instrumentation would
open it; the OpenTelemetry SDK exports into memory. Django's adapter has its own module under
tests/django_adapter/ (Django is configured there).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import functions_framework
import pytest
import telemetry_harness
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from fastapi import Depends, FastAPI
from flask import Blueprint, Flask, Response
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import (
    PATH,
    RECEIVER,
    SECRET_ENV,
    URL,
    Build,
    Captured,
    Deliver,
    act,
    asgi_with_server_span,
    check_cases,
    check_no_secrets,
    delivery,
    everything_emitted,
    fields,
    pieces,
    server_span,
    wsgi_with_server_span,
)

from qstash_receiver.adapters import aws_lambda
from qstash_receiver.adapters import fastapi as fastapi_adapter
from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.adapters import starlette as starlette_adapter
from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware
from qstash_receiver.adapters.aws_lambda.testing import event_with

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
GCF_SOURCE = Path(__file__).with_name("telemetry_gcf_source.py")


def lambda_decorator(options: dict[str, Any]) -> Deliver:
    template = json.loads((FIXTURES / "http_api.json").read_text())

    @aws_lambda.verify_qstash(**options)
    def function(event: dict[str, Any], context: object) -> dict[str, Any]:
        status, text = act(aws_lambda.get_message(event))
        return aws_lambda.http_response(event, status, text)

    def deliver(body: bytes, headers: Mapping[str, str]) -> int:
        event = event_with(template, body=body, headers=dict(headers))
        with server_span():  # what the Lambda instrumentation opens around the handler
            answer = function(event, None)
        return int(answer["statusCode"])

    return deliver


def powertools_middleware(options: dict[str, Any]) -> Deliver:
    template = json.loads((FIXTURES / "http_api.json").read_text())
    app = APIGatewayHttpResolver()
    app.use(middlewares=[QStashMiddleware(**options)])

    @app.post("/qstash")
    def route() -> PowertoolsResponse[str]:
        status, text = act(aws_lambda.get_message(app))
        return PowertoolsResponse(status_code=status, body=text, content_type="text/plain")

    def deliver(body: bytes, headers: Mapping[str, str]) -> int:
        event = event_with(template, body=body, headers=dict(headers))
        with server_span():
            answer = app.resolve(event, None)  # type: ignore[arg-type]
        return int(answer["statusCode"])

    return deliver


def flask_client(app: Flask) -> Deliver:
    app.testing = True  # the handler's exception reaches the test
    app.wsgi_app = wsgi_with_server_span(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()

    def deliver(body: bytes, headers: Mapping[str, str]) -> int:
        return client.post(PATH, data=body, headers=dict(headers)).status_code

    return deliver


def gcf(options: dict[str, Any]) -> Deliver:
    telemetry_harness.GCF_OPTIONS.clear()
    telemetry_harness.GCF_OPTIONS.update(options)
    create = functions_framework.create_app  # what `functions-framework --source` serves
    app = create("delivery", str(GCF_SOURCE))  # type: ignore[no-untyped-call]
    return flask_client(app)


def flask_decorator(options: dict[str, Any], is_async: bool = False) -> Deliver:
    app = Flask(__name__)
    if is_async:

        @app.post(PATH)
        @flask_adapter.verify_qstash(**options)
        async def async_view() -> tuple[str, int]:
            status, text = act(flask_adapter.current_message())
            return text, status

    else:

        @app.post(PATH)
        @flask_adapter.verify_qstash(**options)
        def view() -> tuple[str, int]:
            status, text = act(flask_adapter.current_message())
            return text, status

    return flask_client(app)


def flask_protect(options: dict[str, Any]) -> Deliver:
    app = Flask(__name__)
    jobs = Blueprint("jobs", __name__)

    @jobs.post(PATH)
    def protected() -> Response:
        status, text = act(flask_adapter.current_message())
        return Response(text, status=status)

    flask_adapter.QStash(app, environ={}).protect(jobs, **options)
    app.register_blueprint(jobs)
    return flask_client(app)


def asgi_client(app: Any) -> Iterator[Deliver]:
    with TestClient(asgi_with_server_span(app), base_url="https://hooks.example.com") as client:

        def deliver(body: bytes, headers: Mapping[str, str]) -> int:
            return int(client.post(PATH, content=body, headers=dict(headers)).status_code)

        yield deliver


class ASGI:
    """Builds ASGI apps whose test clients stay open until the test ends."""

    def __init__(self) -> None:
        self._open: list[Iterator[Deliver]] = []

    def serve(self, app: Any) -> Deliver:
        clients = asgi_client(app)
        self._open.append(clients)
        return next(clients)

    def close(self) -> None:
        for clients in self._open:
            next(clients, None)


def fastapi_app(options: dict[str, Any], installed: bool = True) -> Any:
    app = FastAPI()
    if installed:
        fastapi_adapter.install(app)

    @app.post(PATH, dependencies=[Depends(fastapi_adapter.QStashVerifier(**options))])
    async def route(request: Request) -> PlainTextResponse:
        status, text = act(fastapi_adapter.get_message(request))
        return PlainTextResponse(text, status_code=status)

    return app


async def starlette_endpoint(request: Request) -> PlainTextResponse:
    status, text = act(starlette_adapter.get_message(request))
    return PlainTextResponse(text, status_code=status)


def starlette_app(options: dict[str, Any], kind: str) -> Any:
    if kind == "decorator":
        decorated = starlette_adapter.verify_qstash(**options)(starlette_endpoint)
        return Starlette(routes=[Route(PATH, decorated, methods=["POST"])])
    middleware = Middleware(starlette_adapter.QStashMiddleware, paths=[PATH], **options)
    routes = [Route(PATH, starlette_endpoint, methods=["POST"])]
    return Starlette(routes=routes, middleware=[middleware])


@pytest.fixture
def asgi() -> Iterator[ASGI]:
    servers = ASGI()
    yield servers
    servers.close()


def builders(asgi: ASGI) -> dict[str, tuple[Build, bool]]:
    """Each adapter's app builder, and whether it ends deliveries from split hooks."""
    return {
        "lambda-decorator": (lambda_decorator, False),
        "powertools-middleware": (powertools_middleware, False),
        "gcf": (gcf, False),
        "flask-decorator": (flask_decorator, False),
        "flask-async": (lambda o: flask_decorator(o, is_async=True), False),
        "flask-protect": (flask_protect, True),
        "fastapi-dependency": (lambda o: asgi.serve(fastapi_app(o)), True),
        "starlette-middleware": (lambda o: asgi.serve(starlette_app(o, "middleware")), False),
        "starlette-decorator": (lambda o: asgi.serve(starlette_app(o, "decorator")), False),
    }


ADAPTERS = [
    "lambda-decorator",
    "powertools-middleware",
    "gcf",
    "flask-decorator",
    "flask-async",
    "flask-protect",
    "fastapi-dependency",
    "starlette-middleware",
    "starlette-decorator",
]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_every_outcome_and_refusal_leaves_one_span_one_record_and_its_points(
    adapter: str, telemetry: Captured, asgi: ASGI
) -> None:
    build, split_hooks = builders(asgi)[adapter]
    check_cases(build, telemetry, split_hooks=split_hooks)


def test_fastapi_without_install_records_a_verified_delivery_as_handed_over(
    telemetry: Captured, asgi: ASGI
) -> None:
    """Without install(app) nothing sees the route's answer: the delivery is recorded as
    handled when the dependency hands it over (documented), refusals as everywhere."""
    options = {"receiver": RECEIVER, "url": URL}
    deliver = asgi.serve(fastapi_app(options, installed=False))
    assert deliver(*delivery("fail", message_id="msg_unseen")) == 500
    span = telemetry.process_span()
    assert (span.attributes or {})["messaging.qstash.outcome"] == "handled"
    (record,) = telemetry.records
    assert fields(record)["outcome"] == "handled"
    telemetry.clear()
    body, headers = delivery("ok")
    assert deliver(body + b"!", headers) == 401
    assert (telemetry.process_span().attributes or {})["error.type"] == "body_mismatch"
    assert [fields(r)["outcome"] for r in telemetry.records] == ["rejected"]


def test_a_delivery_without_an_active_span_is_a_root_linked_to_its_publisher(
    telemetry: Captured,
) -> None:
    template = json.loads((FIXTURES / "http_api.json").read_text())

    @aws_lambda.verify_qstash(receiver=RECEIVER, url=URL)
    def function(event: dict[str, Any], context: object) -> dict[str, Any]:
        return aws_lambda.http_response(event, 200, "ok")

    body, headers = delivery()
    assert function(event_with(template, body=body, headers=headers), None)["statusCode"] == 200
    span = telemetry.process_span()
    assert span.parent is None
    (link,) = span.links
    assert link.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert span.context.trace_id != link.context.trace_id  # a trace of its own, linked


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_no_key_token_or_signature_in_any_span_point_or_record(
    adapter: str, telemetry: Captured, asgi: ASGI
) -> None:
    check_no_secrets(builders(asgi)[adapter][0], telemetry)


def test_the_scan_finds_a_planted_secret(telemetry: Captured, asgi: ASGI) -> None:
    """The scan above can fail: a key in a span attribute is found, and so is a signature that
    some other logger writes at DEBUG while a delivery is handled."""
    key = SECRET_ENV["US_EAST_1_QSTASH_CURRENT_SIGNING_KEY"]
    with telemetry_harness.TRACER.start_as_current_span("leak", attributes={"oops": key}):
        pass
    assert pieces(key) & {p for p in pieces(everything_emitted(telemetry), 8)}
    build = builders(asgi)["flask-decorator"][0]

    def leaking(options: dict[str, Any]) -> Deliver:
        deliver = build(options)

        def logged(body: bytes, headers: Mapping[str, str]) -> int:
            logging.getLogger("some.dependency").debug("sent %s", headers["Upstash-Signature"])
            return deliver(body, headers)

        return logged

    telemetry.clear()
    with pytest.raises(AssertionError, match="of a key, token or signature leaked"):
        check_no_secrets(leaking, telemetry)
