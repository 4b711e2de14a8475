"""Publishing credentials per region (``QStashConfig.outgoing_regions``, ``outgoing_for``).

The default outgoing credentials keep their table in test_config.py; this is what was added
for publishing through a region by name. Environments are plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import qstash_receiver.config
from qstash_receiver import ConfigError, load_config
from qstash_receiver.credentials import Outgoing, outgoing_for
from qstash_receiver.findings import ConfigWarning

DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
US_URL, US_TOKEN = "https://qstash-us-east-1.upstash.io", "tok_cred_us_4b1d9e0a7c22f3"
EU_URL, EU_TOKEN = "https://qstash-eu-central-1.upstash.io", "tok_cred_eu_8e5a2c71d0b9f4"
US_OUT = {"US_EAST_1_QSTASH_URL": US_URL + "/", "US_EAST_1_QSTASH_TOKEN": US_TOKEN}
EU_OUT = {"EU_CENTRAL_1_QSTASH_URL": EU_URL, "EU_CENTRAL_1_QSTASH_TOKEN": EU_TOKEN}
US = ("US_EAST_1", US_URL, US_TOKEN)
EU = ("EU_CENTRAL_1", EU_URL, EU_TOKEN)


def regions(env: Mapping[str, str], **options: Any) -> dict[str, tuple[str, str | None, str]]:
    """``outgoing_regions`` as region -> (url, token, source)."""
    config = load_config(env, **options)
    return {
        region: (o.url, o.token.reveal() if o.token else None, o.source)
        for region, o in config.outgoing_regions.items()
    }


@pytest.mark.parametrize(
    ("env", "options", "expected"),
    [
        pytest.param(
            {"QSTASH_REGION": "US_EAST_1", **US_OUT, **EU_OUT}, {}, [US, EU], id="migration"
        ),
        # Naming a region is the choice QSTASH_REGION would make: no migration mode needed.
        pytest.param({**EU_OUT, "QSTASH_TOKEN": "tok_default"}, {}, [EU], id="no-qstash-region"),
        pytest.param({**EU_OUT, "US_EAST_1_QSTASH_URL": US_URL}, {}, [EU], id="us-token-missing"),
        pytest.param(
            {**EU_OUT, "US_EAST_1_QSTASH_URL": "", "US_EAST_1_QSTASH_TOKEN": US_TOKEN},
            {},
            [EU],
            id="us-url-empty",
        ),
        pytest.param({"QSTASH_URL": US_URL, "QSTASH_TOKEN": "t"}, {}, [], id="none"),
        # Explicit url and token are the default's; a named region keeps its own.
        pytest.param(
            {"QSTASH_REGION": "US_EAST_1", **US_OUT, **EU_OUT},
            {"url": "https://explicit.test", "token": "tok_explicit"},
            [US, EU],
            id="explicit-is-the-default-only",
        ),
    ],
)
def test_every_region_with_url_and_token_is_resolved(
    env: dict[str, str], options: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    assert regions(env, **options) == {r: (url, token, "region") for r, url, token in expected}


def test_in_migration_mode_the_primary_by_name_is_the_default() -> None:
    config = load_config({"QSTASH_REGION": "us-east-1", **US_OUT, **EU_OUT})
    assert config.outgoing_regions["US_EAST_1"] == config.outgoing
    assert config.outgoing.region == "US_EAST_1"
    assert config.outgoing_regions["EU_CENTRAL_1"].region == "EU_CENTRAL_1"


def test_in_dev_mode_every_region_is_the_dev_server() -> None:
    # One local dev server: a dev setup never publishes to QStash through a named region.
    env = {"QSTASH_DEV": "1", "QSTASH_DEV_PORT": "8123", **US_OUT, **EU_OUT}
    expected = ("http://127.0.0.1:8123", DEV_TOKEN, "dev")
    assert regions(env) == {"EU_CENTRAL_1": expected, "US_EAST_1": expected}
    config = load_config(env)
    assert all(o is config.outgoing for o in config.outgoing_regions.values())


@pytest.mark.parametrize(
    "spelling", ["EU_CENTRAL_1", "eu_central_1", "EU-CENTRAL-1", "eu-central-1", "Eu-Central_1"]
)
def test_outgoing_for_takes_any_region_spelling(spelling: str) -> None:
    config = load_config({**US_OUT, **EU_OUT})
    found = outgoing_for(config.outgoing_regions, spelling)
    assert (found.url, found.region) == (EU_URL, "EU_CENTRAL_1")


@pytest.mark.parametrize("value", ["mars", "", " EU_CENTRAL_1", "EU_CENTRAL", EU_TOKEN])
def test_an_unknown_region_is_a_config_error_that_does_not_repeat_it(value: str) -> None:
    config = load_config({**US_OUT, **EU_OUT})
    with pytest.raises(ConfigError) as caught:
        outgoing_for(config.outgoing_regions, value)
    # A fixed text: the value may be a token passed where the region goes.
    assert str(caught.value) == (
        "not a QStash region: use one of EU_CENTRAL_1, US_EAST_1 (any case, with - or _)"
    )


def test_a_region_without_url_and_token_names_both_variables() -> None:
    config = load_config({**US_OUT, "EU_CENTRAL_1_QSTASH_TOKEN": EU_TOKEN})
    with pytest.raises(ConfigError) as caught:
        outgoing_for(config.outgoing_regions, "eu-central-1")
    assert str(caught.value) == (
        "no publishing credentials for EU_CENTRAL_1: "
        "set EU_CENTRAL_1_QSTASH_URL and EU_CENTRAL_1_QSTASH_TOKEN"
    )
    assert EU_TOKEN not in str(caught.value)


def test_the_old_import_paths_still_work() -> None:
    assert qstash_receiver.config.Outgoing is Outgoing
    assert qstash_receiver.config.ConfigWarning is ConfigWarning
    assert isinstance(load_config({}).outgoing, qstash_receiver.config.Outgoing)
