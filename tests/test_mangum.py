"""A FastAPI app on Lambda through Mangum, fed the real event JSON the Lambda adapter is tested
with (tests/fixtures/lambda): API Gateway REST, HTTP API v2 and a Function URL. Deliveries are
put into copies of the fixtures by ``qstash_receiver.adapters.aws_lambda.testing``."""

# No "from __future__ import annotations": the route below depends on a local verifier.
import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from asgi_apps import BINARY, HANDLED, JSON_BODY, RECEIVER, phrase, seen
from fastapi import Depends, FastAPI, Request, Response
from mangum import Mangum

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.aws_lambda.testing import event_with, signed_event
from qstash_receiver.adapters.aws_lambda.urls import request_url as aws_request_url
from qstash_receiver.adapters.fastapi import QStashVerifier, install
from qstash_receiver.adapters.starlette import QStashMiddleware, get_message, request_url
from qstash_receiver.integration import UrlOption
from qstash_receiver.testing import DEMO_KEYS, sign, signed_headers

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
SHAPES = {
    "rest": "apigateway_rest.json",
    "http_api": "http_api.json",
    "function_url": "function_url.json",
}
#: The URL QStash was given for each event (REST: the stage is part of it).
PUBLIC = {
    "rest": "https://1234567890.execute-api.us-east-1.amazonaws.com/Prod/qstash?foo=bar",
    "http_api": "https://id.execute-api.us-east-1.amazonaws.com/qstash"
    "?parameter1=value1&parameter1=value2&parameter2=value",
    "function_url": "https://a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-east-1.on.aws/qstash",
}
EU_CURRENT, _ = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]


def template(shape: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / SHAPES[shape]).read_text())
    return loaded


def delivery(
    shape: str,
    body: bytes = JSON_BODY,
    key: str = US_CURRENT,
    region: str = "US_EAST_1",
    url: str | None = None,
    **sign: Any,
) -> dict[str, Any]:
    """A copy of the shape's fixture carrying a delivery signed for its public URL."""
    url = PUBLIC[shape] if url is None else url
    return signed_event(template(shape), body, key=key, url=url, region=region, **sign)


def lambda_app(kind: str, url: UrlOption) -> Mangum:
    """``/qstash`` verified by the FastAPI dependency or by the middleware, under Mangum."""
    app = FastAPI()
    install(app)
    if kind == "dependency":
        verifier = QStashVerifier(receiver=RECEIVER, url=url)

        Verified = Annotated[VerifiedMessage, Depends(verifier)]

        async def hook(request: Request, message: Verified) -> Response:
            return seen(message, await request.body(), request)

    else:
        app.add_middleware(QStashMiddleware, paths=["/qstash"], receiver=RECEIVER, url=url)

        async def hook(request: Request) -> Response:  # type: ignore[misc]
            return seen(get_message(request), await request.body(), request)

    for method in ("GET", "POST"):
        app.add_api_route("/qstash", hook, methods=[method], name=f"hook_{method.lower()}")
    return Mangum(app, lifespan="off")


