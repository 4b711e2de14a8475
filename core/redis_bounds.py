"""How long one command of a Redis client can block, from its settings; and the settings that
keep it within the guard's bound (what ``RedisStore.from_url`` builds its client with)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["client_options", "part", "worst_case"]


def part(timeout: float) -> float:
    """The socket and connect timeout that fits one call in ``timeout``: a sixth of it
    (redis-py retries the connection inside each command attempt, so with one retry the worst
    case is ``2 * (2 * connect + read)``)."""
    return round(timeout / 6, 3)


def client_options(timeout: float, *, asyncio: bool = False) -> dict[str, Any]:
    """redis-py options whose worst case fits in ``timeout`` seconds: :func:`part` as socket
    and connect timeouts, and one immediate retry (of ``redis.asyncio``'s kind with
    ``asyncio``)."""
    from redis.backoff import NoBackoff

    if asyncio:
        from redis.asyncio.retry import Retry as AsyncRetry

        retry: Any = AsyncRetry(NoBackoff(), 1)
    else:
        from redis.retry import Retry

        retry = Retry(NoBackoff(), 1)
    return {
        "socket_timeout": part(timeout),
        "socket_connect_timeout": part(timeout),
        "retry": retry,
    }


def worst_case(client: object) -> float | None:
    """The longest one command of a redis-py (or valkey-py) ``client`` can take, from its
    connections' settings: ``inf`` without a socket timeout; ``None`` for another kind of
    client."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    make = getattr(pool, "connection_class", None)
    if not isinstance(kwargs, dict) or not callable(make):
        return None
    try:  # a connection as the pool makes them, not connected: its effective settings
        connection = make(**kwargs)
    except Exception:  # noqa: BLE001 (an unknown pool: not ours to judge)
        return None
    read, connect = connection.socket_timeout, connection.socket_connect_timeout
    if not isinstance(read, (int, float)) or not isinstance(connect, (int, float)):
        return math.inf
    retry = getattr(connection, "retry", None)
    retries = getattr(retry, "_retries", 0)
    retries = retries if isinstance(retries, int) and retries >= 0 else 0
    backoff = getattr(retry, "_backoff", None)
    cap = getattr(backoff, "_cap", None)
    waits = 0.0
    for failure in range(1, retries + 1):
        waits += cap if isinstance(cap, (int, float)) else _compute(backoff, failure)
    queued = getattr(pool, "timeout", 0)  # a BlockingConnectionPool waits for a connection
    queued = queued if isinstance(queued, (int, float)) else math.inf
    attempts = retries + 1
    return attempts * (attempts * connect + read) + waits + queued


def _compute(backoff: object, failures: int) -> float:
    compute = getattr(backoff, "compute", None)
    try:
        value = compute(failures) if callable(compute) else 0.0
    except Exception:  # noqa: BLE001 (an unknown backoff: count nothing)
        return 0.0
    return float(value) if isinstance(value, (int, float)) else 0.0
