"""The guard's native async stores: AsyncRedisStore (redis.asyncio) against a real Redis,
called on the event loop with no thread hop, its claims renewed by a task; and a FastAPI app
on uvicorn whose plain sync route keeps answering while guarded deliveries wait on a stalled
Redis."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import store_contract as contract
from faults import stalled
from qstash_demo.services import serving
from store_fixtures import *  # noqa: F403 (fixtures)
from stores import ROOT, RedisServer

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.dedupe import AsyncRedisStore, Claim, Held
from qstash_receiver.integration import Endpoint, Options, Responder
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

KEY = DEMO_KEYS["US_EAST_1"][0]
URL = "https://jobs.example.com/qstash"
RECEIVER = Receiver(config=load_config(DEMO_ENV))
T = TypeVar("T")


class LoopThread:
    """An event loop on a thread of its own, for calling an async store from sync code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class SyncView:
    """The sync store interface over an AsyncRedisStore, for the shared contract checks."""

    def __init__(self, store: AsyncRedisStore, loop: LoopThread) -> None:
        self.store, self.loop = store, loop
        self.retention, self.lease = store.retention, store.lease

    def claim(self, key: str, lease: float, **options: Any) -> Claim | Held:
        return self.loop.run(self.store.claim(key, lease, **options))

    def extend(self, claim: Claim, lease: float) -> Claim | None:
        return self.loop.run(self.store.extend(claim, lease))

    def complete(self, claim: Claim) -> None:
        self.loop.run(self.store.complete(claim))

    def release(self, claim: Claim) -> None:
        self.loop.run(self.store.release(claim))


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda check: check.__name__)
def test_async_redis_store_contract(
    redis_service: RedisServer, loop_thread: LoopThread, check: Callable[..., None]
) -> None:
    made: list[AsyncRedisStore] = []

    def make(retention: float = 3600, lease: float = 30) -> SyncView:
        made.append(AsyncRedisStore.from_url(redis_service.url, retention=retention, lease=lease))
        return SyncView(made[-1], loop_thread)

    try:
        check(make)
    finally:
        for store in made:
            loop_thread.run(store.client.aclose())


def delivery(message_id: str) -> VerifiedMessage:
    body = json.dumps({"order": message_id}).encode()
    headers = signed_headers(body, key=KEY, url=URL, region="US_EAST_1", message_id=message_id)
    message = RECEIVER.verify_request(headers, body)
    assert isinstance(message, VerifiedMessage)
    return message


def no_thread(_: Callable[[], Any]) -> Any:
    raise AssertionError("an async store was called through a thread")


RESPONDER: Responder[Any] = Responder(lambda answer: answer, lambda result: 200)


def test_an_async_store_is_awaited_on_the_loop_and_renewed_by_a_task(
    redis_service: RedisServer,
) -> None:
    """A 3 s handler with a 1.5 s lease on the event loop: no thread is used (offload raises),
    copies arriving meanwhile are told 409, and it runs once."""
    store = AsyncRedisStore.from_url(redis_service.url, lease=1.5)
    endpoint = Endpoint(Options(receiver=RECEIVER, dedupe=store), RECEIVER)
    runs: Counter[str] = Counter()
    message_id = f"msg_{uuid.uuid4().hex[:12]}"

    async def handler() -> str:
        runs[message_id] += 1
        await asyncio.sleep(3)
        return "handled"

    async def scenario() -> list[Any]:
        first = asyncio.ensure_future(
            endpoint.run_async(delivery(message_id), handler, RESPONDER, offload=no_thread)
        )
        copies = []
        for _ in range(3):
            await asyncio.sleep(0.9)
            copies.append(
                await endpoint.run_async(
                    delivery(message_id), handler, RESPONDER, offload=no_thread
                )
            )
        copies.append(await first)
        copies.append(
            await endpoint.run_async(delivery(message_id), handler, RESPONDER, offload=no_thread)
        )
        await store.client.aclose()
        return copies

    answers = asyncio.run(scenario())
    assert [getattr(a, "status", a) for a in answers] == [409, 409, 409, "handled", 200]
    assert all(a.reason == "in_progress" for a in answers[:3])
    assert answers[-1].reason == "duplicate"
    assert runs == {message_id: 1}


