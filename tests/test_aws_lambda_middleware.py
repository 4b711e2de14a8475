"""QStashMiddleware in all four Powertools resolvers, registered globally and per route."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import (
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.aws_lambda import MESSAGE_KEY
from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware, get_message
from qstash_receiver.adapters.aws_lambda.testing import event_with, signed_event
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
RESOLVERS: dict[str, tuple[type[ApiGatewayResolver], str]] = {
    "rest": (APIGatewayRestResolver, "apigateway_rest.json"),
    "http_api": (APIGatewayHttpResolver, "http_api.json"),
    "function_url": (LambdaFunctionUrlResolver, "function_url.json"),
    "alb": (ALBResolver, "alb.json"),
    "alb_multi": (ALBResolver, "alb_multi_value.json"),
}
EU: Region = "EU_CENTRAL_1"
US: Region = "US_EAST_1"
BODY = b'{"report": "daily", "rows": 12}'
RECEIVER = Receiver(config=load_config(DEMO_ENV))
TEXT = "text/plain; charset=utf-8"


def template(kind: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / RESOLVERS[kind][1]).read_text())
    return event


def make_app(kind: str, mode: str, **options: Any) -> ApiGatewayResolver:
    app = RESOLVERS[kind][0]()
    guard = QStashMiddleware(receiver=options.pop("receiver", RECEIVER), **options)
    if mode == "global":
        app.use(middlewares=[guard])

    @app.route("/qstash", method=["GET", "POST"], middlewares=[guard] if mode == "route" else None)
    def qstash() -> dict[str, Any]:
        message = get_message(app)
        return {
            "key_region": message.key_region,
            "sha256": hashlib.sha256(message.body).hexdigest(),
            "message_id": message.message_id,
        }

    @app.post("/health")
    def health() -> dict[str, bool]:
        return {"healthy": True}

    return app


def resolve(app: ApiGatewayResolver, event: dict[str, Any]) -> dict[str, Any]:
    return app.resolve(event, None)  # type: ignore[arg-type]  # the routes need no LambdaContext


def headers_of(answer: dict[str, Any]) -> dict[str, str]:
    if "multiValueHeaders" in answer:
        return {k: v[-1] for k, v in answer["multiValueHeaders"].items()}
    headers: dict[str, str] = answer["headers"]
    return headers


def body_of(answer: dict[str, Any]) -> str:
    raw: str = answer["body"]
    return base64.b64decode(raw).decode() if answer["isBase64Encoded"] else raw


@pytest.fixture(params=sorted(RESOLVERS))
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=["global", "route"])
def mode(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.mark.parametrize("region", [EU, US])
def test_verified_deliveries_reach_the_route(kind: str, mode: str, region: Region) -> None:
    app = make_app(kind, mode)
    event = signed_event(template(kind), BODY, key=DEMO_KEYS[region][0], region=region)
    answer = resolve(app, event)
    assert answer["statusCode"] == 200
    assert json.loads(body_of(answer))["key_region"] == region
    assert json.loads(body_of(answer))["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert MESSAGE_KEY not in app.context  # Powertools clears the context after each event


def test_binary_body_and_empty_get(kind: str, mode: str) -> None:
    app = make_app(kind, mode)
    binary = bytes(range(255, -1, -1)) * 64
    event = signed_event(template(kind), binary, key=DEMO_KEYS[EU][0], region=EU)
    answer = resolve(app, event)
    assert json.loads(body_of(answer))["sha256"] == hashlib.sha256(binary).hexdigest()
    headers = signed_headers(b"", key=DEMO_KEYS[US][0], region=US)
    get = event_with(template(kind), body=None, headers=headers, method="GET")
    assert resolve(app, get)["statusCode"] == 200


def unsigned(event: dict[str, Any]) -> dict[str, Any]:
    for field in ("headers", "multiValueHeaders"):
        if isinstance(event.get(field), dict):
            event[field] = {
                k: v for k, v in event[field].items() if k.lower() != "upstash-signature"
            }
    return event


REJECTED: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "tampered": (lambda e: {**e, "body": base64.b64encode(BODY + b" ").decode()}, "body_mismatch"),
    "not_base64": (lambda e: {**e, "body": "%%%"}, "malformed_body"),
    "unsigned": (unsigned, "missing_signature"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejections_are_powertools_responses(kind: str, mode: str, case: str) -> None:
    app = make_app(kind, mode)
    change, reason = REJECTED[case]
    event = change(signed_event(template(kind), BODY, key=DEMO_KEYS[US][0], region=US))
    answer = resolve(app, event)
    assert answer["statusCode"] == 401
    assert body_of(answer) == f"401 Unauthorized: {reason}"
    assert headers_of(answer)["Content-Type"] == TEXT
    assert ("multiValueHeaders" in answer) == (kind in ("rest", "alb_multi"))


def test_413_and_500(kind: str) -> None:
    event = signed_event(template(kind), BODY, key=DEMO_KEYS[US][0], region=US)
    small = make_app(kind, "global", max_body_bytes=8)
    assert resolve(small, event)["statusCode"] == 413
    empty = make_app(kind, "route", receiver=Receiver(config=load_config({})))
    answer = resolve(empty, event)
    assert (answer["statusCode"], body_of(answer)) == (
        500,
        "500 Internal Server Error: configuration_error",
    )


def test_global_guards_every_route_per_route_only_its_own(kind: str) -> None:
    event = event_with(template(kind), body=b"{}", headers={})
    event["path"] = "/health"
    event["rawPath"] = event["requestContext"].get("http", {})["path"] = "/health"
    assert resolve(make_app(kind, "global"), event)["statusCode"] == 401
    assert resolve(make_app(kind, "route"), event)["statusCode"] == 200


def test_router_routes_read_the_message_from_the_router() -> None:
    router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated

    @router.post("/qstash", middlewares=[QStashMiddleware(receiver=RECEIVER)])
    def qstash() -> dict[str, Any]:
        return {"message_id": get_message(router).message_id}

    app = APIGatewayHttpResolver()
    app.include_router(router)
    event = signed_event(
        template("http_api"), BODY, key=DEMO_KEYS[EU][0], region=EU, message_id="msg_r"
    )
    assert json.loads(resolve(app, event)["body"]) == {"message_id": "msg_r"}


def test_get_message_outside_a_guarded_route_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        get_message(APIGatewayHttpResolver())
