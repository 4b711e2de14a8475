"""Signing keys from Secrets Manager and SSM Parameter Store, against moto in server mode.

moto runs as a real HTTP server subprocess on loopback; boto3 clients (and, in the
subprocess tests, the sample itself through AWS_ENDPOINT_URL) talk to it with fake
credentials. Nothing is patched.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from lambda_samples import invoke
from mypy_boto3_secretsmanager import SecretsManagerClient
from mypy_boto3_ssm import SSMClient
from qstash_demo.services import free_port, serving

from qstash_receiver import ConfigError, Receiver, load_config
from qstash_receiver.adapters.aws_lambda import (
    KeyFetchError,
    StoredKeysReceiver,
    get_message,
    http_response,
    receiver_from_env,
    verify_qstash,
)
from qstash_receiver.adapters.aws_lambda.testing import signed_event
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS

ROOT = Path(__file__).parent.parent
TEMPLATE = json.loads((ROOT / "tests" / "fixtures" / "lambda" / "http_api.json").read_text())
EU: Region = "EU_CENTRAL_1"
US: Region = "US_EAST_1"
BODY = b'{"ping": 1}'
#: Only the signing-key variables of DEMO_ENV plus QSTASH_REGION: what the secret holds.
STORED = {k: v for k, v in DEMO_ENV.items() if "SIGNING_KEY" in k or k == "QSTASH_REGION"}
CANARY = "sig_canaryValueThatMustNeverBeLogged0"


def moto_command(port: int) -> list[str]:
    return [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with serving(
        "moto_server", moto_command, env=os.environ, cwd=ROOT, ready_path="/moto-api/"
    ) as moto:
        yield moto.url


def secrets_client(url: str, config: Config | None = None) -> SecretsManagerClient:
    return boto3.client(
        "secretsmanager",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture
def secrets(moto_url: str) -> SecretsManagerClient:
    return secrets_client(moto_url)


@pytest.fixture
def ssm(moto_url: str) -> SSMClient:
    return boto3.client(
        "ssm",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def deliver(receiver: Receiver, region: Region, key_index: int = 0) -> dict[str, Any]:
    @verify_qstash(receiver=receiver)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return http_response(event, 200, str(get_message(event).key_region))

    event = signed_event(TEMPLATE, BODY, key=DEMO_KEYS[region][key_index], region=region)
    return handler(event, None)


def test_secret_keys_verify_both_regions(secrets: SecretsManagerClient) -> None:
    name = unique("qstash/keys")
    secrets.create_secret(Name=name, SecretString=json.dumps(STORED))
    receiver = StoredKeysReceiver.from_secret(name, client=secrets, env={})
    for region in (EU, US):
        answer = deliver(receiver, region)
        assert (answer["statusCode"], answer["body"]) == (200, region)
    assert repr(receiver) == f"StoredKeysReceiver(Secrets Manager secret {name!r})"


def test_secret_values_are_laid_over_the_environment(secrets: SecretsManagerClient) -> None:
    name = unique("qstash/keys")
    keys_only = {k: v for k, v in STORED.items() if k != "QSTASH_REGION"}
    stale = {"EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": "sig_staleKeyFromTheEnvironment00"}
    secrets.create_secret(Name=name, SecretString=json.dumps(keys_only))
    env = {"QSTASH_REGION": "US_EAST_1", **stale}  # region from env, keys from the secret
    receiver = StoredKeysReceiver.from_secret(name, client=secrets, env=env)
    assert deliver(receiver, EU)["statusCode"] == 200
    assert receiver.config.migration_mode


def warnings_logged(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qstash_receiver"):
        deliver(receiver, US)
        deliver(receiver, US)  # once per receiver, not per delivery
    return [r.getMessage() for r in caplog.records if r.name == "qstash_receiver"]


@pytest.mark.parametrize("store", ["secret", "parameter"])
def test_stored_keys_log_the_same_configuration_warnings_as_receiver(
    store: str,
    secrets: SecretsManagerClient,
    ssm: SSMClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Region-prefixed keys without QSTASH_REGION: the same warning through every source
    (the Secrets Manager / SSM receiver logged nothing before)."""
    values = {k: v for k, v in STORED.items() if k != "QSTASH_REGION"}
    values |= {"QSTASH_CURRENT_SIGNING_KEY": DEMO_KEYS[US][0]}
    values |= {"QSTASH_NEXT_SIGNING_KEY": DEMO_KEYS[US][1]}
    name = unique("/qstash/warn")
    stored: Receiver
    if store == "secret":
        secrets.create_secret(Name=name, SecretString=json.dumps(values))
        stored = StoredKeysReceiver.from_secret(name, client=secrets, env={})
    else:
        ssm.put_parameter(Name=name, Value=json.dumps(values), Type="SecureString")
        stored = StoredKeysReceiver.from_parameter(name, client=ssm, env={})
    from_env = warnings_logged(Receiver(config=load_config(values)), caplog)
    assert any("region-prefixed keys are ignored" in text for text in from_env)
    assert warnings_logged(stored, caplog) == from_env


