"""The guard's Redis stores (``qstash_receiver.dedupe.RedisStore``, ``AsyncRedisStore``) over
redis-py, valkey-py or Upstash Redis (``upstash_redis``, over HTTP), sync and asyncio.

Each rule is one Lua script, so one round trip: the claim (with the replay binding of the
signature's ``jti`` and the recognition of this delivery's own token), the renewal
(compare-and-extend) and the release (compare-and-delete). Done is a plain ``SET``. The scripts
touch two keys (the claim and the binding), so a Redis Cluster must not spread them over
slots: use one primary (with replicas), as Upstash Redis and most managed offers do.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from .claims import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_TIMEOUT,
    REPLAYED,
    Binding,
    Claim,
    Held,
    check_seconds,
    claim_value,
    held,
    new_token,
    owned_by,
    text,
)
from .redis_bounds import client_options, part, worst_case

__all__ = ["AsyncRedisStore", "RedisStore"]

logger = logging.getLogger("qstash_receiver")
T = TypeVar("T")
S = TypeVar("S", bound="_Rules")

# KEYS[1] claim, KEYS[2] binding (optional); ARGV: own prefix, value, lease ms, message key,
# binding ms. Replies {"replayed"}, {"claimed"}, {"held", value} or {"again"}.
CLAIM: Final = """
if KEYS[2] then
  local bound = redis.call('GET', KEYS[2])
  if bound and bound ~= ARGV[4] then return {'replayed'} end
  if not bound then redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5]) end
