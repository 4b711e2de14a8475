"""``CacheStore``: the duplicate-delivery guard in one of Django's caches (``CACHES``)."""

from __future__ import annotations

from django.core.cache import BaseCache, caches

from qstash_receiver.dedupe import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_TIMEOUT,
    KeyValueStore,
)

__all__ = ["CacheStore"]


class CacheStore(KeyValueStore):
    """A guard store in a Django cache, through ``cache.add`` (atomic add-if-absent).


    ```python
    @verify_qstash(dedupe=CacheStore("default"))
    def hook(request): ...
    ```

    Pick a cache every worker shares and whose ``add`` is atomic: Redis
    (``django.core.cache.backends.redis.RedisCache``), Memcached or the database cache.
    ``LocMemCache`` is per process (like [`MemoryStore`][qstash_receiver.dedupe.MemoryStore]); the
    file-based cache's ``add`` is not atomic across processes (``manage.py check`` warns,
    ``qstash_receiver.W006``). The cache is looked up per call (``caches[alias]`` is per
    thread), so the store can be built at import time. Calls to a network cache (Redis,
    Memcached) run on a helper thread the request waits on for at most ``timeout``; the
    database cache is called on the request's thread (its connection belongs to it).

    Args:
        cache: a ``CACHES`` alias, or a cache instance.
        retention: seconds a done message is remembered (default 21 days).
        lease: seconds a claim outlives a dead worker (default 30; renewed while the view
            runs).
        prefix: prepended to every key.
        timeout: the longest one cache call may hold a request (default 3 s).

    Raises:
        ValueError, TypeError: ``retention``, ``lease`` or ``timeout`` not a finite number > 0.
    """

    def __init__(
        self,
        cache: str | BaseCache = "default",
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "qstash:dedupe:",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(retention=retention, lease=lease, prefix=prefix, timeout=timeout)
        self._cache = cache

    @property
    def self_bounded(self) -> bool:  # type: ignore[override]
        """Whether calls stay on the request's thread: the in-process and database caches."""
        backend = type(self.cache).__module__
        return backend.endswith((".locmem", ".db", ".dummy"))

    @property
    def alias(self) -> str:
        """The ``CACHES`` alias, or the cache's class name for an instance."""
        return self._cache if isinstance(self._cache, str) else type(self._cache).__name__

    @property
    def cache(self) -> BaseCache:
        """The cache (resolved from its alias for the calling thread)."""
        return caches[self._cache] if isinstance(self._cache, str) else self._cache

    def _add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self.cache.add(key, value, timeout=ttl))

    def _get(self, key: str) -> str | bytes | None:
        value = self.cache.get(key)
        return value if isinstance(value, (str, bytes)) else None

    def _set(self, key: str, value: str, ttl: int) -> None:
        self.cache.set(key, value, timeout=ttl)

    def _delete(self, key: str) -> None:
        self.cache.delete(key)
