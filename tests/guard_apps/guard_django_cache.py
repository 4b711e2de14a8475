"""The Django guard-test app with the guard in Django's RedisCache, a sync view under WSGI:
``gunicorn guard_django_cache:application``."""

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
    MIDDLEWARE=[],
    DATABASES={},
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    },
    **{name: value for name, value in os.environ.items() if "QSTASH" in name},
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402 (after settings)
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from guard_common import LEASE, handle  # noqa: E402

from qstash_receiver.adapters.django import CacheStore, get_message, verify_qstash  # noqa: E402


@verify_qstash(dedupe=CacheStore("default", lease=LEASE))
def qstash(request: HttpRequest) -> HttpResponse:
    status, text = handle(get_message(request))
    return HttpResponse(text, status=status)


urlpatterns = [path("qstash", qstash)]
application = get_wsgi_application()
