"""FastAPI adapter: the verified message as a dependency.

::

    app = FastAPI()
    install(app)                               # rejections in text/plain, as every adapter

    @app.post("/qstash")
    async def hook(message: Annotated[VerifiedMessage, Depends(verified_message)]) -> dict:
        ...                                    # await request.body() gives the same bytes

    jobs = APIRouter(dependencies=[Depends(QStashVerifier(max_body_bytes=1 << 20))])

Without :func:`install`, FastAPI's own ``HTTPException`` handler answers rejections: the same
status and headers, the same text as JSON ``{"detail": ...}``. Rejections are handled
exceptions either way: FastAPI and uvicorn do not log them as server errors. :func:`install`
also answers a route's ``NonRetryableError`` (489) and ``RetryLater`` (503 with
``Retry-After``), and ends each delivery by the status of the route's answer: the duplicate
guard of ``QStashVerifier(dedupe=...)`` needs it, and so does the delivery's telemetry (a
dependency does not see the route's answer, the app does). Without it, a verified delivery is
recorded as handled when the dependency hands it over.
"""

# No "from __future__ import annotations": FastAPI reads the dependency's annotations at run
# time, from the callable itself (an instance has no module globals to resolve names in).
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from qstash_receiver.integration import missing_extra

try:
    from fastapi import FastAPI, HTTPException, Request, Response
except ModuleNotFoundError as error:
    raise missing_extra(error, "fastapi") from None

from starlette.types import ASGIApp, Receive, Scope, Send

from qstash_receiver import (
    ConfigError,
    NonRetryableError,
    QStashError,
    RetryLater,
    SignatureError,
    VerifiedMessage,
)
from qstash_receiver.integration import (
    Answer,
    Endpoint,
    Options,
    Processing,
    answer_for,
    handler_answer,
)

from ._asgi import (
    StatusCapture,
    answer,
    default_receiver,
    get_message,
    offload,
    request_url,
    verify_body,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["verified_message", "QStashVerifier", "QStashRejected", "install"]
__all__ += ["rejection_handler", "get_message", "request_url"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]


class QStashRejected(HTTPException):
    """Raised by the dependency for a delivery it refuses; ``rejection`` is the answer."""

    def __init__(self, rejection: Answer) -> None:
        super().__init__(rejection.status, rejection.text, dict(rejection.extra_headers) or None)
        self.rejection = rejection


async def rejection_handler(request: Request, exc: Exception) -> Response:
    """The exception handler :func:`install` registers: the rejection's ``text/plain`` answer.

    Raises:
        TypeError: ``exc`` is not a :class:`QStashRejected` (registered for another class).
    """
    if not isinstance(exc, QStashRejected):
        raise TypeError("rejection_handler handles QStashRejected only")
    return answer(exc.rejection)


logger = logging.getLogger("qstash_receiver")
_DELIVERY = "qstash_receiver.delivery"  # scope: the Processing, ended by _Finisher
_FINISHER = "qstash_receiver.finisher"  # scope: set when install()'s middleware runs


async def _refused(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, (NonRetryableError, RetryLater)):
        raise TypeError("handles NonRetryableError and RetryLater only")
    delivery = request.scope.pop(_DELIVERY, None)
    if isinstance(delivery, Processing):  # ended here, with the route's exception
        await _end(delivery, functools.partial(delivery.fail, exc))
    return answer(handler_answer(exc))


async def _end(delivery: Processing, end: Callable[[], object]) -> None:
    await offload(end) if delivery.guarded else end()  # a guard's store call blocks


class _Finisher:
    """Pure ASGI: ends each delivery (the guard's claim, its telemetry) by the status the app
    answers with."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope[_FINISHER] = True
        sending = StatusCapture(send)
        try:
            await self.app(scope, receive, sending)
        except BaseException as error:
            delivery = scope.pop(_DELIVERY, None)
            if isinstance(delivery, Processing):
                await _end(delivery, functools.partial(delivery.fail, error))
            raise
        delivery = scope.pop(_DELIVERY, None)
        if isinstance(delivery, Processing):
            await _end(delivery, functools.partial(delivery.finish, sending.status))
        return None


def install(app: FastAPI) -> None:
    """Answer rejections exactly as every other adapter does (``text/plain``, fixed text), a
    route's ``NonRetryableError`` / ``RetryLater`` with 489 / 503, and finish the duplicate
    guard of ``QStashVerifier(dedupe=...)`` by the status of the route's answer.

    Registers the exception handlers and a pure ASGI middleware; call it before the app starts.
    """
    app.add_exception_handler(QStashRejected, rejection_handler)
    app.add_exception_handler(NonRetryableError, _refused)
    app.add_exception_handler(RetryLater, _refused)
    app.add_middleware(_Finisher)


class QStashVerifier:
    """A dependency verifying the request and returning its :class:`VerifiedMessage`.

    ``Depends(QStashVerifier(...))`` in a path operation's parameters (sync or async) or in
    ``dependencies=[...]`` of a route, router or app (there, :func:`get_message` gives the
    message). It reads the body once, under the limit; the route's own body parameters and
    ``await request.body()`` see the same bytes, and the OpenAPI schema gains no body.
    Without body parameters the limit holds while the body streams; with them FastAPI reads
    the body before any dependency runs (bound that read with ``max_body_size=``).

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the
            ``Request`` (e.g. :func:`request_url`). Default: no URL check.
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or streamed) are refused with 413.
        receiver (Receiver | None): default: one reading the environment on the first request
            (``QSTASH_REGION``, ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY``, ``QSTASH_DEV``).
        dedupe (DedupeStore | None): a duplicate-delivery guard store
            (:mod:`qstash_receiver.dedupe`); needs :func:`install` on the app (without it
            every delivery is answered 500). Each message runs the route once; a copy of a
            handled one is answered 200 without running it, one in progress 409 with
            ``Retry-After``; an unreachable store 503. The route's answer counts as handled
            when its status is 2xx.

    Raises:
        ValueError, TypeError: invalid options. Per request: :class:`QStashRejected` (401,
            413 or 500; with ``dedupe``: 200 for a duplicate, 409, 503), answered by FastAPI.
    """

    def __init__(self, **options: "Unpack[OptionArgs]") -> None:
        self._endpoint = Endpoint(Options(**options), default_receiver)

    async def __call__(self, request: Request) -> VerifiedMessage:
        endpoint = self._endpoint
        result = await verify_body(request, endpoint)
        if isinstance(result, Answer):
            raise QStashRejected(result)
        guarded = endpoint.options.dedupe is not None
        if _DELIVERY in request.scope:  # a second QStashVerifier on the route: ended once
            return result
        if not request.scope.get(_FINISHER):  # nothing would see the route's answer
            if guarded:
                error = ConfigError("QStashVerifier(dedupe=...) needs install(app)")
                logger.error("QStash delivery answered 500: %s", error)
                raise QStashRejected(endpoint.refuse(answer_for(error), result))
            handed = endpoint.claim(result)  # no guard: recorded as handed over, handled
            if isinstance(handed, Processing):
                handed.finish(200)
            return result
        if guarded:
            delivery = await offload(lambda: endpoint.claim(result))
        else:
            delivery = endpoint.claim(result)
        if isinstance(delivery, Answer):
            raise QStashRejected(delivery)
        request.scope[_DELIVERY] = delivery
        return result


#: The dependency with the default options: ``Depends(verified_message)``.
verified_message = QStashVerifier()
