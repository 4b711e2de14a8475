"""One span, two metric points and one delivery record per delivery, on the Django adapter:
the ``verify_qstash`` decorator (sync and async views) and ``QStashVerifiedMixin``, given every
case of ``telemetry_harness.CASES`` inside a SERVER span (as Django's instrumentation opens
one around the view)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.views import View
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import PATH, Captured, Deliver, act, check_cases, server_span

from qstash_receiver.adapters.django import QStashVerifiedMixin, get_message, verify_qstash

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
