"""The duplicate guard and retry control on the ASGI adapters, through Starlette's TestClient:
the Starlette middleware and decorator, and FastAPI's dependency with ``install(app)``."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from qstash_demo.services import free_port
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
    if action == "nonretryable_hostile":
        raise NonRetryableError("the order\r\nis\x1b[2J gone\u202e " + "z" * 300)
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
        assert answer.text == "489 Error: non_retryable: the order is gone"  # shown in the DLQ
    assert runs == {"msg_asgi": 2}


def test_a_non_retryable_message_is_sent_as_one_bounded_line(setup: Setup) -> None:
    deliver, _, _ = setup
    answer = deliver("nonretryable_hostile")
    assert answer.status_code == 489
    sent = ("the order is[2J gone " + "z" * 300)[:199] + "\u2026"
    assert answer.text == f"489 Error: non_retryable: {sent}"


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


def test_fastapi_dedupe_without_install_fails_when_the_app_starts() -> None:
    """Found at start-up, saying what to add, rather than as a 500 per delivery."""
    runs = Counter[str]()
    app = app_for("fastapi", runs, MemoryStore(), installed=False)
    with (
        pytest.raises(RuntimeError, match=r"needs qstash_receiver\.adapters\.fastapi\.install"),
        TestClient(app),
    ):
        pass
    assert runs == {}


def test_fastapi_dedupe_on_an_included_router_without_install_fails_when_the_app_starts() -> None:
    def app_including_a_guarded_router() -> FastAPI:
        guard = fastapi_adapter.QStashVerifier(dedupe=MemoryStore())
        router = APIRouter(dependencies=[Depends(guard)])
        router.post("/qstash")(lambda: {"ok": True})
        app = FastAPI()
        app.include_router(router)
        return app

    with (
        pytest.raises(RuntimeError, match=r"add install\(app\)"),
        TestClient(app_including_a_guarded_router()),
    ):
        pass
    app = app_including_a_guarded_router()
    fastapi_adapter.install(app)  # after the routes is fine: checked when the app starts
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200
    unguarded = FastAPI()  # an app without a guarded route needs no install()
    unguarded.post("/plain", dependencies=[Depends(fastapi_adapter.QStashVerifier())])(lambda: 1)
    with TestClient(unguarded) as client:
        assert client.get("/docs").status_code == 200


def test_fastapi_dedupe_without_install_under_its_own_lifespan_is_a_retryable_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lifespan of the app's own skips start-up handlers: each delivery is then a 500."""
    runs = Counter[str]()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(lifespan=lifespan)
    guard = fastapi_adapter.QStashVerifier(receiver=RECEIVER, dedupe=MemoryStore())

    @app.post("/qstash", dependencies=[Depends(guard)])
    async def route(request: Request) -> Response:
        return act(runs, fastapi_adapter.get_message(request))

    with TestClient(app) as client:
        body = b'{"do": "ok"}'
        headers = signed_headers(body, key=KEY, url="http://testserver/qstash", region="US_EAST_1")
        with caplog.at_level(logging.ERROR, "qstash_receiver"):
            answer = client.post("/qstash", content=body, headers=headers)
    assert answer.status_code == 500
    assert runs == {}
    assert "add install(app)" in caplog.text


UNINSTALLED_APP = """
from fastapi import Depends, FastAPI
from qstash_receiver.adapters.fastapi import QStashVerifier
from qstash_receiver.dedupe import MemoryStore

app = FastAPI()


@app.post("/qstash", dependencies=[Depends(QStashVerifier(dedupe=MemoryStore()))])
def hook() -> dict[str, bool]:
    return {"ok": True}
"""


def test_uvicorn_refuses_to_start_a_guarded_app_without_install(tmp_path: Path) -> None:
    (tmp_path / "uninstalled.py").write_text(UNINSTALLED_APP)
    command = [sys.executable, "-m", "uvicorn", "uninstalled:app", "--port", str(free_port())]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "Application startup failed" in done.stderr
    assert "add install(app) after creating the app" in done.stderr


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
