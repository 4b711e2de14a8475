"""Stores for the duplicate-delivery guard: claim a message, mark it done, or release it.

QStash delivers every message at least once: a message can arrive twice, even after it was handled.
With ``dedupe=store`` on an adapter, each delivery first *claims* its message (an atomic
add-if-absent with an expiry, the lease), the handler runs only for the copy that got the claim, and
the claim then becomes *done* (kept for
[`DEFAULT_RETENTION`][qstash_receiver.dedupe.DEFAULT_RETENTION]) on a 2xx answer or is *released* on
any other answer or an exception, so that QStash's retry runs.


```python
from qstash_receiver.dedupe import MemoryStore, RedisStore

@verify_qstash(dedupe=RedisStore.from_url(os.environ["REDIS_URL"]))
def hook(): ...
```

A claim holds this delivery's own token, so a call retried after a lost reply finds it again;
its lease (default 30 s) is how long it outlives a worker that died, and the guard renews it
while the handler runs. A signature's ``jti`` is bound to the first message id it came with,
so the same signature under another id is refused (401 ``replayed``).

The rules live once, in `KeyValueStore`
(`qstash_receiver.claims`) over four primitives (add-if-absent, get, set, delete, each
with an expiry); the Redis stores run each rule as one Lua script instead
(`qstash_receiver.redis_store`). How the lifecycle uses a claim is
[`qstash_receiver.guard`][qstash_receiver.guard].
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from .claims import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_TIMEOUT,
    AsyncDedupeStore,
    Binding,
    Claim,
    DedupeStore,
    Held,
    KeyValueStore,
    check_seconds,
    dedupe_key,
)
from .redis_store import AsyncRedisStore, RedisStore

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "DEFAULT_TIMEOUT",
    "AsyncDedupeStore",
    "AsyncRedisStore",
    "Binding",
    "Claim",
    "DedupeStore",
    "Held",
    "KeyValueStore",
    "MemoryStore",
    "RedisStore",
    "check_seconds",
    "dedupe_key",
]


class MemoryStore(KeyValueStore):
    """A store in this process's memory: for tests, development and single-process servers.

    Thread-safe; expired entries are dropped as new claims arrive. Every process has its own, so it
    cannot see a copy delivered to another worker process or host: use
    [`RedisStore`][qstash_receiver.dedupe.RedisStore] (or the Django cache, or DynamoDB on Lambda)
    for those.

    Args:
        retention: seconds a done message is remembered (default 21 days).
        lease: seconds a claim outlives a dead worker (default 30).
        prefix: prepended to every key (default none: the store is this process's own).
        clock: wall-clock seconds; here it also drives the expiry (tests pass a fake one).
    """

    _SWEEP_EVERY: Final = 256
    self_bounded = True  # no I/O: called directly

    def __init__(
        self,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(retention=retention, lease=lease, prefix=prefix, clock=clock)
        self._entries: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._adds = 0

    def _live(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    def _add(self, key: str, value: str, ttl: int) -> bool:
        with self._lock:
            self._adds += 1
            if self._adds % self._SWEEP_EVERY == 0:
                now = self._clock()
                for stale in [k for k, (_, end) in self._entries.items() if end <= now]:
                    del self._entries[stale]
            if self._live(key) is not None:
                return False
            self._entries[key] = (value, self._clock() + ttl)
            return True

    def _get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    def _set(self, key: str, value: str, ttl: int) -> None:
        with self._lock:
            self._entries[key] = (value, self._clock() + ttl)

    def _delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        """Entries held (claims and done messages), expired ones included until swept."""
        return len(self._entries)
