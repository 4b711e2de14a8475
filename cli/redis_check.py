"""``qstash-receiver doctor --redis-url URL``: what can be seen of the duplicate guard's Redis.

Reachable (and the round trip), persistence (an append-only file keeps claims and done marks
across a restart; snapshots alone lose the last minutes: copies then run twice), and the
eviction policy (``noeviction`` or ``volatile-*`` keep the guard's keys, which all expire;
``allkeys-*`` may evict a done mark under memory pressure). Read with ``PING`` and ``INFO``
(allowed on managed services where ``CONFIG`` is not). The password is never printed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._common import needs_extra

__all__ = ["add_option", "findings", "report"]

_WIDTH = 30


def add_option(parser: argparse.ArgumentParser) -> None:
    """Register ``--redis-url`` on the doctor's parser."""
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="also check the duplicate guard's Redis: reachable, persistence, eviction policy",
    )


def shown(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:****@{parts.hostname or ''}"
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def findings(info: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """Lines (label, value) and warnings for Redis's ``INFO`` (persistence and memory)."""
    lines: list[tuple[str, str]] = []
    warnings: list[str] = []
    aof = str(info.get("aof_enabled", "")) == "1"
    lines.append(("persistence", "append-only file (AOF) on" if aof else "no append-only file"))
    if not aof:
        warnings.append(
            "Redis runs without an append-only file: a restart loses the claims and done "
            "marks written since the last snapshot, and copies of those messages run again. "
            "Set appendonly yes (appendfsync everysec or always)."
        )
    policy = str(info.get("maxmemory_policy", "unknown"))
    lines.append(("maxmemory-policy", policy))
    if policy.startswith("allkeys-"):
        warnings.append(
            f"maxmemory-policy {policy} may evict the guard's done marks under memory "
            "pressure, and copies then run again. Use noeviction or a volatile-* policy "
            "(every guard key has an expiry)."
        )
    return lines, warnings


def report(url: str) -> int:
    """Print what the doctor sees of the Redis at ``url``; 1 when it cannot be reached."""
    with needs_extra("redis", "redis", "doctor --redis-url"):
        import redis
    print(f"Duplicate guard's Redis ({shown(url)})")
    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        started = time.monotonic()
        client.ping()
        took = (time.monotonic() - started) * 1000
        info = {**client.info("persistence"), **client.info("memory")}
        client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        print(f"  {'reachable':<{_WIDTH}} no ({type(error).__name__})")
        print("Result: NOT OK: the guard would answer every delivery 503")
        return 1
    print(f"  {'reachable':<{_WIDTH}} yes (PING {took:.1f} ms)")
    lines, warnings = findings(info)
    for label, value in lines:
        print(f"  {label:<{_WIDTH}} {value}")
    print(f"Redis warnings ({len(warnings)})")
    for text in warnings:
        print(f"  - {text}")
    return 0
