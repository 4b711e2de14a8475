"""The duplicate guard and retry control in every platform's own shape, in-process.

Flask (sync and async views, ``QStash.protect``), the Lambda decorator (every HTTP event shape)
and the Powertools middleware run the same handler, told by the body what to do; each answer
is read back in the platform's shape (a Flask ``Response``, a Lambda response dict, a
Powertools response). The stores themselves are tested against real backends in
test_dedupe_stores.py; here a MemoryStore keeps the flow quick, and a RedisStore pointing at a
port where nothing listens is the unreachable store.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from aws_lambda_powertools.event_handler import (
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from flask import Blueprint, Flask, Response
from redis.backoff import NoBackoff
from redis.retry import Retry
from stores import unreachable_redis
from verdicts import check_request

from qstash_receiver import (
    NonRetryableError,
    Receiver,
    RetryLater,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.adapters import aws_lambda
from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware
from qstash_receiver.adapters.aws_lambda.testing import event_with
from qstash_receiver.dedupe import DedupeStore, MemoryStore, RedisStore, dedupe_key
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
KEY = DEMO_KEYS["US_EAST_1"][0]
URL = "https://example.com/api/qstash"
RECEIVER = Receiver(config=load_config(DEMO_ENV))
EVENTS = {
    "rest": (APIGatewayRestResolver, "apigateway_rest.json"),
    "http_api": (APIGatewayHttpResolver, "http_api.json"),
    "function_url": (LambdaFunctionUrlResolver, "function_url.json"),
    "alb": (ALBResolver, "alb.json"),
    "alb_multi": (ALBResolver, "alb_multi_value.json"),
}
PLATFORMS = [
    "flask",
    "flask-async",
    "flask-protect",
    *(f"lambda-{kind}" for kind in EVENTS),
    *(f"powertools-{kind}" for kind in EVENTS),
]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    text: str


#: A NonRetryableError message with line breaks, a terminal escape, a bidirectional override
#: and more than 200 characters: what its 489 answer may carry of it is ``HOSTILE_SENT``.
HOSTILE = "order 17\r\nSet-Cookie: a=1\x1b[2J\u202egpj.exe " + "z" * 300
HOSTILE_SENT = ("order 17 Set-Cookie: a=1[2Jgpj.exe " + "z" * 300)[:199] + "\u2026"


class Handler:
    """The one user handler: its behaviour comes from the body; runs counted per message."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()

    def __call__(self, message: VerifiedMessage) -> tuple[int, str]:
        self.runs[message.message_id or "-"] += 1
        action = json.loads(message.body)["do"]
        if action == "nonretryable":
            raise NonRetryableError("order 17 was deleted")
        if action == "nonretryable_hostile":
            raise NonRetryableError(HOSTILE)
        if action == "retry_later":
            raise RetryLater(30)
        if action == "crash":
            raise RuntimeError("bug in the handler")
        if action == "flaky" and message.retried == 0:
            return 500, "try again"
        return (500, "failed") if action == "fail" else (200, "handled")


Deliver = Callable[[bytes, dict[str, str]], Answer]


def flask_platform(kind: str, handler: Handler, store: DedupeStore) -> Deliver:
    app = Flask(__name__)
    app.testing = True  # a crashing view's exception reaches the test (as it does Lambda's)
    options: dict[str, Any] = {"receiver": RECEIVER, "dedupe": store}
    if kind == "flask-protect":
        jobs = Blueprint("jobs", __name__)

        @jobs.post("/qstash")
        def protected() -> Response:
            status, text = handler(flask_adapter.current_message())
            return Response(text, status=status)

        flask_adapter.QStash(app, environ=DEMO_ENV).protect(jobs, **options)
        app.register_blueprint(jobs)
    elif kind == "flask-async":

        @app.post("/qstash")
        @flask_adapter.verify_qstash(**options)
        async def async_view() -> tuple[str, int]:
            status, text = handler(flask_adapter.current_message())
            return text, status  # a tuple: the guard reads its status after make_response

    else:

        @app.post("/qstash")
        @flask_adapter.verify_qstash(**options)
        def view() -> tuple[str, int]:
            status, text = handler(flask_adapter.current_message())
            return text, status

    client = app.test_client()

    def deliver(body: bytes, headers: dict[str, str]) -> Answer:
        got = client.post("/qstash", data=body, headers=headers)
        return Answer(got.status_code, {k.lower(): v for k, v in got.headers}, got.text)

    return deliver


def lambda_answer(answer: dict[str, Any]) -> Answer:
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = values[-1]
    return Answer(answer["statusCode"], headers, answer["body"])


def lambda_platform(kind: str, handler: Handler, store: DedupeStore) -> Deliver:
    template = json.loads((FIXTURES / EVENTS[kind][1]).read_text())

    @aws_lambda.verify_qstash(receiver=RECEIVER, dedupe=store)
    def function(event: dict[str, Any], context: object) -> dict[str, Any]:
        status, text = handler(aws_lambda.get_message(event))
        return aws_lambda.http_response(event, status, text)

    def deliver(body: bytes, headers: dict[str, str]) -> Answer:
        event = event_with(template, body=body, headers=headers)
        return lambda_answer(function(event, None))

    return deliver


