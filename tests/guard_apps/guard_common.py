"""What the guard-test servers share: the store from the environment, and the handler.

``REDIS_URL`` names the shared Redis and ``GUARD_LEASE`` the claim's lease in seconds. The
handler prints ``ran <message id>`` for every run (the tests count these lines in the servers'
output, across processes), acting on the body's ``do``: ``ok``; ``flaky`` answers 500 on the
first attempt (``Upstash-Retried: 0``); ``hang_first`` prints ``started <id> <pid>`` and
sleeps on the first attempt, so that a test can kill the worker mid-handler; ``slow`` takes
``GUARD_WORK`` seconds (default 4), longer than a short lease.
"""

from __future__ import annotations

import json
import os
import time

from qstash_receiver import VerifiedMessage
from qstash_receiver.dedupe import RedisStore

LEASE = float(os.environ.get("GUARD_LEASE", "3"))
WORK = float(os.environ.get("GUARD_WORK", "4"))


def redis_store() -> RedisStore:
    """The store as the docs build it: ``RedisStore.from_url`` (client settings within the
    3 s bound)."""
    return RedisStore.from_url(os.environ["REDIS_URL"], lease=LEASE)


def say(line: str) -> None:
    """One line to stdout in one write: log lines of other threads cannot split it."""
    os.write(1, f"{line}\n".encode())


def handle(message: VerifiedMessage) -> tuple[int, str]:
    """Status and text to answer, after printing ``ran <id>``."""
    action = json.loads(message.body)["do"]
    if action == "hang_first" and message.retried == 0:
        say(f"started {message.message_id} {os.getpid()}")
        time.sleep(60)  # killed long before
    if action == "slow":
        time.sleep(WORK)
    say(f"ran {message.message_id}")
    if action == "flaky" and message.retried == 0:
        return 500, "failed once"
    return 200, "handled"
