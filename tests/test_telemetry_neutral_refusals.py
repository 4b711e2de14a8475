"""The answers the newer adapters give themselves, before the core sees the request, are
recorded as every delivery is: one CONSUMER span (the request's child, ``error.type`` set),
one delivery record and the metric points, with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import azure.functions as func
import pytest
from aiohttp import web
from neutral_telemetry import (
    aiohttp_request,
    asgi_call,
    environ,
    http_call,
    http_handler,
    plain_wsgi_app,
    wsgi_call,
)
from opentelemetry.trace import SpanKind, StatusCode
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import PATH, RECEIVER, URL, Captured, delivery, fields, server_span

from qstash_receiver.adapters import aiohttp as aiohttp_adapter
from qstash_receiver.adapters import asgi as asgi_adapter
from qstash_receiver.adapters import azure_functions as azure_adapter
from qstash_receiver.adapters import wsgi as wsgi_adapter

LIMIT = 100
OPTIONS: dict[str, Any] = {"receiver": RECEIVER, "url": URL, "max_body_bytes": LIMIT}


def recorded(captured: Captured, status: int, reason: str, message_id: str) -> None:
    """The one delivery: a refusal with ``reason``, in span, record and metric points."""
    span = captured.process_span()
    assert span.kind == SpanKind.CONSUMER
    assert span.name == "process"
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == reason
    assert attributes["messaging.message.id"] == message_id
    assert attributes["messaging.qstash.region"] == "US_EAST_1"
    outcome = "unavailable" if status >= 500 else "rejected"
    assert attributes["messaging.qstash.outcome"] == outcome
    assert span.status.status_code == StatusCode.ERROR
    spans = {s.context.span_id: s for s in captured.spans()}
    assert span.parent is not None
    assert spans[span.parent.span_id].kind == SpanKind.SERVER
    (record,) = captured.records
    got = fields(record)
    assert (got["outcome"], got["reason"], got["message_id"]) == (outcome, reason, message_id)
    counted = [
        (p.name, p.value) for p in captured.points() if p.attributes.get("error.type") == reason
    ]
    assert sorted(counted) == [
        ("messaging.client.consumed.messages", 1),
        ("messaging.process.duration", 1),
    ]


def big(message_id: str) -> tuple[bytes, dict[str, str]]:
    return delivery(body=b"x" * 300, message_id=message_id)


# --- WSGI ------------------------------------------------------------------------------------


def wsgi_app() -> wsgi_adapter.QStashMiddleware:
    return wsgi_adapter.QStashMiddleware(plain_wsgi_app, paths=[PATH], **OPTIONS)


def test_wsgi_declared_413(telemetry: Captured) -> None:
    body, headers = big("msg_declared")
    assert wsgi_call(wsgi_app(), environ(body, headers)) == 413
    recorded(telemetry, 413, "body_too_large", "msg_declared")


def test_wsgi_chunked_413(telemetry: Captured) -> None:
    body, headers = big("msg_chunked")
    assert wsgi_call(wsgi_app(), environ(body, headers, chunked=True)) == 413
    recorded(telemetry, 413, "body_too_large", "msg_chunked")


# --- ASGI ------------------------------------------------------------------------------------


def asgi_app() -> asgi_adapter.QStashMiddleware:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not verified, not called")

    return asgi_adapter.QStashMiddleware(app, paths=[PATH], **OPTIONS)


def chunks(body: bytes, size: int = 64) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": body[i : i + size], "more_body": True}
        for i in range(0, len(body), size)
    ]


def test_asgi_declared_413(telemetry: Captured) -> None:
    body, headers = big("msg_declared")
    sent = asgi_call(asgi_app(), {**headers, "Content-Length": str(len(body))}, chunks(body))
    assert sent[0]["status"] == 413
    recorded(telemetry, 413, "body_too_large", "msg_declared")


def test_asgi_streamed_413(telemetry: Captured) -> None:
    body, headers = big("msg_streamed")
    assert asgi_call(asgi_app(), headers, chunks(body))[0]["status"] == 413
    recorded(telemetry, 413, "body_too_large", "msg_streamed")


def test_asgi_client_gone(telemetry: Captured) -> None:
    body, headers = delivery(message_id="msg_gone")
    assert asgi_call(asgi_app(), headers, chunks(body, 4)[:1]) == []  # nobody to answer
    recorded(telemetry, 400, "client_disconnected", "msg_gone")


# --- http.server -----------------------------------------------------------------------------


def test_http_server_declared_413(telemetry: Captured) -> None:
    body, headers = big("msg_declared")
    head = {**headers, "Content-Length": str(len(body))}
    assert http_call(http_handler(OPTIONS), head, body) == 413
    recorded(telemetry, 413, "body_too_large", "msg_declared")


@pytest.mark.parametrize(
    "framing",
    [
        {"Transfer-Encoding": "chunked"},
        {"Content-Length": "12x"},
        {"Content-Length": "-1"},
    ],
)
def test_http_server_411(telemetry: Captured, framing: Mapping[str, str]) -> None:
    body, headers = delivery(message_id="msg_411")
    assert http_call(http_handler(OPTIONS), {**headers, **framing}, body) == 411
    recorded(telemetry, 411, "length_required", "msg_411")


# --- aiohttp ---------------------------------------------------------------------------------


async def _view(request: Any) -> Any:
    raise AssertionError("not verified, not called")


def aiohttp_status(headers: Mapping[str, str], parts: list[bytes], kind: str, **how: Any) -> int:
    async def call() -> int:
        request = aiohttp_request(headers, parts, **how)
        response: web.StreamResponse
        with server_span():
            if kind == "decorator":
                response = await aiohttp_adapter.verify_qstash(**OPTIONS)(_view)(request)
            else:
                middleware = aiohttp_adapter.qstash_middleware(**OPTIONS)
                response = await middleware(request, _view)
        return response.status

    return asyncio.run(call())


KINDS = ["decorator", "middleware"]


@pytest.mark.parametrize("kind", KINDS)
def test_aiohttp_declared_413(telemetry: Captured, kind: str) -> None:
    body, headers = big("msg_declared")
    head = {**headers, "Content-Length": str(len(body))}
    assert aiohttp_status(head, [body], kind) == 413
    recorded(telemetry, 413, "body_too_large", "msg_declared")


@pytest.mark.parametrize("kind", KINDS)
def test_aiohttp_streamed_413(telemetry: Captured, kind: str) -> None:
    body, headers = big("msg_streamed")
    assert aiohttp_status(headers, [body[:64], body[64:]], kind) == 413
    recorded(telemetry, 413, "body_too_large", "msg_streamed")


@pytest.mark.parametrize("kind", KINDS)
def test_aiohttp_client_gone(telemetry: Captured, kind: str) -> None:
    body, headers = delivery(message_id="msg_gone")
    assert aiohttp_status(headers, [body[:4]], kind, gone=True) == 400
    recorded(telemetry, 400, "client_disconnected", "msg_gone")


# --- Azure Functions -------------------------------------------------------------------------


def _function(req: func.HttpRequest) -> func.HttpResponse:
    raise AssertionError("not verified, not called")


@pytest.mark.parametrize("declared", [True, False])
def test_azure_413(telemetry: Captured, declared: bool) -> None:
    """Declared: refused on the header; buffered (no length): refused on the body's size."""
    body, headers = big("msg_big")
    head = {**headers, "Content-Length": str(len(body))} if declared else headers
    req = func.HttpRequest("POST", URL, headers=head, body=body)
    with server_span():
        response = azure_adapter.verify_qstash(**OPTIONS)(_function)(req=req)
    assert response.status_code == 413
    recorded(telemetry, 413, "body_too_large", "msg_big")