def powertools_platform(kind: str, handler: Handler, store: DedupeStore) -> Deliver:
    resolver, fixture = EVENTS[kind]
    template = json.loads((FIXTURES / fixture).read_text())
    app: ApiGatewayResolver = resolver()
    app.use(middlewares=[QStashMiddleware(receiver=RECEIVER, dedupe=store)])

    @app.post("/qstash")
    def route() -> Any:
        from aws_lambda_powertools.event_handler import Response as PowertoolsResponse

        status, text = handler(aws_lambda.get_message(app))
        return PowertoolsResponse(status_code=status, body=text, content_type="text/plain")

    def deliver(body: bytes, headers: dict[str, str]) -> Answer:
        event = event_with(template, body=body, headers=headers)
        return lambda_answer(app.resolve(event, None))  # type: ignore[arg-type]

    return deliver


def platform(name: str, handler: Handler, store: DedupeStore) -> Deliver:
    if name.startswith("flask"):
        return flask_platform(name, handler, store)
    kind = name.split("-", 1)[1]
    if name.startswith("lambda"):
        return lambda_platform(kind, handler, store)
    return powertools_platform(kind, handler, store)


def delivery(
    action: str, message_id: str | None = "msg_1", retried: int = 0
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"do": action}).encode()
    headers = signed_headers(
        body, key=KEY, url=URL, region="US_EAST_1", message_id=message_id or "x", retried=retried
    )
    if message_id is None:
        del headers["Upstash-Message-Id"]
    return body, headers


@pytest.fixture(params=PLATFORMS)
def setup(request: pytest.FixtureRequest) -> tuple[Deliver, Handler, MemoryStore]:
    handler, store = Handler(), MemoryStore()
    return platform(request.param, handler, store), handler, store


Setup = tuple[Deliver, Handler, MemoryStore]


def test_a_copy_of_a_handled_message_is_answered_200_without_running(setup: Setup) -> None:
    deliver, handler, _ = setup
    first = deliver(*delivery("ok"))
    assert (first.status, first.text) == (200, "handled")
    for retried in (0, 3):  # QStash's duplicate, also as a later retry
        again = deliver(*delivery("ok", retried=retried))
        assert again.status == 200
        assert again.text == "200 OK: duplicate"
    assert handler.runs == {"msg_1": 1}


def test_non_retryable_error_is_489_with_the_header_and_released(setup: Setup) -> None:
    deliver, handler, _ = setup
    for _ in range(2):  # released: a redelivery (e.g. from the DLQ) runs again
        answer = deliver(*delivery("nonretryable"))
        assert answer.status == 489
        assert answer.headers["upstash-nonretryable-error"] == "true"
        # The handler's text is sent too: the DLQ entry shows why the message is there.
        assert answer.text == "489 Error: non_retryable: order 17 was deleted"
    assert handler.runs == {"msg_1": 2}


def test_a_non_retryable_message_is_sent_as_one_bounded_line(setup: Setup) -> None:
    deliver, _, _ = setup
    answer = deliver(*delivery("nonretryable_hostile"))
    assert answer.status == 489
    assert answer.text == f"489 Error: non_retryable: {HOSTILE_SENT}"
    assert len(HOSTILE_SENT) == 200
    assert "set-cookie" not in answer.headers


def test_retry_later_is_503_with_retry_after_and_released(setup: Setup) -> None:
    deliver, handler, _ = setup
    answer = deliver(*delivery("retry_later"))
    assert answer.status == 503
    assert answer.headers["retry-after"] == "30"
    assert answer.text == "503 Service Unavailable: retry_later"
    assert deliver(*delivery("ok")).text == "handled"  # the retry runs, then no more
    assert deliver(*delivery("ok")).text == "200 OK: duplicate"
    assert handler.runs == {"msg_1": 2}


def test_a_handler_failing_once_runs_again_on_the_retry_then_never(setup: Setup) -> None:
    deliver, handler, _ = setup
    assert deliver(*delivery("flaky", retried=0)).status == 500
    assert deliver(*delivery("flaky", retried=1)).status == 200
    assert deliver(*delivery("flaky", retried=2)).text == "200 OK: duplicate"
    assert handler.runs == {"msg_1": 2}


def test_a_crashing_handler_releases_its_claim(setup: Setup) -> None:
    deliver, handler, _ = setup
    for _ in range(2):
        with pytest.raises(RuntimeError, match="bug in the handler"):
            deliver(*delivery("crash"))
    assert deliver(*delivery("ok")).text == "handled"
    assert handler.runs == {"msg_1": 3}