@pytest.fixture(autouse=True)
def event_loop_of_the_process() -> Iterator[None]:
    """The loop Mangum runs the app on, closed after the test (on Lambda the process keeps
    it; left to the garbage collector it would warn, unclosed, in a later test)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=["dependency", "middleware"])
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def invoke(handler: Mangum, event: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    answer = handler(event, None)  # type: ignore[arg-type]
    assert answer["isBase64Encoded"] is False  # text and JSON answers stay text
    return answer["statusCode"], answer["headers"], answer["body"]


def assert_verified(answer: tuple[int, dict[str, str], str], body: bytes, region: str) -> None:
    status, _, text = answer
    assert status == 200, text
    seen_ = json.loads(text)
    assert seen_["key_region"] == region
    assert seen_["sha256"] == hashlib.sha256(body).hexdigest()  # the raw bytes, unaltered
    assert seen_["same_body"] is True
    assert HANDLED[seen_["message_id"]] == 1


def assert_refused(answer: tuple[int, dict[str, str], str], status: int, reason: str) -> None:
    assert answer[0] == status
    assert answer[1]["content-type"] == "text/plain; charset=utf-8"
    assert answer[2] == f"{status} {phrase(status)}: {reason}"


@pytest.mark.parametrize("region", ["EU_CENTRAL_1", "US_EAST_1"])
def test_genuine_deliveries_from_both_regions(shape: str, kind: str, region: str) -> None:
    handler = lambda_app(kind, PUBLIC[shape])
    event = delivery(shape, key=DEMO_KEYS[region][0], region=region)  # type: ignore[index]
    assert_verified(invoke(handler, event), JSON_BODY, region)


def test_binary_body_arrives_unaltered(shape: str, kind: str) -> None:
    handler = lambda_app(kind, PUBLIC[shape])
    event = signed_event(
        template(shape), BINARY, key=US_NEXT, url=PUBLIC[shape], region="US_EAST_1"
    )
    assert event["isBase64Encoded"] is True
    assert_verified(invoke(handler, event), BINARY, "US_EAST_1")


def test_get_without_body(shape: str, kind: str) -> None:
    handler = lambda_app(kind, PUBLIC[shape])
    headers = signed_headers(b"", key=EU_CURRENT, url=PUBLIC[shape], region="EU_CENTRAL_1")
    event = event_with(template(shape), body=None, headers=headers, method="GET")
    assert_verified(invoke(handler, event), b"", "EU_CENTRAL_1")


def forged(shape: str, case: str) -> dict[str, Any]:
    if case == "forged":
        return delivery(shape, key="sig_forgedByMallory0000000000000", region="EU_CENTRAL_1")
    if case == "wrong_region":  # signed with EU keys, claims to come from US
        return delivery(shape, key=EU_CURRENT)
    if case == "expired":
        return delivery(shape, now=time.time() - 600)
    headers: dict[str, Any] = signed_headers(
        JSON_BODY, key=US_CURRENT, url=PUBLIC[shape], region="US_EAST_1"
    )
    if case == "tampered":
        return event_with(template(shape), body=JSON_BODY + b" ", headers=headers)
    if case == "missing":
        del headers["Upstash-Signature"]
        return event_with(template(shape), body=JSON_BODY, headers=headers)
    if case == "duplicated":  # two header lines: Mangum joins them with a comma
        headers["Upstash-Signature"] = [
            sign(JSON_BODY, key=US_CURRENT),
            headers["Upstash-Signature"],
        ]
        return event_with(template(shape), body=JSON_BODY, headers=headers)
    raise ValueError(case)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("forged", "invalid_signature"),
        ("wrong_region", "invalid_signature"),
        ("expired", "expired"),
        ("tampered", "body_mismatch"),
        ("missing", "missing_signature"),
        ("duplicated", "duplicate_signature"),
    ],
)
def test_forged_deliveries_get_401(shape: str, kind: str, case: str, reason: str) -> None:
    before = sum(HANDLED.values())
    assert_refused(invoke(lambda_app(kind, PUBLIC[shape]), forged(shape, case)), 401, reason)
    assert sum(HANDLED.values()) == before  # no handler ran


def test_function_url_with_request_url(kind: str) -> None:
    # A Function URL event carries the public host and scheme: request_url rebuilds the URL.
    handler = lambda_app(kind, request_url)
    assert_verified(invoke(handler, delivery("function_url")), JSON_BODY, "US_EAST_1")
    elsewhere = delivery("function_url", url=PUBLIC["function_url"] + "x")
    assert_refused(invoke(handler, elsewhere), 401, "url_mismatch")


def lambda_url(request: Request) -> str:
    """The URL of the Lambda event under the request, as the Lambda adapter rebuilds it."""
    return aws_request_url(request.scope["aws.event"])


def test_under_mangum_the_lambda_event_gives_the_url(shape: str, kind: str) -> None:
    event = delivery(shape)
    if shape == "rest":  # deployed REST events carry it; sam's generated one does not
        event["requestContext"]["domainName"] = "1234567890.execute-api.us-east-1.amazonaws.com"
    assert_verified(invoke(lambda_app(kind, lambda_url), event), JSON_BODY, "US_EAST_1")
    if shape == "rest":
        # Mangum passes the resource path (/qstash) without the stage (/Prod): rebuilt from the
        # ASGI request alone, the URL misses it.
        assert_refused(invoke(lambda_app(kind, request_url), event), 401, "url_mismatch")
