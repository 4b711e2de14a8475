"""Settings of the QStash sample project.

QStash keys come from the environment (``QSTASH_REGION`` plus both regions' signing keys in
migration mode, or ``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``); any of them may
be set here instead under the same name, e.g. ``QSTASH_REGION = "US_EAST_1"``.
"""

from __future__ import annotations

import os

DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
# Development fallback only; a deployment sets DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-qstash-sample-key-for-local-use-only")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", *os.environ.get("DJANGO_ALLOWED_HOSTS", "").split()]

INSTALLED_APPS = ["qstash_receiver.adapters.django"]  # adds the QStash system checks
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # on, as in any project: the views are exempt
]
ROOT_URLCONF = "qstash_sample.urls"
WSGI_APPLICATION = "qstash_sample.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
# The duplicate guard's cache: Redis shared by every worker when REDIS_URL is set; otherwise
# this process's memory, fine for runserver (manage.py check warns: qstash_receiver.W006).
CACHES: dict[str, dict[str, str]] = (
    {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                 "LOCATION": os.environ["REDIS_URL"]}}
    if os.environ.get("REDIS_URL")
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)  # fmt: skip
USE_TZ = True

# Django's default body limit is 2.5 MiB; accept what the library accepts (10 MiB, its default).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "qstash_sample": {"handlers": ["console"], "level": "INFO"},
        "qstash_receiver": {"handlers": ["console"], "level": "INFO"},
    },
}
