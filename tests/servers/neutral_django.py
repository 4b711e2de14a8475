"""A one-module Django project behind the framework-neutral middlewares.

``gunicorn neutral_django:wsgi`` (``adapters.wsgi``, a sync view) and ``uvicorn
neutral_django:asgi`` (``adapters.asgi`` around Django's ASGI handler, an async view below
``/asgi``), from tests/servers. With
``DEBUG_PROPAGATE_EXCEPTIONS`` Django lets ``NonRetryableError`` and ``RetryLater`` reach the
middleware (as the docs say to); ``/qstash`` is verified, ``/once`` guarded too.
"""

from __future__ import annotations

import asyncio
import time

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from neutral_common import (
    CHECKED,
    GUARD,
    GUARDED,
    SLOW,
    VERIFIED,
    action,
    counting_asgi,
    counting_wsgi,
    seen,
)

from qstash_receiver.adapters import asgi as asgi_adapter
from qstash_receiver.adapters import wsgi as wsgi_adapter

settings.configure(
    DEBUG=False,
    DEBUG_PROPAGATE_EXCEPTIONS=True,
    SECRET_KEY="qstash-receiver-neutral-tests",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
)
django.setup()


@csrf_exempt
def hook(request: HttpRequest) -> HttpResponse:
    message = wsgi_adapter.get_message(request.META)  # the environ itself
    if action(message) == "slow":
        time.sleep(SLOW)
    return HttpResponse(seen(message, request.body, wsgi_adapter.get_message(request.META)))


@csrf_exempt
async def async_hook(request: HttpRequest) -> HttpResponse:
    message = asgi_adapter.get_message(request.scope)  # type: ignore[attr-defined]
    if action(message) == "slow":
        await asyncio.sleep(SLOW)
    found = asgi_adapter.get_message(request.scope)  # type: ignore[attr-defined]
    return HttpResponse(seen(message, request.body, found))


urlpatterns = [
    path("qstash", hook),
    path("once", hook),
    path("asgi/qstash", async_hook),
    path("asgi/once", async_hook),
]


def _asgi() -> asgi_adapter.ASGIApp:
    inner = get_asgi_application()
    once, verified = ["/asgi" + p for p in GUARDED], ["/asgi" + p for p in VERIFIED]
    guarded = asgi_adapter.QStashMiddleware(inner, paths=once, **GUARD)
    return counting_asgi(asgi_adapter.QStashMiddleware(guarded, paths=verified, **CHECKED))


def _wsgi() -> wsgi_adapter.WSGIApp:
    inner = get_wsgi_application()
    guarded = wsgi_adapter.QStashMiddleware(inner, paths=GUARDED, **GUARD)
    return counting_wsgi(wsgi_adapter.QStashMiddleware(guarded, paths=VERIFIED, **CHECKED))


wsgi = _wsgi()
asgi = _asgi()
