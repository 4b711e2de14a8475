"""The duplicate guard's part of the lifecycle: claim a message, keep the claim alive while the
handler runs, then complete or release it.

[`claim()`][qstash_receiver.guard.claim] (or [`claim_async()`][qstash_receiver.guard.claim_async]
from a coroutine) runs before the handler; the [`Delivery`][qstash_receiver.guard.Delivery] it
returns renews its claim every third of the lease while the handler runs (the heartbeat,
`qstash_receiver.heartbeat`), and is finished with the status of the handler's answer (complete on
2xx, release otherwise) or released when the handler raised. Every store call is bounded in time
(`qstash_receiver.store_calls`); a claim call that failed is undone in the background once the store
answers again. The stores themselves are [`qstash_receiver.dedupe`][qstash_receiver.dedupe].
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .answers import DUPLICATE, Answer, answer_for, is_success
from .claims import Binding, Claim, Held, binding, dedupe_key, new_token
from .errors import ConfigError, ReplayedError
from .heartbeat import Beat, beat_async, beat_sync, interval
from .message import VerifiedMessage
from .retry_control import InProgressError, StoreUnavailableError
from .store_calls import bound, call, call_async, is_async, pending, undo

__all__ = ["UNGUARDED", "Delivery", "claim", "claim_async"]

logger = logging.getLogger("qstash_receiver")

#: Runs a blocking store call from a coroutine (the adapter's thread).
Offload = Callable[[Callable[[], Any]], Awaitable[Any]]

_NEAR_DEADLINE = 0.5  # seconds: a renewal this close to the invocation's end is not worth it


def _failed(store: object, what: str, error: BaseException) -> None:
    logger.error("QStash duplicate guard: %s (%s: %s)", what, type(store).__name__,
                 type(error).__name__)  # fmt: skip


class Delivery:
    """One verified delivery's claim in the duplicate guard, between claim and answer.

    [`finish()`][qstash_receiver.guard.Delivery.finish] with the answer's status completes the claim
    (2xx) or releases it; call [`release()`][qstash_receiver.guard.Delivery.release] when the
    handler raised ([`finish_async()`][qstash_receiver.guard.Delivery.finish_async] /
    [`release_async()`][qstash_receiver.guard.Delivery.release_async] from a coroutine). Without a
    guard (no ``dedupe=``, or a delivery without a message id) they do nothing. Store failures here
    are logged, never raised: the handler has run, and its answer stands.
    """

    __slots__ = ("_beat", "_claim", "_deadline", "_lock", "_store")

    def __init__(
        self, store: Any = None, claim: Claim | None = None, deadline: float | None = None
    ) -> None:
        self._store, self._claim, self._deadline = store, claim, deadline
        self._lock = threading.Lock()
        self._beat: Beat | None = None

    @property
    def guarded(self) -> bool:
        """Whether a claim is held (its answer's status then decides complete or release)."""
        return self._claim is not None

    def _next_lease(self) -> float | None:
        lease = float(self._store.lease)
        if self._deadline is not None:
            lease = min(lease, self._deadline - time.monotonic())
        return lease if lease > _NEAR_DEADLINE else None

    def _renewed(self, renewed: Claim | None) -> bool:
        if renewed is None:
            # Kept: a 2xx answer still marks the message done (the handler did succeed).
            logger.warning("QStash duplicate guard: the claim was lost while the handler ran")
            return False
        self._claim = renewed
        return True

    def _start(self) -> None:
        claim = self._claim
        if claim is None:
            return
        every = interval(claim.lease)
        if is_async(self._store):
            self._beat = beat_async(every, self._renew_async)
        else:
            self._beat = beat_sync(every, self._renew)

    def _renew(self) -> bool:
        store = self._store
        with self._lock:
            claim, lease = self._claim, self._next_lease()
            if claim is None or lease is None or (self._beat and self._beat.stopped):
                return False
            try:
                return self._renewed(call(store, lambda: store.extend(claim, lease)))
            except Exception as error:  # noqa: BLE001 (the next beat tries again)
                _failed(store, "claim not renewed, trying again", error)
                return claim.alive()

    async def _renew_async(self) -> bool:
        import asyncio  # here: sync platforms (Lambda) never load it

        claim, lease, store = self._claim, self._next_lease(), self._store
        if claim is None or lease is None:
            return False
        try:
            renewed = await asyncio.wait_for(store.extend(claim, lease), bound(store))
        except Exception as error:  # noqa: BLE001 (the next beat tries again)
            _failed(store, "claim not renewed, trying again", error)
            return claim.alive()
        return self._renewed(renewed)

    def _take(self) -> Claim | None:
        if self._beat is not None:
            self._beat.stop()
        claim, self._claim = self._claim, None
        return claim

    def _end(self, store: Any, claim: Claim, done: bool) -> None:
        with self._lock:  # after a renewal in flight
            if done:
                store.complete(claim)
            else:
                store.release(claim)

    def finish(self, status: int | None) -> None:
        """Complete the claim on a 2xx ``status``, else release it."""
        store, claim = self._store, self._take()
        if claim is None:
            return
        done = is_success(status)
        try:
            call(store, lambda: self._end(store, claim, done))
        except Exception as error:  # noqa: BLE001 (any store failure: the answer stands)
            _failed(store, _LOST[done], error)

    def release(self) -> None:
        """Release the claim so that QStash's retry runs the handler (idempotent)."""
        self.finish(None)

    async def finish_async(self, status: int | None, offload: Offload) -> None:
        """[`finish()`][qstash_receiver.guard.Delivery.finish] from a coroutine: an async store is
        awaited on the loop, a sync one goes to ``offload``."""
        store, claim = self._store, self._take()
        if claim is None:
            return
        done = is_success(status)
        try:
            if is_async(store):
                await _stopped(self._beat)
                end = store.complete if done else store.release
                await call_async(store, lambda: end(claim), offload)
            else:
                await call_async(store, lambda: self._end(store, claim, done), offload)
        except Exception as error:  # noqa: BLE001 (any store failure: the answer stands)
            _failed(store, _LOST[done], error)

    async def release_async(self, offload: Offload) -> None:
        """[`release()`][qstash_receiver.guard.Delivery.release] from a coroutine."""
        await self.finish_async(None, offload)


_LOST = {
    True: "handled, but not marked done",
    False: "claim not released, it expires after its lease",
}


async def _stopped(beat: Beat | None) -> None:
    import asyncio

    task = None if beat is None else beat.task
    if task is not None and not task.done():
        task.cancel()  # a renewal in flight is a compare-and-extend: harmless after the end
        await asyncio.gather(task, return_exceptions=True)


#: The delivery of an endpoint without a guard: finishing and releasing it do nothing.
UNGUARDED = Delivery()


class _Claiming:
    """One delivery's claim in the making: its token, its lease's deadline and its replay
    binding, the calls that write them, and what a failed call leaves to undo."""

    __slots__ = ("bind", "claim", "deadline", "key", "shown", "store")

    def __init__(
        self, store: Any, key: str, message: VerifiedMessage, lease: float | None, tolerance: float
    ) -> None:
        self.store, self.key = store, key
        seconds = store.lease if lease is None else max(1.0, min(lease, store.lease))
        now = time.monotonic()
        self.deadline = None if lease is None else now + lease
        self.claim = Claim(key, new_token(), seconds, now)
        self.bind: Binding | None = binding(message, tolerance, time.time())
        self.shown = message.message_id[:64] if message.message_id else "-"

    def ask(self) -> Any:
        claim = self.claim
        return self.store.claim(claim.key, claim.lease, token=claim.token, bind=self.bind)

    def left_here(self, outcome: object) -> Claim | None:
        if isinstance(outcome, Held) and not (outcome.done or outcome.replayed):
            return pending(self.store, self.key)
        return None

    def failed(self, error: BaseException) -> Answer:
        logger.error(
            "QStash duplicate guard: store unreachable, delivery %r answered 503 (%s: %s)",
            self.shown,
            type(self.store).__name__,
            type(error).__name__,
        )
        undo(self.store, self.claim, getattr(error, "pending", None))
        return answer_for(StoreUnavailableError())

    def outcome(self, outcome: Claim | Held) -> Delivery | Answer:
        if isinstance(outcome, Held):
            if outcome.replayed:
                logger.warning(
                    "QStash delivery %r refused: its signature was used before for another "
                    "message id",
                    self.shown,
                )
                return answer_for(ReplayedError())
            if outcome.done:
                logger.info("QStash delivery %r already handled: answered 200", self.shown)
                return DUPLICATE
            logger.info("QStash delivery %r is in progress elsewhere: answered 409", self.shown)
            return answer_for(InProgressError(outcome.retry_after))
        delivery = Delivery(self.store, outcome, self.deadline)
        delivery._start()
        return delivery


def _claiming(
    store: Any, message: VerifiedMessage, lease: float | None, tolerance: float
) -> _Claiming | Delivery:
    key = dedupe_key(message)
    if key is None:
        logger.warning("QStash delivery without Upstash-Message-Id nor jti: not deduplicated")
        return UNGUARDED
    if not message.message_id:  # QStash always sends one: guarded by its signature alone
        logger.warning("QStash delivery without Upstash-Message-Id: deduplicated by its jti")
    return _Claiming(store, key, message, lease, tolerance)


def claim(
    store: Any,
    message: VerifiedMessage,
    lease: float | None = None,
    clock_tolerance: float = 0.0,
) -> Delivery | Answer:
    """Claim ``message`` in ``store`` before its handler runs.

    Returns the [`Delivery`][qstash_receiver.guard.Delivery] to finish, or the answer to give
    without running the
    handler: [`DUPLICATE`][qstash_receiver.answers.DUPLICATE] (200) for a message already handled,
    409 with ``Retry-After`` while another copy is in progress, 401 ``replayed`` for a
    signature used before under another message id, 503 when the store is unreachable or
    slower than its bound. ``lease`` caps the claim and its renewals (e.g. at a Lambda
    invocation's remaining time); ``clock_tolerance`` lengthens the replay binding as it
    lengthens the signature's life. Without a store, or for a delivery without a message
    id: [`UNGUARDED`][qstash_receiver.guard.UNGUARDED].
    """
    if store is None:
        return UNGUARDED
    if is_async(store):
        logger.error("QStash delivery answered 500: an async store needs an async view")
        return answer_for(ConfigError("an async dedupe store needs an async view"))
    claiming = _claiming(store, message, lease, clock_tolerance)
    if isinstance(claiming, Delivery):
        return claiming
    try:
        outcome = call(store, claiming.ask)
        left = claiming.left_here(outcome)
        if left is not None:  # our own process's failed call left it: undo, then claim again
            call(store, lambda: store.release(left))
            outcome = call(store, claiming.ask)
    except Exception as error:  # noqa: BLE001 (any store failure: retryable, no handler)
        return claiming.failed(error)
    return claiming.outcome(outcome)


async def claim_async(
    store: Any,
    message: VerifiedMessage,
    offload: Offload,
    lease: float | None = None,
    clock_tolerance: float = 0.0,
) -> Delivery | Answer:
    """[`claim()`][qstash_receiver.guard.claim] from a coroutine: an async store is awaited on the
    event loop (no thread), a sync one goes to ``offload``; either within the store's bound."""
    if store is None:
        return UNGUARDED
    claiming = _claiming(store, message, lease, clock_tolerance)
    if isinstance(claiming, Delivery):
        return claiming
    try:
        outcome = await call_async(store, claiming.ask, offload)
        left = claiming.left_here(outcome)
        if left is not None:  # our own process's failed call left it: undo, then claim again
            await call_async(store, lambda: store.release(left), offload)
            outcome = await call_async(store, claiming.ask, offload)
    except Exception as error:  # noqa: BLE001 (any store failure: retryable, no handler)
        return claiming.failed(error)
    return claiming.outcome(outcome)