@pytest.mark.parametrize("kind", ["SecureString", "String"])
def test_ssm_parameter_keys(ssm: SSMClient, kind: str) -> None:
    name = unique("/qstash/keys")
    ssm.put_parameter(Name=name, Value=json.dumps(STORED), Type=kind)  # type: ignore[arg-type]
    receiver = StoredKeysReceiver.from_parameter(name, client=ssm, env={})
    assert deliver(receiver, US)["body"] == US
    assert deliver(receiver, EU, key_index=1)["body"] == EU


def test_cached_for_max_age_then_refetched(secrets: SecretsManagerClient) -> None:
    name = unique("qstash/keys")
    secrets.create_secret(Name=name, SecretString=json.dumps(STORED))
    cached = StoredKeysReceiver.from_secret(name, client=secrets, env={}, max_age=300)
    uncached = StoredKeysReceiver.from_secret(name, client=secrets, env={}, max_age=0)
    assert deliver(cached, US)["statusCode"] == deliver(uncached, US)["statusCode"] == 200
    # Roll the US keys: the old next key becomes current, a new next key appears.
    rolled = {
        **STORED,
        "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": DEMO_KEYS[US][1],
        "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": "sig_brandNewNextKey00000000000000",
    }
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps(rolled))
    # The old current key is gone from the rolled pair: only a refetch notices.
    assert deliver(cached, US, key_index=0)["statusCode"] == 200  # still the cached pair
    assert deliver(uncached, US, key_index=0)["body"] == "401 Unauthorized: invalid_signature"
    assert deliver(uncached, US, key_index=1)["statusCode"] == 200  # old next = new current


