"""A one-module Django project for the body-limit and URL-check tests.

``gunicorn django_limits:wsgi --chdir tests/servers`` (WSGI) and
``uvicorn django_limits:asgi --app-dir tests/servers`` (ASGI, behind ``limit_body``). Django's
proxy settings are those of a deployment behind a TLS-terminating proxy that sets
``X-Forwarded-Proto`` and ``X-Forwarded-Host``. Keys come from the environment.
"""

from __future__ import annotations

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from qstash_receiver.adapters.django import get_message, request_url, verify_qstash
from qstash_receiver.adapters.django.asgi import limit_body

#: The body limit of /qstash/limited/ and of limit_body (the memory test allows twice this).
LIMIT = 4 * 1024 * 1024  # large beside the servers' own fixed buffering (uvicorn: ~1 MiB)
#: The public host the proxy forwards for (X-Forwarded-Host).
PUBLIC_HOST = "hooks.example.com"

settings.configure(
    DEBUG=False,
    SECRET_KEY="qstash-receiver-server-tests",
    ALLOWED_HOSTS=["127.0.0.1", PUBLIC_HOST],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=True,
)
django.setup()


@verify_qstash(max_body_bytes=LIMIT)
def limited(request: HttpRequest) -> HttpResponse:
    return HttpResponse("handled")


@verify_qstash(url=request_url)
def checked(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"name": name, "message_id": get_message(request).message_id})


@verify_qstash
def unchecked(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"name": name, "message_id": get_message(request).message_id})


urlpatterns = [
    path("qstash/limited/", limited),
    path("qstash/checked/<name>/", checked),
    path("qstash/unchecked/<name>/", unchecked),
]

wsgi = get_wsgi_application()
asgi = limit_body(get_asgi_application(), max_body_bytes=LIMIT, paths=["/qstash/"])
#: Django's own ASGI handler, unwrapped: what limit_body is measured against.
asgi_unwrapped = get_asgi_application()
