"""Stores for the duplicate-delivery guard: claim a message, mark it done, or release it.

QStash delivers every message at least once: a message can arrive twice, even after it was
handled. With ``dedupe=store`` on an adapter, each delivery first *claims* its message (an
atomic add-if-absent with an expiry, the lease), the handler runs only for the copy that got
the claim, and the claim then becomes *done* (kept for :data:`DEFAULT_RETENTION`) on a 2xx
answer or is *released* on any other answer or an exception, so that QStash's retry runs.

::

    from qstash_receiver.dedupe import MemoryStore, RedisStore

    @verify_qstash(dedupe=RedisStore(redis.Redis.from_url(os.environ["REDIS_URL"])))
    def hook(): ...

The claim/done/release rules live once, in :class:`~qstash_receiver.claims.KeyValueStore`
(:mod:`qstash_receiver.claims`); each store here only maps four primitives (add-if-absent, get,
set, delete, each with an expiry) onto a real client. How the lifecycle uses a claim is
:mod:`qstash_receiver.guard`.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from .claims import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    Claim,
    DedupeStore,
    Held,
    KeyValueStore,
    check_seconds,
    dedupe_key,
)

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
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

    Thread-safe; expired entries are dropped as new claims arrive. Every process has its own,
    so it cannot see a copy delivered to another worker process or host: use
    :class:`RedisStore` (or the Django cache, or DynamoDB on Lambda) for those.

    Args:
        retention: seconds a done message is remembered (default 21 days).
        lease: seconds a claim lasts (default 15 minutes).
        prefix: prepended to every key (default none: the store is this process's own).
        clock: wall-clock seconds; here it also drives the expiry (tests pass a fake one).
    """

    _SWEEP_EVERY: Final = 256

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


class _SetNxClient(Protocol):
    def set(self, name: str, value: str, *args: Any, **kwargs: Any) -> Any: ...
    def get(self, name: str) -> Any: ...
    def delete(self, *names: str) -> Any: ...


def _sync(result: object) -> Any:
    if inspect.isawaitable(result):
        # A coroutine is truthy: taken for a successful add, it would let every copy run.
        if hasattr(result, "close"):
            result.close()
        raise TypeError("RedisStore needs a synchronous client (redis.Redis, not redis.asyncio)")
    return result


class RedisStore(KeyValueStore):
    """A store in Redis (or Valkey, or Upstash Redis), shared by every worker and host.

    Uses only ``set(key, value, nx=True, ex=seconds)``, ``set(key, value, ex=seconds)``,
    ``get(key)`` and ``delete(key)``, so any synchronous client of redis-py's shape works:
    ``redis.Redis``, ``valkey.Valkey``, ``upstash_redis.Redis``. No Lua script is needed.
    Connection errors propagate to the guard, which answers 503 without running the handler.

    Args:
        client: the client (configure its timeouts: a hung store holds the request).
        retention: seconds a done message is remembered (default 21 days).
        lease: seconds a claim lasts (default 15 minutes).
        prefix: prepended to every key.

    Raises:
        TypeError: ``client`` lacks ``set``/``get``/``delete`` (or, on first use, is async).
    """

    def __init__(
        self,
        client: _SetNxClient,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "qstash:dedupe:",
    ) -> None:
        if not all(callable(getattr(client, name, None)) for name in ("set", "get", "delete")):
            raise TypeError("RedisStore needs a client with set(..., nx=True, ex=...), get, delete")
        super().__init__(retention=retention, lease=lease, prefix=prefix)
        self.client = client

    def _add(self, key: str, value: str, ttl: int) -> bool:
        return bool(_sync(self.client.set(key, value, nx=True, ex=ttl)))

    def _get(self, key: str) -> str | bytes | None:
        value = _sync(self.client.get(key))
        return value if isinstance(value, (str, bytes)) else None

    def _set(self, key: str, value: str, ttl: int) -> None:
        _sync(self.client.set(key, value, ex=ttl))

    def _delete(self, key: str) -> None:
        _sync(self.client.delete(key))