end
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'claimed'} end
local current = redis.call('GET', KEYS[1])
if not current then return {'again'} end
if string.sub(current, 1, string.len(ARGV[1])) == ARGV[1] then return {'claimed'} end
return {'held', current}
"""
# KEYS[1] claim; ARGV: own prefix, new value, lease ms. 1 when extended.
EXTEND: Final = """
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# KEYS[1] claim; ARGV: own prefix. 1 when deleted.
RELEASE: Final = """
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_RETRIES: Final = 3


class _Rules:
    """The Lua rules shared by the sync and the async store (arguments and replies)."""

    self_bounded = False

    def __init__(
        self,
        client: Any,
        *,
        retention: float,
        lease: float,
        prefix: str,
        timeout: float,
    ) -> None:
        if not all(callable(getattr(client, name, None)) for name in ("eval", "set", "get")):
            raise TypeError(f"{type(self).__name__} needs a Redis client (eval, set, get)")
        self.retention = check_seconds(retention, "retention")
        self.lease = check_seconds(lease, "lease")
        self.timeout = check_seconds(timeout, "timeout")
        self.prefix, self.client = prefix, client
        self._upstash = type(client).__module__.startswith("upstash_redis")
        self._clock = time.time

    _ASYNC_CLIENT = False

    @staticmethod
    def _connect(url: str, settings: dict[str, Any]) -> Any:
        raise NotImplementedError

    @classmethod
    def from_url(
        cls: type[S],
        url: str,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "qstash:dedupe:",
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> S:
        """A store over a redis-py client made from ``url`` (``redis.Redis.from_url``, or
        ``redis.asyncio.Redis.from_url`` for the async store) with timeouts and one retry that
        fit ``timeout`` (``client_options``); ``options`` go to redis-py and override them.

        Raises:
            ModuleNotFoundError: redis-py is not installed (``qstash-receiver[redis]``).
        """
        settings = client_options(timeout, asyncio=cls._ASYNC_CLIENT)
        client = cls._connect(url, {**settings, **options})
        return cls(client, retention=retention, lease=lease, prefix=prefix, timeout=timeout)

    def _script(self, script: str, keys: list[str], args: list[str], client: Any = None) -> Any:
        client = client or self.client
        if self._upstash:
            return client.eval(script, keys=keys, args=args)
        return client.eval(script, len(keys), *keys, *args)

    def _claim_call(
        self, key: str, lease: float, token: str, bind: Binding | None, client: Any = None
    ) -> Any:
        keys = [self.prefix + key]
        args = [owned_by(token), claim_value(token, self._clock() + lease), _ms(lease), key]
        if bind is not None:
            keys.append(self.prefix + bind.key)
            args.append(_ms(bind.ttl))
        return self._script(CLAIM, keys, args, client)

    def _claimed(self, reply: object, key: str, lease: float, token: str, taken_at: float) -> Any:
        kind, current = _reply(reply)
        if kind == "claimed":
            return Claim(key, token, lease, taken_at)
        if kind == "replayed":
            return REPLAYED
        if kind == "held":
            return held(current, self.lease, self._clock())
        return None  # gone between the add and the read: claim again

    def _extend_call(self, claim: Claim, lease: float, client: Any = None) -> Any:
        value = claim_value(claim.token, self._clock() + lease)
        args = [owned_by(claim.token), value, _ms(lease)]
        return self._script(EXTEND, [self.prefix + claim.key], args, client)

    def _release_call(self, claim: Claim, client: Any = None) -> Any:
        return self._script(RELEASE, [self.prefix + claim.key], [owned_by(claim.token)], client)

    def _done_call(self, claim: Claim, client: Any = None) -> Any:
        key, seconds = self.prefix + claim.key, math.ceil(self.retention)
        return (client or self.client).set(key, "done", ex=seconds)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(retention={self.retention:g}, lease={self.lease:g})"


def _ms(seconds: float) -> str:
    return str(max(1, math.ceil(seconds * 1000)))


def _reply(reply: object) -> tuple[str | None, object]:
    if not isinstance(reply, (list, tuple)) or not reply:
        return None, None
    return text(reply[0]), reply[1] if len(reply) > 1 else None


def _check_sync(result: object) -> Any:
    if hasattr(result, "__await__"):
        # A coroutine is truthy: taken for a successful claim, it would let every copy run.
        close = getattr(result, "close", None)
        if callable(close):
            close()
        raise TypeError("RedisStore needs a synchronous client: use AsyncRedisStore")
    return result


class RedisStore(_Rules):
    """A store in Redis (or Valkey, or Upstash Redis), shared by every worker and host.

    ``RedisStore.from_url(url)`` builds a redis-py client whose calls fit the bound; a client
    passed in (``redis.Redis``, ``valkey.Valkey``, ``upstash_redis.Redis``) whose settings
    let one call block longer is called from a helper thread the request waits on for at most
    ``timeout`` (and a redis-py client is warned about once, naming the settings to change).
    Each rule is one round trip (a Lua script); connection errors and timeouts reach the
    guard, which answers 503 without running the handler.

    Args:
        client: a synchronous client.
        retention: seconds a done message is remembered (default 21 days).
        lease: seconds a claim outlives a dead worker (default 30; renewed while the handler
            runs).
        prefix: prepended to every key.
        timeout: the longest one store call may hold a request (default 3 s).

    Raises:
        TypeError: ``client`` is not a Redis client (or, on first use, is an async one).
        ValueError: ``retention``, ``lease`` or ``timeout`` not a finite number > 0.
    """

    def __init__(
        self,
        client: Any,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "qstash:dedupe:",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(client, retention=retention, lease=lease, prefix=prefix, timeout=timeout)
        worst = worst_case(client)
        self.self_bounded = worst is not None and worst <= self.timeout
        if worst is not None and not self.self_bounded:
            shown = "unbounded" if math.isinf(worst) else f"up to {worst:.3g} s"
            logger.warning(
                "QStash duplicate guard: this Redis client can block one call %s (its "
                "socket_timeout, socket_connect_timeout and retry settings); each call is "
                "bounded to %g s from a helper thread instead. Build the store with "
                "RedisStore.from_url(url), or give the client socket_timeout=%g, "
                "socket_connect_timeout=%g and retry=Retry(NoBackoff(), 1).",
                shown,
                self.timeout,
                part(self.timeout),
                part(self.timeout),
            )

    @staticmethod
    def _connect(url: str, settings: dict[str, Any]) -> Any:
        import redis

        return redis.Redis.from_url(url, **settings)

    def claim(
        self, key: str, lease: float, *, token: str | None = None, bind: Binding | None = None
    ) -> Claim | Held:
        """One round trip: bind the ``jti``, claim, or read who holds it."""
        token, taken_at = token or new_token(), time.monotonic()
        for _ in range(_RETRIES):
            reply = _check_sync(self._claim_call(key, lease, token, bind))
            outcome = self._claimed(reply, key, lease, token, taken_at)
            if outcome is not None:
                return outcome  # type: ignore[no-any-return]
        return Held(done=False, retry_after=1.0)

    def extend(self, claim: Claim, lease: float) -> Claim | None:
        """Compare-and-extend: only while the key still holds this claim's token."""
        taken_at = time.monotonic()
        extended = _check_sync(self._extend_call(claim, lease))
        return claim.renewed(lease, taken_at) if extended == 1 else None

    def complete(self, claim: Claim) -> None:
        """Mark the message done for the retention."""
        _check_sync(self._done_call(claim))

    def release(self, claim: Claim) -> None:
        """Compare-and-delete: only while the key still holds this claim's token."""
        _check_sync(self._release_call(claim))


