"""The guard under the faults an outside run found (issue 18), in-process against a real Redis:
a reply lost after the claim ran, a claim that lands after its call failed (a stall), a
handler outliving its lease, and a long stall (each call bounded). Two Flask apps with stores
of their own stand for two workers sharing one Redis; the deliveries go through the public
adapter only, so these tests run unchanged against the guard before issue 18 (which failed
each of them)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import redis
from faults import ReplyLoser, stalled
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from store_fixtures import *  # noqa: F403 (fixtures)
from stores import RedisServer

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.dedupe import DedupeStore, RedisStore
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

KEY = DEMO_KEYS["US_EAST_1"][0]
URL = "https://jobs.example.com/qstash"
RECEIVER = Receiver(config=load_config(DEMO_ENV))


class Worker:
    """One Flask app with a store of its own: its handler sleeps ``work`` seconds, counted."""

    def __init__(self, store: DedupeStore, runs: Counter[str], work: float = 0.0) -> None:
        app = Flask(__name__)

        @app.post("/qstash")
        @flask_adapter.verify_qstash(receiver=RECEIVER, dedupe=store)
        def hook() -> str:
            message = flask_adapter.current_message()
            runs[message.message_id or "-"] += 1
            time.sleep(work)
            return "handled"

        self.app = app

    def deliver(self, message_id: str, retried: int = 0) -> tuple[int, str, dict[str, str]]:
        body = json.dumps({"order": message_id}).encode()
        headers = signed_headers(
            body, key=KEY, url=URL, region="US_EAST_1", message_id=message_id, retried=retried
        )
        got = self.app.test_client().post("/qstash", data=body, headers=headers)
        return got.status_code, got.text, {k.lower(): v for k, v in got.headers}


def client(port: int, timeout: float = 0.5, retries: int = 0) -> redis.Redis:
    return redis.Redis(
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), retries),
    )


@pytest.fixture
def server(redis_service: RedisServer) -> RedisServer:
    probe = redis_service.client()
    probe.flushdb()
    probe.close()
    return redis_service


def unique() -> str:
    return f"msg_{uuid.uuid4().hex[:12]}"


def test_a_claim_whose_reply_was_lost_is_this_deliverys_own(server: RedisServer) -> None:
    """The client retries a claim whose reply was lost: the claim had run, and the retry finds
    it. Before: "in progress elsewhere" (409, Retry-After ~ the whole lease), nothing ran."""
    proxy = ReplyLoser(server.port)
    try:
        lossy = client(proxy.port, timeout=1, retries=1)
        lossy.ping()  # the connection and its handshake first: the next reply is the claim's
        runs: Counter[str] = Counter()
        worker, message_id = Worker(RedisStore(lossy), runs), unique()
        proxy.lose_next()
        status, text, _ = worker.deliver(message_id)
        assert proxy.lost == 1
        assert (status, text) == (200, "handled")
        assert worker.deliver(message_id, retried=1)[1] == "200 OK: duplicate"
        assert runs == {message_id: 1}
    finally:
        proxy.close()


def test_a_claim_that_landed_after_a_503_is_undone_and_the_next_copy_runs(
    server: RedisServer,
) -> None:
    """A claim sent into a stalled Redis is answered 503; the stalled server runs it when it
    resumes. Before: it then blocked the message for the whole lease (the next copies got 409).
    Now its worker deletes it (the token is its own) as soon as Redis answers again."""
    runs: Counter[str] = Counter()
    first = Worker(RedisStore(client(server.port)), runs)
    second = Worker(RedisStore(client(server.port)), runs)
    message_id = unique()
    first.deliver("msg_warm")  # connections open before the stall
    with stalled(server):
        started = time.monotonic()
        status, text, _ = first.deliver(message_id)
        assert (status, text) == (503, "503 Service Unavailable: dedupe_unavailable")
        assert time.monotonic() - started < 2
        time.sleep(0.5)
    time.sleep(2.0)  # Redis runs the buffered claim; the worker undoes it
    status, text, headers = second.deliver(message_id, retried=1)
    assert (status, text) == (200, "handled"), headers.get("retry-after")
    assert runs[message_id] == 1


def test_a_handler_outliving_its_lease_keeps_its_claim(server: RedisServer) -> None:
    """A 4 s handler with a 2 s lease: its claim is renewed while it runs, so copies arriving
    meanwhile are told to come back (409, Retry-After within one lease), and it runs once.
    Before: the claim expired at 2 s and the next copy ran the handler a second time."""
    runs: Counter[str] = Counter()
    slow = Worker(RedisStore(client(server.port), lease=2), runs, work=4)
    other = Worker(RedisStore(client(server.port), lease=2), runs)
    message_id, answers = unique(), []
    running = threading.Thread(target=lambda: answers.append(slow.deliver(message_id)))
    started = time.monotonic()
    running.start()
    copies = []
    for at in (1.0, 2.5, 3.5):
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        copies.append(other.deliver(message_id, retried=1))
    running.join(timeout=10)
    assert [a[:2] for a in answers] == [(200, "handled")]
    assert {c[0] for c in copies} == {409}
    assert all(1 <= int(c[2]["retry-after"]) <= 2 for c in copies)
    assert other.deliver(message_id, retried=2)[1] == "200 OK: duplicate"
    assert runs == {message_id: 1}


@pytest.mark.parametrize("built", ["from_url", "default_client"])
def test_a_long_stall_is_answered_503_within_the_bound(server: RedisServer, built: str) -> None:
    """Redis stalled for 30 s: a delivery is answered 503 within the store's bound (3 s),
    with the documented constructor and with a client at redis-py's defaults (no socket
    timeout, ten retries). Before: the request was held until Redis came back."""
    if built == "from_url":
        store: Any = RedisStore.from_url(server.url)
    else:
        store = RedisStore(redis.Redis.from_url(server.url))
    runs: Counter[str] = Counter()
    worker = Worker(store, runs)
    worker.deliver("msg_warm")
    ends = time.monotonic() + 30  # the stall's length, unless the answer ends it early
    with stalled(server):
        started = time.monotonic()
        status, text, _ = worker.deliver(unique())
        took = time.monotonic() - started
        if os.environ.get("QSTASH_GUARD_LONG"):
            time.sleep(max(0.0, ends - time.monotonic()))
    assert (status, text) == (503, "503 Service Unavailable: dedupe_unavailable")
    assert took < 3.5, took
    assert set(runs) == {"msg_warm"}


def test_a_client_that_can_block_longer_than_the_bound_is_named_once(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "qstash_receiver"):
        RedisStore.from_url(server.url)
        assert not caplog.records
        RedisStore(redis.Redis.from_url(server.url))
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    for hint in ("socket_timeout", "RedisStore.from_url", "retry="):
        assert hint in record.getMessage()
