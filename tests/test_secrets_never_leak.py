"""No key, token or signature ever shows in a repr, str, error message, traceback or log line.

Every secret below is random-looking, so any 8-character piece of one found in an output is a
leak and not a coincidence.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence

import pytest
from verdicts import check_request

from qstash_receiver import (
    ConfigError,
    QStashError,
    Receiver,
    SignatureError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.integration import Answer, Headers
from qstash_receiver.secret import Secret, mask
from qstash_receiver.testing import sign

US_CURRENT = "sig_XW3whVyL9kOShgx9b6C-XrEl5I2y"
US_NEXT = "sig_ThMfbribU34dRnyRXwAsx_nPYoS6"
EU_CURRENT = "sig_0kA_FvT0jIaIjHGh_tbpdlyrKxT7"
EU_NEXT = "sig_O30wDYK7wS8IoYj2n1DfTb_tkkqn"
DEFAULT_CURRENT = "sig_InuIjilAoOfYW5U9Q5vnPZGnxfrp"
DEFAULT_NEXT = "sig_-9M_rf2R808K5FH3fOSnQ1WeK3bk"
EXPLICIT_CURRENT = "sig_uH7LZR52wjqfOPykNLLbS3pAB-4G"
EXPLICIT_NEXT = "sig_s3SMC2eu3C1w7LB9vQkBQlQEi5YO"
US_TOKEN = "WhVLGLQ82r4J8ZDfrEz1TKl6WLAVDavj4yBnA7-E"
EU_TOKEN = "P8AzaobHQRQsuszCldh4Vvsz3gXa2o-u-JLjQ37s"
DEFAULT_TOKEN = "Xk9IunwU1ZwqdoSkIIFCfGLMMwpLcd9HSJvV8-mi"
SHORT_TOKEN = "q7Rz2kW9"
DEV_KEYS = ("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs")
DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="

ENV = {
    "QSTASH_REGION": "US_EAST_1",
    "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": US_CURRENT,
    "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": US_NEXT,
    "US_EAST_1_QSTASH_TOKEN": US_TOKEN,
    "US_EAST_1_QSTASH_URL": "https://qstash-us-east-1.upstash.io",
    "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": EU_CURRENT,
    "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": EU_NEXT,
    "EU_CENTRAL_1_QSTASH_TOKEN": EU_TOKEN,
    "EU_CENTRAL_1_QSTASH_URL": "https://qstash-eu-central-1.upstash.io",
    "QSTASH_CURRENT_SIGNING_KEY": DEFAULT_CURRENT,
    "QSTASH_NEXT_SIGNING_KEY": DEFAULT_NEXT,
    "QSTASH_TOKEN": DEFAULT_TOKEN,
}
NOW = 1_800_000_000
BODY = b'{"secret": false}'
URL = "https://example.com/api/qstash"

SECRETS = [
    US_CURRENT,
    US_NEXT,
    EU_CURRENT,
    EU_NEXT,
    DEFAULT_CURRENT,
    DEFAULT_NEXT,
    EXPLICIT_CURRENT,
    EXPLICIT_NEXT,
    US_TOKEN,
    EU_TOKEN,
    DEFAULT_TOKEN,
    SHORT_TOKEN,
    *DEV_KEYS,
    DEV_TOKEN,
]


def pieces(secret: str) -> set[str]:
    """Every 8-character piece of ``secret``."""
    return {secret[i : i + 8] for i in range(len(secret) - 7)}


def assert_clean(outputs: Sequence[str], extra: Sequence[str] = ()) -> None:
    assert outputs, "nothing was collected"
    for secret in [*SECRETS, *extra]:
        for output in outputs:
            leaked = [piece for piece in pieces(secret) if piece in output]
            assert not leaked, f"{leaked[0]!r} of a secret appears in {output!r}"


def failing_signatures() -> dict[str, str]:
    """A token per failure mode, plus headers that hold secrets themselves."""
    valid = sign(BODY, key=US_CURRENT, url=URL, now=NOW - 10)
    header, payload, mac = valid.split(".")
    return {
        "wrong_key": sign(BODY, key=EXPLICIT_CURRENT, url=URL, now=NOW - 10),
        "expired": sign(BODY, key=US_CURRENT, url=URL, now=NOW - 1000),
        "not_yet_valid": sign(BODY, key=US_NEXT, url=URL, now=NOW + 1000),
        "body": sign(b"other", key=US_CURRENT, url=URL, now=NOW - 10),
        "issuer": sign(BODY, key=US_CURRENT, url=URL, now=NOW - 10, claims={"iss": US_TOKEN}),
        "claims": sign(BODY, key=US_CURRENT, url=URL, now=NOW - 10, claims={"exp": US_TOKEN}),
        "url": sign(BODY, key=US_CURRENT, url=URL + "/x", now=NOW - 10),
        "tampered": f"{header}.{payload}x.{mac}",
        "key_as_signature": US_CURRENT,
        "token_as_signature": f"{US_TOKEN}.{EU_TOKEN}.{DEFAULT_TOKEN}",
        "padded": valid + "=",
        "non_ascii": valid + "é",
        "huge": valid * 40,
    }


def test_reprs_and_strs_are_masked() -> None:
    config = load_config(ENV)
    explicit = load_config(
        {}, current_signing_key=EXPLICIT_CURRENT, next_signing_key=EXPLICIT_NEXT, token=SHORT_TOKEN
    )
    dev = load_config({"QSTASH_DEV": "1"})
    objects: list[object] = [
        config,
        explicit,
        dev,
        config.outgoing,
        explicit.outgoing,
        dev.outgoing,
        *config.outgoing_regions.values(),
        *dev.outgoing_regions.values(),
        *config.region_keys.values(),
        config.default_keys,
        explicit.fixed_keys,
        dev.fixed_keys,
        *(Secret(s) for s in SECRETS),
        Receiver(EXPLICIT_CURRENT, EXPLICIT_NEXT),
        Receiver(config=config),
        Answer(401, "invalid_signature"),
        Headers({"Upstash-Signature": failing_signatures()["wrong_key"]}),
    ]
    assert set(config.outgoing_regions) == {"EU_CENTRAL_1", "US_EAST_1"}  # both tokens are checked
    outputs = [text for obj in objects for text in (repr(obj), str(obj), f"{obj}")]
    assert_clean(outputs)
    # And the masked form still tells a reader what is there.
    assert repr(Secret(US_CURRENT)) == "Secret(sig_****(32 chars))"
    assert mask(SHORT_TOKEN) == "****(8 chars)"


def test_verified_message_repr() -> None:
    receiver = Receiver(config=load_config(ENV), clock=lambda: NOW)
    token = sign(BODY, key=US_NEXT, url=URL, now=NOW - 10)
    headers = {"Upstash-Signature": token, "Upstash-Region": "us-east-1", "X-Forwarded": "1"}
    message = check_request(receiver, headers, BODY)
    assert isinstance(message, VerifiedMessage)
    outputs = [repr(message), str(message)]
    assert_clean(outputs, extra=[token, token.rsplit(".", 1)[1]])


def test_errors_and_logs_of_failing_verifications(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = load_config({**ENV, "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": ""})  # a warning
    receiver = Receiver(config=config, clock=lambda: NOW)
    signatures = failing_signatures()
    outputs: list[str] = []
    for region in ("us-east-1", "eu-central-1", None, "nowhere"):
        for signature in signatures.values():
            try:
                receiver.verify(signature=signature, body=BODY, url=URL, upstash_region=region)
            except SignatureError as error:
                outputs += [str(error), repr(error), "".join(traceback.format_exception(error))]
            headers = {"Upstash-Signature": signature, "Upstash-Message-Id": "msg_leak_test"}
            if region is not None:
                headers["Upstash-Region"] = region
            result = check_request(receiver, headers, BODY, url=URL)
            assert isinstance(result, Answer), result
            outputs += [repr(result), result.text]
    # 500s, and the errors the resolver raises, log and answer without secrets too.
    no_keys = Receiver(config=load_config({"QSTASH_TOKEN": DEFAULT_TOKEN}))
    answer = check_request(no_keys, {"Upstash-Signature": signatures["expired"]}, BODY)
    assert answer == Answer(500, "configuration_error")
    outputs.append(answer.text)
    for bad in (
        {"QSTASH_DEV": "1", "K_SERVICE": "svc", **ENV},
        {"QSTASH_DEV": US_CURRENT, **ENV},
    ):
        with pytest.raises(ConfigError) as caught:
            load_config(bad)
        outputs += [str(caught.value), "".join(traceback.format_exception(caught.value))]
    with pytest.raises(QStashError) as caught_keys:
        load_config(ENV, current_signing_key=EXPLICIT_CURRENT)
    outputs.append(str(caught_keys.value))

    records = caplog.records
    assert any(r.levelno == logging.WARNING for r in records)  # resolver and fallback warnings
    assert any("rejected" in r.getMessage() for r in records)
    assert any(r.levelno == logging.ERROR for r in records)  # the 500
    outputs += [r.getMessage() for r in records] + [caplog.text]
    full_signatures = list(signatures.values())
    macs = [s.rsplit(".", 1)[-1] for s in full_signatures if s.count(".") == 2]
    assert_clean(outputs, extra=[*full_signatures, *macs])


def test_config_warnings_name_variables_not_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {
        "QSTASH_REGION": "not-a-region",
        "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": US_CURRENT,
        "QSTASH_CURRENT_SIGNING_KEY": DEFAULT_CURRENT,
        "QSTASH_URL": "https://qstash.upstash.io",
    }
    config = load_config(env)
    assert len(config.warnings) >= 3
    assert Receiver(config=config).config is config  # logs the warnings about receiving
    assert "QSTASH_REGION" in caplog.text
    assert_clean([*(w.text for w in config.warnings), caplog.text])
    migration = load_config(
        {"QSTASH_REGION": "EU_CENTRAL_1", "EU_CENTRAL_1_QSTASH_TOKEN": EU_TOKEN}
    )
    assert any("EU_CENTRAL_1_QSTASH_TOKEN" in w.text for w in migration.warnings)
    assert_clean([*(w.text for w in migration.warnings), caplog.text])


def test_the_checker_itself_finds_a_leak() -> None:
    with pytest.raises(AssertionError, match="of a secret appears"):
        assert_clean([f"key is {US_CURRENT[6:20]}"])
    with pytest.raises(AssertionError, match="of a secret appears"):
        assert_clean([f"token {SHORT_TOKEN}"])
