"""One span, two metric points and one delivery record per delivery, on the Django adapter:
the ``verify_qstash`` decorator (sync and async views) and ``QStashVerifiedMixin``, given every
case of ``telemetry_harness.CASES`` inside a SERVER span (as Django's instrumentation opens
one around the view)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.views import View
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import (
    PATH,
    RECEIVER,
    Captured,
    Deliver,
    act,
    check_cases,
    check_no_secrets,
    delivery,
    fields,
    server_span,
)

from qstash_receiver.adapters.django import QStashVerifiedMixin, get_message, verify_qstash
from qstash_receiver.adapters.django.asgi import limit_body

FACTORY = RequestFactory()


def _request(body: bytes, headers: Mapping[str, str]) -> HttpRequest:
    return FACTORY.post(PATH, data=body, content_type="application/json", headers=dict(headers))


def _client(view: Callable[[HttpRequest], Any], is_async: bool = False) -> Deliver:
    def deliver(body: bytes, headers: Mapping[str, str]) -> int:
        with server_span():
            response = (
                async_to_sync(view)(_request(body, headers))
                if is_async
                else view(_request(body, headers))
            )
        return int(response.status_code)

    return deliver


def decorator(options: dict[str, Any]) -> Deliver:
    @verify_qstash(**options)
    def hook(request: HttpRequest) -> HttpResponse:
        status, text = act(get_message(request))
        return HttpResponse(text, status=status)

    return _client(hook)


def async_decorator(options: dict[str, Any]) -> Deliver:
    @verify_qstash(**options)
    async def hook(request: HttpRequest) -> HttpResponse:
        status, text = act(get_message(request))
        return HttpResponse(text, status=status)

    return _client(hook, is_async=True)


def mixin(options: dict[str, Any]) -> Deliver:
    class Hook(QStashVerifiedMixin, View):
        qstash_url = options["url"]
        qstash_receiver = options["receiver"]
        qstash_max_body_bytes = options["max_body_bytes"]
        qstash_dedupe = options.get("dedupe")

        def post(self, request: HttpRequest) -> HttpResponse:
            status, text = act(self.qstash_message)
            return HttpResponse(text, status=status)

    return _client(Hook.as_view())


BUILDS = {"decorator": decorator, "async-decorator": async_decorator, "mixin": mixin}


@pytest.mark.parametrize("kind", list(BUILDS))
def test_every_outcome_and_refusal_leaves_one_span_one_record_and_its_points(
    kind: str, telemetry: Captured
) -> None:
    check_cases(BUILDS[kind], telemetry)


@pytest.mark.parametrize("kind", list(BUILDS))
def test_no_key_token_or_signature_in_any_span_point_or_record(
    kind: str, telemetry: Captured
) -> None:
    check_no_secrets(BUILDS[kind], telemetry)


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def _only(captured: Captured) -> tuple[str, str | None, str | None]:
    (record,) = captured.records
    got = fields(record)
    return got["outcome"], got["reason"], got["message_id"]


def test_a_malformed_content_length_is_recorded(telemetry: Captured) -> None:
    body, headers = delivery(message_id="msg_length")
    request = _request(body, headers)
    request.META["CONTENT_LENGTH"] = "12x"
    assert verify_qstash(receiver=RECEIVER)(ok)(request).status_code == 401
    assert _only(telemetry) == ("rejected", "malformed_body", "msg_length")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_djangos_own_upload_limit_is_recorded(telemetry: Captured) -> None:
    body, headers = delivery(message_id="msg_upload")
    assert verify_qstash(receiver=RECEIVER)(ok)(_request(body, headers)).status_code == 413
    assert _only(telemetry) == ("rejected", "body_too_large", "msg_upload")


def test_limit_body_in_front_of_django_records_its_413(telemetry: Captured) -> None:
    _, headers = delivery(message_id="msg_asgi_limit")

    async def django(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a body over the limit never reaches the application")

    sent: list[Mapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x" * 100, "more_body": False}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/qstash/",
        "headers": [
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
            (b"content-length", b"100"),
        ],
    }

    async def limited() -> None:
        await limit_body(django, max_body_bytes=10)(scope, receive, send)

    asyncio.run(limited())
    assert sent[0]["status"] == 413
    assert _only(telemetry) == ("rejected", "body_too_large", "msg_asgi_limit")
