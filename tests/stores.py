"""Real stores for the duplicate-guard tests: a Redis server and moto's DynamoDB, on loopback.

``redis-server`` comes from ``make redis`` (Debian's package) or ``$REDIS_SERVER``; moto runs as
its own HTTP server (``moto_server``) installed with the ``dev`` extra. Imported as a top-level
module by tests in this folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
import redis
from qstash_demo.services import free_port, serving
from redis.backoff import NoBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[1]


def redis_binary() -> str:
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not found:
        pytest.fail("no redis-server on PATH: run `make redis` (installs Debian's package)")
    return found


class RedisServer:
    """One ``redis-server`` on a free loopback port; can be stopped and started again.

    With ``persist``, writes go to an append-only file (fsync on every write) in ``folder``,
    so that a restarted server still knows what it held, as a production Redis would.
    """

    def __init__(self, folder: Path, *, persist: bool = False) -> None:
        self.folder, self.persist = folder, persist
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            redis_binary(),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)),
            *("--save", "", "--daemonize", "no", "--protected-mode", "no"),
            *("--appendonly", "yes" if self.persist else "no", "--appendfsync", "always"),
        ]
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        probe = self.client()
        deadline = time.monotonic() + 20
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "redis-server did not start:\n" + (self.folder / "redis.log").read_text()
                    ) from None
                time.sleep(0.05)
        probe.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def client(self, **options: object) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2, **options)


@contextmanager
def redis_server(folder: Path, *, persist: bool = False) -> Iterator[RedisServer]:
    server = RedisServer(folder, persist=persist)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def unreachable_redis() -> redis.Redis:
    """A client of a Redis that is not there (nothing listens on port 1), failing at once
    (redis-py would otherwise retry with backoff for seconds)."""
    return redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


def moto_command(port: int) -> list[str]:
    return [sys.executable, str(ROOT / "tests" / "moto_serial.py"), "127.0.0.1", str(port)]


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in server mode, one request at a time (see moto_serial.py: DynamoDB's conditional
    writes are atomic, moto's threaded server's are not); yields its endpoint URL."""
    with serving(
        "moto_server", moto_command, env=os.environ, cwd=ROOT, ready_path="/moto-api/"
    ) as moto:
        yield moto.url


#: What boto3 needs to talk to moto (no real credentials exist here).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def dynamodb(url: str) -> DynamoDBClient:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def idempotency_table(url: str, name: str) -> str:
    """Create the table Powertools documents for Idempotency (``id`` key, TTL ``expiration``)."""
    client = dynamodb(url)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return name
