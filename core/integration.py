"""What an adapter needs from the core, in one place (for authors of adapters).

An adapter builds one :class:`Endpoint` when a view or handler is decorated (the options are
validated then, once), and per request hands it the headers and RAW body it pulled out of the
platform's request; the endpoint answers with a :class:`~qstash_receiver.VerifiedMessage` or a
:class:`Rejection`, which the adapter turns into the platform's own response shape.

The handler then runs through :meth:`Endpoint.run` (or :meth:`Endpoint.run_async`): the
duplicate-delivery guard (option ``dedupe=``) claims the message first, a handler raising
``NonRetryableError`` or ``RetryLater`` is answered 489 / 503, and the claim is completed or
released by the status of the handler's answer. The adapter supplies only a :class:`Shape`: how
to answer a :class:`Rejection` and what status the handler's answer has. Integrations that see
the request and the response at different hooks use :meth:`Endpoint.begin` and
:class:`Attempt` instead. :func:`guarded` is the one sync/async view wrapper;
:class:`LazyReceiver` the one lazily built receiver.

Users of the library need none of this: they use the adapters' ``verify_qstash``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypedDict, TypeVar, cast

from .dedupe import Claim, DedupeStore, Held, dedupe_key
from .errors import InProgressError, NonRetryableError, RetryLater, StoreUnavailableError
from .headers import HeaderInput, Headers
from .message import VerifiedMessage
from .request import (
    DEFAULT_MAX_BODY_BYTES,
    ReceiverSource,
    Rejection,
    check_content_length,
    check_request,
    rejection_for,
)
from .verify import Receiver, check_tolerance

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DUPLICATE",
    "Attempt",
    "Endpoint",
    "Headers",
    "LazyReceiver",
    "OptionArgs",
    "Options",
    "ReceiverSource",
    "Rejection",
    "Shape",
    "UrlOption",
    "check_content_length",
    "check_request",
    "guarded",
    "handler_rejection",
    "is_success",
    "missing_extra",
    "rejection_for",
]

logger = logging.getLogger("qstash_receiver")

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: The answer to a copy of a message already handled: 2xx, so QStash stops; the handler does
#: not run.
DUPLICATE = Rejection(200, "duplicate")

#: The expected signed URL: fixed, computed from the platform's request, or ``None``.
UrlOption = str | Callable[[Any], str] | None


class OptionArgs(TypedDict, total=False):
    """The keyword options every adapter's ``verify_qstash`` accepts (see :class:`Options`)."""

    url: UrlOption
    clock_tolerance: float
    max_body_bytes: int
    receiver: Receiver | None
    dedupe: DedupeStore | None


@dataclass(frozen=True, slots=True)
class Options:
    """The options of one verified view or handler, validated when it is decorated.

    Args:
        url: when given, the signed destination URL (``sub``) must equal it; a callable gets
            the platform's request object and returns the URL.
        clock_tolerance: seconds of clock skew accepted on ``exp``, ``nbf`` and ``iat``.
        max_body_bytes: larger bodies (declared or streamed) are refused with 413.
        receiver: the :class:`~qstash_receiver.Receiver` to use; default: the adapter's
            (built from the environment or the framework's settings on first use).
        dedupe: the duplicate-delivery guard's store (:mod:`qstash_receiver.dedupe`); each
            message id then runs the handler once. ``None``: every delivery runs it.

    Raises:
        ValueError: ``clock_tolerance`` out of range (negative, NaN) or ``max_body_bytes``
            not an ``int`` >= 0 (a NaN limit would silently switch the limit off).
        TypeError: ``url``, ``receiver`` or ``dedupe`` of the wrong type.
    """

    url: UrlOption = None
    clock_tolerance: float = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    receiver: Receiver | None = None
    dedupe: DedupeStore | None = None

    def __post_init__(self) -> None:
        check_tolerance(self.clock_tolerance)
        limit = self.max_body_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError("max_body_bytes must be an int >= 0")
        if self.url is not None and not (isinstance(self.url, str) or callable(self.url)):
            raise TypeError("url must be a str, a callable taking the request, or None")
        if self.receiver is not None and not isinstance(self.receiver, Receiver):
            raise TypeError("receiver must be a qstash_receiver.Receiver")
        if self.dedupe is not None and not isinstance(self.dedupe, DedupeStore):
            raise TypeError("dedupe must be a store, e.g. qstash_receiver.dedupe.RedisStore")


