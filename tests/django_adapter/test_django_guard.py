"""The duplicate guard and retry control in Django, through Django's own test clients, for
every view kind; and CacheStore over Django's caches (LocMemCache, and RedisCache on a real
redis-server)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import store_contract as contract
from asgiref.sync import async_to_sync
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path
from django.views import View
from store_fixtures import *  # noqa: F403 (fixtures)
from stores import RedisServer, unreachable_redis

from qstash_receiver import NonRetryableError, Receiver, RetryLater, VerifiedMessage, load_config
from qstash_receiver.adapters.django import (
    CacheStore,
    QStashVerifiedMixin,
    get_message,
    verify_qstash,
)
from qstash_receiver.dedupe import DedupeStore, MemoryStore, RedisStore
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

KEY = DEMO_KEYS["EU_CENTRAL_1"][0]
RECEIVER = Receiver(config=load_config(DEMO_ENV))
KINDS = ("sync-function", "async-function", "sync-class", "async-class")
RUNS: Counter[str] = Counter()
STORE: list[DedupeStore] = [MemoryStore()]  # the views' store; tests swap it


class SwappableStore:
    """Lets one set of URL patterns use the store each test puts in ``STORE``."""

    retention, lease = 3600.0, 60.0

    @property
    def self_bounded(self) -> bool:
        return bool(getattr(STORE[0], "self_bounded", False))

    def claim(self, key: str, lease: float, **options: Any) -> Any:
        return STORE[0].claim(key, lease, **options)

    def extend(self, claim: Any, lease: float) -> Any:
        return STORE[0].extend(claim, lease)

    def complete(self, claim: Any) -> None:
        STORE[0].complete(claim)

    def release(self, claim: Any) -> None:
        STORE[0].release(claim)


OPTIONS: dict[str, Any] = {"receiver": RECEIVER, "dedupe": SwappableStore()}


def act(message: VerifiedMessage) -> HttpResponse:
    RUNS[message.message_id or "-"] += 1
    action = json.loads(message.body)["do"]
    if action == "nonretryable":
        raise NonRetryableError("the order is gone")
    if action == "retry_later":
        raise RetryLater(45)
    if action == "crash":
        raise RuntimeError("bug")
    return HttpResponse(
        "failed" if action == "fail" else "handled", status=500 if action == "fail" else 200
    )


@verify_qstash(**OPTIONS)
def sync_function(request: HttpRequest) -> HttpResponse:
    return act(get_message(request))


@verify_qstash(**OPTIONS)
async def async_function(request: HttpRequest) -> HttpResponse:
    return act(get_message(request))


class SyncClass(QStashVerifiedMixin, View):
    qstash_receiver = RECEIVER
    qstash_dedupe = OPTIONS["dedupe"]

    def post(self, request: HttpRequest) -> HttpResponse:
        return act(self.qstash_message)


class AsyncClass(QStashVerifiedMixin, View):
    qstash_receiver = RECEIVER
    qstash_dedupe = OPTIONS["dedupe"]

    async def post(self, request: HttpRequest) -> HttpResponse:
        return act(self.qstash_message)


urlpatterns = [
    path("sync-function", sync_function),
    path("async-function", async_function),
    path("sync-class", SyncClass.as_view()),
    path("async-class", AsyncClass.as_view()),
]


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    RUNS.clear()
    STORE[0] = MemoryStore()
    with override_settings(ROOT_URLCONF=__name__):
        yield


async def async_post(path: str, body: bytes, headers: dict[str, str]) -> Any:
    client = AsyncClient(enforce_csrf_checks=True, raise_request_exception=True)
    return await client.post(path, data=body, content_type="application/json", headers=headers)


def deliver(
    kind: str, action: str, message_id: str = "msg_dj", headers: dict[str, str] | None = None
) -> Any:
    body = json.dumps({"do": action}).encode()
    url = f"http://testserver/{kind}"
    headers = headers or signed_headers(
        body, key=KEY, url=url, region="EU_CENTRAL_1", message_id=message_id
    )
    if kind.startswith("async"):
        return async_to_sync(async_post)(f"/{kind}", body, headers)
    client = Client(enforce_csrf_checks=True, raise_request_exception=True)
    return client.post(f"/{kind}", data=body, content_type="application/json", headers=headers)


kinds = pytest.mark.parametrize("kind", KINDS)


@kinds
def test_a_copy_of_a_handled_message_is_answered_200_without_running(kind: str) -> None:
    assert deliver(kind, "ok").content == b"handled"
    again = deliver(kind, "ok")
    assert (again.status_code, again.content) == (200, b"200 OK: duplicate")
    assert again["Content-Type"] == "text/plain; charset=utf-8"
    assert RUNS == {"msg_dj": 1}


@kinds
def test_non_retryable_error_is_489_with_the_header(kind: str) -> None:
    for _ in range(2):
        answer = deliver(kind, "nonretryable")
        assert answer.status_code == 489
        assert answer["Upstash-NonRetryable-Error"] == "true"
        assert answer.content == b"489 Error: non_retryable: the order is gone"
    assert RUNS == {"msg_dj": 2}  # released each time


@kinds
def test_retry_later_is_503_with_retry_after(kind: str) -> None:
    answer = deliver(kind, "retry_later")
    assert (answer.status_code, answer["Retry-After"]) == (503, "45")
    assert deliver(kind, "ok").content == b"handled"
    assert deliver(kind, "ok").content == b"200 OK: duplicate"
    assert RUNS == {"msg_dj": 2}


@kinds
def test_failures_release_the_claim(kind: str) -> None:
    assert deliver(kind, "fail").status_code == 500
    with pytest.raises(RuntimeError, match="bug"):
        deliver(kind, "crash")
    assert deliver(kind, "ok").content == b"handled"
    assert RUNS == {"msg_dj": 3}


@kinds
def test_an_unreachable_store_is_503_and_the_view_does_not_run(kind: str) -> None:
    STORE[0] = RedisStore(unreachable_redis())
    answer = deliver(kind, "ok")
    assert (answer.status_code, answer.content) == (
        503,
        b"503 Service Unavailable: dedupe_unavailable",
    )
    assert RUNS == {}


@kinds
def test_cache_store_through_a_view(kind: str) -> None:
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        STORE[0] = CacheStore("default")
        assert deliver(kind, "ok").content == b"handled"
        assert deliver(kind, "ok").content == b"200 OK: duplicate"
    assert RUNS == {"msg_dj": 1}


@pytest.fixture(params=["locmem", "redis"])
def make_cache_store(
    request: pytest.FixtureRequest, redis_service: RedisServer
) -> Callable[..., DedupeStore]:
    def make(retention: float = 3600, lease: float = 60) -> DedupeStore:
        if request.param == "locmem":
            cache: Any = LocMemCache("qstash-tests", {})
        else:
            cache = RedisCache(redis_service.url, {})
        return CacheStore(cache, retention=retention, lease=lease)

    return make


@pytest.mark.parametrize(
    "check", [*contract.CHECKS, contract.release_keeps_a_newer_claim], ids=lambda c: c.__name__
)
def test_cache_store_contract(
    make_cache_store: Callable[..., DedupeStore], check: Callable[..., None]
) -> None:
    check(make_cache_store)


@kinds
def test_a_signature_replayed_under_another_message_id_is_refused(kind: str) -> None:
    body = json.dumps({"do": "ok"}).encode()
    headers = signed_headers(
        body, key=KEY, url=f"http://testserver/{kind}", region="EU_CENTRAL_1", message_id="msg_a"
    )
    assert deliver(kind, "ok", headers=headers).content == b"handled"
    replayed = deliver(kind, "ok", headers={**headers, "Upstash-Message-Id": "msg_forged"})
    assert (replayed.status_code, replayed.content) == (401, b"401 Unauthorized: replayed")
    assert deliver(kind, "ok", headers=headers).content == b"200 OK: duplicate"
    assert RUNS == {"msg_a": 1}
