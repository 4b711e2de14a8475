"""Key-resolution parity with @upstash/qstash >= 2.9 (DESIGN.md "Signing keys for one request").

A matrix of environments x ``Upstash-Region`` header values x signing keys. For every cell, our
verdict (``Receiver(config=load_config(env)).verify(...)``; a ConfigError counts as a rejection)
must equal the TypeScript SDK's (``new Receiver().verify(...)`` in a Node process whose
``process.env`` is exactly that environment), except for the differences listed in
``INTENDED_DIFFERENCES``, which must occur exactly as listed.

Our verdicts are also held to a hand-written table (``EXPECTED_PAIR``), so the comparison cannot
pass vacuously (e.g. with both sides rejecting everything).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from node_runner import run_node

from qstash_receiver import ConfigError, Receiver, SignatureError, load_config
from qstash_receiver.testing import sign

URL = "https://example.com/api/qstash"
BODY = '{"parity":true,"n":42}'

# signing key name -> (key, the key pair it belongs to)
KEYS: dict[str, tuple[str, str | None]] = {
    "eu_current": ("sig_parityEuCurrent000000000000000", "eu"),
    "eu_next": ("sig_parityEuNext000000000000000000", "eu"),
    "us_current": ("sig_parityUsCurrent000000000000000", "us"),
    "us_next": ("sig_parityUsNext000000000000000000", "us"),
    "default_current": ("sig_parityDefaultCurrent0000000000", "default"),
    # The QStash dev server's published key (docs: "Local Development").
    "dev_current": ("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", "dev"),
    "unknown": ("sig_parityUnknown00000000000000000", None),
}
DEFAULT_NEXT = "sig_parityDefaultNext0000000000000"

EU = {
    "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": KEYS["eu_current"][0],
    "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": KEYS["eu_next"][0],
}
US = {
    "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": KEYS["us_current"][0],
    "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": KEYS["us_next"][0],
}
DEFAULT = {
    "QSTASH_CURRENT_SIGNING_KEY": KEYS["default_current"][0],
    "QSTASH_NEXT_SIGNING_KEY": DEFAULT_NEXT,
}

ENVIRONMENTS: dict[str, dict[str, str]] = {
    "single_region": {**DEFAULT},
    "migration_us_primary": {"QSTASH_REGION": "US_EAST_1", **EU, **US, **DEFAULT},
    "migration_eu_primary": {"QSTASH_REGION": "eu-central-1", **EU, **US},
    "migration_one_region": {"QSTASH_REGION": "US_EAST_1", **US, **DEFAULT},
    "migration_half_pair": {
        "QSTASH_REGION": "US_EAST_1",
        "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": KEYS["eu_current"][0],
        **US,
        **DEFAULT,
    },
    "region_keys_without_region": {**EU, **US, **DEFAULT},
    "region_keys_only_without_region": {**EU, **US},
    "no_keys": {},
    "dev_true": {"QSTASH_DEV": "true", **DEFAULT},
    "dev_true_on_lambda": {"QSTASH_DEV": "true", "AWS_LAMBDA_FUNCTION_NAME": "fn", **DEFAULT},
    "dev_1_on_cloud_run": {"QSTASH_DEV": "1", "K_SERVICE": "svc", **DEFAULT},
    "invalid_region": {"QSTASH_REGION": "mars-1", **EU, **US, **DEFAULT},
}

HEADERS: dict[str, str | None] = {
    "none": None,
    "EU-CENTRAL-1": "EU-CENTRAL-1",
    "us-east-1": "us-east-1",
    "US_EAST_1": "US_EAST_1",
    "mars-1": "mars-1",
}

# Our expected key pair per environment, one entry per header in HEADERS order (None: reject).
EXPECTED_PAIR: dict[str, tuple[str | None, ...]] = {
    "single_region": ("default",) * 5,
    "migration_us_primary": ("default", "eu", "us", "us", "default"),
    "migration_eu_primary": (None, "eu", "us", "us", None),
    "migration_one_region": ("default", "default", "us", "us", "default"),
    "migration_half_pair": ("default", "default", "us", "us", "default"),
    "region_keys_without_region": ("default",) * 5,
    "region_keys_only_without_region": (None,) * 5,
    "no_keys": (None,) * 5,
    "dev_true": ("dev",) * 5,
    "dev_true_on_lambda": (None,) * 5,
    "dev_1_on_cloud_run": (None,) * 5,
    "invalid_region": ("default",) * 5,
}

Cell = tuple[str, str, str]  # (environment, header, signing key)

# DESIGN.md: dev mode is refused on a cloud runtime (the dev keys are public); the TS SDK
# accepts the dev keys there. cell -> (ours, TS SDK)
INTENDED_DIFFERENCES: dict[Cell, tuple[bool, bool]] = {
    (env, header, "dev_current"): (False, True)
    for env in ("dev_true_on_lambda", "dev_1_on_cloud_run")
    for header in HEADERS
}


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    """One token per signing key, shared by both sides (same body, URL and time); made when
    the first test runs, as they are short-lived."""
    now = time.time()
    return {name: sign(BODY, key=key, url=URL, now=now) for name, (key, _) in KEYS.items()}


def ours(env: Mapping[str, str], header: str | None, token: str) -> bool:
    try:
        receiver = Receiver(config=load_config(env))
        receiver.verify(signature=token, body=BODY, url=URL, upstash_region=header)
    except (SignatureError, ConfigError):
        return False
    return True


def test_intended_differences_name_real_cells() -> None:
    # A misspelt entry would otherwise never be compared.
    for env, header, key in INTENDED_DIFFERENCES:
        assert env in ENVIRONMENTS
        assert header in HEADERS
        assert key in KEYS
    assert set(EXPECTED_PAIR) == set(ENVIRONMENTS)


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_resolution_parity(tokens: dict[str, str], env_name: str) -> None:
    env = ENVIRONMENTS[env_name]
    cells = [(env_name, header, key) for header in HEADERS for key in KEYS]
    cases = [
        {
            "kind": "verify",
            "signature": tokens[key],
            "body": BODY,
            "url": URL,
            **({} if HEADERS[header] is None else {"upstashRegion": HEADERS[header]}),
        }
        for _, header, key in cells
    ]
    theirs = {cell: result["ok"] for cell, result in zip(cells, run_node(cases, env), strict=True)}
    mine = {cell: ours(env, HEADERS[cell[1]], tokens[cell[2]]) for cell in cells}

    expected_pairs = dict(zip(HEADERS, EXPECTED_PAIR[env_name], strict=True))
    expected_mine = {
        cell: expected_pairs[cell[1]] is not None and KEYS[cell[2]][1] == expected_pairs[cell[1]]
        for cell in cells
    }
    assert mine == expected_mine

    differences = {cell: (mine[cell], theirs[cell]) for cell in cells if mine[cell] != theirs[cell]}
    intended = {cell: v for cell, v in INTENDED_DIFFERENCES.items() if cell[0] == env_name}
    assert differences == intended
