"""The configuration resolver: every rule of DESIGN.md "QStash semantics", as tables.

Environments are plain dicts passed to ``load_config``; ``os.environ`` is never touched (the
one test of the process environment runs in a subprocess).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from qstash_receiver import (
    ConfigError,
    QStashConfig,
    QStashError,
    Receiver,
    UnknownRegionError,
    load_config,
)
from qstash_receiver.config import ConfigWarning
from qstash_receiver.sources import overlay_settings
from qstash_receiver.testing import sign

DEV_CURRENT = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
DEV_NEXT = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="

DEFAULT = {
    "QSTASH_CURRENT_SIGNING_KEY": "sig_cfgDefaultCurrent000000000",
    "QSTASH_NEXT_SIGNING_KEY": "sig_cfgDefaultNext000000000000",
}
US = {
    "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": "sig_cfgUsCurrent0000000000000",
    "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": "sig_cfgUsNext000000000000000",
}
EU = {
    "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": "sig_cfgEuCurrent0000000000000",
    "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": "sig_cfgEuNext000000000000000",
}
MIGRATION = {"QSTASH_REGION": "US_EAST_1", **US, **EU, **DEFAULT}
EXPLICIT = {
    "current_signing_key": "sig_cfgExplicitCurrent0000000",
    "next_signing_key": "sig_cfgExplicitNext000000000",
}
# Keeps the outgoing warnings out of the incoming-key tables.
TOKEN = {"QSTASH_TOKEN": "tok_cfg_default_0000000000000"}

OUTGOING_CODES = {"outgoing_fallback", "token_missing"}


def incoming_warnings(config: QStashConfig) -> list[ConfigWarning]:
    found = [w for w in config.warnings if isinstance(w, ConfigWarning)]
    assert len(found) == len(config.warnings), "every warning carries a code"
    return [w for w in found if w.code not in OUTGOING_CODES]


# --- incoming signing keys ---------------------------------------------------------------


@dataclass(frozen=True)
class KeyCase:
    env: Mapping[str, str]
    header: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: (source, region, current key) of the keys chosen; None: keys_for raises ConfigError.
    expect: tuple[str, str | None, str] | None = None
    #: (code, text fragment) of every incoming-key warning of load_config, in order.
    warnings: tuple[tuple[str, str], ...] = ()
    #: a fragment of the fallback warning select_keys gives for this header, if any.
    logged: str | None = None
    #: what keys_for raises when ``expect`` is None.
    refused: type[QStashError] = ConfigError
    refused_text: str = "no signing keys configured"


def case(id_: str, **kwargs: Any) -> Any:
    return pytest.param(KeyCase(**kwargs), id=id_)


KEY_CASES = [
    # 0. dev mode
    case("dev-env-1", env={"QSTASH_DEV": "1", **DEFAULT}, expect=("dev", None, DEV_CURRENT)),
    case("dev-env-true", env={"QSTASH_DEV": "true"}, expect=("dev", None, DEV_CURRENT)),
    case("dev-flag", env={}, options={"dev_mode": True}, expect=("dev", None, DEV_CURRENT)),
    case(
        "dev-beats-explicit-keys",
        env={"QSTASH_DEV": "1"},
        options=EXPLICIT,
        expect=("dev", None, DEV_CURRENT),
    ),
    case(
        "dev-beats-migration",
        env={"QSTASH_DEV": "true", **MIGRATION},
        header="us-east-1",
        expect=("dev", None, DEV_CURRENT),
    ),
    case(
        "dev-flag-false-beats-env",
        env={"QSTASH_DEV": "1", **DEFAULT},
        options={"dev_mode": False},
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    case(
        "dev-env-0",
        env={"QSTASH_DEV": "0", **DEFAULT},
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    case(
        "dev-env-false",
        env={"QSTASH_DEV": "false", **DEFAULT},
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    case(
        "dev-env-empty",
        env={"QSTASH_DEV": "", **DEFAULT},
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    case(
        "dev-local-functions-framework",  # FUNCTION_TARGET is set locally too: not a cloud
        env={"QSTASH_DEV": "1", "FUNCTION_TARGET": "handler"},
        expect=("dev", None, DEV_CURRENT),
    ),
    case(
        "dev-empty-lambda-marker",
        env={"QSTASH_DEV": "1", "AWS_LAMBDA_FUNCTION_NAME": ""},
        expect=("dev", None, DEV_CURRENT),
    ),
    # 1. explicit keys
    case(
        "explicit",
        env=DEFAULT,
        options=EXPLICIT,
        expect=("explicit", None, EXPLICIT["current_signing_key"]),
    ),
    case(
        "explicit-beats-migration",
        env=MIGRATION,
        header="US-EAST-1",
        options=EXPLICIT,
        expect=("explicit", None, EXPLICIT["current_signing_key"]),
    ),
    case(
        "explicit-empty-strings-are-missing",
        env=DEFAULT,
        options={"current_signing_key": "", "next_signing_key": ""},
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    # 2. migration mode: the header picks the region's keys
    *(
        case(
            f"migration-header-{header}",
            env=MIGRATION,
            header=header,
            expect=("region", "US_EAST_1", US["US_EAST_1_QSTASH_CURRENT_SIGNING_KEY"]),
        )
        for header in ("us-east-1", "US-EAST-1", "us_east_1", "US_EAST_1")
    ),
    case(
        "migration-header-eu",
        env=MIGRATION,
        header="EU-CENTRAL-1",
        expect=("region", "EU_CENTRAL_1", EU["EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    case(
        "migration-region-env-normalised",
        env={**MIGRATION, "QSTASH_REGION": "eu-central-1"},
        header="us-east-1",
        expect=("region", "US_EAST_1", US["US_EAST_1_QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    case(
        "migration-header-missing",
        env=MIGRATION,
        header=None,
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        logged="Upstash-Region header missing or invalid",
    ),
    case(
        "migration-header-empty",
        env=MIGRATION,
        header="",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        logged="Upstash-Region header missing or invalid",
    ),
    case(
        # Not stripped, as in @upstash/qstash (servers strip header whitespace already).
        "migration-header-padded",
        env=MIGRATION,
        header=" US-EAST-1 ",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        logged="Upstash-Region header missing or invalid",
    ),
    case(
        "migration-header-invalid",
        env=MIGRATION,
        header="ap-south-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        logged="Upstash-Region header missing or invalid",
    ),
    case(
        "migration-region-keys-missing",
        env={"QSTASH_REGION": "US_EAST_1", **US, **DEFAULT},
        header="eu-central-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        warnings=(("region_keys_missing", "no EU_CENTRAL_1 signing keys"),),
        logged="no complete signing key pair for EU_CENTRAL_1",
    ),
    case(
        "migration-region-next-key-missing",
        env={
            "QSTASH_REGION": "US_EAST_1",
            **US,
            "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": "sig_cfgEuCurrent0000000000000",
            **DEFAULT,
        },
        header="eu-central-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        warnings=(("incomplete_key_pair", "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY is not set"),),
        logged="no complete signing key pair for EU_CENTRAL_1",
    ),
    case(
        "migration-region-current-key-missing",
        env={
            "QSTASH_REGION": "US_EAST_1",
            "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": "sig_cfgUsNext000000000000000",
            **EU,
            **DEFAULT,
        },
        header="us-east-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        warnings=(("incomplete_key_pair", "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY is not set"),),
        logged="no complete signing key pair for US_EAST_1",
    ),
    case(
        "migration-region-keys-empty-strings",
        env={
            **MIGRATION,
            "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": "",
            "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": "",
        },
        header="eu-central-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        warnings=(("region_keys_missing", "no EU_CENTRAL_1 signing keys"),),
        logged="no complete signing key pair for EU_CENTRAL_1",
    ),
    case(
        "migration-header-missing-no-default-keys",
        env={"QSTASH_REGION": "US_EAST_1", **US, **EU},
        header=None,
        expect=None,
        logged="Upstash-Region header missing or invalid",
        refused=UnknownRegionError,
        refused_text="missing or names no QStash region",
    ),
    case(
        "migration-region-without-keys-no-default-keys",
        env={"QSTASH_REGION": "US_EAST_1", **US},
        header="eu-central-1",
        expect=None,
        warnings=(
            (
                "region_keys_missing",
                "no EU_CENTRAL_1 signing keys and no QSTASH_CURRENT/NEXT_SIGNING_KEY pair: its "
                "deliveries will be answered 500 (set EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY",
            ),
        ),
        refused_text="no signing keys for EU_CENTRAL_1 and no QSTASH_CURRENT/NEXT_SIGNING_KEY "
        "pair to fall back to: set EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY and "
        "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY",
    ),
    # Region-prefixed keys outside migration mode are ignored (parity), with a warning.
    case(
        "region-keys-without-qstash-region",
        env={**US, **EU, **DEFAULT},
        header="us-east-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        warnings=(
            ("region_keys_ignored", "EU_CENTRAL_1_QSTASH_*_SIGNING_KEY is set but QSTASH_REGION"),
            ("region_keys_ignored", "US_EAST_1_QSTASH_*_SIGNING_KEY is set but QSTASH_REGION"),
        ),
    ),
    case(
        "region-keys-with-empty-qstash-region",
        env={"QSTASH_REGION": "", **US, **DEFAULT},
        header="us-east-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        warnings=(("region_keys_ignored", "US_EAST_1_QSTASH_*_SIGNING_KEY is set"),),
    ),
    case(
        "invalid-qstash-region",
        env={**MIGRATION, "QSTASH_REGION": "AP_SOUTH_1"},
        header="us-east-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
        warnings=(
            ("invalid_region", "QSTASH_REGION is not EU_CENTRAL_1 or US_EAST_1"),
            ("region_keys_ignored", "EU_CENTRAL_1_QSTASH_*_SIGNING_KEY"),
            ("region_keys_ignored", "US_EAST_1_QSTASH_*_SIGNING_KEY"),
        ),
    ),
    # 3. default keys; 4. nothing
    case(
        "default-keys",
        env=DEFAULT,
        header="us-east-1",
        expect=("default", None, DEFAULT["QSTASH_CURRENT_SIGNING_KEY"]),
    ),
    case(
        "nothing",
        env={},
        expect=None,
        warnings=(("no_signing_keys", "no signing keys are configured"),),
    ),
    case(
        "default-next-key-missing",
        env={"QSTASH_CURRENT_SIGNING_KEY": "sig_cfgDefaultCurrent000000000"},
        expect=None,
        warnings=(
            ("incomplete_key_pair", "QSTASH_NEXT_SIGNING_KEY is not set"),
            ("no_signing_keys", "no signing keys are configured"),
        ),
    ),
    case(
        "default-keys-empty-strings",
        env={"QSTASH_CURRENT_SIGNING_KEY": "", "QSTASH_NEXT_SIGNING_KEY": ""},
        expect=None,
        warnings=(("no_signing_keys", "no signing keys are configured"),),
    ),
]


@pytest.mark.parametrize("kc", KEY_CASES)
def test_incoming_key_resolution(kc: KeyCase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="qstash_receiver")
    config = load_config({**TOKEN, **kc.env}, **kc.options)
    got = [(w.code, str(w)) for w in incoming_warnings(config)]
    assert [code for code, _ in got] == [code for code, _ in kc.warnings]
    for (_, text), (_, fragment) in zip(got, kc.warnings, strict=True):
        assert fragment in text
    if kc.expect is None:
        with pytest.raises(kc.refused, match=kc.refused_text):
            config.keys_for(kc.header)
    else:
        keys, fallback = config.select_keys(kc.header)
        assert config.keys_for(kc.header) == keys
        assert (keys.source, keys.region, keys.current.reveal()) == kc.expect
        assert keys.current != keys.next
        if kc.logged is None:
            assert fallback is None
        else:
            assert fallback is not None
            assert kc.logged in fallback.text
    assert not caplog.records  # the resolver is pure: whoever uses the config logs


def test_next_keys_follow_their_current_keys() -> None:
    config = load_config({**TOKEN, **MIGRATION})
    assert config.keys_for("us-east-1").next.reveal() == US["US_EAST_1_QSTASH_NEXT_SIGNING_KEY"]
    assert (
        config.keys_for("eu-central-1").next.reveal() == EU["EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY"]
    )
    assert config.keys_for(None).next.reveal() == DEFAULT["QSTASH_NEXT_SIGNING_KEY"]
    dev = load_config({"QSTASH_DEV": "1"})
    assert dev.keys_for(None).next.reveal() == DEV_NEXT


@pytest.mark.parametrize(
    ("env", "options", "runtime"),
    [
        pytest.param(
            {"QSTASH_DEV": "1", "AWS_LAMBDA_FUNCTION_NAME": "fn"}, {}, "AWS Lambda", id="lambda-env"
        ),
        pytest.param(
            {"QSTASH_DEV": "true", "K_SERVICE": "svc"}, {}, "Cloud Run", id="cloud-run-env"
        ),
        pytest.param(
            {"AWS_LAMBDA_FUNCTION_NAME": "fn", **DEFAULT},
            {"dev_mode": True},
            "AWS Lambda",
            id="lambda-flag",
        ),
        pytest.param({"K_SERVICE": "fn"}, {"dev_mode": True}, "Cloud Run", id="cloud-run-flag"),
    ],
)
def test_dev_mode_is_refused_on_cloud_runtimes(
    env: dict[str, str], options: dict[str, Any], runtime: str
) -> None:
    with pytest.raises(ConfigError, match=f"dev mode is refused on {runtime}"):
        load_config(env, **options)


@pytest.mark.parametrize(
    ("marker", "runtime"),
    [("AWS_LAMBDA_FUNCTION_NAME", "AWS Lambda"), ("K_SERVICE", "Cloud Run / Cloud Functions")],
)
def test_cloud_runtime_without_dev_mode_is_fine(marker: str, runtime: str) -> None:
    config = load_config({marker: "x", "QSTASH_DEV": "0", **DEFAULT, **TOKEN})
    assert config.cloud_runtime == runtime
    assert not config.dev_mode
    assert config.keys_for(None).source == "default"


@pytest.mark.parametrize("value", ["yes", "2", "on", "TRUE", " 1"])
def test_invalid_qstash_dev_value(value: str) -> None:
    with pytest.raises(ConfigError, match="QSTASH_DEV must be one of"):
        load_config({"QSTASH_DEV": value, **DEFAULT})


def test_explicit_flag_bypasses_invalid_qstash_dev() -> None:
    assert load_config({"QSTASH_DEV": "yes", **DEFAULT}, dev_mode=False).dev_mode is False


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"current_signing_key": "sig_only_current_key_000000"}, id="current-only"),
        pytest.param({"next_signing_key": "sig_only_next_key_00000000000"}, id="next-only"),
    ],
)
def test_one_explicit_key_is_a_config_error(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="both current_signing_key and next_signing_key"):
        load_config(DEFAULT, **options)


def test_mode_properties() -> None:
    migration = load_config({**TOKEN, **MIGRATION})
    assert migration.migration_mode
    assert migration.primary_region == "US_EAST_1"
    assert migration.can_verify
    assert set(migration.region_keys) == {"US_EAST_1", "EU_CENTRAL_1"}
    assert migration.keys_for("us-east-1").label == "US_EAST_1 keys"
    single = load_config({**TOKEN, **DEFAULT})
    assert not single.migration_mode
    assert single.keys_for(None).label == "default keys"
    assert single.region_keys == {}
    assert not load_config({}).can_verify


# --- outgoing credentials ------------------------------------------------------------------


@dataclass(frozen=True)
class OutCase:
    env: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)
    #: (url, token or None, source, region)
    expect: tuple[str, str | None, str, str | None] = ("", None, "", None)
    #: (code, text fragment) of every outgoing warning, in order.
    warnings: tuple[tuple[str, str], ...] = ()


def out(id_: str, **kwargs: Any) -> Any:
    return pytest.param(OutCase(**kwargs), id=id_)


US_OUT = {
    "US_EAST_1_QSTASH_URL": "https://qstash-us-east-1.upstash.io",
    "US_EAST_1_QSTASH_TOKEN": "tok_cfg_us_000000000000000000",
}
EU_OUT = {
    "EU_CENTRAL_1_QSTASH_URL": "https://qstash-eu-central-1.upstash.io",
    "EU_CENTRAL_1_QSTASH_TOKEN": "tok_cfg_eu_000000000000000000",
}
FALLBACK = ("outgoing_fallback", "US_EAST_1_QSTASH_URL and US_EAST_1_QSTASH_TOKEN are not both set")
NO_TOKEN = ("token_missing", "QSTASH_TOKEN is not set")
DEFAULT_URL = "https://qstash.upstash.io"

OUT_CASES = [
    out(
        "dev-default-port",
        env={"QSTASH_DEV": "1"},
        expect=("http://127.0.0.1:8080", DEV_TOKEN, "dev", None),
    ),
    out(
        "dev-port",
        env={"QSTASH_DEV": "1", "QSTASH_DEV_PORT": "8123"},
        expect=("http://127.0.0.1:8123", DEV_TOKEN, "dev", None),
    ),
    out(
        "dev-port-invalid",
        env={"QSTASH_DEV": "1", "QSTASH_DEV_PORT": "http"},
        expect=("http://127.0.0.1:8080", DEV_TOKEN, "dev", None),
    ),
    out(
        "dev-port-zero",
        env={"QSTASH_DEV": "1", "QSTASH_DEV_PORT": "0"},
        expect=("http://127.0.0.1:8080", DEV_TOKEN, "dev", None),
    ),
    out(
        "dev-beats-explicit-and-migration",
        env={"QSTASH_DEV": "true", "QSTASH_REGION": "US_EAST_1", **US_OUT},
        options={"url": "https://example.test", "token": "tok_explicit_0000000000000"},
        expect=("http://127.0.0.1:8080", DEV_TOKEN, "dev", None),
    ),
    out(
        "explicit",
        env={"QSTASH_REGION": "US_EAST_1", **US_OUT, "QSTASH_TOKEN": "tok_env"},
        options={"url": "https://qstash-eu-central-1.upstash.io/", "token": "tok_explicit_00"},
        expect=("https://qstash-eu-central-1.upstash.io", "tok_explicit_00", "explicit", None),
    ),
    out(
        "explicit-legacy-url",
        env={},
        options={"url": "https://qstash.upstash.io/v2/publish", "token": "tok_explicit_00"},
        expect=(DEFAULT_URL, "tok_explicit_00", "explicit", None),
    ),
    out(
        "migration-us",
        env={"QSTASH_REGION": "US_EAST_1", **US_OUT, **EU_OUT, "QSTASH_TOKEN": "tok_env"},
        expect=(
            US_OUT["US_EAST_1_QSTASH_URL"],
            US_OUT["US_EAST_1_QSTASH_TOKEN"],
            "region",
            "US_EAST_1",
        ),
    ),
    out(
        "migration-eu-normalised",
        env={"QSTASH_REGION": "eu-central-1", **US_OUT, **EU_OUT},
        expect=(
            EU_OUT["EU_CENTRAL_1_QSTASH_URL"],
            EU_OUT["EU_CENTRAL_1_QSTASH_TOKEN"],
            "region",
            "EU_CENTRAL_1",
        ),
    ),
    out(
        "migration-url-trailing-slash",
        env={
            "QSTASH_REGION": "US_EAST_1",
            "US_EAST_1_QSTASH_URL": "https://qstash-us-east-1.upstash.io/",
            "US_EAST_1_QSTASH_TOKEN": "tok_us",
        },
        expect=("https://qstash-us-east-1.upstash.io", "tok_us", "region", "US_EAST_1"),
    ),
    out(
        "migration-token-missing",
        env={
            "QSTASH_REGION": "US_EAST_1",
            "US_EAST_1_QSTASH_URL": "https://qstash-us-east-1.upstash.io",
            "QSTASH_URL": "https://qstash.upstash.io/",
            "QSTASH_TOKEN": "tok_env",
        },
        expect=(DEFAULT_URL, "tok_env", "default", None),
        warnings=(FALLBACK,),
    ),
    out(
        "migration-url-missing",
        env={"QSTASH_REGION": "US_EAST_1", "US_EAST_1_QSTASH_TOKEN": "tok_us", "QSTASH_TOKEN": "t"},
        expect=(DEFAULT_URL, "t", "default", None),
        warnings=(FALLBACK,),
    ),
    out(
        "migration-url-empty",
        env={
            "QSTASH_REGION": "US_EAST_1",
            "US_EAST_1_QSTASH_URL": "",
            "US_EAST_1_QSTASH_TOKEN": "x",
        },
        expect=(DEFAULT_URL, None, "default", None),
        warnings=(FALLBACK, NO_TOKEN),
    ),
    out(
        "migration-other-region-only",
        env={"QSTASH_REGION": "US_EAST_1", **EU_OUT, "QSTASH_TOKEN": "tok_env"},
        expect=(DEFAULT_URL, "tok_env", "default", None),
        warnings=(FALLBACK,),
    ),
    out(
        "region-credentials-without-qstash-region",
        env={**US_OUT, "QSTASH_TOKEN": "tok_env"},
        expect=(DEFAULT_URL, "tok_env", "default", None),
    ),
    out("url-default", env={"QSTASH_TOKEN": "tok"}, expect=(DEFAULT_URL, "tok", "default", None)),
    out(
        "url-empty-is-default",
        env={"QSTASH_URL": "", "QSTASH_TOKEN": "tok"},
        expect=(DEFAULT_URL, "tok", "default", None),
    ),
    out(
        "url-trailing-slash",
        env={"QSTASH_URL": "https://qstash-us-east-1.upstash.io/", "QSTASH_TOKEN": "tok"},
        expect=("https://qstash-us-east-1.upstash.io", "tok", "default", None),
    ),
    out(
        "url-legacy-publish",
        env={"QSTASH_URL": "https://qstash.upstash.io/v2/publish", "QSTASH_TOKEN": "tok"},
        expect=(DEFAULT_URL, "tok", "default", None),
    ),
    out(
        "url-legacy-publish-slash",
        env={"QSTASH_URL": "https://qstash.upstash.io/v2/publish/", "QSTASH_TOKEN": "tok"},
        expect=(DEFAULT_URL, "tok", "default", None),
    ),
    out("token-missing", env={}, expect=(DEFAULT_URL, None, "default", None), warnings=(NO_TOKEN,)),
    out(
        "token-empty",
        env={"QSTASH_TOKEN": "", "QSTASH_URL": "https://qstash-us-east-1.upstash.io"},
        expect=("https://qstash-us-east-1.upstash.io", None, "default", None),
        warnings=(NO_TOKEN,),
    ),
]


@pytest.mark.parametrize("oc", OUT_CASES)
def test_outgoing_resolution(oc: OutCase) -> None:
    config = load_config({**DEFAULT, **oc.env}, **oc.options)
    outgoing = config.outgoing
    token = outgoing.token.reveal() if outgoing.token is not None else None
    assert (outgoing.url, token, outgoing.source, outgoing.region) == oc.expect
    got = [w for w in config.warnings if isinstance(w, ConfigWarning) and w.code in OUTGOING_CODES]
    assert [w.code for w in got] == [code for code, _ in oc.warnings]
    for warning, (_, fragment) in zip(got, oc.warnings, strict=True):
        assert fragment in warning.text


# --- warnings are logged once ---------------------------------------------------------------


def test_load_config_logs_nothing_and_a_receiver_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="qstash_receiver")
    env = {"QSTASH_REGION": "mars", **US}
    first = load_config(env)
    assert len(first.warnings) == 4  # invalid region, ignored keys, no keys, no token
    assert not caplog.records
    second = load_config(env)
    assert second.warnings == first.warnings  # still reported to the caller every time
    assert not caplog.records
    # A receiver logs the warnings about receiving once, on first use; the publishing one
    # is kept on the config but logged only by a publisher.
    receiver = Receiver(config=second)
    for _ in range(3):
        assert receiver.config is second
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [w.text for w in first.warnings[:3]]
    assert all(r.name == "qstash_receiver" and r.levelno == logging.WARNING for r in caplog.records)
    caplog.clear()
    second.outgoing.log_warnings()
    assert [r.getMessage() for r in caplog.records] == [first.warnings[3].text]
    assert caplog.records[0].levelno == logging.WARNING


def test_warnings_are_frozen_values_with_a_code() -> None:
    warning = load_config({"QSTASH_REGION": "mars"}).warnings[0]
    assert (warning.code, str(warning)) == ("invalid_region", warning.text)
    with pytest.raises(AttributeError):
        warning.code = "other"  # type: ignore[misc]


def test_receive_only_config_logs_nothing_about_publishing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="qstash_receiver")
    config = load_config(DEFAULT)
    assert any("QSTASH_TOKEN is not set" in w.text for w in config.warnings)
    assert not caplog.records


def test_a_receiver_logs_each_fallback_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="qstash_receiver")
    config = load_config({**TOKEN, **MIGRATION})
    receiver = Receiver(config=config)
    body = b"{}"
    signature = sign(body, key=DEFAULT["QSTASH_CURRENT_SIGNING_KEY"])
    for _ in range(5):
        assert config.keys_for("nowhere").source == "default"
        message = receiver.verify(signature=signature, body=body, upstash_region="nowhere")
        assert message.key_source == "default"
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert "Upstash-Region header missing or invalid" in warned[0].getMessage()
    assert len(caplog.records) == 1


# --- the process environment -----------------------------------------------------------------


def test_process_environment_is_read_lazily_by_receiver() -> None:
    """``Receiver()`` builds fine with a bad environment; the error comes at verify time."""
    script = (
        "from qstash_receiver import Receiver, ConfigError\n"
        "r = Receiver()\n"
        "print('built')\n"
        "try:\n"
        "    r.verify(signature='x.y.z', body=b'')\n"
        "except ConfigError as e:\n"
        "    print('ConfigError', e)\n"
    )
    env = {"QSTASH_DEV": "1", "AWS_LAMBDA_FUNCTION_NAME": "fn", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "built",
        "ConfigError QStash dev mode is refused on AWS Lambda: the dev signing keys are public",
    ]


def test_load_config_none_reads_the_process_environment() -> None:
    script = (
        "from qstash_receiver import load_config\n"
        "c = load_config()\n"
        "print(c.primary_region, c.keys_for('eu-central-1').source, c.outgoing.url)\n"
    )
    env = {
        "QSTASH_REGION": "US_EAST_1",
        **EU,
        "QSTASH_URL": "https://qstash-us-east-1.upstash.io/",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["US_EAST_1", "region", "https://qstash-us-east-1.upstash.io"]


@pytest.mark.parametrize(
    ("marker", "call"),
    [
        ("AWS_LAMBDA_FUNCTION_NAME", "load_config({}, dev_mode=True)"),
        ("K_SERVICE", "load_config({'QSTASH_DEV': '1'})"),
    ],
)
def test_a_hand_built_mapping_cannot_bring_dev_keys_onto_a_cloud_runtime(
    marker: str, call: str
) -> None:
    # The runtime marker is only in the process environment, not in the mapping passed.
    script = (
        "from qstash_receiver import ConfigError, load_config\n"
        "try:\n"
        f"    {call}\n"
        "    print('accepted')\n"
        "except ConfigError as e:\n"
        "    print('refused', e)\n"
    )
    env = {marker: "fn", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused QStash dev mode is refused on"), done.stdout


def test_overlay_settings_lays_qstash_settings_over_the_environment() -> None:
    settings: dict[str, object] = {
        "QSTASH_DEV": True,
        "QSTASH_REGION": None,  # absent: the environment's value stays
        "US_EAST_1_QSTASH_TOKEN": "tok",
        "QSTASH_DEV_PORT": 9090,
        "SECRET_KEY": "not ours",
    }
    merged = overlay_settings(settings.get, {"QSTASH_REGION": "EU_CENTRAL_1", "PATH": "/bin"})
    assert merged == {
        "QSTASH_REGION": "EU_CENTRAL_1",
        "PATH": "/bin",
        "QSTASH_DEV": "true",
        "US_EAST_1_QSTASH_TOKEN": "tok",
        "QSTASH_DEV_PORT": "9090",
    }
    assert overlay_settings({"QSTASH_DEV": False}.get, {})["QSTASH_DEV"] == "false"


def test_outgoing_url_loses_one_trailing_slash_as_in_the_ts_sdk() -> None:
    config = load_config({"QSTASH_URL": "https://qstash.example.test//", "QSTASH_TOKEN": "t"})
    assert config.outgoing.url == "https://qstash.example.test/"


def test_ignored_region_keys_say_why_when_the_region_is_invalid() -> None:
    config = load_config({"QSTASH_REGION": "mars", **US})
    ignored = [w.text for w in config.warnings if w.code == "region_keys_ignored"]
    assert ignored == [
        "US_EAST_1_QSTASH_*_SIGNING_KEY is set but QSTASH_REGION is not a valid region: "
        "region-prefixed keys are ignored outside migration mode"
    ]
    unset = load_config(US).warnings
    assert any("is set but QSTASH_REGION is not: " in w.text for w in unset)


@pytest.mark.parametrize("explicit", ["keys", "dev"])
def test_explicit_or_dev_keys_in_migration_mode_warn_of_no_missing_region(explicit: str) -> None:
    """Explicit keys (or dev mode's) verify every delivery: no region's deliveries are said to
    use a default pair, nor to be answered 500."""
    if explicit == "keys":
        config = load_config(
            {"QSTASH_REGION": "US_EAST_1"}, current_signing_key="sig_a", next_signing_key="sig_b"
        )
    else:
        config = load_config({"QSTASH_REGION": "US_EAST_1", "QSTASH_DEV": "1"})
    assert [w.code for w in config.warnings if w.code == "region_keys_missing"] == []
    assert config.keys_for("eu-central-1") is config.keys_for("us-east-1")
