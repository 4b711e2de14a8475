"""The delivery lifecycle every adapter drives: verify, guard, run, answer.

An adapter builds one :class:`Endpoint` when a view or handler is decorated (the options are
validated then, once). Per request it hands the endpoint the headers and RAW body it pulled out
of the platform's request (:meth:`Endpoint.verify`), then runs the handler through
:meth:`Endpoint.run` or :meth:`Endpoint.run_async`, giving a :class:`Responder`: how its
platform answers an :class:`~qstash_receiver.answers.Answer` and what status a handler's
answer has. Between the two steps the duplicate guard (option ``dedupe=``) claims the message;
a handler raising ``NonRetryableError`` or ``RetryLater`` is answered 489 / 503; the claim is
completed or released by the status of the handler's answer.

Integrations that see the request and the response at different hooks (Flask's blueprint
hooks, FastAPI's dependency) take the same steps one by one: :meth:`Endpoint.claim` before the
handler, then :meth:`Delivery.finish` with the answer's status, or :meth:`Delivery.release` and
:func:`handled` when it raised. :func:`wrap_view` is the one sync/async view wrapper.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, cast

from . import names as N
from .answers import Answer, declared_too_large, handler_answer, refusal
from .errors import PayloadTooLargeError, QStashError
from .guard import UNGUARDED, Delivery, claim, claim_async
from .headers import HeaderInput, Headers
from .message import VerifiedMessage
from .options import Options
from .retry_control import NonRetryableError, RetryLater
from .token import raw_body
from .verify import Receiver

__all__ = [
    "Delivery",
    "Endpoint",
    "Offload",
    "ReceiverFactory",
    "Responder",
    "handled",
    "to_thread",
    "wrap_view",
]

logger = logging.getLogger("qstash_receiver")

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: An adapter's default receiver: one receiver, or a function giving the receiver for the
#: current request (Flask: the current app's). It may raise ``ConfigError`` (answered 500).
ReceiverFactory = Receiver | Callable[[], Receiver]
#: Runs a blocking call of the guard's store from a coroutine (a worker thread by default).
Offload = Callable[[Callable[[], Any]], Awaitable[Any]]


# Not frozen: the Lambda adapter builds one per request (it answers in the event's own shape).
# eq=False: compared and hashed by identity, as a value of functions is.
@dataclass(slots=True, eq=False)
class Responder(Generic[R]):
    """How one platform answers: what an adapter gives :meth:`Endpoint.run`.

    Attributes:
        answer: the platform's response for an :class:`~qstash_receiver.answers.Answer`.
        status: the HTTP status of the handler's answer, ``None`` when it has none (then it
            counts as a failure: the claim is released and a retry runs the handler).
        normalize: turns the handler's return value into the platform's response before its
            status is read (Flask's ``make_response``); default: kept as it is.
    """

    answer: Callable[[Answer], R]
    status: Callable[[R], int | None]
    normalize: Callable[[Any], R] | None = None


def to_thread(call: Callable[[], T]) -> Awaitable[T]:
    """The default :data:`Offload`: ``asyncio.to_thread``."""
    import asyncio  # here: sync-only platforms (Lambda) never pay for importing asyncio

    return asyncio.to_thread(call)


def handled(error: BaseException) -> Answer | None:
    """The answer to a handler's exception: 489 for ``NonRetryableError``, 503 for
    ``RetryLater``; ``None`` for any other (it propagates, and the platform answers 500)."""
    if isinstance(error, (NonRetryableError, RetryLater)):
        return handler_answer(error)
    return None


class Endpoint:
    """One decorated view's lifecycle: its validated :class:`~qstash_receiver.options.Options`
    and its receiver.

    Args:
        options: the view's options.
        default_receiver: used when ``options.receiver`` is ``None``.
    """

    __slots__ = ("_dedupe", "_receiver", "_tolerance", "_url", "max_body_bytes", "options")

    def __init__(self, options: Options, default_receiver: ReceiverFactory) -> None:
        self.options = options
        self.max_body_bytes = options.max_body_bytes
        self._receiver: ReceiverFactory = (
            options.receiver if options.receiver is not None else default_receiver
        )
        self._url, self._tolerance = options.url, options.clock_tolerance
        self._dedupe = options.dedupe

    def too_large(self, content_length: object) -> Answer | None:
        """A 413 when a declared ``Content-Length`` exceeds the limit (check before reading)."""
        return declared_too_large(content_length, self.max_body_bytes)

    def verify(
        self, headers: HeaderInput, body: object, request: object = None
    ) -> VerifiedMessage | Answer:
        """Verify one request; ``request`` is what a callable ``url`` option is given.

        Returns the complete message, or the answer to give (401, 413, 500). Never raises
        for bad input (odd header names or values, a body that is not bytes or text).
        """
        url = self._url
        if url is not None and not isinstance(url, str):
            url = url(request)
        try:
            raw = raw_body(body)
            source = self._receiver
            receiver = source if isinstance(source, Receiver) else source()
            if len(raw) > self.max_body_bytes:
                raise PayloadTooLargeError(self.max_body_bytes)
            return receiver.verify_request(headers, raw, url=url, clock_tolerance=self._tolerance)
        except QStashError as error:
            try:
                message_id = Headers(headers).first(N.MESSAGE_ID_HEADER)
            except TypeError:  # no headers at all
                message_id = None
            return refusal(error, message_id)

    def claim(self, message: VerifiedMessage, lease: float | None = None) -> Delivery | Answer:
        """Claim ``message`` in the guard's store before its handler runs.

        See :func:`qstash_receiver.guard.claim`: the :class:`~qstash_receiver.guard.Delivery`
        to finish, or the answer to give without running the handler (200, 409, 401, 503).
        """
        return claim(self._dedupe, message, lease, self._tolerance)

    async def claim_async(
        self, message: VerifiedMessage, offload: Offload, lease: float | None = None
    ) -> Delivery | Answer:
        """:meth:`claim` from a coroutine (an async store on the loop, a sync one offloaded)."""
        return await claim_async(self._dedupe, message, offload, lease, self._tolerance)

    def run(
        self,
        message: VerifiedMessage,
        call: Callable[[], Any],
        responder: Responder[R],
        *,
        lease: float | None = None,
    ) -> R:
        """Run the handler (``call``) for a verified ``message``, through the guard.

        The handler's ``NonRetryableError`` / ``RetryLater`` become their answers (489 /
        503); its other exceptions propagate once the claim is released.
        """
        delivery = self.claim(message, lease)
        if isinstance(delivery, Answer):
            return responder.answer(delivery)
        guarded = delivery.guarded
        try:
            result = call()
            if guarded and responder.normalize is not None:
                result = responder.normalize(result)
        except BaseException as error:
            delivery.release()
            answer = handled(error)
            if answer is None:
                raise
            return responder.answer(answer)
        if guarded:
            delivery.finish(responder.status(result))
        return cast(R, result)

    async def run_async(
        self,
        message: VerifiedMessage,
        call: Callable[[], Awaitable[Any]],
        responder: Responder[R],
        *,
        lease: float | None = None,
        offload: Offload = to_thread,
    ) -> R:
        """:meth:`run` for a coroutine handler; an async store is awaited on the loop, a sync
        store's calls go to ``offload`` (default: a worker thread; Django passes
        ``sync_to_async``)."""
        guarded = self._dedupe is not None
        delivery = await self.claim_async(message, offload, lease) if guarded else UNGUARDED
        if isinstance(delivery, Answer):
            return responder.answer(delivery)
        guarded = delivery.guarded
        try:
            result = await call()
            if guarded and responder.normalize is not None:
                result = responder.normalize(result)
        except BaseException as error:
            if guarded:
                import asyncio  # already imported: this is a coroutine

                await asyncio.shield(delivery.release_async(offload))  # also when cancelled
            answer = handled(error)
            if answer is None:
                raise
            return responder.answer(answer)
        if guarded:
            await delivery.finish_async(responder.status(result), offload)
        return cast(R, result)


def wrap_view(
    view: Callable[P, R],
    verify: Callable[P, Any],
    endpoint: Endpoint,
    responder: Responder[Any],
    *,
    is_async: bool | None = None,
    offload: Offload = to_thread,
) -> Callable[P, R]:
    """Wrap ``view`` so that ``verify(*args, **kwargs)`` runs first, then the view through
    :meth:`Endpoint.run` (or :meth:`Endpoint.run_async`).

    ``verify`` returns the :class:`~qstash_receiver.VerifiedMessage` to go on with, or the
    platform's response to give instead. Coroutine views get a coroutine wrapper, so
    frameworks still see an async view; ``is_async`` overrides the detection (Django's
    asgiref markers).
    """
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(view) if is_async is None else is_async:
        run_async = cast(Callable[..., Awaitable[Any]], view)

        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            checked = verify(*args, **kwargs)
            if not isinstance(checked, VerifiedMessage):
                return checked
            call = functools.partial(run_async, *args, **kwargs)
            return await endpoint.run_async(checked, call, responder, offload=offload)

    else:

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            checked = verify(*args, **kwargs)
            if not isinstance(checked, VerifiedMessage):
                return checked
            return endpoint.run(checked, functools.partial(view, *args, **kwargs), responder)

    # An answer is the platform's response in place of R, which every platform accepts.
    return cast(Callable[P, R], wrapper)
