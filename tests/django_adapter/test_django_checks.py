"""The QStash system checks: ids, messages and hints, for each finding of load_config."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.checks import CheckMessage, Error, Warning, run_checks
from django.core.checks.registry import registry
from django.test import override_settings

from qstash_receiver.adapters.django.checks import (
    UPLOAD_LIMIT_ID,
    URL_CHECK_OFF_ID,
    check_qstash_config,
    check_upload_limit,
    check_url_checks,
    upload_limit_messages,
)
from qstash_receiver.adapters.django.settings import SETTING_NAMES
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS

EU_CURRENT, EU_NEXT = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]
DEFAULT_PAIR = {
    "QSTASH_CURRENT_SIGNING_KEY": "sig_defaultCurrent0000000",
    "QSTASH_NEXT_SIGNING_KEY": "sig_defaultNext000000000",
}
SECRETS = (EU_CURRENT, EU_NEXT, US_CURRENT, US_NEXT, *DEFAULT_PAIR.values())


@contextmanager
def qstash_settings(values: Mapping[str, object], *, debug: bool = False) -> Iterator[None]:
    """Exactly these QStash settings (every other one blank, masking the environment)."""
    with override_settings(DEBUG=debug, **{**dict.fromkeys(SETTING_NAMES, ""), **values}):
        yield


def messages(values: Mapping[str, object], *, debug: bool = False) -> list[CheckMessage]:
    with qstash_settings(values, debug=debug):
        # The URL check's Info and the upload limit's warning are about the views, not the
        # configuration: their own tests.
        about_views = {URL_CHECK_OFF_ID, UPLOAD_LIMIT_ID}
        found = [m for m in run_checks(tags=["qstash_receiver"]) if m.id not in about_views]
    for message in found:
        assert not any(secret in f"{message.msg} {message.hint}" for secret in SECRETS)
    return found


def findings(values: Mapping[str, object], *, debug: bool = False) -> list[tuple[str, str]]:
    return [(message.id or "", message.msg) for message in messages(values, debug=debug)]


def ids(values: Mapping[str, object]) -> list[str]:
    return [check_id for check_id, _ in findings(values)]


def test_the_app_config_registers_the_checks() -> None:
    assert "qstash_receiver" in registry.tags_available()
    with qstash_settings({}):
        everything = check_qstash_config() + check_url_checks() + check_upload_limit()
        registered = run_checks(tags=["qstash_receiver"])
        assert sorted(everything, key=str) == sorted(registered, key=str) != []


def test_a_complete_configuration_passes_clean() -> None:
    assert findings(DEMO_ENV) == []
    assert findings(DEFAULT_PAIR) == []


def test_e001_no_signing_keys() -> None:
    (message,) = messages({})
    assert isinstance(message, Error)
    assert message.id == "qstash_receiver.E001"
    assert message.msg == (
        "No QStash signing keys can be resolved: every delivery will be answered 500."
    )
    assert "QSTASH_CURRENT_SIGNING_KEY" in str(message.hint)


def test_e002_invalid_configuration() -> None:
    (message,) = messages({"QSTASH_DEV": "maybe", **DEFAULT_PAIR})
    assert isinstance(message, Error)
    assert (message.id, message.msg) == (
        "qstash_receiver.E002",
        "QStash configuration is invalid: QSTASH_DEV must be one of 1, true, 0, false or empty",
    )


def test_w001_region_prefixed_keys_without_qstash_region() -> None:
    values = {
        "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": EU_CURRENT,
        "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": EU_NEXT,
        **DEFAULT_PAIR,
    }
    (message,) = messages(values)
    assert isinstance(message, Warning)
    assert (message.id, message.msg) == (
        "qstash_receiver.W001",
        "QStash: EU_CENTRAL_1_QSTASH_*_SIGNING_KEY is set but QSTASH_REGION is not: "
        "region-prefixed keys are ignored outside migration mode.",
    )


def test_w001_with_only_region_keys_is_also_e001() -> None:
    values = {
        "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": US_CURRENT,
        "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": US_NEXT,
    }
    assert ids(values) == ["qstash_receiver.E001", "qstash_receiver.W001"]


def test_w002_incomplete_region_key_pair() -> None:
    values = {**DEMO_ENV, "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": "", **DEFAULT_PAIR}
    assert findings(values) == [
        (
            "qstash_receiver.W002",
            "QStash: US_EAST_1_QSTASH_NEXT_SIGNING_KEY is not set: the signing key pair is "
            "incomplete and unused.",
        )
    ]


def test_w002_incomplete_default_pair_leaves_no_keys() -> None:
    values = {"QSTASH_CURRENT_SIGNING_KEY": "sig_lonelyCurrent00000000"}
    assert ids(values) == ["qstash_receiver.E001", "qstash_receiver.W002"]


@pytest.mark.parametrize("dev", ["1", "true", True])
def test_w003_dev_mode_while_debug_is_off(dev: object) -> None:
    (message,) = messages({"QSTASH_DEV": dev})
    assert isinstance(message, Warning)
    assert (message.id, message.msg) == (
        "qstash_receiver.W003",
        "QStash dev mode is on while DEBUG is off: the dev server's public signing keys are "
        "accepted.",
    )
    assert findings({"QSTASH_DEV": dev}, debug=True) == []


def test_w004_invalid_qstash_region() -> None:
    assert findings({"QSTASH_REGION": "MARS_NORTH_1", **DEFAULT_PAIR}) == [
        (
            "qstash_receiver.W004",
            "QStash: QSTASH_REGION is not EU_CENTRAL_1 or US_EAST_1: migration mode is off.",
        )
    ]


def test_w005_region_without_keys_in_migration_mode() -> None:
    us_only = {name: value for name, value in DEMO_ENV.items() if not name.startswith("EU_")}
    assert findings({**us_only, **DEFAULT_PAIR}) == [
        (
            "qstash_receiver.W005",
            "QStash: migration mode: no EU_CENTRAL_1 signing keys; its deliveries are verified "
            "with QSTASH_CURRENT/NEXT_SIGNING_KEY.",
        )
    ]


def test_publishing_warnings_are_not_receiver_checks() -> None:
    # No QSTASH_TOKEN: load_config warns about publishing, which a receiving app may never do.
    assert "QSTASH_TOKEN" not in DEFAULT_PAIR
    assert findings(DEFAULT_PAIR) == []


def test_w007_django_upload_limit_below_a_views_body_limit() -> None:
    """Django's default 2.5 MiB would turn a genuine 9.9 MB delivery into a 413 (DLQ)."""
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2_621_440):
        found = [m for m in run_checks(tags=["qstash_receiver"]) if m.id == UPLOAD_LIMIT_ID]
    assert len(found) == 1
    assert isinstance(found[0], Warning)
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE (2621440 bytes)" in found[0].msg
    assert "(10485760 bytes)" in found[0].msg  # the test URLconf's views: the default limit
    for enough in (10_485_760, None):
        with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=enough):
            assert [
                m for m in run_checks(tags=["qstash_receiver"]) if m.id == UPLOAD_LIMIT_ID
            ] == []


