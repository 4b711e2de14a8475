"""Django system checks for the QStash configuration (``manage.py check``).

Each finding comes from [`qstash_receiver.load_config()`][qstash_receiver.load_config] (its result
or its coded warnings); this module only gives them Django check ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Warning
from django.urls import get_resolver

from qstash_receiver import ConfigError, load_config
from qstash_receiver.urlcheck import URL_CHECK_DOC, url_check_off

from .dedupe import CacheStore
from .settings import qstash_environ
from .urlcheck import UrlChecks, guard_stores, largest_body_limit, url_checks

__all__ = [
    "GUARD_CACHE_ID",
    "UPLOAD_LIMIT_ID",
    "URL_CHECK_OFF_ID",
    "WARNING_IDS",
    "check_guard_caches",
    "check_qstash_config",
    "check_upload_limit",
    "check_url_checks",
    "upload_limit_messages",
    "guard_cache_messages",
    "url_check_messages",
]

#: Info: QStash views that do not check the signed URL (the default, as in the TS SDK).
URL_CHECK_OFF_ID = "qstash_receiver.I001"
_URL_HINT = (
    "Pass url=request_url (from qstash_receiver.adapters.django) or a fixed url='https://...' "
    "(qstash_url on QStashVerifiedMixin); to keep the default, add "
    f"{URL_CHECK_OFF_ID!r} to SILENCED_SYSTEM_CHECKS. See {URL_CHECK_DOC}."
)

_KEYS_HINT = (
    "Set QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY (or QSTASH_REGION with the "
    "EU_CENTRAL_1_/US_EAST_1_ prefixed pairs) in settings or the environment."
)

#: Warning: Django's own body limit is below a QStash view's (a genuine delivery between them
#: would be answered 413, retried by QStash and dead-lettered).
UPLOAD_LIMIT_ID = "qstash_receiver.W007"

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


def check_url_checks(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Info ``qstash_receiver.I001`` when QStash views do not check the signed URL.

    Views are counted as they are decorated (or ``as_view()`` is called), so the URLconf is
    imported first, as Django's own URL checks do.
    """
    # A broken URLconf is reported by Django's own URL check; this one then counts less.
    with contextlib.suppress(Exception):
        get_resolver().url_patterns  # noqa: B018 (imports the URLconf, and so the views)
    return url_check_messages(url_checks())


def url_check_messages(counts: UrlChecks) -> list[CheckMessage]:
    """What `check_url_checks()` says about ``counts``."""
    if not counts.unchecked:
        return []
    text = url_check_off(counts.unchecked, counts.checked + counts.unchecked)
    return [Info(text, hint=_URL_HINT, id=URL_CHECK_OFF_ID)]


def check_upload_limit(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Warning ``qstash_receiver.W007`` when ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is below the
    largest ``max_body_bytes`` of a QStash view (default 10 MiB, QStash's message limit).

    Django refuses a larger body before the view runs; the view then answers 413, which
    QStash retries and finally dead-letters. The URLconf is imported first (views count).
    """
    with contextlib.suppress(Exception):
        get_resolver().url_patterns  # noqa: B018 (imports the URLconf, and so the views)
    return upload_limit_messages(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, largest_body_limit())


def upload_limit_messages(django_limit: int | None, view_limit: int) -> list[CheckMessage]:
    """What `check_upload_limit()` says about Django's and the views' limits."""
    if django_limit is None or django_limit >= view_limit:
        return []
    return [
        Warning(
            f"DATA_UPLOAD_MAX_MEMORY_SIZE ({django_limit} bytes) is below the largest "
            f"max_body_bytes of a QStash view ({view_limit} bytes): a genuine delivery between "
            "the two is answered 413, which QStash retries and then dead-letters.",
            hint=(
                f"Set DATA_UPLOAD_MAX_MEMORY_SIZE = {view_limit} (or more), or None to leave "
                "the limit to the views, or pass a smaller max_body_bytes to the views."
            ),
            id=UPLOAD_LIMIT_ID,
        )
    ]


#: Warning: a guard store in a cache that workers do not share, or whose add is not atomic.
GUARD_CACHE_ID = "qstash_receiver.W006"
_UNSHARED = {
    "LocMemCache": "is per process: each worker sees only its own claims, so a message "
    "delivered to two workers runs twice",
    "FileBasedCache": "has no atomic add across processes: two workers can both claim a message",
    "DummyCache": "keeps nothing: every copy of a message runs",
}
_CACHE_HINT = (
    "Give the guard a cache every worker shares with an atomic add: "
    "django.core.cache.backends.redis.RedisCache (with appendonly persistence and "
    "maxmemory-policy noeviction or volatile-*), Memcached, or the database cache. See "
    "docs/receiving.md, 'Choosing a store'."
)


def check_guard_caches(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Warning ``qstash_receiver.W006`` for each duplicate guard kept in a cache that cannot
    guard a fleet: ``LocMemCache``, ``FileBasedCache`` or ``DummyCache`` (the URLconf is
    imported first, so that every view's store is known)."""
    with contextlib.suppress(Exception):
        get_resolver().url_patterns  # noqa: B018 (imports the URLconf, and so the views)
    return guard_cache_messages(guard_stores())


def guard_cache_messages(stores: Sequence[object]) -> list[CheckMessage]:
    """What `check_guard_caches()` says about ``stores``."""
    found: dict[str, str] = {}
    for store in stores:
        if not isinstance(store, CacheStore):
            continue
        try:
            backend = type(store.cache).__name__
        except Exception:  # noqa: BLE001, S112 (an unknown alias: Django's checks say so)
            continue
        if backend in _UNSHARED:
            found.setdefault(backend, f"{store.alias!r}")
    return [
        Warning(
            f"The QStash duplicate guard is kept in the cache {alias} ({backend}), which "
            f"{_UNSHARED[backend]}.",
            hint=_CACHE_HINT,
            id=GUARD_CACHE_ID,
        )
        for backend, alias in sorted(found.items())
    ]
