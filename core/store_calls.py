"""Every call the duplicate guard makes to its store, bounded in time, and the undoing of a
claim that may have landed after a call that failed.

A store call holds a request for at most the store's ``timeout`` (default
`DEFAULT_TIMEOUT`), whatever its client's own retry settings: a
store whose client is known to return in time (``self_bounded``) is called directly, any other
from a small pool of helper threads that the request waits on for at most the bound. Async
stores are awaited on the event loop under ``asyncio.wait_for``; a sync store from a coroutine
goes through the adapter's ``offload`` (a thread), waited on for at most the bound.

A claim call that failed (an error, or past the bound) may still have landed: its reply was
lost, or a stalled server runs it when it resumes. The delivery knows its token, so
`undo()` deletes the claim if it is this delivery's own as soon as the store answers again
(a background thread, or a task for an async store): the next copy of the message then runs at
once instead of waiting out the lease.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .claims import DEFAULT_TIMEOUT, Claim

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "StoreTimeoutError", "bound", "call", "call_async", "is_async", "pending", "submit", "undo",
]  # fmt: skip

logger = logging.getLogger("qstash_receiver")

T = TypeVar("T")

_WORKERS: Final = 32
_SETTLE: Final = 0.5  # a command buffered before a stall runs within this once the store is back


class StoreTimeoutError(TimeoutError):
    """A store call did not return within the store's bound (answered 503).

    Attributes:
        pending: the call's future or task when it still runs on a thread (it may land later).
    """

    pending: object = None


def bound(store: object) -> float:
    """The longest one call to ``store`` may take (its ``timeout``, else the default)."""
    value = getattr(store, "timeout", DEFAULT_TIMEOUT)
    return float(value) if isinstance(value, (int, float)) and value > 0 else DEFAULT_TIMEOUT


def is_async(store: object) -> bool:
    """Whether ``store``'s methods are coroutines (an `AsyncDedupeStore`)."""
    return inspect.iscoroutinefunction(getattr(store, "claim", None))


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(_WORKERS, "qstash-guard")
        return _pool


def _forget_after_fork() -> None:  # a forked worker gets no threads: start its own
    global _pool, _pool_lock, _queue_lock, _worker
    _pool, _pool_lock = None, threading.Lock()
    _queue.clear()
    _pending.clear()
    _queue_lock, _worker = threading.Lock(), None


def submit(call: Callable[[], Any]) -> concurrent.futures.Future[Any]:
    """Run ``call`` on a helper thread (the heartbeat's renewals, the undo's attempts)."""
    return _executor().submit(call)


def _unless_late(call: Callable[[], T], deadline: float) -> T:
    if time.monotonic() > deadline:  # queued past its bound: the caller has given up
        raise StoreTimeoutError("store call queued past its bound")
    return call()


def call(store: object, action: Callable[[], T]) -> T:
    """Run a sync store call within the store's bound.

    Raises:
        StoreTimeoutError: no answer within the bound (the call may still run and land).
        Exception: whatever the store raised.
    """
    if getattr(store, "self_bounded", False):
        return action()
    seconds = bound(store)
    future = _executor().submit(_unless_late, action, time.monotonic() + seconds)
    try:
        return future.result(seconds)
    except concurrent.futures.TimeoutError:
        error = StoreTimeoutError(f"no answer from the store within {seconds:g} s")
        error.pending = None if future.cancel() else future
        raise error from None


