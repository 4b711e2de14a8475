"""Fixtures over :mod:`stores`: one Redis server and one moto per session.

A test module uses them with ``from store_fixtures import *`` (pytest finds fixtures among a
module's names; a star import keeps linters from reading the parameters as redefinitions).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from stores import RedisServer, moto_server, redis_server

__all__ = ["moto_endpoint", "redis_client", "redis_service"]


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_client(redis_service: RedisServer) -> Iterator[redis.Redis]:
    client = redis_service.client()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url
