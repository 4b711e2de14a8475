"""ASGI entry point: ``uvicorn qstash_sample.asgi:application``."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qstash_sample.settings")

application = get_asgi_application()
