"""Views under test: every kind (sync/async x function/class) with each option set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.views import View

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.adapters.django import QStashVerifiedMixin, get_message, verify_qstash
from qstash_receiver.testing import DEMO_ENV

KINDS = ("sync-function", "async-function", "sync-class", "async-class")
EXPECTED_URL = "https://hooks.example.com/qstash"
DEMO_RECEIVER = Receiver(config=load_config(DEMO_ENV))
NO_KEYS_RECEIVER = Receiver(config=load_config({}))

#: (request path, message id) of every handler run, in order; tests clear it.
RAN: list[tuple[str, str | None]] = []

#: variant -> options given to the decorator (and, renamed, to the mixin).
VARIANTS: dict[str, dict[str, Any]] = {
    "demo": {"receiver": DEMO_RECEIVER},
    "url": {"receiver": DEMO_RECEIVER, "url": EXPECTED_URL},
    "tolerant": {"receiver": DEMO_RECEIVER, "clock_tolerance": 30},
    "small": {"receiver": DEMO_RECEIVER, "max_body_bytes": 64},
    "nokeys": {"receiver": NO_KEYS_RECEIVER},
    "settings": {},  # the default receiver: Django settings, then the environment
}


def record(request: HttpRequest, message: VerifiedMessage) -> JsonResponse:
    RAN.append((request.path, message.message_id))
    return JsonResponse(
        {
            "message_id": message.message_id,
            "key_region": message.key_region,
            "key_used": message.key_used,
            "method": request.method,
            "body_hex": message.body.hex(),
            "request_body_is_message_body": request.body == message.body,
        }
    )


def make_function_view(is_async: bool, options: dict[str, Any]) -> Callable[..., Any]:
    if is_async:

        async def async_view(request: HttpRequest) -> JsonResponse:
            return record(request, get_message(request))

        return verify_qstash(**options)(async_view)

    def sync_view(request: HttpRequest) -> JsonResponse:
        return record(request, request.qstash_message)  # type: ignore[attr-defined]

    return verify_qstash(**options)(sync_view)


class SyncHook(QStashVerifiedMixin, View):
    def post(self, request: HttpRequest) -> JsonResponse:
        return record(request, self.qstash_message)

    get = put = patch = delete = post


class AsyncHook(QStashVerifiedMixin, View):
    async def post(self, request: HttpRequest) -> JsonResponse:
        return record(request, self.qstash_message)

    get = put = patch = delete = post


def make_view(kind: str, options: dict[str, Any]) -> Callable[..., Any]:
    is_async = kind.startswith("async")
    if kind.endswith("function"):
        return make_function_view(is_async, options)
    hook = AsyncHook if is_async else SyncHook
    return hook.as_view(**{f"qstash_{name}": value for name, value in options.items()})


def not_exempt(request: HttpRequest) -> HttpResponse:
    """A plain view: proves the test client really enforces CSRF."""
    return HttpResponse("reached")


urlpatterns: list[URLPattern] = [
    path("plain/", not_exempt),
    *(
        path(f"{kind}/{variant}/", make_view(kind, options))
        for kind in KINDS
        for variant, options in VARIANTS.items()
    ),
]
