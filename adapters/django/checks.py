"""Django system checks for the QStash configuration (``manage.py check``).

Each finding comes from :func:`qstash_receiver.load_config` (its result or its coded
warnings); this module only gives them Django check ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from qstash_receiver import ConfigError, load_config

from .settings import qstash_environ

__all__ = ["WARNING_IDS", "check_qstash_config"]

_KEYS_HINT = (
    "Set QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY (or QSTASH_REGION with the "
    "EU_CENTRAL_1_/US_EAST_1_ prefixed pairs) in settings or the environment."
)

#: load_config warning codes that matter to a receiving endpoint, and their check ids.
#: (Publishing warnings, e.g. a missing QSTASH_TOKEN, are left to ``qstash-receiver doctor``.)
WARNING_IDS = {
    "region_keys_ignored": "qstash_receiver.W001",
    "incomplete_key_pair": "qstash_receiver.W002",
    "invalid_region": "qstash_receiver.W004",
    "region_keys_missing": "qstash_receiver.W005",
}


def check_qstash_config(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Errors and warnings about the QStash configuration (settings, then environment).

    Ids: ``E001`` no signing keys, ``E002`` invalid configuration, ``W001`` region-prefixed
    keys without ``QSTASH_REGION``, ``W002`` incomplete key pair, ``W003`` dev mode while
    ``DEBUG`` is off, ``W004`` invalid ``QSTASH_REGION``, ``W005`` a region without keys in
    migration mode (all prefixed ``qstash_receiver.``).
    """
    try:
        config = load_config(qstash_environ())
    except ConfigError as error:
        return [Error(f"QStash configuration is invalid: {error}", id="qstash_receiver.E002")]
    messages: list[CheckMessage] = []
    if not config.can_verify:
        messages.append(
            Error(
                "No QStash signing keys can be resolved: every delivery will be answered 500.",
                hint=_KEYS_HINT,
                id="qstash_receiver.E001",
            )
        )
    for warning in config.receive_warnings:
        if warning.code in WARNING_IDS:
            messages.append(Warning(f"QStash: {warning.text}.", id=WARNING_IDS[warning.code]))
    if config.dev_mode and not settings.DEBUG:
        messages.append(
            Warning(
                "QStash dev mode is on while DEBUG is off: the dev server's public signing "
                "keys are accepted.",
                hint="Unset QSTASH_DEV outside local development.",
                id="qstash_receiver.W003",
            )
        )
    return messages