def _assert_500_logged(receiver: Receiver, caplog: pytest.LogCaptureFixture, *needles: str) -> None:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="qstash_receiver"):
        answer = deliver(receiver, US)
    assert (answer["statusCode"], answer["body"]) == (
        500,
        "500 Internal Server Error: configuration_error",
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for needle in needles:
        assert needle in logged
    everything = logged + json.dumps(answer) + caplog.text
    for key in (CANARY, *DEMO_KEYS[US], *DEMO_KEYS[EU]):
        assert key not in everything


def test_missing_secret_is_a_500_with_a_clear_log_line(
    secrets: SecretsManagerClient, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = StoredKeysReceiver.from_secret("qstash/does-not-exist", client=secrets, env={})
    _assert_500_logged(
        receiver,
        caplog,
        "cannot fetch the QStash signing keys from Secrets Manager secret 'qstash/does-not-exist'",
        "(ResourceNotFoundException)",
    )


@pytest.mark.parametrize(
    "content",
    [
        f"not json {CANARY}",
        json.dumps([CANARY]),
        json.dumps({"QSTASH_CURRENT_SIGNING_KEY": 7}),
        "[" * 100_000,
    ],
    ids=["not-json", "a-list", "a-number", "absurdly-nested"],
)
def test_unreadable_secret_is_a_500_that_never_quotes_it(
    secrets: SecretsManagerClient, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    name = unique("qstash/garbled")
    secrets.create_secret(Name=name, SecretString=content)
    receiver = StoredKeysReceiver.from_secret(name, client=secrets, env={})
    _assert_500_logged(receiver, caplog, f"{name!r} is not a JSON object of strings")


def test_unreachable_endpoint_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    client = secrets_client(
        f"http://127.0.0.1:{free_port()}",  # nothing listens there
        Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    receiver = StoredKeysReceiver.from_secret("qstash/keys", client=client, env={})
    _assert_500_logged(receiver, caplog, "(EndpointConnectionError)")


def test_receiver_from_env_chooses_the_source() -> None:
    secret = receiver_from_env({"QSTASH_SIGNING_KEYS_SECRET": "arn:aws:secretsmanager:x"})
    assert repr(secret) == "StoredKeysReceiver(Secrets Manager secret 'arn:aws:secretsmanager:x')"
    parameter = receiver_from_env({"QSTASH_SIGNING_KEYS_PARAMETER": "/qstash/keys"})
    assert repr(parameter) == "StoredKeysReceiver(SSM parameter '/qstash/keys')"
    plain = receiver_from_env(dict(DEMO_ENV))
    assert not isinstance(plain, StoredKeysReceiver)
    assert plain.config.migration_mode
    with pytest.raises(ConfigError, match="not both"):
        receiver_from_env({"QSTASH_SIGNING_KEYS_SECRET": "a", "QSTASH_SIGNING_KEYS_PARAMETER": "b"})
    assert issubclass(KeyFetchError, ConfigError)


def _run_sample(env: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    [answer], _log = invoke("handler:handler", [event], {**base, **env})
    assert isinstance(answer, dict)
    return answer


@pytest.mark.parametrize("store", ["secret", "parameter"])
def test_sample_reads_keys_named_by_the_environment(
    moto_url: str, secrets: SecretsManagerClient, ssm: SSMClient, store: str
) -> None:
    name = unique("/qstash/sample")
    # On Lambda the published demo keys are refused (issue 13, 8): the stored ones are private.
    private = {
        region: (f"sig_stored{region}Current000000", f"sig_stored{region}Next0000000")
        for region in (EU, US)
    }
    stored = {
        "QSTASH_REGION": "US_EAST_1",
        **{f"{r}_QSTASH_CURRENT_SIGNING_KEY": keys[0] for r, keys in private.items()},
        **{f"{r}_QSTASH_NEXT_SIGNING_KEY": keys[1] for r, keys in private.items()},
    }
    if store == "secret":
        secrets.create_secret(Name=name, SecretString=json.dumps(stored))
        variable = "QSTASH_SIGNING_KEYS_SECRET"
    else:
        ssm.put_parameter(Name=name, Value=json.dumps(stored), Type="SecureString")
        variable = "QSTASH_SIGNING_KEYS_PARAMETER"
    env = {
        variable: name,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "qstash-sample",
    }
    for region in (EU, US):
        event = signed_event(TEMPLATE, BODY, key=private[region][0], region=region)
        answer = _run_sample(env, event)
        assert answer["statusCode"] == 200
        assert json.loads(answer["body"])["key_region"] == region
    missing = _run_sample({**env, variable: f"{name}-missing"}, event)
    assert missing["statusCode"] == 500
    published = unique("/qstash/published")  # the demo keys themselves: refused, 500
    secrets.create_secret(Name=published, SecretString=json.dumps(STORED))
    others = {k: v for k, v in env.items() if k != variable}
    refused = _run_sample({**others, "QSTASH_SIGNING_KEYS_SECRET": published}, event)
    assert refused["statusCode"] == 500


# --- no dependency logs the keys on our fetch path (issue 13, defects 6 and 7) ------------


class Everything(logging.Handler):
    """Every record, formatted with its arguments and traceback, as any log sink would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{self.format(r)} {r.args!r}" for r in self.records)


@pytest.fixture
def root_at_debug() -> Iterator[Everything]:
    root = logging.getLogger()
    handler, level = Everything(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


CANARY_STORED = {**STORED, "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": CANARY}


@pytest.mark.parametrize("store", ["secret", "parameter"])
def test_no_log_record_at_debug_holds_the_fetched_keys(
    secrets: SecretsManagerClient, ssm: SSMClient, root_at_debug: Everything, store: str
) -> None:
    name = unique("/qstash/debug")
    if store == "secret":
        secrets.create_secret(Name=name, SecretString=json.dumps(CANARY_STORED))
        receiver = StoredKeysReceiver.from_secret(name, client=secrets, env={}, max_age=0)
    else:
        ssm.put_parameter(Name=name, Value=json.dumps(CANARY_STORED), Type="SecureString")
        receiver = StoredKeysReceiver.from_parameter(name, client=ssm, env={}, max_age=0)
    root_at_debug.records.clear()  # the test's own call that stored the value logs it
    for _ in range(2):  # the first fetch builds the provider, the second reuses it
        assert deliver(receiver, US)["statusCode"] == 200
    logged = root_at_debug.text()
    assert "botocore" in logged  # botocore did log at DEBUG (the capture is real) ...
    for key in (CANARY, *DEMO_KEYS[US], *DEMO_KEYS[EU]):
        assert key not in logged  # ... but never the value it fetched


def test_botocore_logging_outside_our_fetch_is_untouched(
    secrets: SecretsManagerClient, root_at_debug: Everything
) -> None:
    # Another client's calls, before, during (another thread, while ours waits) and after our
    # fetch, keep their "Response body" records: only our own fetch's are dropped.
    name = unique("qstash/untouched")
    secrets.create_secret(Name=name, SecretString=json.dumps(CANARY_STORED))
    root_at_debug.records.clear()
    other = secrets_client(str(secrets.meta.endpoint_url))
    bodies_seen: list[int] = []

    def other_call_in_a_thread(**_: Any) -> None:
        before = body_records()
        worker = threading.Thread(target=other.list_secrets)
        worker.start()
        worker.join()
        bodies_seen.append(body_records() - before)

    def body_records() -> int:
        return sum("Response body" in r.getMessage() for r in root_at_debug.records)

    ours = secrets_client(str(secrets.meta.endpoint_url))
    ours.meta.events.register("before-send.secrets-manager.GetSecretValue", other_call_in_a_thread)
    receiver = StoredKeysReceiver.from_secret(name, client=ours, env={}, max_age=0)
    other.list_secrets()
    assert body_records() == 1
    assert deliver(receiver, US)["statusCode"] == 200
    assert bodies_seen == [1]  # the other thread's body record, logged during our fetch
    other.list_secrets()
    assert body_records() == 3  # and nothing of ours
    assert CANARY not in root_at_debug.text()


def test_a_non_utf8_secret_is_not_chained_into_the_error(
    secrets: SecretsManagerClient, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique("qstash/binary")
    secret = b"\xff\xfe" + json.dumps(CANARY_STORED).encode()
    secrets.create_secret(Name=name, SecretBinary=secret)
    receiver = StoredKeysReceiver.from_secret(name, client=secrets, env={})
    _assert_500_logged(receiver, caplog, f"{name!r} is not a JSON object of strings")
    with pytest.raises(KeyFetchError) as caught:
        _ = receiver.config
    error = caught.value
    assert error.__cause__ is None
    assert error.__context__ is None
    rendered = "".join(traceback.format_exception(error)) + repr(error) + repr(error.args)
    assert CANARY not in rendered
    assert "\\xff\\xfe" not in rendered


@pytest.mark.parametrize(
    "content", [f'{{"QSTASH_CURRENT_SIGNING_KEY": "{CANARY}"', f"[{CANARY}]"], ids=["cut", "bad"]
)
def test_a_json_error_does_not_carry_the_secret_either(
    secrets: SecretsManagerClient, content: str
) -> None:
    # JSONDecodeError keeps the whole document in .doc.
    name = unique("qstash/badjson")
    secrets.create_secret(Name=name, SecretString=content)
    with pytest.raises(KeyFetchError) as caught:
        _ = StoredKeysReceiver.from_secret(name, client=secrets, env={}).config
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert CANARY not in "".join(traceback.format_exception(caught.value))
