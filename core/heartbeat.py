"""The heartbeat: a live handler's claim is renewed while the handler runs.

Sync views share one daemon thread per process, which hands each due renewal to a helper
thread (a stalled store delays no other claim's renewal); a coroutine view's claim gets a task
on its event loop. A renewal says whether to go on (``False``: the handler finished, the claim
was lost, or the invocation's deadline is near).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .store_calls import submit

if TYPE_CHECKING:
    import asyncio

__all__ = ["Beat", "beat_async", "beat_sync", "interval"]

#: A renewal: ``True`` to be called again after the interval.
Renewal = Callable[[], bool]


def interval(lease: float) -> float:
    """How often a claim of ``lease`` seconds is renewed: three times per lease."""
    return max(0.05, lease / 3)


class Beat:
    """One claim's place in the heartbeat; `stop()` ends it (idempotent)."""

    __slots__ = ("renew", "stopped", "task")

    def __init__(self, renew: Renewal | None = None) -> None:
        self.renew, self.stopped = renew, False
        self.task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """No further renewal starts (one in flight finishes)."""
        self.stopped = True


class _Heart:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.due: list[tuple[float, int, float, Beat]] = []
        self.count = itertools.count()
        self.thread: threading.Thread | None = None

    def add(self, every: float, beat: Beat) -> None:
        with self.lock:
            heapq.heappush(self.due, (time.monotonic() + every, next(self.count), every, beat))
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="qstash-guard-beat")
                self.thread.daemon = True
                self.thread.start()
            self.lock.notify()

    def run(self) -> None:
        while True:
            with self.lock:
                while not self.due or self.due[0][0] > time.monotonic():
                    wait = self.due[0][0] - time.monotonic() if self.due else None
                    self.lock.wait(wait)
                _, _, every, beat = heapq.heappop(self.due)
            if not beat.stopped:
                submit(lambda b=beat, e=every: self.renew(b, e))  # type: ignore[misc]

    def renew(self, beat: Beat, every: float) -> None:
        if not beat.stopped and beat.renew is not None and beat.renew():
            self.add(every, beat)


_heart = _Heart()


def _forget_after_fork() -> None:
    global _heart
    _heart = _Heart()


os.register_at_fork(after_in_child=_forget_after_fork)


def beat_sync(every: float, renew: Renewal) -> Beat:
    """Call ``renew`` every ``every`` seconds on the process's heartbeat, until it says stop."""
    beat = Beat(renew)
    _heart.add(every, beat)
    return beat


def beat_async(every: float, renew: Callable[[], Awaitable[bool]]) -> Beat:
    """Await ``renew`` every ``every`` seconds in a task on the running loop, until it says
    stop or the beat is stopped."""
    import asyncio  # running: called from a coroutine

    beat = Beat()

    async def run() -> None:
        while True:
            await asyncio.sleep(every)
            if beat.stopped or not await renew():
                return

    beat.task = asyncio.get_running_loop().create_task(run())
    return beat
