"""Malformed header fields in Lambda events, through the real decorator (issue 13, defect 3).

A header whose value list is empty or holds ``None`` crashed a genuine delivery after its
signature verified; an ALB event whose ``multiValueHeaders`` is not an object crashed while
the 401 was built. Every event here is a real fixture (tests/fixtures/lambda) with one field
spoiled, and every one must get an answer in its own response shape; none may raise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qstash_receiver import Receiver
from qstash_receiver.adapters.aws_lambda import get_message, http_response, verify_qstash
from qstash_receiver.adapters.aws_lambda.testing import signed_event

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
SHAPES = {
    "rest": "apigateway_rest.json",
    "http_api": "http_api.json",
    "function_url": "function_url.json",
    "alb": "alb.json",
    "alb_multi": "alb_multi_value.json",
}
#: The field each shape's headers live in (REST has both; its multiValueHeaders is complete).
HEADER_FIELD = {
    "rest": "multiValueHeaders",
    "http_api": "headers",
    "function_url": "headers",
    "alb": "headers",
    "alb_multi": "multiValueHeaders",
}
CURRENT = "sig_malformedCurrent00000000000000"
NEXT = "sig_malformedNext0000000000000000000"
BODY = b'{"malformed": false}'
NOT_AN_OBJECT: list[object] = [True, 1.5, "x", ["a"], 0, None, []]


@verify_qstash(receiver=Receiver(CURRENT, NEXT))
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    message = get_message(event)
    return http_response(event, 200, json.dumps(dict(message.headers)))


def genuine(shape: str) -> dict[str, Any]:
    template = json.loads((FIXTURES / SHAPES[shape]).read_text())
    return signed_event(template, BODY, key=CURRENT)


def assert_in_shape(shape: str, answer: dict[str, Any], status: int) -> None:
    assert answer["statusCode"] == status, answer
    assert isinstance(answer["body"], str)
    if shape == "rest":
        assert "multiValueHeaders" in answer
    elif shape.startswith("alb"):
        assert answer["statusDescription"].startswith(str(status))
        assert ("multiValueHeaders" in answer) != ("headers" in answer)
    else:
        assert isinstance(answer["headers"], dict)


def _set_header(shape: str, value: object) -> Callable[[dict[str, Any]], None]:
    def spoil(event: dict[str, Any]) -> None:
        event[HEADER_FIELD[shape]]["x-spoiled"] = value

    return spoil


MULTI_VALUE_SHAPES = ["rest", "alb_multi"]


@pytest.mark.parametrize("value", [[], [None], [None, None], [7], [{"a": 1}]])
@pytest.mark.parametrize("shape", MULTI_VALUE_SHAPES)
def test_an_empty_or_none_value_list_does_not_crash_a_genuine_delivery(
    shape: str, value: list[object]
) -> None:
    event = genuine(shape)
    _set_header(shape, value)(event)
    answer = handler(event, None)
    assert_in_shape(shape, answer, 200)
    assert "x-spoiled" not in json.loads(answer["body"])  # nothing usable: dropped


@pytest.mark.parametrize("shape", MULTI_VALUE_SHAPES)
def test_the_string_values_of_a_mixed_list_are_kept(shape: str) -> None:
    event = genuine(shape)
    _set_header(shape, [None, "kept", 3, "too"])(event)
    answer = handler(event, None)
    assert_in_shape(shape, answer, 200)
    assert json.loads(answer["body"])["x-spoiled"] == "kept, too"


@pytest.mark.parametrize("value", [[], [None], ["a", "b"], None, 5, {"nested": "x"}])
@pytest.mark.parametrize("shape", ["http_api", "function_url", "alb"])
def test_a_list_or_non_string_in_single_value_headers_does_not_crash(
    shape: str, value: object
) -> None:
    event = genuine(shape)
    _set_header(shape, value)(event)
    assert_in_shape(shape, handler(event, None), 200)


@pytest.mark.parametrize("value", NOT_AN_OBJECT, ids=repr)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_header_field_that_is_not_an_object_is_answered_401_in_shape(
    shape: str, value: object
) -> None:
    event = genuine(shape)
    event[HEADER_FIELD[shape]] = value
    if shape == "rest":
        event["headers"] = value  # both fields spoiled: no signature left
    answer = handler(event, None)
    assert_in_shape(shape, answer, 401)
    assert answer["body"] == "401 Unauthorized: missing_signature"


@pytest.mark.parametrize("value", NOT_AN_OBJECT, ids=repr)
def test_alb_multi_value_mode_answers_in_multi_value_shape(value: object) -> None:
    event = genuine("alb_multi")
    event["multiValueHeaders"] = value
    answer = handler(event, None)
    assert_in_shape("alb_multi", answer, 401)
    if value is not None:  # the field is there: the target group is in multi-value mode
        assert answer["multiValueHeaders"] == {"Content-Type": ["text/plain; charset=utf-8"]}


@pytest.mark.parametrize("value", NOT_AN_OBJECT, ids=repr)
def test_rest_falls_back_to_headers_when_multi_value_headers_is_not_an_object(
    value: object,
) -> None:
    event = genuine("rest")
    event["multiValueHeaders"] = value
    assert_in_shape("rest", handler(event, None), 200)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_non_string_header_names_are_dropped(shape: str) -> None:
    event = genuine(shape)
    event[HEADER_FIELD[shape]][42] = ["x"] if shape in MULTI_VALUE_SHAPES else "x"
    event[HEADER_FIELD[shape]][None] = "y"
    assert_in_shape(shape, handler(event, None), 200)


@pytest.mark.parametrize("cookies", [[None], [1, "a=b"], "a=b", [[]], {}])
def test_malformed_payload_2_cookies_do_not_crash(cookies: object) -> None:
    event = genuine("http_api")
    event["cookies"] = cookies
    answer = handler(event, None)
    assert_in_shape("http_api", answer, 200)
    if cookies == [1, "a=b"]:
        assert json.loads(answer["body"])["cookie"] == "a=b"


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_each_event_class_says_itself_whether_its_body_is_base64(shape: str) -> None:
    # VPC Lattice (a Powertools resolver the middleware accepts) spells the flag
    # "is_base64_encoded" in version 1: the body is read through the event's own data class.
    import base64

    from aws_lambda_powertools.utilities.data_classes.vpc_lattice import (
        VPCLatticeEvent,
        VPCLatticeEventV2,
    )

    from qstash_receiver.adapters.aws_lambda.events import request_parts

    cls, flag = (
        (VPCLatticeEvent, "is_base64_encoded")
        if shape == "v1"
        else (
            VPCLatticeEventV2,
            "isBase64Encoded",
        )
    )
    raw = b"\x00\xffbinary"
    event = cls({"body": base64.b64encode(raw).decode(), flag: True, "headers": {"x": "1"}})
    assert request_parts(event) == ({"x": "1"}, raw)