def test_w007_counts_the_views_own_limits() -> None:
    assert upload_limit_messages(1000, 0) == []  # no QStash view
    assert upload_limit_messages(1000, 1000) == []
    (message,) = upload_limit_messages(999, 1000)
    assert message.id == UPLOAD_LIMIT_ID
    assert message.hint is not None
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE = 1000" in message.hint


@pytest.mark.parametrize(
    ("backend", "named"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", "LocMemCache"),
        ("django.core.cache.backends.filebased.FileBasedCache", "FileBasedCache"),
        ("django.core.cache.backends.dummy.DummyCache", "DummyCache"),
    ],
)
def test_a_guard_in_a_cache_workers_do_not_share_is_a_warning(
    backend: str, named: str, tmp_path: Path
) -> None:
    from qstash_receiver.adapters.django import CacheStore, verify_qstash
    from qstash_receiver.adapters.django.checks import GUARD_CACHE_ID, check_guard_caches

    store = CacheStore("guard")

    @verify_qstash(dedupe=store)
    def view(request: object) -> None: ...

    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    location = {"LOCATION": str(tmp_path)} if "filebased" in backend else {}
    with override_settings(CACHES={**caches, "guard": {"BACKEND": backend, **location}}):
        found = [m for m in check_guard_caches() if m.id == GUARD_CACHE_ID]
        registered = [m for m in run_checks(tags=["qstash_receiver"]) if m.id == GUARD_CACHE_ID]
    assert len(found) == 1
    assert found == registered
    assert isinstance(found[0], Warning)
    assert named in found[0].msg
    assert "'guard'" in found[0].msg
    assert "RedisCache" in (found[0].hint or "")
    del view


def test_a_guard_in_a_shared_cache_is_not_a_warning(redis_url_for_checks: str) -> None:
    from qstash_receiver.adapters.django import CacheStore
    from qstash_receiver.adapters.django.checks import GUARD_CACHE_ID, guard_cache_messages

    backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
    with override_settings(CACHES={"shared": {**backend, "LOCATION": redis_url_for_checks}}):
        assert [
            m for m in guard_cache_messages([CacheStore("shared")]) if m.id == GUARD_CACHE_ID
        ] == []


@pytest.fixture
def redis_url_for_checks() -> str:
    return "redis://127.0.0.1:1/0"  # never connected to: the check only reads the backend
