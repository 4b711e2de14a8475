"""Fuzzing the Django adapter through Django's test client (see tests/test_fuzz.py).

Function views (sync and async) and a class-based view with the mixin, each answering with the
message it saw; every request is judged by the oracle of tests/fuzzing.py: no false accept, no
exception escaping (the client re-raises any exception a view or the adapter lets through).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path
from django.views import View

# The shared mutators live in tests/, which pytest puts on sys.path only once it collects a
# module there (after this folder).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzzing import (
    CASES,
    RECEIVER,
    Registry,
    Seen,
    Tally,
    assert_clean,
    delivery,
    judge,
    rng_for,
    seen_as_json,
    seen_from_json,
)

from qstash_receiver.adapters.django import QStashVerifiedMixin, get_message, verify_qstash

METHODS = ["POST", "POST", "PUT", "GET", "DELETE", "PATCH"]


@verify_qstash(receiver=RECEIVER)
def sync_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(seen_as_json(get_message(request)), content_type="application/json")


@verify_qstash(receiver=RECEIVER, max_body_bytes=512)
async def async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(seen_as_json(get_message(request)), content_type="application/json")


class ClassView(QStashVerifiedMixin, View):
    qstash_receiver = RECEIVER

    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(seen_as_json(self.qstash_message), content_type="application/json")

    put = patch = delete = get = post


urlpatterns = [
    path("sync/", sync_view),
    path("async/", async_view),
    path("class/", ClassView.as_view()),
]


@override_settings(ROOT_URLCONF=__name__)
def test_fuzz_django_views() -> None:
    client = Client(raise_request_exception=True)
    rng, registry, tally = rng_for("django"), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry, on_the_wire=True)
        route, method = rng.choice(["/sync/", "/async/", "/class/"]), rng.choice(METHODS)
        headers = made.header_dict()  # a client sends one value per name

        def run(
            route: str = route,
            method: str = method,
            headers: Any = headers,
            body: bytes = made.body,
        ) -> tuple[int, Seen | None]:
            response = client.generic(
                method, route, data=body, content_type="application/json", headers=headers
            )
            if response.status_code == 200:
                return 200, seen_from_json(response.content)
            assert response.status_code in (401, 413), response.status_code
            return response.status_code, None

        judge(tally, registry, made, run)
    assert_clean(tally, "Django verify_qstash and QStashVerifiedMixin (test client)", CASES)
