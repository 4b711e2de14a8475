"""The duplicate guard and retry control on the ASGI adapters, through Starlette's TestClient:
the Starlette middleware and decorator, and FastAPI's dependency with ``install(app)``."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from stores import unreachable_redis

from qstash_receiver import NonRetryableError, Receiver, RetryLater, VerifiedMessage, load_config
from qstash_receiver.adapters import fastapi as fastapi_adapter
from qstash_receiver.adapters import starlette as starlette_adapter
from qstash_receiver.dedupe import DedupeStore, MemoryStore, RedisStore
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

KEY = DEMO_KEYS["US_EAST_1"][0]
BASE = "https://hooks.example.com"
RECEIVER = Receiver(config=load_config(DEMO_ENV))
KINDS = ["starlette-middleware", "starlette-decorator", "fastapi"]


def act(runs: Counter[str], message: VerifiedMessage) -> Response:
    runs[message.message_id or "-"] += 1
    action = json.loads(message.body)["do"]
    if action == "nonretryable":
        raise NonRetryableError("the order is gone")
    if action == "retry_later":
        raise RetryLater(20)
    if action == "crash":
        raise RuntimeError("bug")
    status = 500 if action == "fail" or (action == "flaky" and message.retried == 0) else 200
    return PlainTextResponse("failed" if status == 500 else "handled", status_code=status)


def app_for(kind: str, runs: Counter[str], store: DedupeStore, installed: bool = True) -> Any:
    options: dict[str, Any] = {"receiver": RECEIVER, "dedupe": store}
    if kind == "fastapi":
        app = FastAPI()
        if installed:
            fastapi_adapter.install(app)
        guard = fastapi_adapter.QStashVerifier(**options)

        @app.post("/qstash", dependencies=[Depends(guard)])
        async def route(request: Request) -> Response:
            return act(runs, fastapi_adapter.get_message(request))

        return app

    async def endpoint(request: Request) -> Response:
        return act(runs, starlette_adapter.get_message(request))

    if kind == "starlette-decorator":
        decorated = starlette_adapter.verify_qstash(**options)(endpoint)
        return Starlette(routes=[Route("/qstash", decorated, methods=["POST"])])
    middleware = Middleware(starlette_adapter.QStashMiddleware, paths=["/qstash"], **options)
    return Starlette(routes=[Route("/qstash", endpoint, methods=["POST"])], middleware=[middleware])


Deliver = Callable[..., Any]


@pytest.fixture(params=KINDS)
def setup(request: pytest.FixtureRequest) -> Iterator[tuple[Deliver, Counter[str], MemoryStore]]:
    runs, store = Counter[str](), MemoryStore()
    with TestClient(app_for(request.param, runs, store), base_url=BASE) as client:

        def deliver(action: str, message_id: str = "msg_asgi", retried: int = 0) -> Any:
            body = json.dumps({"do": action}).encode()
            headers = signed_headers(
                body,
                key=KEY,
                url=f"{BASE}/qstash",
                region="US_EAST_1",
                message_id=message_id,
                retried=retried,
            )
            return client.post("/qstash", content=body, headers=headers)

        yield deliver, runs, store


Setup = tuple[Deliver, Counter[str], MemoryStore]


def test_a_copy_of_a_handled_message_is_answered_200_without_running(setup: Setup) -> None:
    deliver, runs, _ = setup
    assert deliver("ok").text == "handled"
    again = deliver("ok", retried=2)
    assert (again.status_code, again.text) == (200, "200 OK: duplicate")
    assert runs == {"msg_asgi": 1}


def test_non_retryable_is_489_with_the_header_and_released(setup: Setup) -> None:
    deliver, runs, _ = setup
    for _ in range(2):
        answer = deliver("nonretryable")
        assert answer.status_code == 489
        assert answer.headers["upstash-nonretryable-error"] == "true"
        assert answer.text == "489 Error: non_retryable"
    assert runs == {"msg_asgi": 2}


def test_retry_later_is_503_with_retry_after(setup: Setup) -> None:
    deliver, runs, _ = setup
    answer = deliver("retry_later")
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "20")
    assert deliver("ok").text == "handled"
    assert deliver("ok").text == "200 OK: duplicate"
    assert runs == {"msg_asgi": 2}


def test_a_failed_answer_releases_and_the_retry_runs_once(setup: Setup) -> None:
    deliver, runs, _ = setup
    assert deliver("flaky", retried=0).status_code == 500
    assert deliver("flaky", retried=1).text == "handled"
    assert deliver("flaky", retried=2).text == "200 OK: duplicate"
    assert runs == {"msg_asgi": 2}


def test_a_crash_releases_the_claim(setup: Setup) -> None:
    deliver, runs, _ = setup
    with pytest.raises(RuntimeError, match="bug"):
        deliver("crash")
    assert deliver("ok").text == "handled"
    assert runs == {"msg_asgi": 2}


@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_store_is_503_and_nothing_runs(kind: str) -> None:
    runs = Counter[str]()
    app = app_for(kind, runs, RedisStore(unreachable_redis()))
    with TestClient(app, base_url=BASE) as client:
        body = b'{"do": "ok"}'
        headers = signed_headers(
            body, key=KEY, url=f"{BASE}/qstash", region="US_EAST_1", message_id="msg_down"
        )
        answer = client.post("/qstash", content=body, headers=headers)
    assert (answer.status_code, answer.text) == (503, "503 Service Unavailable: dedupe_unavailable")
    assert runs == {}


def test_fastapi_dedupe_without_install_is_a_retryable_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = Counter[str]()
    with TestClient(app_for("fastapi", runs, MemoryStore(), installed=False)) as client:
        body = b'{"do": "ok"}'
        headers = signed_headers(body, key=KEY, url="http://testserver/qstash", region="US_EAST_1")
        with caplog.at_level(logging.ERROR, "qstash_receiver"):
            answer = client.post("/qstash", content=body, headers=headers)
    assert answer.status_code == 500
    assert runs == {}
    assert "needs install(app)" in caplog.text


@pytest.mark.parametrize("kind", KINDS)
def test_a_signature_replayed_under_another_message_id_is_refused(kind: str) -> None:
    runs = Counter[str]()
    with TestClient(app_for(kind, runs, MemoryStore()), base_url=BASE) as client:
        body = b'{"do": "ok"}'
        headers = signed_headers(
            body, key=KEY, url=f"{BASE}/qstash", region="US_EAST_1", message_id="msg_first"
        )
        assert client.post("/qstash", content=body, headers=headers).text == "handled"
        forged = {**headers, "Upstash-Message-Id": "msg_forged"}
        replayed = client.post("/qstash", content=body, headers=forged)
        assert (replayed.status_code, replayed.text) == (401, "401 Unauthorized: replayed")
        again = client.post("/qstash", content=body, headers=headers)
        assert again.text == "200 OK: duplicate"
    assert runs == {"msg_first": 1}
