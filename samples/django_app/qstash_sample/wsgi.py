"""WSGI entry point: ``gunicorn qstash_sample.wsgi:application``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qstash_sample.settings")

application = get_wsgi_application()
