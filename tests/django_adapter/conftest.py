"""Configure Django for the Django adapter's tests only (the rest of the suite never needs it).

Every ``QSTASH_*`` setting is blank here, so the process environment cannot leak into a test;
tests that exercise settings-based configuration set them with ``override_settings``.
"""

from __future__ import annotations

import django
from django.conf import settings

from qstash_receiver.adapters.django.settings import SETTING_NAMES

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="qstash-receiver-django-adapter-tests",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["qstash_receiver.adapters.django"],
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        ROOT_URLCONF="django_test_urls",  # beside this file (pytest puts it on sys.path)
        DATABASES={},
        USE_TZ=True,
        **dict.fromkeys(SETTING_NAMES, ""),
    )
    django.setup()
