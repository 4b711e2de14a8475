"""The duplicate guard's cost per delivery on a loopback Redis, run by ``make bench``.

One delivery's guard = claim (with the replay binding, one Lua script) + done (one ``SET``):
two round trips. Measured per delivery, sync (``RedisStore.from_url``, through
``qstash_receiver.guard``: claim, heartbeat registration, finish) and async
(``AsyncRedisStore.from_url`` on one event loop), against the floor of two ``PING`` round
trips on the same client; the round trips are the commands the client sent (counted on
``execute_command``), the commands Redis ran from ``INFO commandstats`` (a script's own
``GET``/``SET`` included).
Needs ``redis-server`` on PATH (``make redis``); prints, asserts nothing.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "samples" / "demo"))

import redis  # noqa: E402
from qstash_demo.services import free_port  # noqa: E402

from qstash_receiver import VerifiedMessage  # noqa: E402
from qstash_receiver.dedupe import AsyncRedisStore, RedisStore  # noqa: E402
from qstash_receiver.guard import Delivery, claim, claim_async  # noqa: E402

COUNT = 2000


def message(n: int) -> VerifiedMessage:
    claims = MappingProxyType(
        {"sub": "https://x/", "body": "abc", "jti": f"jwt_{n}_{uuid.uuid4().hex}",
         "exp": int(time.time()) + 300}
    )  # fmt: skip
    return VerifiedMessage(b"", claims, "explicit", None, "current", message_id=f"msg_{n}")


def calls(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


def per_delivery(seconds: float) -> float:
    return seconds / COUNT * 1e6


def main() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        print("guard bench: no redis-server on PATH (make redis): skipped")
        return
    port = free_port()
    folder = tempfile.mkdtemp()
    server = subprocess.Popen(  # noqa: S603 (redis-server from PATH)
        [binary, "--port", str(port), "--save", "", "--dir", folder], stdout=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        raw = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                raw.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        store = RedisStore.from_url(url)
        started = time.perf_counter()
        for _ in range(COUNT):
            store.client.ping()
            store.client.ping()
        floor = per_delivery(time.perf_counter() - started)
        before, sent = calls(raw), [0]
        execute = store.client.execute_command

        def counted(*args: Any, **options: Any) -> Any:
            sent[0] += 1
            return execute(*args, **options)

        store.client.execute_command = counted
        started = time.perf_counter()
        for n in range(COUNT):
            delivery = claim(store, message(n))
            assert isinstance(delivery, Delivery)
            delivery.finish(200)
        sync = per_delivery(time.perf_counter() - started)
        ran = (calls(raw) - before) / COUNT
        trips = sent[0] / COUNT

        async def run_async() -> tuple[float, float]:
            astore = AsyncRedisStore.from_url(url)

            async def offload(call: Any) -> Any:
                raise AssertionError("no thread for an async store")

            started = time.perf_counter()
            for _ in range(COUNT):
                await astore.client.ping()
                await astore.client.ping()
            afloor = per_delivery(time.perf_counter() - started)
            started = time.perf_counter()
            for n in range(COUNT, 2 * COUNT):
                delivery = await claim_async(astore, message(n), offload)
                assert isinstance(delivery, Delivery)
                await delivery.finish_async(200, offload)
            took = per_delivery(time.perf_counter() - started)
            await astore.client.aclose()
            return afloor, took

        afloor, atook = asyncio.run(run_async())
        print(f"\nDuplicate guard on a loopback Redis ({COUNT} deliveries, per delivery)")
        print(f"  round trips: {trips:.2f} (claim + replay binding: one script; done: one SET);"
              f" commands Redis ran: {ran:.2f}")  # fmt: skip
        for name, took, base in (("sync  RedisStore", sync, floor),
                                 ("async AsyncRedisStore", atook, afloor)):  # fmt: skip
            print(f"  {name:<22} {took:7.1f} us; 2 PINGs {base:6.1f} us; beyond {took - base:6.1f}")
        raw.close()
        store.client.close()
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
