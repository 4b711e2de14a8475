"""The guard's stores against real backends: a Redis server (redis-py and valkey-py clients),
DynamoDB on moto in server mode and Redis through Powertools' own persistence layers."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import Any, cast

import pytest
import redis
import redis.asyncio
import store_contract as contract
import valkey
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from store_fixtures import *  # noqa: F403 (fixtures)
from stores import RedisServer, dynamodb, idempotency_table, unreachable_redis

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.aws_lambda.idempotency import PowertoolsStore
from qstash_receiver.dedupe import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    Claim,
    DedupeStore,
    Held,
    MemoryStore,
    RedisStore,
    dedupe_key,
)

BACKENDS = ["memory", "redis", "valkey", "powertools-dynamodb", "powertools-redis"]


def powertools_redis_layer(client: redis.Redis) -> BasePersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency.persistence.redis import (
        CachePersistenceLayer,
    )

    with warnings.catch_warnings():  # the class itself is marked deprecated in Powertools 3
        warnings.simplefilter("ignore", DeprecationWarning)
        # redis.Redis is the client Powertools documents; its Protocol is narrower than redis-py.
        return CachePersistenceLayer(client=cast(Any, client))


@pytest.fixture(params=BACKENDS)
def make_store(
    request: pytest.FixtureRequest, redis_service: RedisServer, moto_endpoint: str
) -> Iterator[Callable[..., DedupeStore]]:
    kind: str = request.param
    closers: list[Callable[[], None]] = []
    if kind.startswith("powertools-dynamodb"):
        table = idempotency_table(moto_endpoint, f"idem-{uuid.uuid4().hex[:8]}")

    def make(retention: float = DEFAULT_RETENTION, lease: float = DEFAULT_LEASE) -> DedupeStore:
        if kind == "memory":
            return MemoryStore(retention=retention, lease=lease)
        if kind == "redis":
            client = redis_service.client()
            closers.append(client.close)
            return RedisStore(client, retention=retention, lease=lease)
        if kind == "valkey":
            other = valkey.Valkey.from_url(redis_service.url, socket_timeout=2)
            closers.append(other.close)
            return RedisStore(other, retention=retention, lease=lease)
        if kind == "powertools-dynamodb":
            dynamo = DynamoDBPersistenceLayer(
                table_name=table, boto3_client=dynamodb(moto_endpoint)
            )
            return PowertoolsStore(dynamo, retention=retention, lease=lease)
        client = redis_service.client(decode_responses=True)
        closers.append(client.close)
        return PowertoolsStore(powertools_redis_layer(client), retention=retention, lease=lease)

    yield make
    for close in closers:
        close()


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda check: check.__name__)
def test_store_contract(
    make_store: Callable[..., DedupeStore], check: Callable[[Callable[..., DedupeStore]], None]
) -> None:
    check(make_store)


def test_redis_store_writes_plain_keys_with_expiries(redis_client: redis.Redis) -> None:
    store = RedisStore(redis_client, retention=3600, lease=60, prefix="app:")
    claim = store.claim("k1", 60)
    assert isinstance(claim, Claim)
    assert claim.key == "k1"  # the guard's key; the store adds its prefix
    value = redis_client.get("app:k1")
    assert isinstance(value, bytes)
    assert value.startswith(f"claim:{claim.token}:".encode())
    assert 0 < redis_client.ttl("app:k1") <= 60
    store.complete(claim)
    assert redis_client.get("app:k1") == b"done"
    assert 3500 < redis_client.ttl("app:k1") <= 3600


def test_redis_store_unreachable_raises_for_the_guard_to_answer() -> None:
    with pytest.raises(redis.ConnectionError):
        RedisStore(unreachable_redis()).claim("k", 30)


def test_redis_store_refuses_an_async_client(redis_service: RedisServer) -> None:
    # A coroutine is truthy: taken for a successful add it would let every copy run.
    store = RedisStore(redis.asyncio.Redis.from_url(redis_service.url))
    with pytest.raises(TypeError, match="synchronous client"):
        store.claim("k", 30)


def test_redis_store_refuses_a_client_without_the_shape() -> None:
    with pytest.raises(TypeError, match="set"):
        RedisStore(object())


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_store_options_are_checked(bad: float) -> None:
    with pytest.raises(ValueError, match="lease"):
        MemoryStore(lease=bad)
    with pytest.raises(ValueError, match="retention"):
        MemoryStore(retention=bad)


def test_store_option_types_are_checked() -> None:
    with pytest.raises(TypeError, match="lease"):
        MemoryStore(lease="60")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="retention"):
        MemoryStore(retention=True)


def test_memory_store_expiry_and_sweep_follow_its_clock() -> None:
    now = [1000.0]
    store = MemoryStore(retention=100, lease=10, clock=lambda: now[0])
    first = store.claim("a", 10)
    assert isinstance(first, Claim)
    assert store.claim("a", 10) == Held(done=False, retry_after=10.0)
    now[0] += 4
    assert store.claim("a", 10) == Held(done=False, retry_after=6.0)
    now[0] += 7  # past the lease
    second = store.claim("a", 10)
    assert isinstance(second, Claim)
    store.complete(second)
    now[0] += 99
    assert store.claim("a", 10) == Held(done=True)
    now[0] += 2  # past the retention
    assert isinstance(store.claim("a", 10), Claim)
    for n in range(300):  # expired entries are swept as claims arrive
        store.claim(f"k{n}", 1)
    now[0] += 5
    for n in range(300):
        store.claim(f"j{n}", 10)
    assert len(store) < 400


def test_default_retention_outlasts_the_longest_retry_window() -> None:
    # The largest plan's 20 retries, each at most one day after the one before.
    assert DEFAULT_RETENTION > 20 * 24 * 3600
    assert DEFAULT_LEASE <= 60  # how long a dead worker's claim blocks its message


def test_powertools_store_needs_a_layer_of_its_own(moto_endpoint: str) -> None:
    table = idempotency_table(moto_endpoint, f"idem-{uuid.uuid4().hex[:8]}")
    layer = DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb(moto_endpoint))
    PowertoolsStore(layer)
    with pytest.raises(ValueError, match="of its own"):
        PowertoolsStore(layer)


def test_powertools_records_are_powertools_shaped(moto_endpoint: str) -> None:
    table = idempotency_table(moto_endpoint, f"idem-{uuid.uuid4().hex[:8]}")
    client = dynamodb(moto_endpoint)
    store = PowertoolsStore(DynamoDBPersistenceLayer(table_name=table, boto3_client=client))
    claim = store.claim("k", 60)
    assert isinstance(claim, Claim)
    (item,) = client.scan(TableName=table)["Items"]
    assert item["id"]["S"].startswith("qstash#")
    assert item["status"]["S"] == "INPROGRESS"
    assert "in_progress_expiration" in item
    store.complete(claim)
    (item,) = client.scan(TableName=table)["Items"]
    assert item["status"]["S"] == "COMPLETED"


def message(
    message_id: str | None, body_hash: str = "abc", sub: str = "https://x/"
) -> VerifiedMessage:
    claims = MappingProxyType({"sub": sub, "body": body_hash})
    return VerifiedMessage(b"", claims, "explicit", None, "current", message_id=message_id)


def test_dedupe_key_binds_the_id_to_the_signed_url_and_body() -> None:
    assert dedupe_key(message(None)) is None
    assert dedupe_key(message("")) is None
    key = dedupe_key(message("msg_1"))
    assert key is not None
    assert len(key) == 64
    assert key == dedupe_key(message("msg_1"))
    # A forged id on another body or URL cannot mark msg_1 done.
    assert key != dedupe_key(message("msg_1", body_hash="other"))
    assert key != dedupe_key(message("msg_1", sub="https://y/"))
    assert key != dedupe_key(message("msg_2"))
    assert dedupe_key(message("\udcff odd\n id")) is not None  # any header text hashes


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "60"])
def test_powertools_store_options_are_checked_as_every_store_checks_them(bad: Any) -> None:
    # An unconnected client: the checks run before anything reaches a server.
    def layer() -> BasePersistenceLayer:
        return powertools_redis_layer(redis.Redis(port=1))

    error = TypeError if isinstance(bad, (bool, str)) else ValueError
    with pytest.raises(error, match="lease"):
        PowertoolsStore(layer(), lease=bad)
    with pytest.raises(error, match="retention"):
        PowertoolsStore(layer(), retention=bad)
