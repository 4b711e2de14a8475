"""The Django guard-test app, an async view under ASGI: ``uvicorn guard_django:application``."""

from __future__ import annotations

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="qstash-receiver-guard-tests",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
    DATABASES={},
    **{name: value for name, value in os.environ.items() if "QSTASH" in name},
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402 (after settings)
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from guard_common import handle, redis_store  # noqa: E402

from qstash_receiver.adapters.django import get_message, verify_qstash  # noqa: E402


@verify_qstash(dedupe=redis_store())
async def qstash(request: HttpRequest) -> HttpResponse:
    status, text = handle(get_message(request))
    return HttpResponse(text, status=status)


urlpatterns = [path("qstash", qstash)]
application = get_asgi_application()