class LazyReceiver:
    """A receiver built by ``factory`` on first use, then kept (:meth:`reset` forgets it).

    A failed build (``ConfigError``: an invalid environment) is not kept, so the next
    request tries again and a fixed configuration takes effect without a restart.
    """

    __slots__ = ("_factory", "_lock", "_receiver")

    def __init__(self, factory: Callable[[], Receiver]) -> None:
        self._factory = factory
        self._receiver: Receiver | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Receiver:
        receiver = self._receiver
        if receiver is None:
            with self._lock:
                receiver = self._receiver
                if receiver is None:
                    receiver = self._receiver = self._factory()
        return receiver

    def reset(self) -> None:
        """Forget the receiver: the next request builds a new one (settings changed)."""
        self._receiver = None


def is_success(status: int | None) -> bool:
    """Whether an answer's status is 2xx: the only answers QStash does not retry."""
    return status is not None and 200 <= status < 300


def handler_rejection(error: NonRetryableError | RetryLater) -> Rejection:
    """The answer to a handler that raised ``NonRetryableError`` (489) or ``RetryLater`` (503)."""
    if isinstance(error, NonRetryableError):
        logger.warning("QStash handler refused the message for good (489, no retry): %s", error)
    else:
        logger.info("QStash handler asked for a retry in %d s", error.delay)
    return rejection_for(error)


# Not frozen: the Lambda adapter builds one per request (it answers in the event's own shape),
# and a frozen dataclass pays ~0.7 us for that. The other adapters share a module-level one.
# eq=False: compared and hashed by identity, as a value of functions is.
@dataclass(slots=True, eq=False)
class Shape(Generic[R]):
    """How one platform answers: what an adapter gives :meth:`Endpoint.run`.

    Attributes:
        answer: the platform's response for a :class:`Rejection` (any fixed answer,
            including :data:`DUPLICATE`'s 200).
        status: the HTTP status of the handler's answer, ``None`` when it has none (then it
            counts as a failure: the claim is released and a retry runs the handler).
        normalize: turns the handler's return value into the platform's response before its
            status is read (Flask's ``make_response``); default: kept as it is.
    """

    answer: Callable[[Rejection], R]
    status: Callable[[R], int | None]
    normalize: Callable[[Any], R] | None = None


def _to_thread(call: Callable[[], T]) -> Awaitable[T]:
    import asyncio  # here: importing asyncio costs sync-only platforms (Lambda) ~10 ms

    return asyncio.to_thread(call)


class Attempt:
    """One delivery's pass through the guard, between its claim and the handler's answer.

    :meth:`finish` with the answer's status completes the claim (2xx) or releases it; call
    :meth:`release` when the handler raised. Without a guard (no ``dedupe=``, or a delivery
    without a message id) both do nothing. Store failures here are logged, never raised: the
    handler has run, and its answer stands.
    """

    __slots__ = ("_claim", "_store")

    def __init__(self, store: DedupeStore | None = None, claim: Claim | None = None) -> None:
        self._store, self._claim = store, claim

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


_UNGUARDED = Attempt()


