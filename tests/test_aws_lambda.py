"""The Lambda decorator on real event JSON of all five HTTP shapes.

Fixtures (tests/fixtures/lambda/): ``apigateway_rest.json``, ``http_api.json`` and ``alb.json``
come from ``sam local generate-event apigateway aws-proxy`` / ``apigateway http-api-proxy`` /
``alb request`` (``--path qstash``); ``function_url.json`` and ``alb_multi_value.json`` were
built field by field from AWS's documentation of the Function URL payload and of ALB
multi-value headers; ``sqs.json`` and ``s3_put.json`` are generated non-HTTP events.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qstash_receiver import QStashError, Receiver, load_config
from qstash_receiver.adapters.aws_lambda import (
    QStashEvent,
    UnsupportedEventError,
    get_message,
    http_response,
    verify_qstash,
)
from qstash_receiver.adapters.aws_lambda.testing import event_with, signed_event
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign, signed_headers

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
SHAPES = {
    "rest": "apigateway_rest.json",
    "http_api": "http_api.json",
    "function_url": "function_url.json",
    "alb": "alb.json",
    "alb_multi": "alb_multi_value.json",
}
EU: Region = "EU_CENTRAL_1"
US: Region = "US_EAST_1"
BODY = b'{"invoice": "inv_0042", "amount_cents": 4900}'
RECEIVER = Receiver(config=load_config(DEMO_ENV))  # migration mode: both regions' keys
calls: list[dict[str, Any]] = []


def load(name: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return template


@pytest.fixture(params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@verify_qstash(receiver=RECEIVER)
def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    message = get_message(event)
    calls.append(event)
    answer = {
        "key_region": message.key_region,
        "sha256": hashlib.sha256(message.body).hexdigest(),
        "message_id": message.message_id,
    }
    return http_response(event, 200, json.dumps(answer), headers={"X-Handled": "yes"})


def assert_shape(answer: dict[str, Any], shape: str, status: int) -> dict[str, str]:
    """Check the response fields of ``shape``; return its headers as a flat dict."""
    assert answer["statusCode"] == status
    assert answer["isBase64Encoded"] is False
    if shape.startswith("alb"):
        assert answer["statusDescription"] == f"{status} {HTTPStatus(status).phrase}"
    else:
        assert "statusDescription" not in answer
    if shape in ("rest", "alb_multi"):
        assert "headers" not in answer
        return {name: values[-1] for name, values in answer["multiValueHeaders"].items()}
    assert "multiValueHeaders" not in answer
    headers: dict[str, str] = answer["headers"]
    return headers


def assert_rejected(answer: dict[str, Any], shape: str, status: int, reason: str) -> None:
    headers = assert_shape(answer, shape, status)
    assert headers == {"Content-Type": "text/plain; charset=utf-8"}
    assert answer["body"].endswith(f": {reason}")


def run(event: dict[str, Any]) -> dict[str, Any]:
    calls.clear()
    answer = echo(event, None)
    if answer["statusCode"] != 200:
        assert calls == [], "the handler ran for a rejected delivery"
    return answer


@pytest.mark.parametrize("region", [EU, US])
def test_deliveries_from_both_regions_are_accepted(shape: str, region: Region) -> None:
    event = signed_event(load(SHAPES[shape]), BODY, key=DEMO_KEYS[region][0], region=region)
    answer = run(event)
    assert assert_shape(answer, shape, 200) == {"X-Handled": "yes"}
    payload = json.loads(answer["body"])
    assert payload["key_region"] == region
    assert payload["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert payload["message_id"].startswith("msg_")


def test_next_key_and_text_body_are_accepted(shape: str) -> None:
    template = load(SHAPES[shape])
    headers = signed_headers(BODY, key=DEMO_KEYS[US][1], region=US)
    event = event_with(template, body=BODY, headers=headers, base64_body=False)
    assert run(event)["statusCode"] == 200


def _tampered(template: dict[str, Any]) -> dict[str, Any]:
    headers = signed_headers(BODY, key=DEMO_KEYS[EU][0], region=EU)
    return event_with(template, body=BODY.replace(b"4900", b"4901"), headers=headers)


def _wrong_region(template: dict[str, Any]) -> dict[str, Any]:
    return signed_event(template, BODY, key=DEMO_KEYS[EU][0], region=US)


def _expired(template: dict[str, Any]) -> dict[str, Any]:
    return signed_event(template, BODY, key=DEMO_KEYS[US][0], region=US, now=time.time() - 600)


def _missing(template: dict[str, Any]) -> dict[str, Any]:
    return event_with(template, body=BODY, headers={"Upstash-Region": "us-east-1"})


def _duplicated(template: dict[str, Any]) -> dict[str, Any]:
    headers: dict[str, Any] = signed_headers(BODY, key=DEMO_KEYS[US][0], region=US)
    first = sign(BODY, key=DEMO_KEYS[US][0])
    if "elb" in template["requestContext"] and "headers" in template:
        # ALB without multi-value mode passes only the last of repeated headers; what it
        # can show is one header carrying two tokens.
        headers["Upstash-Signature"] = f"{first},{headers['Upstash-Signature']}"
    else:  # two header lines (payload 2.0 joins them with a comma)
        headers["Upstash-Signature"] = [first, headers["Upstash-Signature"]]
    return event_with(template, body=BODY, headers=headers)


def _invalid_base64(template: dict[str, Any]) -> dict[str, Any]:
    event = signed_event(template, BODY, key=DEMO_KEYS[US][0], region=US)
    event["body"] = "eyJpbnZvaWNl*not base64*"
    return event


REJECTIONS = {
    "tampered_body": (_tampered, "body_mismatch"),
    "wrong_region_keys": (_wrong_region, "invalid_signature"),
    "expired": (_expired, "expired"),
    "missing_signature": (_missing, "missing_signature"),
    "duplicated_signature": (_duplicated, "duplicate_signature"),
    "invalid_base64_body": (_invalid_base64, "malformed_body"),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_bad_deliveries_are_answered_401_in_the_events_shape(shape: str, case: str) -> None:
    build, reason = REJECTIONS[case]
    assert_rejected(run(build(load(SHAPES[shape]))), shape, 401, reason)


@pytest.mark.parametrize("body", [None, b""])
def test_empty_body_get_schedule(shape: str, body: bytes | None) -> None:
    template = load(SHAPES[shape])
    headers = signed_headers(b"", key=DEMO_KEYS[EU][0], region=EU)
    answer = run(event_with(template, body=body, headers=headers, method="GET"))
    assert json.loads(answer["body"])["sha256"] == hashlib.sha256(b"").hexdigest()
    unsigned = event_with(template, body=body, headers={}, method="GET")
    assert_rejected(run(unsigned), shape, 401, "missing_signature")
    signed_for_other = signed_headers(BODY, key=DEMO_KEYS[EU][0], region=EU)
    other = event_with(template, body=body, headers=signed_for_other, method="GET")
    assert_rejected(run(other), shape, 401, "body_mismatch")


def test_one_mebibyte_binary_body_verifies(shape: str) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, mostly invalid UTF-8
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    event = signed_event(load(SHAPES[shape]), body, key=DEMO_KEYS[US][0], region=US)
    answer = run(event)
    assert json.loads(answer["body"])["sha256"] == hashlib.sha256(body).hexdigest()


def test_body_over_the_limit_is_413(shape: str) -> None:
    @verify_qstash(receiver=RECEIVER, max_body_bytes=len(BODY) - 1)
    def limited(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AssertionError("must not run")

    event = signed_event(load(SHAPES[shape]), BODY, key=DEMO_KEYS[US][0], region=US)
    assert_rejected(limited(event, None), shape, 413, "body_too_large")


def test_no_signing_keys_is_a_retryable_500(shape: str) -> None:
    @verify_qstash(receiver=Receiver(config=load_config({})))
    def unconfigured(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AssertionError("must not run")

    answer = unconfigured(signed_event(load(SHAPES[shape]), BODY, key=DEMO_KEYS[US][0]), None)
    assert answer["statusCode"] == 500
    assert answer["body"] == "500 Internal Server Error: configuration_error"


@pytest.mark.parametrize("shape_name", ["rest", "alb", "alb_multi"])
def test_header_names_are_case_insensitive(shape_name: str) -> None:
    event = signed_event(load(SHAPES[shape_name]), BODY, key=DEMO_KEYS[EU][0], region=EU)
    for field in ("headers", "multiValueHeaders"):
        if isinstance(event.get(field), dict):
            event[field] = {name.upper(): value for name, value in event[field].items()}
    assert "UPSTASH-SIGNATURE" in (event.get("headers") or event["multiValueHeaders"])
    assert run(event)["statusCode"] == 200


def test_url_option_checks_the_signed_destination() -> None:
    @verify_qstash(url="https://hooks.example.com/qstash", receiver=RECEIVER)
    def pinned(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return http_response(event, 200, get_message(event).url)

    template = load(SHAPES["http_api"])
    key, url = DEMO_KEYS[US][0], "https://hooks.example.com/qstash"
    good = signed_event(template, BODY, key=key, region=US, url=url)
    assert pinned(good, None)["body"] == url
    bad = signed_event(template, BODY, key=key, region=US, url="https://evil.example.com/")
    assert_rejected(pinned(bad, None), "http_api", 401, "url_mismatch")


def test_handler_gets_a_json_ready_copy_and_the_message() -> None:
    template = load(SHAPES["http_api"])
    event = signed_event(template, BODY, key=DEMO_KEYS[EU][0], region=EU, message_id="msg_abc")
    assert run(event)["statusCode"] == 200
    seen = calls[0]
    assert isinstance(seen, QStashEvent)
    assert seen == event  # same content...
    assert seen is not event  # ...in a copy: the caller's dict is untouched
    assert json.loads(json.dumps(seen)) == event  # the message is no key: logging still works
    message = get_message(seen)
    assert (message.message_id, message.key_region, message.body) == ("msg_abc", EU, BODY)
    assert message.headers["cookie"] == "cookie1; cookie2"  # payload 2.0 "cookies" restored
    with pytest.raises(LookupError):
        get_message(event)


def test_lone_surrogate_text_body_is_malformed_not_a_crash() -> None:
    event = signed_event(load(SHAPES["rest"]), BODY, key=DEMO_KEYS[US][0], region=US)
    event.update(body="\ud800", isBase64Encoded=False)
    assert_rejected(run(event), "rest", 401, "malformed_body")


def test_null_headers_are_a_missing_signature() -> None:
    event = load(SHAPES["rest"])
    event["headers"] = event["multiValueHeaders"] = None
    assert_rejected(run(event), "rest", 401, "missing_signature")


@pytest.mark.parametrize("cookies", [5, {"a": "b"}, True])
@pytest.mark.parametrize("shape_name", ["http_api", "function_url"])
def test_a_cookies_field_that_is_no_list_is_ignored_not_a_crash(
    shape_name: str, cookies: object
) -> None:
    event = signed_event(load(SHAPES[shape_name]), BODY, key=DEMO_KEYS[US][0], region=US)
    event["cookies"] = cookies
    assert run(event)["statusCode"] == 200
    assert "cookie" not in get_message(calls[0]).headers


@pytest.mark.parametrize(
    "event",
    [load("sqs.json"), load("s3_put.json"), {}, {"requestContext": {}}, "not an event", None],
    ids=["sqs", "s3", "empty", "context-only", "string", "none"],
)
def test_non_http_events_raise_a_clear_error(event: Any) -> None:
    calls.clear()
    with pytest.raises(UnsupportedEventError, match=r"not an HTTP event|no API Gateway") as info:
        echo(event, None)
    assert isinstance(info.value, QStashError)
    assert isinstance(info.value, TypeError)
    assert calls == []


def test_sqs_error_names_the_event_keys() -> None:
    with pytest.raises(UnsupportedEventError, match=r"\['Records'\]"):
        echo(load("sqs.json"), None)


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=2048), shape_name=st.sampled_from(sorted(SHAPES)))
def test_any_binary_body_round_trips(body: bytes, shape_name: str) -> None:
    event = signed_event(load(SHAPES[shape_name]), body, key=DEMO_KEYS[EU][0], region=EU)
    assert json.loads(echo(event, None)["body"])["sha256"] == hashlib.sha256(body).hexdigest()


@settings(max_examples=60, deadline=None)
@given(garbage=st.text(max_size=200), shape_name=st.sampled_from(sorted(SHAPES)))
def test_any_declared_base64_body_is_answered_never_raised(garbage: str, shape_name: str) -> None:
    event = signed_event(load(SHAPES[shape_name]), BODY, key=DEMO_KEYS[EU][0], region=EU)
    event["body"] = garbage
    assert echo(event, None)["statusCode"] == 401


def test_importing_the_adapter_does_not_import_httpx_asyncio_or_boto3() -> None:
    heavy = ("httpx", "asyncio", "boto3", "jwt", "cryptography", "qstash")
    code = (
        "import sys, qstash_receiver.adapters.aws_lambda\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
    # The check itself can fail: the middleware module does import asyncio.
    code = code.replace("aws_lambda\n", "aws_lambda.middleware\n")
    middleware = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "asyncio" in middleware.stdout


def test_event_with_places_repeated_headers_as_each_integration_does() -> None:
    repeated = {"X-Twice": ["one", "two"], "Upstash-Region": "eu-central-1"}
    rest = event_with(load(SHAPES["rest"]), body=b"x", headers=repeated)
    assert rest["multiValueHeaders"]["X-Twice"] == ["one", "two"]
    assert rest["headers"]["X-Twice"] == "two"
    v2 = event_with(load(SHAPES["function_url"]), body=b"x", headers=repeated, method="PUT")
    assert (v2["headers"]["x-twice"], v2["requestContext"]["http"]["method"]) == ("one,two", "PUT")
    alb = event_with(load(SHAPES["alb"]), body=None, headers=repeated)
    assert (alb["headers"]["x-twice"], alb["body"], alb["isBase64Encoded"]) == ("two", None, False)
    multi = event_with(load(SHAPES["alb_multi"]), body=b"\xff", headers=repeated)
    assert "headers" not in multi
    assert (multi["multiValueHeaders"]["x-twice"], multi["body"]) == (["one", "two"], "/w==")


def test_http_response_for_a_raw_event_and_any_status() -> None:
    accepted = http_response(load(SHAPES["alb_multi"]), 202, "queued")
    assert accepted == {
        "statusCode": 202,
        "statusDescription": "202 Accepted",
        "body": "queued",
        "isBase64Encoded": False,
        "multiValueHeaders": {},
    }
    assert http_response(load(SHAPES["alb"]), 299, "")["statusDescription"] == "299"
    with pytest.raises(UnsupportedEventError):
        http_response(load("sqs.json"), 200, "")
