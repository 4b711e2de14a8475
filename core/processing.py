"""A verified delivery between its claim and its answer: the guard's claim and the telemetry.

[`Processing`][qstash_receiver.lifecycle.Processing] ends both once, by
[`finish()`][qstash_receiver.lifecycle.Processing.finish] (the handler answered) or
[`fail()`][qstash_receiver.lifecycle.Processing.fail] (it raised);
[`handled()`][qstash_receiver.lifecycle.handled] says which answer a handler's exception gets.
[`Endpoint`][qstash_receiver.lifecycle.Endpoint] builds one per delivery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .answers import Answer, handler_answer
from .guard import Delivery, Offload
from .retry_control import NonRetryableError, RetryLater
from .telemetry import Watch

__all__ = ["Ending", "Processing", "handled"]

#: Ends a delivery by the status its answer started with (``None``: unknown), before the answer's
#: last part is sent: [`Processing.ending()`][qstash_receiver.lifecycle.Processing.ending].
Ending = Callable[[int | None], Awaitable[None]]


def handled(error: BaseException) -> Answer | None:
    """The answer to a handler's exception: 489 for ``NonRetryableError``, 503 for
    ``RetryLater``; ``None`` for any other (it propagates, and the platform answers 500)."""
    if isinstance(error, (NonRetryableError, RetryLater)):
        return handler_answer(error)
    return None


class Processing:
    """A verified delivery from its claim to its answer: the duplicate guard's claim and the
    delivery's telemetry, both ended once, by `finish()` or `fail()`."""

    __slots__ = ("_claim", "_watch")

    def __init__(self, claim: Delivery, watch: Watch) -> None:
        self._claim, self._watch = claim, watch

    @property
    def guarded(self) -> bool:
        """Whether a guard's claim is held (ending it then calls the store: offload it)."""
        return self._claim.guarded

    def activate(self) -> object:
        """Make the delivery's span current while the handler runs; pass the token returned
        to `deactivate()`, in the same context."""
        return self._watch.activate()

    def deactivate(self, token: object) -> None:
        """Undo `activate()`."""
        self._watch.deactivate(token)

    def finish(self, status: int | None) -> None:
        """The handler answered with ``status``: complete the claim (2xx) or release it."""
        try:
            self._claim.finish(status)
        finally:
            self._watch.answered(status)

    def fail(self, error: BaseException | None = None) -> Answer | None:
        """The handler raised ``error`` (``None``: unknown): release the claim; the answer to give
        for it ([`handled()`][qstash_receiver.lifecycle.handled]), ``None`` when it propagates."""
        try:
            self._claim.release()
        finally:
            self._watch.raised(error)
        return handled(error) if error is not None else None

    def release(self) -> None:
        """`fail()` for an unknown error (the guard's ``Delivery`` spelling)."""
        self.fail()

    async def finish_async(self, status: int | None, offload: Offload) -> None:
        """`finish()` from a coroutine (an async store awaited, a sync one offloaded)."""
        try:
            await self._claim.finish_async(status, offload)
        finally:
            self._watch.answered(status)

    def ending(self, offload: Offload) -> Ending:
        """`finish()` as a coroutine function of the status, for an app that sends its answer
        itself (ASGI): awaited before the answer's last part goes out, the claim is completed or
        released before the client (QStash) sees the answer, so a retry sent at once never finds
        it still held. Once ended, the delivery's later endings do nothing."""

        async def end(status: int | None) -> None:
            if not self.guarded:
                self.finish(status)
                return
            import asyncio  # here: sync platforms (Lambda) never load it

            await asyncio.shield(self.finish_async(status, offload))  # cancelled too

        return end

    async def fail_async(self, error: BaseException, offload: Offload) -> Answer | None:
        """`fail()` from a coroutine."""
        try:
            await self._claim.release_async(offload)
        finally:
            self._watch.raised(error)
        return handled(error)
