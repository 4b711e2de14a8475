"""The refusals adapters give themselves, before the core sees the request, are recorded too:
one span and one delivery record each, with the reason (``Endpoint.refuse``)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from flask import Flask, Request
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import PATH, RECEIVER, Captured, delivery, fields
from werkzeug.test import EnvironBuilder

from qstash_receiver.adapters import aws_lambda
from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.adapters import starlette as starlette_adapter
from qstash_receiver.adapters.aws_lambda.testing import event_with

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"


def only_record(captured: Captured) -> tuple[str, str | None, str | None, str]:
    (record,) = captured.records
    got = fields(record)
    span = captured.process_span()
    return got["outcome"], got["reason"], got["message_id"], span.name


def flask_app(limit: int, app_limit: int | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = app_limit

    @app.post(PATH)
    @flask_adapter.verify_qstash(receiver=RECEIVER, max_body_bytes=limit)
    def view() -> str:
        return "handled"

    return app


def test_flask_own_413_is_recorded(telemetry: Captured) -> None:
    body, headers = delivery(body=b"x" * 300, message_id="msg_big")
    response = flask_app(1000, app_limit=100).test_client().post(PATH, data=body, headers=headers)
    assert response.status_code == 413
    assert only_record(telemetry) == ("rejected", "body_too_large", "msg_big", "process")


def test_a_chunked_body_over_the_limit_is_recorded(telemetry: Captured) -> None:
    body, headers = delivery(body=b"x" * 300, message_id="msg_chunked")
    environ = EnvironBuilder(PATH, method="POST", headers=list(headers.items())).get_environ()
    environ["wsgi.input"] = io.BytesIO(body)
    environ.pop("CONTENT_LENGTH", None)  # as gunicorn presents a chunked body
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    response = flask_app(100).test_client().open(Request(environ))
    assert response.status_code == 413
    assert only_record(telemetry) == ("rejected", "body_too_large", "msg_chunked", "process")


def asgi_call(app: Any, headers: dict[str, str], messages: list[dict[str, Any]]) -> list[Any]:
    """Call ``app`` as a server would, the request body given as ``messages``."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("hooks.example.com", 443),
        "client": ("127.0.0.1", 5000),
    }
    sent: list[Any] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


async def endpoint(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("handled")


def starlette_app() -> Starlette:
    decorated = starlette_adapter.verify_qstash(receiver=RECEIVER, max_body_bytes=100)(endpoint)
    return Starlette(routes=[Route(PATH, decorated, methods=["POST"])])


def test_an_asgi_body_over_the_limit_while_it_streams_is_recorded(telemetry: Captured) -> None:
    body, headers = delivery(body=b"x" * 300, message_id="msg_stream")
    chunks = [
        {"type": "http.request", "body": body[i : i + 64], "more_body": True} for i in (0, 64)
    ]
    sent = asgi_call(starlette_app(), headers, chunks)
    assert sent[0]["status"] == 413
    assert only_record(telemetry) == ("rejected", "body_too_large", "msg_stream", "process")


def test_a_client_gone_mid_body_is_recorded(telemetry: Captured) -> None:
    _, headers = delivery(message_id="msg_gone")
    asgi_call(starlette_app(), headers, [{"type": "http.request", "body": b"{", "more_body": True}])
    assert only_record(telemetry) == ("rejected", "client_disconnected", "msg_gone", "process")


def test_a_lambda_body_that_is_not_base64_is_recorded(telemetry: Captured) -> None:
    template = json.loads((FIXTURES / "http_api.json").read_text())

    @aws_lambda.verify_qstash(receiver=RECEIVER)
    def function(event: dict[str, Any], context: object) -> dict[str, Any]:
        return aws_lambda.http_response(event, 200, "ok")

    body, headers = delivery(message_id="msg_b64")
    event = event_with(template, body=body, headers=headers)
    event["body"] = "!!! not base64 !!!"
    assert function(event, None)["statusCode"] == 401
    assert only_record(telemetry) == ("rejected", "malformed_body", "msg_b64", "process")
