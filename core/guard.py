"""The duplicate guard's part of the lifecycle: claim a message, then complete or release it.

:func:`claim` runs before the handler; the :class:`Delivery` it returns is finished with the
status of the handler's answer (complete on 2xx, release otherwise) or released when the
handler raised. The stores themselves are :mod:`qstash_receiver.dedupe`.
"""

from __future__ import annotations

import logging

from .answers import DUPLICATE, Answer, answer_for, is_success
from .claims import Claim, DedupeStore, Held, dedupe_key
from .message import VerifiedMessage
from .retry_control import InProgressError, StoreUnavailableError

__all__ = ["UNGUARDED", "Delivery", "claim"]

logger = logging.getLogger("qstash_receiver")


class Delivery:
    """One verified delivery's claim in the duplicate guard, between claim and answer.

    :meth:`finish` with the answer's status completes the claim (2xx) or releases it; call
    :meth:`release` when the handler raised. Without a guard (no ``dedupe=``, or a delivery
    without a message id) both do nothing. Store failures here are logged, never raised: the
    handler has run, and its answer stands.
    """

    __slots__ = ("_claim", "_store")

    def __init__(self, store: DedupeStore | None = None, claim: Claim | None = None) -> None:
        self._store, self._claim = store, claim

    @property
    def guarded(self) -> bool:
        """Whether a claim is held (its answer's status then decides complete or release)."""
        return self._claim is not None

    def finish(self, status: int | None) -> None:
        """Complete the claim on a 2xx ``status``, else release it."""
        store, claim = self._store, self._claim
        if store is None or claim is None:
            return
        if not is_success(status):
            self.release()
            return
        self._claim = None
        try:
            store.complete(claim)
        except Exception as error:  # noqa: BLE001 (any store failure: the answer stands)
            # The message was handled; a copy arriving after the claim's lease would run again.
            logger.error(
                "QStash duplicate guard: handled, but not marked done (%s: %s)",
                type(store).__name__,
                type(error).__name__,
            )

    def release(self) -> None:
        """Release the claim so that QStash's retry runs the handler (idempotent)."""
        store, claim = self._store, self._claim
        if store is None or claim is None:
            return
        self._claim = None
        if not claim.alive():  # it may have expired and been claimed anew: leave it alone
            logger.warning("QStash duplicate guard: the handler outlasted its claim's lease")
            return
        try:
            store.release(claim)
        except Exception as error:  # noqa: BLE001 (any store failure: the claim then expires)
            logger.error(
                "QStash duplicate guard: claim not released, it expires after its lease (%s: %s)",
                type(store).__name__,
                type(error).__name__,
            )


_UNGUARDED = Delivery()


#: The delivery of an endpoint without a guard: finishing and releasing it do nothing.
UNGUARDED = Delivery()


def claim(
    store: DedupeStore | None, message: VerifiedMessage, lease: float | None = None
) -> Delivery | Answer:
    """Claim ``message`` in ``store`` before its handler runs.

    Returns the :class:`Delivery` to finish, or the answer to give without running the
    handler: :data:`~qstash_receiver.answers.DUPLICATE` (200) for a message already handled,
    409 with ``Retry-After`` while another copy is in progress, 503 when the store is
    unreachable. ``lease`` shortens the store's lease (e.g. to a Lambda invocation's
    remaining time). Without a store, or for a delivery without a message id:
    :data:`UNGUARDED`.
    """
    if store is None:
        return UNGUARDED
    key = dedupe_key(message)
    if key is None:
        logger.warning("QStash delivery without Upstash-Message-Id: not deduplicated")
        return UNGUARDED
    seconds = store.lease if lease is None else max(1.0, min(lease, store.lease))
    shown = message.message_id[:64] if message.message_id else "-"
    try:
        outcome = store.claim(key, seconds)
    except Exception as error:  # noqa: BLE001 (any store failure: retryable, no handler)
        logger.error(
            "QStash duplicate guard: store unreachable, delivery %r answered 503 (%s: %s)",
            shown,
            type(store).__name__,
            type(error).__name__,
        )
        return answer_for(StoreUnavailableError())
    if isinstance(outcome, Held):
        if outcome.done:
            logger.info("QStash delivery %r already handled: answered 200", shown)
            return DUPLICATE
        logger.info("QStash delivery %r is in progress elsewhere: answered 409", shown)
        return answer_for(InProgressError(outcome.retry_after))
    return Delivery(store, outcome)
