"""What the guard-test servers share: the store from the environment, and the handler.

``REDIS_URL`` names the shared Redis and ``GUARD_LEASE`` the claim's lease in seconds. The
handler prints ``ran <message id>`` for every run (the tests count these lines in the servers'
output, across processes), acting on the body's ``do``: ``ok``; ``flaky`` answers 500 on the
first attempt (``Upstash-Retried: 0``); ``hang_first`` prints ``started <id> <pid>`` and
sleeps on the first attempt, so that a test can kill the worker mid-handler.
"""

from __future__ import annotations

import json
import os
import time

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from qstash_receiver import VerifiedMessage
from qstash_receiver.dedupe import RedisStore

LEASE = float(os.environ.get("GUARD_LEASE", "3"))


def redis_store() -> RedisStore:
    # Short timeouts and one quick retry: an unreachable Redis is answered 503 at once.
    client = redis.Redis.from_url(
        os.environ["REDIS_URL"],
        socket_timeout=2,
        socket_connect_timeout=1,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
    )
    return RedisStore(client, lease=LEASE)


def handle(message: VerifiedMessage) -> tuple[int, str]:
    """Status and text to answer, after printing ``ran <id>``."""
    action = json.loads(message.body)["do"]
    if action == "hang_first" and message.retried == 0:
        print(f"started {message.message_id} {os.getpid()}", flush=True)
        time.sleep(60)  # killed long before
    print(f"ran {message.message_id}", flush=True)
    if action == "flaky" and message.retried == 0:
        return 500, "failed once"
    return 200, "handled"
