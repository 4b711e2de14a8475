"""RedisStore and AsyncRedisStore over Upstash Redis's REST client (``upstash_redis``), through
the local REST server of upstash_rest.py in front of a real redis-server: the same store
contract as every other store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import store_contract as contract
import upstash_redis
import upstash_redis.asyncio
from store_fixtures import *  # noqa: F403 (fixtures)
from stores import RedisServer
from test_guard_async import LoopThread, SyncView
from upstash_rest import TOKEN, upstash_rest

from qstash_receiver.dedupe import AsyncRedisStore, Claim, RedisStore


@pytest.fixture(scope="module")
def rest_url(redis_service: RedisServer) -> Iterator[str]:
    with upstash_rest(redis_service.url) as url:
        yield url


def client(url: str) -> upstash_redis.Redis:
    return upstash_redis.Redis(url, TOKEN, rest_retries=0, allow_telemetry=False)


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda check: check.__name__)
def test_upstash_redis_store_contract(rest_url: str, check: Callable[..., None]) -> None:
    made: list[upstash_redis.Redis] = []

    def make(retention: float = 3600, lease: float = 30) -> RedisStore:
        made.append(client(rest_url))
        return RedisStore(made[-1], retention=retention, lease=lease)

    try:
        check(make)
    finally:
        for each in made:
            each.close()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda check: check.__name__)
def test_async_upstash_redis_store_contract(rest_url: str, check: Callable[..., None]) -> None:
    loop = LoopThread()
    made: list[Any] = []

    def make(retention: float = 3600, lease: float = 30) -> SyncView:
        made.append(
            upstash_redis.asyncio.Redis(rest_url, TOKEN, rest_retries=0, allow_telemetry=False)
        )
        return SyncView(AsyncRedisStore(made[-1], retention=retention, lease=lease), loop)

    try:
        check(make)
    finally:
        for each in made:
            loop.run(each.close())
        loop.close()


def test_the_upstash_store_writes_what_redis_stores_write(
    rest_url: str, redis_service: RedisServer
) -> None:
    raw = redis_service.client()
    store = RedisStore(client(rest_url), retention=60, lease=30, prefix="up:")
    claim = store.claim("k1", 30)
    assert isinstance(claim, Claim)
    value = raw.get("up:k1")
    assert isinstance(value, bytes)
    assert value.startswith(f"claim:{claim.token}:".encode())
    store.complete(claim)
    assert raw.get("up:k1") == b"done"
    assert 50 < raw.ttl("up:k1") <= 60
    raw.close()


def test_a_wrong_token_is_an_error_the_guard_answers_503(rest_url: str) -> None:
    store = RedisStore(
        upstash_redis.Redis(rest_url, "wrong", rest_retries=0, allow_telemetry=False)
    )
    with pytest.raises(Exception, match="Unauthorized"):
        store.claim("k", 30)