def test_a_copy_in_progress_is_answered_409_with_retry_after(setup: Setup) -> None:
    deliver, handler, store = setup
    body, headers = delivery("ok")
    message = check_request(RECEIVER, headers, body)
    assert isinstance(message, VerifiedMessage)
    key = dedupe_key(message)
    assert key is not None
    store.claim(key, 120)  # another worker holds it
    answer = deliver(body, headers)
    assert answer.status == 409
    assert 100 < int(answer.headers["retry-after"]) <= 120
    assert answer.text == "409 Conflict: in_progress"
    assert handler.runs == {}


def test_deliveries_without_a_message_id_pass_through(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    deliver, handler, _ = setup
    with caplog.at_level(logging.WARNING, "qstash_receiver"):
        assert deliver(*delivery("ok", message_id=None)).status == 200
        assert deliver(*delivery("ok", message_id=None)).status == 200
    assert handler.runs == {"-": 2}
    assert "without Upstash-Message-Id" in caplog.text


@pytest.mark.parametrize("name", PLATFORMS)
def test_an_unreachable_store_is_503_and_the_handler_does_not_run(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Handler()
    down = RedisStore(unreachable_redis())
    deliver = platform(name, handler, down)
    with caplog.at_level(logging.ERROR, "qstash_receiver"):
        answer = deliver(*delivery("ok"))
    assert (answer.status, answer.text) == (503, "503 Service Unavailable: dedupe_unavailable")
    assert handler.runs == {}
    assert "store unreachable" in caplog.text
    assert "ConnectionError" in caplog.text


def test_a_store_failure_logs_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    client = redis.Redis.from_url(
        "redis://qstash:hunter2-store-password@127.0.0.1:1/0",
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    deliver = platform("flask", Handler(), RedisStore(client))
    with caplog.at_level(logging.DEBUG):
        assert deliver(*delivery("ok")).status == 503
    assert "store unreachable" in caplog.text
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize(
    ("kind", "answer", "done"),
    [
        ("http_api", {"statusCode": "204", "body": ""}, True),
        ("http_api", {"statusCode": 302}, False),
        ("http_api", {"statusCode": True}, False),
        ("http_api", {"statusCode": "oops"}, False),
        ("http_api", "plain text", True),  # payload 2.0: API Gateway answers 200
        ("function_url", {"ok": True}, True),
        ("rest", "plain text", False),  # REST APIs answer 502 without a statusCode
        ("alb", None, False),
    ],
)
def test_what_counts_as_2xx_for_a_lambda_answer(kind: str, answer: object, done: bool) -> None:
    store, runs = MemoryStore(), Counter[str]()
    template = json.loads((FIXTURES / EVENTS[kind][1]).read_text())

    @aws_lambda.verify_qstash(receiver=RECEIVER, dedupe=store)
    def function(event: dict[str, Any], context: object) -> object:
        runs["run"] += 1
        return answer

    body, headers = delivery("ok")
    for _ in range(2):
        function(event_with(template, body=body, headers=headers), None)
    assert runs["run"] == (1 if done else 2)


def test_lambda_claims_last_at_most_the_remaining_invocation_time() -> None:
    store = MemoryStore(lease=900)
    template = json.loads((FIXTURES / "http_api.json").read_text())
    seen: list[object] = []

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 3000

    @aws_lambda.verify_qstash(receiver=RECEIVER, dedupe=store)
    def function(event: dict[str, Any], context: object) -> dict[str, Any]:
        body, headers = delivery("ok")
        seen.append(function(event_with(template, body=body, headers=headers), Context()))
        return {"statusCode": 200}

    body, headers = delivery("ok")
    function(event_with(template, body=body, headers=headers), Context())
    (inner,) = seen
    assert isinstance(inner, dict)
    assert inner["statusCode"] == 409
    assert inner["headers"]["Retry-After"] == "3"  # the lease, not the store's 900 s


def test_a_signature_replayed_under_another_message_id_is_refused(setup: Setup) -> None:
    """A captured delivery sent again under a fresh ``Upstash-Message-Id`` within its token's
    lifetime: 401 ``replayed``, the handler does not run. The same token with the same id is
    a QStash duplicate, as before."""
    deliver, handler, _ = setup
    body, headers = delivery("ok", message_id="msg_first")
    assert deliver(body, headers).text == "handled"
    replayed = deliver(body, {**headers, "Upstash-Message-Id": "msg_forged"})
    assert (replayed.status, replayed.text) == (401, "401 Unauthorized: replayed")
    assert deliver(body, headers).text == "200 OK: duplicate"
    assert handler.runs == {"msg_first": 1}


def test_a_delivery_replayed_without_its_message_id_does_not_run_again(setup: Setup) -> None:
    """The message id is not signed: a captured delivery resent without it is named by its
    signature's jti, so it is a duplicate rather than a second run (it ran twice before)."""
    deliver, handler, _ = setup
    body, headers = delivery("ok", message_id=None)
    assert deliver(body, headers).status == 200
    assert deliver(body, headers).text == "200 OK: duplicate"
    assert handler.runs == {"-": 1}
