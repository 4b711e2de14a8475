"""The stand-in's engine: a fixed pool of worker threads running timed jobs from one heap.

Delays, backoffs and ``Retry-After`` waits are entries in the heap, not sleeping threads, so
the thread count stays at ``workers`` however many messages are pending.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Scheduler"]

logger = logging.getLogger("qstash_receiver.dev")

Job = Callable[[], None]


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    job: Job = field(compare=False)


class Scheduler:
    """Run jobs on ``workers`` threads, each not before its due time.

    Args:
        workers: the number of threads (at least 1).
        on_exit: called once, by the last worker to end after `stop()` (the owner
            closes what the jobs share there, e.g. an HTTP client still in use).
    """

    def __init__(self, workers: int = 8, *, on_exit: Callable[[], None] | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._workers = workers
        self._on_exit = on_exit
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._changed = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._alive = 0

    @property
    def stopping(self) -> bool:
        """True once `stop()` was called: new jobs are dropped, results discarded."""
        return self._stopping

    def start(self) -> None:
        """Start the worker threads."""
        with self._changed:
            self._alive = self._workers
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"qstash-dev-{number}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def at(self, delay: float, job: Job) -> bool:
        """Run ``job`` on a worker after ``delay`` seconds; False (dropped) once stopping."""
        with self._changed:
            if self._stopping:
                return False
            heapq.heappush(self._heap, _Entry(time.monotonic() + delay, next(self._seq), job))
            self._changed.notify()
        return True

    def stop(self, grace: float = 1.0) -> None:
        """Drop pending jobs and end the workers; wait at most ``grace`` s for running jobs.

        A job still running then (e.g. waiting for a slow destination) ends in the background;
        the last worker to end calls ``on_exit``.
        """
        with self._changed:
            if self._stopping:
                return
            self._stopping = True
            self._heap.clear()
            self._changed.notify_all()
            idle = self._alive == 0
        if idle:
            self._exit()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _next(self) -> Job | None:
        with self._changed:
            while not self._stopping:
                wait: float | None = None
                if self._heap:
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._heap).job
                self._changed.wait(wait)
            return None

    def _work(self) -> None:
        try:
            while (job := self._next()) is not None:
                try:
                    job()
                except Exception:  # one broken job must not take a worker down
                    logger.exception("a stand-in delivery job failed")
        finally:
            with self._changed:
                self._alive -= 1
                last = self._alive == 0 and self._stopping
            if last:
                self._exit()

    def _exit(self) -> None:
        if self._on_exit is not None:
            callback, self._on_exit = self._on_exit, None
            callback()
