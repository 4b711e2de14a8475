"""parse_callback against the payloads of https://upstash.com/docs/qstash/features/callbacks,
written field by field as the page shows them (its comments name what each field is)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qstash_receiver import CallbackError, NonRetryableError, Receiver
from qstash_receiver.callbacks import Callback, parse_callback
from qstash_receiver.testing import DEMO_KEYS, signed_headers

RESPONSE_BODY = b"base64 encoded rody"  # what the page's "YmFzZTY0IGVuY29kZWQgcm9keQ==" holds

#: "The callback body sent to you will be a JSON object with the following fields" (callbacks).
CALLBACK: dict[str, Any] = {
    "status": 200,
    "header": {"key": ["value"]},
    "body": "YmFzZTY0IGVuY29kZWQgcm9keQ==",
    "retried": 2,
    "maxRetries": 3,
    "sourceMessageId": "msg_xxx",
    "topicName": "myTopic",
    "endpointName": "myEndpoint",
    "url": "http://myurl.com",
    "method": "GET",
    "sourceHeader": {"key": "value"},
    "sourceBody": "YmFzZTY0kZWQgcm9keQ==",
    "notBefore": "1701198458025",
    "createdAt": "1701198447054",
    "scheduleId": "scd_xxx",
    "callerIP": "178.247.74.179",
}

#: The failure-callback body of the same page: the callback's fields plus "dlqId".
FAILURE_CALLBACK: dict[str, Any] = {
    **CALLBACK,
    "status": 400,
    "retried": 3,
    "dlqId": "1725323658779-0",
}


def encoded(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def test_callback_fields_from_the_documented_payload() -> None:
    callback = parse_callback(encoded(CALLBACK))
    assert callback == Callback(
        status=200,
        body=RESPONSE_BODY,
        retried=2,
        max_retries=3,
        source_message_id="msg_xxx",
        dlq_id=None,
        url="http://myurl.com",
        method="GET",
        headers={"key": ("value",)},
        source_headers={"key": ("value",)},
        # The page's "YmFzZTY0kZWQgcm9keQ==" is 21 characters: cut mid-group, as a truncated
        # body would be; decoded up to its last whole byte.
        source_body=base64.b64decode("YmFzZTY0kZWQgcm9keQ="),
        topic_name="myTopic",
        endpoint_name="myEndpoint",
        schedule_id="scd_xxx",
        caller_ip="178.247.74.179",
        not_before=1701198458025,
        created_at=1701198447054,
    )
    assert callback.succeeded
    assert callback.is_final  # a success ends the attempts
    assert not callback.is_failure
    assert callback.text() == "base64 encoded rody"


def test_failure_callback_fields_from_the_documented_payload() -> None:
    callback = parse_callback(encoded(FAILURE_CALLBACK))
    assert callback.status == 400
    assert callback.dlq_id == "1725323658779-0"
    assert callback.is_failure
    assert callback.is_final
    assert not callback.succeeded
    assert (callback.retried, callback.max_retries) == (3, 3)
    assert callback.body == RESPONSE_BODY
    assert "failure callback" in repr(callback)
    assert "rody" not in repr(callback)  # bodies stay out of reprs (they reach logs)


@pytest.mark.parametrize(
    ("changes", "final"),
    [
        ({"status": 500, "retried": 1, "maxRetries": 3}, False),  # QStash retries again
        ({"status": 500, "retried": 3, "maxRetries": 3}, True),  # "retried == maxRetries"
        ({"status": 489, "header": {"Upstash-NonRetryable-Error": ["true"]}}, True),
        ({"status": 489, "header": {}, "retried": 0}, False),  # 489 without the header retries
        ({"status": 204, "retried": 0}, True),
    ],
)
def test_is_final(changes: dict[str, Any], final: bool) -> None:
    assert parse_callback(encoded({**CALLBACK, **changes})).is_final is final


def test_optional_fields_may_be_absent_and_numbers_may_be_numbers() -> None:
    minimal = {"status": 502, "retried": 0, "maxRetries": 5, "sourceMessageId": "msg_1"}
    callback = parse_callback(encoded({**minimal, "createdAt": 1701198447054, "body": ""}))
    assert callback.body == b""
    assert callback.created_at == 1701198447054
    assert (callback.url, callback.dlq_id, callback.schedule_id) == (None, None, None)
    assert dict(callback.headers) == {}


NUMERIC = ("status", "retried", "maxRetries", "notBefore", "createdAt")


@pytest.mark.parametrize("name", ["notBefore", "createdAt"])
@pytest.mark.parametrize(
    "value",
    ["1701198458025", 1701198458025, 1.701198458025e12],  # the page's string, SDKs' numbers
    ids=["string", "integer", "float"],
)
def test_timestamps_may_be_strings_or_numbers(name: str, value: object) -> None:
    callback = parse_callback(encoded({**CALLBACK, name: value}))
    assert getattr(callback, "not_before" if name == "notBefore" else "created_at") == 1701198458025


@pytest.mark.parametrize("name", NUMERIC)
def test_numbers_of_up_to_twenty_digits_are_accepted(name: str) -> None:
    largest = 10**20 - 1
    for value in (str(largest), largest, "0", 0):
        parse_callback(encoded({**CALLBACK, "status": 200, name: value}))


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("digits", [21, 4_300, 4_301, 100_000])
def test_a_number_too_long_for_any_field_is_a_callback_error(name: str, digits: int) -> None:
    # Python's int() raises ValueError beyond 4,300 digits: as a string of digits and as a JSON
    # number literal, the field is refused by name and nothing but CallbackError escapes.
    text = "1" * digits
    as_string = encoded({**CALLBACK, name: text})
    as_number = encoded({**CALLBACK, name: 0}).replace(
        f'"{name}": 0'.encode(), f'"{name}": {text}'.encode()
    )
    for body in (as_string, as_number):
        with pytest.raises(CallbackError, match=f"'{name}'"):
            parse_callback(body)


@pytest.mark.parametrize("value", [1.5, -1, "-1", "+1", " 1", "1e3", "\u0661", float("inf"), []])
def test_a_number_that_is_not_a_whole_number_at_least_zero_is_refused(value: object) -> None:
    with pytest.raises(CallbackError, match="'createdAt'"):
        parse_callback(encoded({**CALLBACK, "createdAt": value}))


def test_a_long_number_in_a_field_nobody_reads_does_not_refuse_the_callback() -> None:
    body = encoded(CALLBACK)[:-1] + b', "extra": ' + b"9" * 5000 + b"}"
    assert parse_callback(body).status == 200


@pytest.mark.parametrize("cut", range(1, 12))
def test_a_truncated_base64_body_decodes_up_to_its_last_whole_byte(cut: int) -> None:
    text = base64.b64encode(RESPONSE_BODY).decode()[:-cut]
    body = parse_callback(encoded({**CALLBACK, "body": text})).body
    assert RESPONSE_BODY.startswith(body)
    assert len(body) >= len(text) * 3 // 4 - 2


def test_repeated_header_names_keep_every_value() -> None:
    callback = parse_callback(encoded({**CALLBACK, "header": {"Set-Cookie": ["a=1", "b=2"]}}))
    assert callback.headers["set-cookie"] == ("a=1", "b=2")


def test_a_verified_message_is_parsed_from_its_body() -> None:
    body = encoded(FAILURE_CALLBACK)
    key, next_key = DEMO_KEYS["US_EAST_1"]
    headers = signed_headers(body, key=key, url="https://example.com/failed")
    message = Receiver(key, next_key).verify(signature=headers["Upstash-Signature"], body=body)
    assert parse_callback(message).dlq_id == "1725323658779-0"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"hello": "world"}', "'status'"),  # an ordinary message, not a callback
        (encoded({**CALLBACK, "status": "two hundred"}), "'status'"),
        (encoded({**CALLBACK, "status": True}), "'status'"),
        (encoded({k: v for k, v in CALLBACK.items() if k != "sourceMessageId"}), "sourceMessageId"),
        (encoded({**CALLBACK, "retried": -1}), "'retried'"),
        (encoded({**CALLBACK, "maxRetries": None}), "'maxRetries'"),
        (encoded({**CALLBACK, "body": "!!not base64!!"}), "'body'"),
        (encoded({**CALLBACK, "body": 12}), "'body'"),
        (encoded({**CALLBACK, "sourceBody": "@@@@"}), "'sourceBody'"),
        (encoded({**CALLBACK, "header": ["key"]}), "'header'"),
        (encoded({**CALLBACK, "header": {"key": [1]}}), "'header'"),
        (encoded({**CALLBACK, "dlqId": 7}), "'dlqId'"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_a_body_that_is_not_a_callback_is_a_clear_non_retryable_error(
    body: bytes, names: str
) -> None:
    with pytest.raises(CallbackError, match=names) as raised:
        parse_callback(body)
    assert isinstance(raised.value, NonRetryableError)
    assert raised.value.status_code == 489
    assert raised.value.reason == "not_a_callback"


#: Hypothesis builds its Unicode tables on its first text draw in a fresh clone (no .hypothesis/
#: yet), which alone can trip the too-slow check; that is not this test's input being slow.
FIRST_RUN = settings(suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@FIRST_RUN
@given(
    raw=st.binary(max_size=200),
    fields=st.dictionaries(st.sampled_from(sorted(FAILURE_CALLBACK)), JSON, max_size=8),
)
def test_any_body_parses_or_raises_callback_error(raw: bytes, fields: dict[str, Any]) -> None:
    for body in (raw, encoded({**FAILURE_CALLBACK, **fields})):
        try:
            callback = parse_callback(body)
        except CallbackError:
            continue
        assert isinstance(callback.body, bytes)
        assert callback.status >= 0


#: Digit strings of every length around the limits: 20 digits (ours), 4,300 (Python's int()).
DIGITS = st.builds(
    lambda head, zeros: head + "0" * zeros,
    st.text(alphabet="0123456789", min_size=1, max_size=25),
    st.sampled_from([0, 1, 10, 4_275, 4_276, 4_300, 6_000]),
)
NUMBER = DIGITS | st.integers() | st.floats() | DIGITS.map("-{}".format) | st.text(max_size=5)


@FIRST_RUN
@given(
    name=st.sampled_from(NUMERIC),
    value=NUMBER,
    literal=st.booleans(),
)
def test_any_numeric_field_parses_or_raises_callback_error(
    name: str, value: Any, literal: bool
) -> None:
    if literal and isinstance(
        value, str
    ):  # as a JSON number literal, which json.dumps cannot write
        body = encoded({**FAILURE_CALLBACK, name: 0})
        body = body.replace(f'"{name}": 0'.encode(), f'"{name}": {value}'.encode())
    else:
        body = encoded({**FAILURE_CALLBACK, name: value})
    try:
        callback = parse_callback(body)
    except CallbackError as error:
        refused = str(error)
    else:
        refused = ""
    if refused:  # the field by name, or the body itself when the literal is not JSON ("0123")
        assert repr(name) in refused or "not JSON" in refused
        return
    numbers = (callback.status, callback.retried, callback.max_retries)
    assert all(0 <= number < 10**20 for number in numbers)
    assert callback.not_before is None or 0 <= callback.not_before < 10**20
    assert callback.created_at is not None
    assert 0 <= callback.created_at < 10**20
