"""Views for the URL check tests: every view kind with ``url=request_url``, and one without."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from django.views import View

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.django import (
    QStashVerifiedMixin,
    get_message,
    request_url,
    verify_qstash,
)
from qstash_receiver.testing import DEMO_ENV

RECEIVER = Receiver(config=load_config(DEMO_ENV))


def answer(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"name": name, "url": get_message(request).url})


@verify_qstash(receiver=RECEIVER, url=request_url)
def sync_function(request: HttpRequest, name: str) -> JsonResponse:
    return answer(request, name)


@verify_qstash(receiver=RECEIVER, url=request_url)
async def async_function(request: HttpRequest, name: str) -> JsonResponse:
    return answer(request, name)


class SyncClass(QStashVerifiedMixin, View):
    qstash_receiver = RECEIVER
    qstash_url = request_url

    def post(self, request: HttpRequest, name: str) -> JsonResponse:
        return answer(request, name)


class AsyncClass(QStashVerifiedMixin, View):
    qstash_receiver = RECEIVER
    qstash_url = request_url

    async def post(self, request: HttpRequest, name: str) -> JsonResponse:
        return answer(request, name)


@verify_qstash(receiver=RECEIVER)
def unchecked(request: HttpRequest, name: str) -> JsonResponse:
    return answer(request, name)


urlpatterns: list[URLPattern] = [
    path("hooks/sync-function/<name>/", sync_function),
    path("hooks/async-function/<name>/", async_function),
    path("hooks/sync-class/<name>/", SyncClass.as_view()),
    path("hooks/async-class/<name>/", AsyncClass.as_view()),
    path("hooks/unchecked/<name>/", unchecked),
]