class AsyncRedisStore(_Rules):
    """The Redis store for asyncio clients (``redis.asyncio.Redis``,
    ``upstash_redis.asyncio.Redis``), awaited on the event loop by async views (no thread); every
    call is cancelled past ``timeout``. Same arguments as ``RedisStore``.

    Raises:
        TypeError: ``client`` is not a Redis client.
        ValueError: ``retention``, ``lease`` or ``timeout`` not a finite number > 0.
    """

    self_bounded = True  # awaited under asyncio.wait_for: cancelled at the bound

    def __init__(
        self,
        client: Any,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "qstash:dedupe:",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(client, retention=retention, lease=lease, prefix=prefix, timeout=timeout)
        self._home: weakref.ref[Any] | None = None  # the event loop the client's pool serves

    _ASYNC_CLIENT = True

    @staticmethod
    def _connect(url: str, settings: dict[str, Any]) -> Any:
        import redis.asyncio

        return redis.asyncio.Redis.from_url(url, **settings)

    async def _on_loop(self, call: Callable[[Any], Awaitable[T]]) -> T:
        # An asyncio client's connections belong to the loop that opened them. Flask runs each
        # async view in an event loop of its own: there, a redis.asyncio client of one
        # connection (with the same settings) serves the call and is closed after it.
        import asyncio

        loop = asyncio.get_running_loop()
        home = self._home() if self._home is not None else None
        if home is None:
            self._home, home = weakref.ref(loop), loop
        pool = getattr(self.client, "connection_pool", None)
        if loop is home or pool is None:
            return await call(self.client)
        own = type(self.client)(connection_pool=type(pool)(
            connection_class=pool.connection_class, max_connections=1, **pool.connection_kwargs
        ))  # fmt: skip
        try:
            return await call(own)
        finally:
            await own.aclose(close_connection_pool=True)

    async def claim(
        self, key: str, lease: float, *, token: str | None = None, bind: Binding | None = None
    ) -> Claim | Held:
        """See [`RedisStore.claim()`][qstash_receiver.dedupe.RedisStore.claim]."""
        token, taken_at = token or new_token(), time.monotonic()
        for _ in range(_RETRIES):
            reply = await self._on_loop(lambda c: self._claim_call(key, lease, token, bind, c))
            outcome = self._claimed(reply, key, lease, token, taken_at)
            if outcome is not None:
                return outcome  # type: ignore[no-any-return]
        return Held(done=False, retry_after=1.0)

    async def extend(self, claim: Claim, lease: float) -> Claim | None:
        """See [`RedisStore.extend()`][qstash_receiver.dedupe.RedisStore.extend]."""
        taken_at = time.monotonic()
        extended = await self._on_loop(lambda c: self._extend_call(claim, lease, c))
        return claim.renewed(lease, taken_at) if extended == 1 else None

    async def complete(self, claim: Claim) -> None:
        """See [`RedisStore.complete()`][qstash_receiver.dedupe.RedisStore.complete]."""
        await self._on_loop(lambda c: self._done_call(claim, c))

    async def release(self, claim: Claim) -> None:
        """See [`RedisStore.release()`][qstash_receiver.dedupe.RedisStore.release]."""
        await self._on_loop(lambda c: self._release_call(claim, c))
