"""Published keys configured as signing keys are refused on a cloud runtime (issue 13, 8).

The QStash dev server's keys and the README's demo keys (``qstash_receiver.testing.DEMO_KEYS``)
are public: anyone can sign a delivery with them. ``QSTASH_DEV`` was refused on a cloud runtime,
but the same keys set as ordinary signing keys were accepted without a word. Plain dict
environments; the cloud runtime is the marker in the mapping.
"""

from __future__ import annotations

import itertools
import traceback

import pytest
from verdicts import check_request

from qstash_receiver import ConfigError, Receiver, load_config
from qstash_receiver.integration import Answer
from qstash_receiver.names import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

PUBLIC = {
    "dev current": DEV_CURRENT_SIGNING_KEY,
    "dev next": DEV_NEXT_SIGNING_KEY,
    **{
        f"demo {region} {which}": key
        for region, pair in DEMO_KEYS.items()
        for which, key in zip(("current", "next"), pair, strict=True)
    },
}
PRIVATE = ("sig_privateCurrentKey00000000000000", "sig_privateNextKey000000000000000000")
CLOUDS = {
    "lambda": ({"AWS_LAMBDA_FUNCTION_NAME": "fn"}, "AWS Lambda"),
    "cloud-run": ({"K_SERVICE": "svc"}, "Cloud Run / Cloud Functions"),
}


def _variables(slot: str) -> tuple[str, str]:
    prefix = "" if slot == "default" else f"{slot}_"
    return f"{prefix}QSTASH_CURRENT_SIGNING_KEY", f"{prefix}QSTASH_NEXT_SIGNING_KEY"


def env_with(slot: str, position: int, key: str, cloud: dict[str, str]) -> dict[str, str]:
    """Private keys everywhere, ``key`` in one variable; migration mode for region slots."""
    env = {**cloud}
    for name in ("default", "EU_CENTRAL_1", "US_EAST_1"):
        env.update(dict(zip(_variables(name), PRIVATE, strict=True)))
    if slot != "default":
        env["QSTASH_REGION"] = slot
    env[_variables(slot)[position]] = key
    return env


def assert_refusal(caught: pytest.ExceptionInfo[ConfigError], variable: str, runtime: str) -> None:
    message = str(caught.value)
    assert variable in message
    assert runtime in message
    shown = message + "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    for key in PUBLIC.values():
        assert key not in shown  # the variable is named, never the key


CASES = list(
    itertools.product(CLOUDS, ("default", "EU_CENTRAL_1", "US_EAST_1"), (0, 1), sorted(PUBLIC))
)


@pytest.mark.parametrize(("cloud", "slot", "position", "public"), CASES)
def test_a_public_key_in_any_variable_is_refused_on_a_cloud_runtime(
    cloud: str, slot: str, position: int, public: str
) -> None:
    marker, runtime = CLOUDS[cloud]
    with pytest.raises(ConfigError) as caught:
        load_config(env_with(slot, position, PUBLIC[public], marker))
    assert_refusal(caught, _variables(slot)[position], runtime)


@pytest.mark.parametrize("cloud", list(CLOUDS))
@pytest.mark.parametrize("position", [0, 1])
def test_explicit_public_keys_are_refused_on_a_cloud_runtime(cloud: str, position: int) -> None:
    marker, runtime = CLOUDS[cloud]
    keys = list(PRIVATE)
    keys[position] = DEV_CURRENT_SIGNING_KEY
    with pytest.raises(ConfigError) as caught:
        load_config(marker, current_signing_key=keys[0], next_signing_key=keys[1])
    assert_refusal(caught, ("current_signing_key", "next_signing_key")[position], runtime)


def test_the_demo_environment_on_lambda_is_answered_500() -> None:
    env = {**DEMO_ENV, "AWS_LAMBDA_FUNCTION_NAME": "fn"}
    with pytest.raises(ConfigError, match=r"_QSTASH_CURRENT_SIGNING_KEY holds a published"):
        load_config(env)
    headers = signed_headers(b"{}", key=DEMO_KEYS["US_EAST_1"][0], region="US_EAST_1")
    answer = check_request(lambda: Receiver(config=load_config(env)), headers, b"{}")
    assert answer == Answer(500, "configuration_error")


@pytest.mark.parametrize("slot", ["default", "US_EAST_1"])
def test_the_same_keys_are_fine_off_the_cloud(slot: str) -> None:
    for key in PUBLIC.values():
        config = load_config(env_with(slot, 0, key, {}))
        assert config.can_verify
    assert Receiver(config=load_config(DEMO_ENV)).config.migration_mode


@pytest.mark.parametrize("cloud", list(CLOUDS))
def test_private_keys_are_fine_on_a_cloud_runtime(cloud: str) -> None:
    for slot in ("default", "US_EAST_1"):
        assert load_config(
            env_with(slot, 0, "sig_anotherPrivateKey0000000000000", CLOUDS[cloud][0])
        )
    assert load_config(
        CLOUDS[cloud][0], current_signing_key=PRIVATE[0], next_signing_key=PRIVATE[1]
    )


def test_region_keys_ignored_outside_migration_mode_are_not_refused() -> None:
    # Without QSTASH_REGION they are never used (and doctor says so), so they verify nothing.
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        **dict(zip(_variables("default"), PRIVATE, strict=True)),
    }
    env["US_EAST_1_QSTASH_CURRENT_SIGNING_KEY"] = DEV_CURRENT_SIGNING_KEY
    env["US_EAST_1_QSTASH_NEXT_SIGNING_KEY"] = DEV_NEXT_SIGNING_KEY
    assert load_config(env).default_keys is not None
