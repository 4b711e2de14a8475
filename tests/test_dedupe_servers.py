"""The duplicate guard through real servers sharing real stores.

Flask under gunicorn (gthread: two worker processes of eight threads) and Django under uvicorn
(an async view) share one redis-server; the Lambda handler, with Powertools' DynamoDB layer on
moto in server mode, runs in three local Lambda bridges (one invocation at a time each, like
three Lambda instances). The apps are in guard_apps/; every handler run prints ``ran <id>``,
counted across all the servers' output. Leases are 3 s so that an abandoned claim expires
within a test.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from qstash_demo.services import Service, serving
from store_fixtures import *  # noqa: F403 (fixtures)
from stores import AWS_ENV, ROOT, RedisServer, idempotency_table, redis_server

from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

APPS = ROOT / "tests" / "guard_apps"
BIN = Path(sys.executable).parent
KEY = DEMO_KEYS["US_EAST_1"][0]
LEASE = 3
#: The one URL QStash delivers to; a load balancer spreads deliveries over the servers.
PUBLIC_URL = "https://jobs.example.com/qstash"
BASE_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "PYTHONUNBUFFERED": "1",
    "PYTHONPATH": str(APPS),
    "GUARD_LEASE": str(LEASE),
    **DEMO_ENV,
}


def gunicorn(port: int) -> list[str]:
    return [
        *(str(BIN / "gunicorn"), "guard_flask:app", "--chdir", str(APPS)),
        *("--worker-class", "gthread", "--workers", "2", "--threads", "8"),
        *("-b", f"127.0.0.1:{port}", "--no-control-socket", "--graceful-timeout", "1"),
    ]


def uvicorn(port: int) -> list[str]:
    return [
        *(str(BIN / "uvicorn"), "guard_django:application", "--app-dir", str(APPS)),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
    ]


def bridge(port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "qstash_receiver.cli.lambda_bridge"),
        *("--handler", str(APPS / "guard_lambda.py:handler"), "--port", str(port)),
    ]


@dataclass
class Fleet:
    """Servers that share one store: deliver to any of them, count runs over all."""

    services: Sequence[Service]

    def deliver(self, index: int, action: str, message_id: str, retried: int = 0) -> httpx.Response:
        service = self.services[index % len(self.services)]
        body = f'{{"do": "{action}"}}'.encode()
        headers = signed_headers(
            body,
            key=KEY,
            url=PUBLIC_URL,
            region="US_EAST_1",
            message_id=message_id,
            retried=retried,
        )
        return httpx.post(f"{service.url}/qstash", content=body, headers=headers, timeout=30)

    def runs(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for service in self.services:
            found.update(re.findall(r"^ran (\S+)$", service.output(), re.M))
        return found

    def started(self, message_id: str, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for service in self.services:
                found = re.search(rf"^started {message_id} (\d+)$", service.output(), re.M)
                if found:
                    return int(found.group(1))
            time.sleep(0.05)
        raise AssertionError(f"{message_id} never started")


def start(stack: ExitStack, name: str, command: object, env: dict[str, str]) -> Service:
    service: Service = stack.enter_context(
        serving(name, command, env=env, cwd=ROOT, ready_path="/qstash")  # type: ignore[arg-type]
    )
    return service


@pytest.fixture(scope="module")
def web(redis_service: RedisServer) -> Iterator[Fleet]:
    env = {**BASE_ENV, "REDIS_URL": redis_service.url}
    with ExitStack() as stack:
        yield Fleet(
            [start(stack, "gunicorn", gunicorn, env), start(stack, "uvicorn", uvicorn, env)]
        )


@pytest.fixture(scope="module")
def lambdas(moto_endpoint: str) -> Iterator[Fleet]:
    table = idempotency_table(moto_endpoint, f"qstash-{uuid.uuid4().hex[:8]}")
    env = {**BASE_ENV, **AWS_ENV, "MOTO_URL": moto_endpoint, "IDEMPOTENCY_TABLE": table}
    with ExitStack() as stack:
        yield Fleet([start(stack, f"bridge{n}", bridge, env) for n in range(3)])


FLEETS = ["web", "lambdas"]


@pytest.fixture(params=FLEETS)
def fleet(request: pytest.FixtureRequest) -> Fleet:
    found: Fleet = request.getfixturevalue(request.param)
    return found


def unique(tag: str) -> str:
    return f"msg_{tag}_{uuid.uuid4().hex[:12]}"


def test_fifty_concurrent_copies_run_the_handler_once(fleet: Fleet) -> None:
    message_id, copies = unique("burst"), 50
    gate = threading.Barrier(copies)

    def copy(index: int) -> httpx.Response:
        gate.wait()
        for _ in range(20):
            try:
                return fleet.deliver(index, "ok", message_id)
            except httpx.TransportError:
                # A bridge queues five connections and resets the rest (a failed attempt,
                # which QStash retries); gunicorn and uvicorn queue them all.
                time.sleep(0.1)
        raise AssertionError("no answer after 20 attempts")

    with ThreadPoolExecutor(copies) as pool:
        answers = list(pool.map(copy, range(copies)))
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 409}, statuses  # 2xx, or retryable
    assert all(0 < int(a.headers["retry-after"]) <= LEASE for a in answers if a.status_code == 409)
    assert fleet.runs()[message_id] == 1
    # QStash retries the 409s: each is now a copy of a handled message.
    retried = [fleet.deliver(i, "ok", message_id, retried=1) for i in range(4)]
    assert {(a.status_code, a.text) for a in retried} == {(200, "200 OK: duplicate")}
    assert fleet.runs()[message_id] == 1


def test_a_handler_that_fails_once_runs_on_the_retry_and_then_never(fleet: Fleet) -> None:
    message_id = unique("flaky")
    assert fleet.deliver(0, "flaky", message_id, retried=0).status_code == 500
    assert fleet.deliver(1, "flaky", message_id, retried=1).text == "handled"
    for index in range(2, 5):
        assert fleet.deliver(index, "flaky", message_id, retried=index).text == "200 OK: duplicate"
    assert fleet.runs()[message_id] == 2


def test_a_claim_left_by_a_killed_worker_expires_and_the_message_then_runs(fleet: Fleet) -> None:
    message_id = unique("killed")
    cut: list[BaseException] = []

    def doomed() -> None:
        try:
            fleet.deliver(0, "hang_first", message_id)
        except httpx.HTTPError as error:  # the connection dies with the worker
            cut.append(error)

    first = threading.Thread(target=doomed)
    first.start()
    pid = fleet.started(message_id)
    os.kill(pid, signal.SIGKILL)  # the worker dies mid-handler, its claim still in the store
    first.join(timeout=30)
    assert cut, "the delivery to the killed worker was answered"
    retry = fleet.deliver(1, "hang_first", message_id, retried=1)
    assert retry.status_code == 409
    wait = int(retry.headers["retry-after"])
    assert 0 < wait <= LEASE
    time.sleep(wait + 0.5)  # as QStash does when told Retry-After
    assert fleet.deliver(1, "hang_first", message_id, retried=2).text == "handled"
    assert fleet.deliver(2, "hang_first", message_id, retried=3).text == "200 OK: duplicate"
    assert fleet.runs()[message_id] == 1


def test_redis_stopped_mid_run(tmp_path: Path) -> None:
    """Deliveries while Redis is down are answered 503 and never run the handler; once it is
    back (its append-only file kept what it held) every message is handled exactly once."""
    with redis_server(tmp_path, persist=True) as store, ExitStack() as stack:
        env = {**BASE_ENV, "REDIS_URL": store.url}
        fleet = Fleet(
            [start(stack, "gunicorn", gunicorn, env), start(stack, "uvicorn", uvicorn, env)]
        )
        before = [unique("before") for _ in range(4)]
        during = [unique("during") for _ in range(4)]
        for n, message_id in enumerate(before):
            assert fleet.deliver(n, "ok", message_id).text == "handled"
        store.stop()
        for n, message_id in enumerate(before + during):
            answer = fleet.deliver(n, "ok", message_id, retried=1)
            assert (answer.status_code, answer.text) == (
                503,
                "503 Service Unavailable: dedupe_unavailable",
            )
        assert not any(fleet.runs()[m] for m in during)  # nothing ran unguarded
        store.start()
        for attempt in (2, 3):  # QStash's next retries, to either server
            for n, message_id in enumerate(before + during):
                answer = fleet.deliver(n + attempt, "ok", message_id, retried=attempt)
                assert answer.status_code == 200
        runs = fleet.runs()
        assert {m: runs[m] for m in before + during} == dict.fromkeys(before + during, 1)
