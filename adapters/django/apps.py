"""The Django app: add ``"qstash_receiver.adapters.django"`` to ``INSTALLED_APPS``."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from .checks import (
    check_guard_caches,
    check_qstash_config,
    check_upload_limit,
    check_url_checks,
)


class QStashReceiverConfig(AppConfig):
    """Registers the QStash system checks (tag ``qstash_receiver``)."""

    name = "qstash_receiver.adapters.django"
    label = "qstash_receiver"
    verbose_name = "QStash receiver"

    def ready(self) -> None:
        checks.register(check_qstash_config, "qstash_receiver")
        checks.register(check_url_checks, "qstash_receiver")
        checks.register(check_upload_limit, "qstash_receiver")
        checks.register(check_guard_caches, "qstash_receiver")
