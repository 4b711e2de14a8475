"""One rule for repeated delivery headers, in the core, on every platform: a header QStash sends
once (``Upstash-Region``, ``Upstash-Message-Id``, ``Upstash-Retried``) that comes twice, as two
headers (ASGI, ALB multi-value) or joined into one value (WSGI servers, Lambda payload 2.0), is
refused 401 ``duplicate_header`` and the handler does not run (a doubled message id used to
become a new id on WSGI, so a guarded handler ran again)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from verdicts import check_request

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.adapters import aws_lambda, flask, starlette
from qstash_receiver.adapters.aws_lambda.testing import event_with
from qstash_receiver.dedupe import MemoryStore
from qstash_receiver.integration import Answer
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

RECEIVER = Receiver(config=load_config(DEMO_ENV))
KEY = DEMO_KEYS["US_EAST_1"][0]
URL = "https://example.com/api/qstash"
BODY = b'{"order": 1}'
FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
# name: the second value a repeated header carries
SECOND = {
    "Upstash-Region": "EU-CENTRAL-1",
    "Upstash-Message-Id": "msg_second",
    "Upstash-Retried": "1",
}
REFUSED = Answer(401, "duplicate_header")


def delivery(message_id: str = "msg_first") -> dict[str, str]:
    return signed_headers(BODY, key=KEY, url=URL, region="US_EAST_1", message_id=message_id)


@pytest.mark.parametrize("name", sorted(SECOND))
def test_the_core_refuses_two_headers_and_one_joined_value(name: str) -> None:
    headers = delivery()
    pairs = [*headers.items(), (name, SECOND[name])]
    assert check_request(RECEIVER, pairs, BODY) == REFUSED
    joined = {**headers, name: f"{headers[name]}, {SECOND[name]}"}
    assert check_request(RECEIVER, joined, BODY) == REFUSED
    assert isinstance(check_request(RECEIVER, headers, BODY), VerifiedMessage)


@pytest.mark.parametrize("name", sorted(SECOND))
def test_flask_refuses_a_header_the_wsgi_server_joined(name: str) -> None:
    ran: list[str] = []
    app = Flask(__name__)

    @app.post("/api/qstash")
    @flask.verify_qstash(receiver=RECEIVER, dedupe=MemoryStore())
    def hook() -> str:
        ran.append(flask.current_message().message_id or "-")
        return "ok"

    client = app.test_client()
    assert client.post("/api/qstash", data=BODY, headers=delivery()).status_code == 200
    headers = delivery()  # the same message again, its id doubled by a proxy
    environ_key = "HTTP_" + name.upper().replace("-", "_")
    joined = f"{headers.pop(name)}, {SECOND[name]}"
    answer = client.post(
        "/api/qstash", data=BODY, headers=headers, environ_overrides={environ_key: joined}
    )
    assert (answer.status_code, answer.text) == (401, REFUSED.text)
    assert ran == ["msg_first"]


@pytest.mark.parametrize("name", sorted(SECOND))
def test_starlette_refuses_two_headers(name: str) -> None:
    ran: list[str] = []

    async def hook(request: Request) -> Response:
        ran.append(starlette.get_message(request).message_id or "-")
        return PlainTextResponse("ok")

    route = Route("/api/qstash", starlette.verify_qstash(receiver=RECEIVER)(hook), methods=["POST"])
    with TestClient(Starlette(routes=[route]), base_url="https://example.com") as client:
        pairs = [*delivery().items(), (name, SECOND[name])]
        answer = client.post("/api/qstash", content=BODY, headers=pairs)
    assert (answer.status_code, answer.text) == (401, REFUSED.text)
    assert ran == []


@pytest.mark.parametrize("fixture", ["http_api.json", "alb_multi_value.json"])
@pytest.mark.parametrize("name", sorted(SECOND))
def test_lambda_refuses_a_repeated_header(fixture: str, name: str) -> None:
    ran: list[str] = []

    @aws_lambda.verify_qstash(receiver=RECEIVER)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran.append("ran")
        return aws_lambda.http_response(event, 200, "ok")

    template = json.loads((FIXTURES / fixture).read_text())
    headers: dict[str, Any] = dict(delivery())
    headers[name] = [headers[name], SECOND[name]]  # payload 2.0 joins, ALB lists them
    answer = handler(event_with(template, body=BODY, headers=headers), None)
    assert (answer["statusCode"], answer["body"]) == (401, REFUSED.text)
    assert ran == []
