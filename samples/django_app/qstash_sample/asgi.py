"""ASGI entry point: ``uvicorn qstash_sample.asgi:application``.

Under ASGI, Django receives a whole request body before any view runs, so ``limit_body``
refuses an oversize body for the QStash paths first (413, without receiving the rest).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qstash_sample.settings")

django_application = get_asgi_application()

from qstash_receiver.adapters.django.asgi import limit_body  # noqa: E402 (after Django's setup)

# 10 MiB: the views' max_body_bytes and this project's DATA_UPLOAD_MAX_MEMORY_SIZE.
application = limit_body(django_application, max_body_bytes=10 * 1024 * 1024, paths=["/qstash/"])