def _quiet(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a late failure is expected, not "never retrieved"


async def call_async(
    store: object,
    action: Callable[[], Any],
    offload: Callable[[Callable[[], Any]], Awaitable[Any]],
) -> Any:
    """Run a store call from a coroutine within the store's bound: awaited on the loop for an
    async store (``action`` returns the coroutine), else through ``offload``.

    Raises:
        StoreTimeoutError: no answer within the bound.
        Exception: whatever the store raised.
    """
    import asyncio  # here: sync platforms (Lambda) never load it

    seconds = bound(store)
    if is_async(store):
        try:
            return await asyncio.wait_for(action(), seconds)
        except asyncio.TimeoutError:
            raise StoreTimeoutError(f"no answer from the store within {seconds:g} s") from None
    task = asyncio.ensure_future(offload(action))
    task.add_done_callback(_quiet)
    try:  # shielded: the thread cannot be stopped, only no longer waited for
        return await asyncio.wait_for(asyncio.shield(task), seconds)
    except asyncio.TimeoutError:
        error = StoreTimeoutError(f"no answer from the store within {seconds:g} s")
        error.pending = task
        raise error from None


_tasks: set[asyncio.Task[None]] = set()  # strong references to running undo tasks


class _Undo:
    """One claim to undo: tried until two releases answered (the second after a settle, for
    a command a stalled server runs when it resumes) or the claim has expired anyway."""

    __slots__ = ("answered", "claim", "ends", "pending", "store")

    def __init__(self, store: Any, claim: Claim, pending: object) -> None:
        self.store, self.claim, self.pending, self.answered = store, claim, pending, 0
        self.ends = claim.taken_at + claim.lease + bound(store)

    def waiting(self) -> bool:  # the failed call still runs on a thread: it may land later
        done = getattr(self.pending, "done", None)
        return callable(done) and not done()


_queue: list[_Undo] = []
_queue_lock = threading.Lock()
_pending: dict[tuple[int, str], Claim] = {}  # (store, key): a claim this process may have left


def pending(store: object, key: str) -> Claim | None:
    """A claim on ``key`` that this process's failed call may have left in ``store`` and has not
    undone yet (a copy finding the key held can undo it at once)."""
    return _pending.get((id(store), key))


_worker: threading.Thread | None = None
os.register_at_fork(after_in_child=_forget_after_fork)


def undo(store: Any, claim: Claim, pending: object = None) -> None:
    """Delete ``claim`` if it landed after its call failed, once the store answers again.

    In the background: one helper thread for sync stores, a task on the running loop for an
    async one. ``pending`` is the failed call's future when it still runs on a thread.
    """
    entry = _Undo(store, claim, pending)
    _pending[id(store), claim.key] = claim
    if is_async(store):
        import asyncio  # running: the store is called from a coroutine

        task = asyncio.get_running_loop().create_task(_undo_async(entry))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        return
    global _worker
    with _queue_lock:
        _queue.append(entry)
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_undo_sync, name="qstash-guard-undo", daemon=True)
            _worker.start()


def _finished(entry: _Undo) -> bool:
    done = entry.answered >= 2 and not entry.waiting()
    if done:
        logger.info("QStash duplicate guard: a claim left by a failed call was undone")
    elif not (time.monotonic() > entry.ends and not entry.waiting()):  # expired anyway
        return False
    if _pending.get((id(entry.store), entry.claim.key)) is entry.claim:
        del _pending[id(entry.store), entry.claim.key]
    return True


def _undo_sync() -> None:
    global _worker
    while True:
        with _queue_lock:
            entries = list(_queue)
            if not entries:
                _worker = None
                return
        down: set[int] = set()  # stores that failed this round: not asked again until the next
        for entry in entries:
            if id(entry.store) in down:
                continue
            try:
                call(entry.store, lambda e=entry: e.store.release(e.claim))  # type: ignore[misc]
                entry.answered += 1
            except Exception:  # noqa: BLE001 (still down: the next round tries again)
                down.add(id(entry.store))
            if _finished(entry):
                with _queue_lock:
                    _queue.remove(entry)
        time.sleep(_SETTLE)


async def _undo_async(entry: _Undo) -> None:
    import asyncio

    while not _finished(entry):
        try:
            await asyncio.wait_for(entry.store.release(entry.claim), bound(entry.store))
        except Exception:  # noqa: BLE001 (still down: try again)
            entry.answered = 0
        else:
            entry.answered += 1
        if not _finished(entry):
            await asyncio.sleep(_SETTLE)