def test_an_async_store_on_a_sync_view_is_a_retryable_500(redis_service: RedisServer) -> None:
    store = AsyncRedisStore.from_url(redis_service.url)
    endpoint = Endpoint(Options(receiver=RECEIVER, dedupe=store), RECEIVER)
    answer = endpoint.run(delivery("msg_sync_view"), lambda: "ran", RESPONDER)
    assert (answer.status, answer.reason) == (500, "configuration_error")


BIN = Path(sys.executable).parent


def uvicorn(port: int) -> list[str]:
    return [
        *(
            str(BIN / "uvicorn"),
            "guard_fastapi:app",
            "--app-dir",
            str(ROOT / "tests" / "guard_apps"),
        ),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
    ]


def test_a_sync_route_keeps_answering_while_guarded_deliveries_wait_on_a_stalled_redis(
    tmp_path: Path,
) -> None:
    """FastAPI with AsyncRedisStore, Redis stalled 2 s, 45 guarded deliveries in flight: the
    app's plain sync route answers throughout (p99 well under a second), and every delivery
    is answered (handled, or 503 past the bound) without filling Starlette's thread pool."""
    from stores import redis_server

    with redis_server(tmp_path) as store, ExitStack() as stack:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT / "tests" / "guard_apps"),
            "REDIS_URL": store.url,
            "GUARD_LEASE": "30",
            **DEMO_ENV,
        }
        with serving("uvicorn", uvicorn, env=env, cwd=ROOT, ready_path="/plain") as app:
            http = stack.enter_context(httpx.Client(timeout=30))
            http.get(f"{app.url}/plain")

            def guarded(n: int) -> int:
                body = json.dumps({"do": "ok", "n": n}).encode()
                headers = signed_headers(
                    body, key=KEY, url=URL, region="US_EAST_1", message_id=f"msg_flight_{n}"
                )
                return httpx.post(
                    f"{app.url}/qstash", content=body, headers=headers, timeout=30
                ).status_code

            latencies: list[float] = []
            with stalled(store), ThreadPoolExecutor(45) as pool:
                flights = [pool.submit(guarded, n) for n in range(45)]
                ends = time.monotonic() + 2
                time.sleep(0.2)  # the deliveries are waiting on Redis now
                while time.monotonic() < ends:
                    started = time.monotonic()
                    assert http.get(f"{app.url}/plain").text == '"ok"'
                    latencies.append(time.monotonic() - started)
            statuses = Counter(flight.result() for flight in flights)
    assert set(statuses) <= {200, 503}, statuses
    assert len(latencies) >= 10
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(f"plain route: {len(latencies)} answers, p99 {p99 * 1000:.1f} ms; guarded: {statuses}")
    assert p99 < 0.25, (p99, max(latencies))


FLASK_ASYNC = """
import sys
from flask import Flask
from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters import flask as adapter
from qstash_receiver.dedupe import AsyncRedisStore
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

receiver = Receiver(config=load_config(DEMO_ENV))
app = Flask(__name__)

@app.post("/q")
@adapter.verify_qstash(receiver=receiver, dedupe=AsyncRedisStore.from_url(sys.argv[1]))
async def view():
    return "handled"

client = app.test_client()
for n in (1, 2, 3, 1):
    body = b"{}"
    headers = signed_headers(body, key=DEMO_KEYS["US_EAST_1"][0], url="http://x/q",
                             region="US_EAST_1", message_id=f"msg_{n}")
    print(client.post("/q", data=body, headers=headers).text)
"""


def test_flask_async_views_use_an_async_store_from_their_own_event_loops(
    redis_client: Any, redis_service: RedisServer
) -> None:
    """Flask runs each async view in an event loop of its own; the store's client connections
    belong to the first, so the others get a connection for the call."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", FLASK_ASYNC, redis_service.url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split("\n")[:4] == ["handled", "handled", "handled", "200 OK: duplicate"]
