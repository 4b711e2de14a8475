"""``request_url(event)`` for the Lambda decorator, on the real event JSON of each integration.

The fixtures (tests/fixtures/lambda/) put the request where AWS does; the variants below move
it as AWS does for a named stage, a custom domain and its base path mapping (the REST fixture
from ``sam local generate-event`` has no ``requestContext.domainName``; deployed REST events
carry the host called, as the ``Host`` header shows). A delivery signed for a sibling endpoint
is refused ``401 url_mismatch`` with ``url=request_url`` and accepted by the default.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.aws_lambda import get_message, http_response, verify_qstash
from qstash_receiver.adapters.aws_lambda.testing import signed_event
from qstash_receiver.adapters.aws_lambda.urls import request_url
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
RECEIVER = Receiver(config=load_config(DEMO_ENV))
US_CURRENT = DEMO_KEYS["US_EAST_1"][0]
BODY = b'{"order_id": 42}'
REST_HOST = "1234567890.execute-api.us-east-1.amazonaws.com"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return event


def rest(domain: str = REST_HOST, path: str = "/Prod/qstash") -> dict[str, Any]:
    event = load("apigateway_rest.json")
    event["requestContext"].update(domainName=domain, path=path)
    return event


def http_api_stage() -> dict[str, Any]:
    event = load("http_api.json")  # a named stage "prod" instead of $default
    event["rawPath"] = "/prod/qstash"
    event["requestContext"]["stage"] = "prod"
    return event


def custom_domain_v2() -> dict[str, Any]:
    event = load("http_api.json")  # api.example.com with the API mapped at "orders"
    event["rawPath"] = "/orders/qstash"
    event["requestContext"].update(domainName="api.example.com", domainPrefix="api")
    return event


#: event -> the URL it was sent to.
CASES: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "rest": (rest, f"https://{REST_HOST}/Prod/qstash?foo=bar"),
    "rest_custom_domain": (
        lambda: rest("api.example.com", "/orders/qstash"),
        "https://api.example.com/orders/qstash?foo=bar",
    ),
    "http_api": (
        lambda: load("http_api.json"),
        "https://id.execute-api.us-east-1.amazonaws.com/qstash"
        "?parameter1=value1&parameter1=value2&parameter2=value",
    ),
    "http_api_stage": (
        http_api_stage,
        "https://id.execute-api.us-east-1.amazonaws.com/prod/qstash"
        "?parameter1=value1&parameter1=value2&parameter2=value",
    ),
    "http_api_custom_domain": (
        custom_domain_v2,
        "https://api.example.com/orders/qstash"
        "?parameter1=value1&parameter1=value2&parameter2=value",
    ),
    "function_url": (
        lambda: load("function_url.json"),
        "https://a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-east-1.on.aws/qstash",
    ),
    "alb": (
        lambda: load("alb.json"),
        "http://lambda-alb-123578498.us-east-2.elb.amazonaws.com/qstash?query=1234ABCD",
    ),
    "alb_multi": (
        lambda: load("alb_multi_value.json"),
        "http://lambda-alb-123578498.us-east-2.elb.amazonaws.com/qstash?query=1234ABCD",
    ),
}


def sibling_of(url: str) -> str:
    base, _, query = url.partition("?")
    return f"{base}-other?{query}" if query else f"{base}-other"


@verify_qstash(receiver=RECEIVER, url=request_url)
def checked(event: dict[str, Any], context: object) -> dict[str, Any]:
    return http_response(event, 200, get_message(event).url)


@verify_qstash(receiver=RECEIVER)
def unchecked(event: dict[str, Any], context: object) -> dict[str, Any]:
    return http_response(event, 200, get_message(event).url)


@pytest.mark.parametrize("case", sorted(CASES))
def test_request_url_is_the_url_the_integration_was_called_with(case: str) -> None:
    make, url = CASES[case]
    assert request_url(make()) == url


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_sibling_delivery_is_refused_with_request_url_and_accepted_by_default(
    case: str,
) -> None:
    make, url = CASES[case]
    own = signed_event(make(), BODY, key=US_CURRENT, url=url, region="US_EAST_1")
    answer = checked(own, None)
    assert (answer["statusCode"], answer["body"]) == (200, url)
    sibling = signed_event(make(), BODY, key=US_CURRENT, url=sibling_of(url), region="US_EAST_1")
    refused = checked(copy.deepcopy(sibling), None)
    assert (refused["statusCode"], refused["body"]) == (401, "401 Unauthorized: url_mismatch")
    assert unchecked(sibling, None)["statusCode"] == 200


def test_an_event_without_a_domain_is_refused_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="qstash_receiver")
    template = load("apigateway_rest.json")  # as sam local generate-event writes it
    assert request_url(template) == ""
    event = signed_event(
        template, BODY, key=US_CURRENT, url="https://x/Prod/qstash", region="US_EAST_1"
    )
    refused = checked(event, None)
    assert (refused["statusCode"], refused["body"]) == (401, "401 Unauthorized: url_mismatch")
    assert "QStash URL check: the Lambda event has no usable host" in caplog.text


def test_a_rest_query_is_rebuilt_percent_encoded() -> None:
    event = rest()
    event["multiValueQueryStringParameters"] = {"q": ["a b", "ü"], "next": ["/x?y"]}
    assert request_url(event) == f"https://{REST_HOST}/Prod/qstash?q=a%20b&q=%C3%BC&next=/x%3Fy"


odd = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    version=st.sampled_from([None, "2.0", "1.0", 2]),
    context=odd | st.fixed_dictionaries({"elb": odd, "domainName": odd, "path": odd}),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "headers",
                "multiValueHeaders",
                "path",
                "rawPath",
                "rawQueryString",
                "queryStringParameters",
                "multiValueQueryStringParameters",
            ]
        ),
        odd,
    ),
)
def test_odd_events_never_raise(version: object, context: object, fields: dict[str, Any]) -> None:
    event = {**fields, "requestContext": context, "version": version}
    url = request_url(event)
    assert url == "" or url.startswith(("http://", "https://"))
