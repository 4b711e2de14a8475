"""``check_request`` / ``check_content_length``: the answers table and the delivery headers."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from verdicts import check_request

from qstash_receiver import ConfigError, Receiver, VerifiedMessage, load_config
from qstash_receiver.answers import declared_too_large as check_content_length
from qstash_receiver.integration import DEFAULT_MAX_BODY_BYTES, Answer, Headers
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign, signed_headers

#: The phrase of 413 as http.HTTPStatus spells it (it changed in Python 3.13).
TOO_LARGE = HTTPStatus(413).phrase

NOW = 1_800_000_000
URL = "https://example.com/api/qstash"
BODY = b'{"order": 42}'
US_KEY, US_NEXT = DEMO_KEYS["US_EAST_1"]
EU_KEY = DEMO_KEYS["EU_CENTRAL_1"][0]
RECEIVER = Receiver(config=load_config(DEMO_ENV), clock=lambda: NOW)


def delivery(body: bytes = BODY, key: str = US_KEY, **sign_options: Any) -> dict[str, str]:
    sign_options.setdefault("now", NOW - 10)
    return signed_headers(body, key=key, url=URL, region="US_EAST_1", **sign_options)


def verified(result: VerifiedMessage | Answer) -> VerifiedMessage:
    assert isinstance(result, VerifiedMessage), result
    return result


def rejected(result: VerifiedMessage | Answer) -> Answer:
    assert isinstance(result, Answer), result
    return result


# --- 401: one row per reason --------------------------------------------------------------


def _without_signature() -> tuple[dict[str, str], bytes, dict[str, Any]]:
    headers = delivery()
    del headers["Upstash-Signature"]
    return headers, BODY, {}


def _with_signature(value: str) -> Callable[[], tuple[dict[str, str], bytes, dict[str, Any]]]:
    return lambda: ({**delivery(), "Upstash-Signature": value}, BODY, {})


def _alg_none() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    return header + "." + sign(BODY, key=US_KEY, now=NOW - 10).split(".")[1] + "."


REASONS: dict[str, Callable[[], tuple[dict[str, str], bytes, dict[str, Any]]]] = {
    "missing_signature": _without_signature,
    "missing_signature:empty": _with_signature(""),
    "missing_signature:blank": _with_signature("   "),
    "malformed_signature": _with_signature("not-a-jwt"),
    "unsupported_algorithm": _with_signature(_alg_none()),
    "invalid_signature": lambda: (delivery(key=EU_KEY), BODY, {}),
    "invalid_claims": lambda: (delivery(claims={"exp": "later"}), BODY, {}),
    "invalid_issuer": lambda: (delivery(claims={"iss": "Upstash-but-not"}), BODY, {}),
    "expired": lambda: (delivery(now=NOW - 1000), BODY, {}),
    "not_yet_valid": lambda: (delivery(claims={"nbf": NOW + 120}), BODY, {}),
    "body_mismatch": lambda: (delivery(), BODY + b"\n", {}),
    "url_mismatch": lambda: (delivery(), BODY, {"url": URL + "?x=1"}),
}


@pytest.mark.parametrize("name", list(REASONS))
def test_401_names_the_reason(name: str) -> None:
    headers, body, options = REASONS[name]()
    result = rejected(check_request(RECEIVER, headers, body, **options))
    reason = name.split(":")[0]
    assert result == Answer(401, reason)
    assert result.text == f"401 Unauthorized: {reason}"
    assert result.headers == {"Content-Type": "text/plain; charset=utf-8"}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda t: [("Upstash-Signature", t), ("UPSTASH-SIGNATURE", t)], id="pairs"),
        pytest.param(lambda t: {"upstash-signature": [t, t]}, id="multi-value-mapping"),
        pytest.param(lambda t: {"Upstash-Signature": f"{t},{t}"}, id="comma-joined"),
        pytest.param(lambda t: {"Upstash-Signature": f"{t}, {t}"}, id="comma-space-joined"),
        pytest.param(lambda t: Headers([("upstash-signature", t)] * 2), id="headers-object"),
    ],
)
def test_duplicate_signature(headers: Callable[[str], Any]) -> None:
    token = delivery()["Upstash-Signature"]
    result = rejected(check_request(RECEIVER, headers(token), BODY))
    assert result == Answer(401, "duplicate_signature")
    assert result.text == "401 Unauthorized: duplicate_signature"


# --- 413 ---------------------------------------------------------------------------------


def test_413_when_the_body_exceeds_the_limit() -> None:
    body = b"x" * 101
    result = rejected(check_request(RECEIVER, delivery(body), body, max_body_bytes=100))
    assert result == Answer(413, "body_too_large")
    assert result.text == f"413 {TOO_LARGE}: body_too_large"


def test_body_at_the_limit_is_verified() -> None:
    body = b"x" * 100
    assert verified(check_request(RECEIVER, delivery(body), body, max_body_bytes=100))


def test_413_comes_before_the_signature_check() -> None:
    assert check_request(RECEIVER, {}, b"x" * 11, max_body_bytes=10) == Answer(
        413, "body_too_large"
    )


def test_default_limit_is_ten_megabytes() -> None:
    assert DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        pytest.param(101, Answer(413, "body_too_large"), id="int-over"),
        pytest.param("101", Answer(413, "body_too_large"), id="str-over"),
        pytest.param(100, None, id="int-at-limit"),
        pytest.param("0", None, id="zero"),
        pytest.param(None, None, id="absent"),
        pytest.param("lots", None, id="malformed"),  # the server refuses it; the read is capped
    ],
)
def test_check_content_length(declared: str | int | None, expected: Answer | None) -> None:
    assert check_content_length(declared, 100) == expected


# --- 500 ---------------------------------------------------------------------------------


def test_500_when_no_keys_are_configured(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="qstash_receiver")
    result = rejected(check_request(Receiver(config=load_config({})), delivery(), BODY))
    assert result == Answer(500, "configuration_error")
    assert result.text == "500 Internal Server Error: configuration_error"
    assert any("no signing keys configured" in r.getMessage() for r in caplog.records)


def test_401_in_migration_mode_without_region_header_nor_default_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """QStash always names its region: without one (and no default pair to fall back to) the
    request is not a delivery, refused 401 and logged at INFO, not a 500 anyone can cause."""
    headers = delivery()
    del headers["Upstash-Region"]
    with caplog.at_level(logging.INFO, logger="qstash_receiver"):
        assert check_request(RECEIVER, headers, BODY) == Answer(401, "unknown_region")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_500_not_a_crash_for_a_bad_process_environment() -> None:
    """``Receiver()`` reads the environment on the first request: a 500 per request."""
    script = (
        "from qstash_receiver import Receiver\n"
        "from qstash_receiver.integration import Endpoint, Options\n"
        "e = Endpoint(Options(), Receiver())\n"
        "for _ in range(2):\n"
        "    print(e.verify({'Upstash-Signature': 'a.b.c'}, b'').text)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"QSTASH_DEV": "maybe", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["500 Internal Server Error: configuration_error"] * 2


# --- success: delivery headers ------------------------------------------------------------

FULL_HEADERS = {
    "Upstash-Message-Id": "msg_26hZCxZCuWyyTWPmSVBrNB882AMRP1TsgzpygELRcLWep",
    "Upstash-Retried": "3",
    "Upstash-Schedule-Id": "scd_6nZ5ZwT8QJp6yVbG",
    "Upstash-Topic-Name": "orders",
    "Upstash-Caller-Ip": "203.0.113.7",
    "Upstash-Region": "EU-CENTRAL-1",
    "Content-Type": "application/json",
    "X-Tenant": "acme",
    "Authorization": "Bearer forwarded-by-publisher",
    "Host": "example.com",
    "Content-Length": str(len(BODY)),
    "User-Agent": "Upstash-QStash",
    "Accept-Encoding": "gzip",
}


def test_delivery_headers_are_extracted() -> None:
    headers = {**FULL_HEADERS, "Upstash-Signature": sign(BODY, key=EU_KEY, url=URL, now=NOW)}
    message = verified(check_request(RECEIVER, headers, BODY, url=URL))
    assert message.message_id == FULL_HEADERS["Upstash-Message-Id"]
    assert message.retried == 3
    assert message.schedule_id == "scd_6nZ5ZwT8QJp6yVbG"
    assert message.topic_name == "orders"
    assert message.caller_ip == "203.0.113.7"
    assert message.upstash_region == "EU_CENTRAL_1"
    assert (message.key_source, message.key_region, message.key_used) == (
        "region",
        "EU_CENTRAL_1",
        "current",
    )
    assert message.body == BODY
    assert message.json() == {"order": 42}


def test_forwarded_headers_exclude_upstash_and_transport_headers() -> None:
    headers = {**FULL_HEADERS, "Upstash-Signature": sign(BODY, key=EU_KEY, url=URL, now=NOW)}
    message = verified(check_request(RECEIVER, headers, BODY))
    assert message.forwarded_headers == {
        "content-type": "application/json",
        "x-tenant": "acme",
        "authorization": "Bearer forwarded-by-publisher",
    }


def test_signature_is_not_in_the_message_headers() -> None:
    token = sign(BODY, key=EU_KEY, url=URL, now=NOW)
    message = verified(check_request(RECEIVER, {**FULL_HEADERS, "Upstash-Signature": token}, BODY))
    assert "upstash-signature" not in message.headers
    assert all(token not in value for value in message.headers.values())
    assert message.headers["upstash-topic-name"] == "orders"
    assert set(message.headers) == {name.lower() for name in FULL_HEADERS}


def test_optional_delivery_headers_absent() -> None:
    message = verified(check_request(RECEIVER, delivery(retried=0), BODY))
    assert message.retried == 0
    assert (message.schedule_id, message.topic_name, message.caller_ip) == (None, None, None)
    assert message.message_id is not None
    assert message.message_id.startswith("msg_")


def test_unparseable_retried_header_is_none() -> None:
    headers = {**delivery(), "Upstash-Retried": "many"}
    assert verified(check_request(RECEIVER, headers, BODY)).retried is None


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda h: h, id="mapping"),
        pytest.param(lambda h: list(h.items()), id="pairs"),
        pytest.param(lambda h: {k.upper(): [v] for k, v in h.items()}, id="multi-value-upper"),
        pytest.param(lambda h: Headers({k.lower(): v for k, v in h.items()}), id="headers"),
    ],
)
def test_header_shapes(shape: Callable[[dict[str, str]], Any]) -> None:
    headers = delivery(message_id="msg_shape")
    message = verified(check_request(RECEIVER, shape(headers), BODY))
    assert message.message_id == "msg_shape"
    assert message.key_region == "US_EAST_1"


def test_signature_surrounding_whitespace_is_ignored() -> None:
    headers = delivery()
    headers["Upstash-Signature"] = f"  {headers['Upstash-Signature']}\t"
    assert verified(check_request(RECEIVER, headers, BODY))


def test_next_key_and_clock_tolerance_pass_through() -> None:
    headers = delivery(key=US_NEXT, claims={"nbf": NOW + 5})
    assert check_request(RECEIVER, headers, BODY) == Answer(401, "not_yet_valid")
    message = verified(check_request(RECEIVER, headers, BODY, clock_tolerance=5))
    assert message.key_used == "next"


def test_empty_body_get_schedule() -> None:
    headers = {**delivery(b""), "Upstash-Schedule-Id": "scd_1"}
    message = verified(check_request(RECEIVER, headers, b""))
    assert (message.body, message.schedule_id) == (b"", "scd_1")


def test_rejections_are_logged_with_the_message_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="qstash_receiver")
    headers = delivery(message_id="msg_logged")
    check_request(RECEIVER, headers, BODY + b"!")
    (record,) = caplog.records  # the delivery log's one record
    assert (record.name, record.levelno) == ("qstash_receiver.delivery", logging.INFO)
    assert record.getMessage().startswith(
        "QStash delivery rejected (body_mismatch): message 'msg_logged', region "
    )


def test_a_forged_message_id_cannot_inject_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="qstash_receiver")
    check_request(RECEIVER, {"Upstash-Message-Id": "x\nFAKE: accepted"}, BODY)
    (record,) = caplog.records
    assert "\n" not in record.getMessage()
    assert "missing_signature" in record.getMessage()


def test_body_limit_counts_bytes_of_str_bodies() -> None:
    text = "\u00e9" * 6  # 6 characters, 12 bytes in UTF-8
    result = check_request(RECEIVER, delivery(), text, max_body_bytes=10)
    assert isinstance(result, Answer)
    assert (result.status, result.reason) == (413, "body_too_large")


def test_rejection_text_for_every_status() -> None:
    assert Answer(401, "expired").text == "401 Unauthorized: expired"
    assert Answer(413, "body_too_large").text == f"413 {TOO_LARGE}: body_too_large"
    assert (
        Answer(500, "configuration_error").text == "500 Internal Server Error: configuration_error"
    )


def test_a_receiver_factory_is_called_per_request_and_its_config_error_is_a_500() -> None:
    calls: list[int] = []

    def broken() -> Receiver:
        calls.append(1)
        raise ConfigError("cannot fetch the keys")

    def working() -> Receiver:
        calls.append(2)
        return RECEIVER

    failed = check_request(broken, delivery(), BODY)
    assert isinstance(failed, Answer)
    assert (failed.status, failed.reason) == (500, "configuration_error")
    assert verified(check_request(working, delivery(), BODY)).body == BODY
    assert calls == [1, 2]
