"""The delivery lifecycle every adapter drives: verify, guard, run, answer.

An adapter builds one [`Endpoint`][qstash_receiver.lifecycle.Endpoint] when a view or handler is
decorated (the options are validated then, once). Per request it hands the endpoint the headers and
RAW body it pulled out of the platform's request
([`Endpoint.verify()`][qstash_receiver.lifecycle.Endpoint.verify]), then runs the handler through
[`Endpoint.run()`][qstash_receiver.lifecycle.Endpoint.run] or
[`Endpoint.run_async()`][qstash_receiver.lifecycle.Endpoint.run_async], giving a
[`Responder`][qstash_receiver.lifecycle.Responder]: how its platform answers an
[`Answer`][qstash_receiver.answers.Answer] and what status a handler's answer has. Between the two
steps the duplicate guard (option ``dedupe=``) claims the message; a handler raising
``NonRetryableError`` or ``RetryLater`` is answered 489 / 503; the claim is completed or released by
the status of the handler's answer.

Integrations that see the request and the response at different hooks (Flask's blueprint hooks,
FastAPI's dependency) take the same steps one by one:
[`Endpoint.claim()`][qstash_receiver.lifecycle.Endpoint.claim] before the handler, then
[`Processing.finish()`][qstash_receiver.lifecycle.Processing.finish] with the answer's status, or
[`Processing.fail()`][qstash_receiver.lifecycle.Processing.fail] when it raised.
[`wrap_view()`][qstash_receiver.lifecycle.wrap_view] is the one sync/async view wrapper.

Each delivery is observed once ([`qstash_receiver.telemetry`][qstash_receiver.telemetry]):
[`Endpoint.verify()`][qstash_receiver.lifecycle.Endpoint.verify] and
[`Endpoint.too_large()`][qstash_receiver.lifecycle.Endpoint.too_large] record their refusals,
[`Endpoint.refuse()`][qstash_receiver.lifecycle.Endpoint.refuse] those an adapter gives itself, and
a verified delivery ends with its [`Processing`][qstash_receiver.lifecycle.Processing].
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, cast

from .answers import Answer, declared_too_large, refusal
from .errors import PayloadTooLargeError, QStashError
from .guard import Offload, claim, claim_async
from .headers import HeaderInput
from .message import VerifiedMessage
from .options import Options
from .processing import Ending, Processing, handled
from .telemetry import Observer, Watch, handed_over, refused, taken
from .token import raw_body
from .verify import Receiver

__all__ = [
    "Ending",
    "Endpoint",
    "Offload",
    "Processing",
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


# Not frozen: the Lambda adapter builds one per request (it answers in the event's own shape).
# eq=False: compared and hashed by identity, as a value of functions is.
@dataclass(slots=True, eq=False)
class Responder(Generic[R]):
    """How one platform answers: what an adapter gives
    [`Endpoint.run()`][qstash_receiver.lifecycle.Endpoint.run].

    Attributes:
        answer: the platform's response for an [`Answer`][qstash_receiver.answers.Answer].
        status: the HTTP status of the handler's answer, ``None`` when it has none (then it
            counts as a failure: the claim is released and a retry runs the handler).
        normalize: turns the handler's return value into the platform's response before its
            status is read (Flask's ``make_response``); default: kept as it is.
    """

    answer: Callable[[Answer], R]
    status: Callable[[R], int | None]
    normalize: Callable[[Any], R] | None = None


def to_thread(call: Callable[[], T]) -> Awaitable[T]:
    """The default [`Offload`][qstash_receiver.lifecycle.Offload]: ``asyncio.to_thread``."""
    import asyncio  # here: importing asyncio costs sync-only platforms (Lambda) ~10 ms

    return asyncio.to_thread(call)


class Endpoint:
    """One decorated view's lifecycle: its validated [`Options`][qstash_receiver.options.Options]
    and its receiver.

    Args:
        options: the view's options.
        default_receiver: used when ``options.receiver`` is ``None``.
        observer: another observer of its deliveries (Powertools' metrics and tracer).
    """

    __slots__ = (
        "_dedupe", "_observer", "_receiver", "_tolerance", "_url", "max_body_bytes", "options",
    )  # fmt: skip

    def __init__(
        self,
        options: Options,
        default_receiver: ReceiverFactory,
        *,
        observer: Observer | None = None,
    ) -> None:
        self.options = options
        self.max_body_bytes = options.max_body_bytes
        self._receiver: ReceiverFactory = (
            options.receiver if options.receiver is not None else default_receiver
        )
        self._url, self._tolerance = options.url, options.clock_tolerance
        self._dedupe = options.dedupe
        self._observer = observer

    def too_large(
        self, content_length: object, headers: HeaderInput | None = None
    ) -> Answer | None:
        """A 413 when a declared ``Content-Length`` exceeds the limit (check before reading),
        recorded with ``headers`` (see [`refuse()`][qstash_receiver.lifecycle.Endpoint.refuse])."""
        answer = declared_too_large(content_length, self.max_body_bytes)
        return None if answer is None else refused(answer, headers, self._observer)

    def refuse(self, answer: Answer, source: HeaderInput | VerifiedMessage | None = None) -> Answer:
        """Record a delivery the adapter answers itself (a body over the limit while it
        streams, a malformed request); ``source``: its headers or message. Returns ``answer``."""
        return refused(answer, source, self._observer)

    def verify(
        self, headers: HeaderInput, body: object, request: object = None
    ) -> VerifiedMessage | Answer:
        """Verify one request; ``request`` is what a callable ``url`` option is given.

        Returns the complete message, or the answer to give (401, 413, 500), recorded. Never
        raises for bad input (odd header names or values, a body that is not bytes or text).
        """
        started = time.perf_counter_ns()
        url = self._url
        if url is not None and not isinstance(url, str):
            url = url(request)
        try:
            raw = raw_body(body)
            source = self._receiver
            receiver = source if isinstance(source, Receiver) else source()
            if len(raw) > self.max_body_bytes:
                raise PayloadTooLargeError(self.max_body_bytes)
            message = receiver.verify_request(
                headers, raw, url=url, clock_tolerance=self._tolerance
            )
        except QStashError as error:
            return refused(refusal(error), headers, self._observer, started)
        handed_over(message, started)  # the next step's span and duration start here
        return message

    def _claim(
        self, message: VerifiedMessage, lease: float | None, watch: Watch
    ) -> Processing | Answer:
        claimed = claim(self._dedupe, message, lease, self._tolerance)
        return watch.refused(claimed) if isinstance(claimed, Answer) else Processing(claimed, watch)

    def _watch(self, message: VerifiedMessage) -> Watch:
        return Watch(self._observer, taken(message), message).start()

    def claim(self, message: VerifiedMessage, lease: float | None = None) -> Processing | Answer:
        """Claim ``message`` in the guard's store before its handler runs.

        See [`qstash_receiver.guard.claim()`][qstash_receiver.guard.claim]: the
        [`Processing`][qstash_receiver.lifecycle.Processing] to finish, or the answer to give
        without running the handler (200, 409, 503), recorded.
        """
        return self._claim(message, lease, self._watch(message))

    async def claim_async(
        self, message: VerifiedMessage, offload: Offload, lease: float | None = None
    ) -> Processing | Answer:
        """[`claim()`][qstash_receiver.lifecycle.Endpoint.claim] from a coroutine (an async store on
        the loop, a sync one offloaded)."""
        watch = self._watch(message)
        claimed = await claim_async(self._dedupe, message, offload, lease, self._tolerance)
        return watch.refused(claimed) if isinstance(claimed, Answer) else Processing(claimed, watch)

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
        processing = self.claim(message, lease)
        if isinstance(processing, Answer):
            return responder.answer(processing)
        token = processing.activate()
        try:
            result = call()
            if responder.normalize is not None:
                result = responder.normalize(result)
        except BaseException as error:
            answer = processing.fail(error)
            if answer is None:
                raise
            return responder.answer(answer)
        finally:
            processing.deactivate(token)
        processing.finish(responder.status(result))
        return cast(R, result)

    async def run_async(
        self,
        message: VerifiedMessage,
        call: Callable[[], Awaitable[Any]],
        responder: Responder[R],
        *,
        lease: float | None = None,
        offload: Offload = to_thread,
        answering: Callable[[Ending], object] | None = None,
    ) -> R:
        """[`run()`][qstash_receiver.lifecycle.Endpoint.run] for a coroutine handler; an async store
        is awaited on the loop, a sync store's calls go to ``offload`` (default: a worker thread;
        Django passes ``sync_to_async``).

        An app that sends its answer itself (ASGI) passes ``answering``: it is given the
        delivery's [`Ending`][qstash_receiver.lifecycle.Ending] before the handler runs, and awaits
        it before the answer's last part is sent (what it has not ended is ended on return)."""
        processing: Processing | Answer = (
            await self.claim_async(message, offload, lease)
            if self._dedupe is not None
            else self._claim(message, lease, self._watch(message))
        )
        if isinstance(processing, Answer):
            return responder.answer(processing)
        guarded, token, end = processing.guarded, processing.activate(), processing.ending(offload)
        if answering is not None:
            answering(end)
        try:
            result = await call()
            if responder.normalize is not None:
                result = responder.normalize(result)
        except BaseException as error:
            if guarded:
                import asyncio  # already imported: this is a coroutine

                answer = await asyncio.shield(
                    processing.fail_async(error, offload)
                )  # cancelled too
            else:
                answer = processing.fail(error)
            if answer is None:
                raise
            return responder.answer(answer)
        finally:
            processing.deactivate(token)
        await end(responder.status(result))
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
    [`Endpoint.run()`][qstash_receiver.lifecycle.Endpoint.run] (or
    [`Endpoint.run_async()`][qstash_receiver.lifecycle.Endpoint.run_async]).

    ``verify`` returns the [`VerifiedMessage`][qstash_receiver.VerifiedMessage] to go on with, or
    the platform's response to give instead. Coroutine views get a coroutine wrapper, so frameworks
    still see an async view; ``is_async`` overrides the detection (Django's asgiref markers).
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