class Endpoint:
    """One decorated view's verification: validated :class:`Options` and its receiver.

    Args:
        options: the view's options.
        default_receiver: used when ``options.receiver`` is ``None``: a receiver, or a
            callable returning one per request (e.g. a :class:`LazyReceiver`).
    """

    __slots__ = ("_dedupe", "_receiver", "_tolerance", "_url", "max_body_bytes", "options")

    def __init__(self, options: Options, default_receiver: ReceiverSource) -> None:
        self.options = options
        self.max_body_bytes = options.max_body_bytes
        self._receiver: ReceiverSource = (
            options.receiver if options.receiver is not None else default_receiver
        )
        self._url, self._tolerance = options.url, options.clock_tolerance
        self._dedupe = options.dedupe

    def declared_too_large(self, content_length: object) -> Rejection | None:
        """A 413 when a declared ``Content-Length`` exceeds the limit (before any read)."""
        return check_content_length(content_length, self.max_body_bytes)

    def check(
        self, headers: HeaderInput, body: object, request: object = None
    ) -> VerifiedMessage | Rejection:
        """Verify one request; ``request`` is what a callable ``url`` option is given."""
        url = self._url
        if url is not None and not isinstance(url, str):
            url = url(request)
        return check_request(
            self._receiver,
            headers,
            body,
            url=url,
            clock_tolerance=self._tolerance,
            max_body_bytes=self.max_body_bytes,
        )

    def begin(self, message: VerifiedMessage, lease: float | None = None) -> Attempt | Rejection:
        """Claim ``message`` in the guard's store before its handler runs.

        Returns the :class:`Attempt` to finish, or the answer to give without running the
        handler: :data:`DUPLICATE` (200) for a message already handled, 409 with
        ``Retry-After`` while another copy is in progress, 503 when the store is unreachable.
        ``lease`` shortens the store's lease (e.g. to a Lambda invocation's remaining time).
        """
        store = self._dedupe
        if store is None:
            return _UNGUARDED
        key = dedupe_key(message)
        if key is None:
            logger.warning("QStash delivery without Upstash-Message-Id: not deduplicated")
            return _UNGUARDED
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
            return rejection_for(StoreUnavailableError())
        if isinstance(outcome, Held):
            if outcome.done:
                logger.info("QStash delivery %r already handled: answered 200", shown)
                return DUPLICATE
            logger.info("QStash delivery %r is in progress elsewhere: answered 409", shown)
            return rejection_for(InProgressError(outcome.retry_after))
        return Attempt(store, outcome)

    def run(
        self,
        message: VerifiedMessage,
        call: Callable[[], Any],
        shape: Shape[R],
        *,
        lease: float | None = None,
    ) -> R:
        """Run the handler (``call``) for a verified ``message``, through the guard.

        The handler's ``NonRetryableError`` / ``RetryLater`` become their answers (489 /
        503); its other exceptions propagate once the claim is released.
        """
        if self._dedupe is None:  # nothing to claim: the handler's answer as it is
            try:
                return cast(R, call())
            except (NonRetryableError, RetryLater) as error:
                return shape.answer(handler_rejection(error))
        attempt = self.begin(message, lease)
        if isinstance(attempt, Rejection):
            return shape.answer(attempt)
        try:
            result = call()
            if shape.normalize is not None:
                result = shape.normalize(result)
        except (NonRetryableError, RetryLater) as error:
            attempt.release()
            return shape.answer(handler_rejection(error))
        except BaseException:
            attempt.release()
            raise
        attempt.finish(shape.status(result))
        return cast(R, result)

    async def run_async(
        self,
        message: VerifiedMessage,
        call: Callable[[], Awaitable[Any]],
        shape: Shape[R],
        *,
        lease: float | None = None,
        offload: Callable[[Callable[[], Any]], Awaitable[Any]] = _to_thread,
    ) -> R:
        """:meth:`run` for a coroutine handler; the store's (blocking) calls go to ``offload``
        (default: a worker thread; Django passes ``sync_to_async``)."""
        if self._dedupe is None:  # nothing to claim: no store calls, no thread hop
            try:
                return cast(R, await call())
            except (NonRetryableError, RetryLater) as error:
                return shape.answer(handler_rejection(error))
        attempt = await offload(functools.partial(self.begin, message, lease))
        if isinstance(attempt, Rejection):
            return shape.answer(attempt)
        try:
            result = await call()
            if shape.normalize is not None:
                result = shape.normalize(result)
        except (NonRetryableError, RetryLater) as error:
            await offload(attempt.release)
            return shape.answer(handler_rejection(error))
        except BaseException:
            import asyncio  # already imported: this is a coroutine

            await asyncio.shield(offload(attempt.release))  # also when the request is cancelled
            raise
        await offload(functools.partial(attempt.finish, shape.status(result)))
        return cast(R, result)


def guarded(
    view: Callable[P, R],
    guard: Callable[P, Any],
    endpoint: Endpoint,
    shape: Shape[Any],
    *,
    is_async: bool | None = None,
    offload: Callable[[Callable[[], Any]], Awaitable[Any]] = _to_thread,
) -> Callable[P, R]:
    """Wrap ``view`` so that ``guard(*args, **kwargs)`` runs first, then the view through
    :meth:`Endpoint.run` (or :meth:`Endpoint.run_async`).

    The guard returns the :class:`~qstash_receiver.VerifiedMessage` to go on with, or the
    answer to give instead (the platform's response). Coroutine views get a coroutine
    wrapper, so frameworks still see an async view; ``is_async`` overrides the detection
    (Django's asgiref markers).
    """
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(view) if is_async is None else is_async:
        run_async = cast(Callable[..., Awaitable[Any]], view)

        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            checked = guard(*args, **kwargs)
            if not isinstance(checked, VerifiedMessage):
                return checked
            call = functools.partial(run_async, *args, **kwargs)
            return await endpoint.run_async(checked, call, shape, offload=offload)

    else:

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            checked = guard(*args, **kwargs)
            if not isinstance(checked, VerifiedMessage):
                return checked
            return endpoint.run(checked, functools.partial(view, *args, **kwargs), shape)

    # A rejection is the platform's response in place of R, which every platform accepts.
    return cast(Callable[P, R], wrapper)


def missing_extra(error: ModuleNotFoundError, extra: str) -> ModuleNotFoundError:
    """The error an adapter raises when its framework is not installed: it names the extra.

    ``raise missing_extra(error, "django") from None`` in place of the bare import error.
    """
    return ModuleNotFoundError(
        f"qstash_receiver needs {error.name!r} here, which is not installed: "
        f'pip install "qstash-receiver[{extra}]"',
        name=error.name,
    )
