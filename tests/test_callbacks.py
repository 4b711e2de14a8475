"""parse_callback against the payloads of https://upstash.com/docs/qstash/features/callbacks,
written field by field as the page shows them (its comments name what each field is)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
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


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


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
