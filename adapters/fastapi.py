"""FastAPI adapter: the verified message as a dependency.


```python
app = FastAPI()
install(app)                               # rejections in text/plain, as every adapter

@app.post("/qstash")
async def hook(message: Annotated[VerifiedMessage, Depends(verified_message)]) -> dict:
    ...                                    # await request.body() gives the same bytes

jobs = APIRouter(dependencies=[Depends(QStashVerifier(max_body_bytes=1 << 20))])
```

Without [`install()`][qstash_receiver.adapters.fastapi.install], FastAPI's own ``HTTPException``
handler answers rejections: the same status and headers, the same text as JSON ``{"detail": ...}``.
Rejections are handled exceptions either way: FastAPI and uvicorn do not log them as server errors.
[`install()`][qstash_receiver.adapters.fastapi.install] also answers a route's ``NonRetryableError``
(489) and ``RetryLater`` (503 with ``Retry-After``), and finishes the duplicate guard of
``QStashVerifier(dedupe=...)``, which needs it: a dependency does not see the status of the route's
answer, the app does.
"""

# No "from __future__ import annotations": FastAPI reads the dependency's annotations at run
# time, from the callable itself (an instance has no module globals to resolve names in).
import asyncio
import inspect
import sys
from types import FrameType
from typing import TYPE_CHECKING

from qstash_receiver.integration import missing_extra

try:
    from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
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
    handler_answer,
    refusal,
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
    """The exception handler [`install()`][qstash_receiver.adapters.fastapi.install] registers: the
    rejection's ``text/plain`` answer.

    Raises:
        TypeError: ``exc`` is not a
            [`QStashRejected`][qstash_receiver.adapters.fastapi.QStashRejected] (registered for
            another class).
    """
    if not isinstance(exc, QStashRejected):
        raise TypeError("rejection_handler handles QStashRejected only")
    return answer(exc.rejection)


async def _refused(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, (NonRetryableError, RetryLater)):
        raise TypeError("handles NonRetryableError and RetryLater only")
    delivery = request.scope.pop(_DELIVERY, None)
    if isinstance(delivery, Processing):  # ended here, with the route's exception
        await delivery.fail_async(exc, offload)
    return answer(handler_answer(exc))


_DELIVERY = "qstash_receiver.delivery"  # scope: the Processing, ended by _Finisher
_FINISHER = "qstash_receiver.finisher"  # scope: set when install()'s middleware runs


class _Finisher:
    """Pure ASGI: ends each delivery (the guard's claim, its telemetry) by the status the app
    answers with."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope[_FINISHER] = True

        async def end(status: int | None) -> None:  # before the answer's last part goes out
            delivery = scope.pop(_DELIVERY, None)
            if isinstance(delivery, Processing):
                await delivery.ending(offload)(status)

        sending = StatusCapture(send, end)
        try:
            await self.app(scope, receive, sending)
        except BaseException as error:
            delivery = scope.pop(_DELIVERY, None)
            if isinstance(delivery, Processing):  # released also when the request is cancelled
                await asyncio.shield(delivery.fail_async(error, offload))
            raise
        await end(sending.status)  # an app that sent no answer (or no last part)
        return None


# A mark on an app's router (routers are unhashable): install() set the app up.
_INSTALLED = "_qstash_receiver_installed"
_MISSING_INSTALL = (
    "QStashVerifier(dedupe=...) needs qstash_receiver.adapters.fastapi.install(app): add "
    "install(app) after creating the app, so that the duplicate guard sees each answer's status"
)


def _calling_router() -> "APIRouter | None":
    # The outermost router a caller up the stack is a method of: the one declaring a route
    # (an app's router including another's routes declares them again), or the app's router
    # starting (it may start the routers it includes, whose handlers run below it).
    found = None
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, APIRouter):
            found = owner
        frame = frame.f_back
    return found


def _check_installed() -> None:
    """The start-up handler of every router with a guarded route: the app starting (its
    router is the outermost) must have had install()."""
    router = _calling_router()
    if router is not None and not getattr(router, _INSTALLED, False):
        raise RuntimeError(_MISSING_INSTALL)


def _guarded_route_declared() -> None:
    # An app starts the start-up handlers of the routers it includes (or copies them to its
    # own router, in older FastAPI), so the check runs wherever the guarded route ends up.
    router = _calling_router()
    if router is not None and _check_installed not in router.on_startup:
        router.on_startup.append(_check_installed)


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
    setattr(app.router, _INSTALLED, True)


class QStashVerifier:
    """A dependency verifying the request and returning its
    [`VerifiedMessage`][qstash_receiver.adapters.fastapi.VerifiedMessage].

    ``Depends(QStashVerifier(...))`` in a path operation's parameters (sync or async) or in
    ``dependencies=[...]`` of a route, router or app (there,
    [`get_message()`][qstash_receiver.adapters.fastapi.get_message] gives the message). It reads the
    body once, under the limit; the route's own body parameters and ``await request.body()`` see the
    same bytes, and the OpenAPI schema gains no body. Without body parameters the limit holds while
    the body streams; with them FastAPI reads the body before any dependency runs (bound that read
    with ``max_body_size=``).

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the ``Request``
            (e.g. [`request_url()`][qstash_receiver.adapters.fastapi.request_url]). Default: no URL
            check.
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or streamed) are refused with 413.
        receiver (Receiver | None): default: one reading the environment on the first request
            (``QSTASH_REGION``, ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY``, ``QSTASH_DEV``).
        dedupe (DedupeStore | None): a duplicate-delivery guard store
            ([`qstash_receiver.dedupe`][qstash_receiver.dedupe]); needs
            [`install()`][qstash_receiver.adapters.fastapi.install] on the app: an app declaring it
            without ``install`` fails when it starts (with a lifespan of its own, which skips
            start-up handlers, every delivery is answered 500 instead). Each message runs the route
            once; a copy of a handled one is answered 200 without running it, one in progress 409
            with ``Retry-After``; an unreachable store 503. The route's answer counts as handled
            when its status is 2xx.

    Raises:
        ValueError, TypeError: invalid options. Per request:
            [`QStashRejected`][qstash_receiver.adapters.fastapi.QStashRejected] (401, 413 or 500;
            with ``dedupe``: 200 for a duplicate, 409, 503), answered by FastAPI.
    """

    def __init__(self, **options: "Unpack[OptionArgs]") -> None:
        self._endpoint = Endpoint(Options(**options), default_receiver)

    @property
    def __signature__(self) -> inspect.Signature:
        """What FastAPI inspects when a route declares this dependency: with ``dedupe``, the
        declaring app is then required to have
        [`install()`][qstash_receiver.adapters.fastapi.install] by the time it starts."""
        if self._endpoint.options.dedupe is not None:
            _guarded_route_declared()
        return inspect.signature(self.__call__)

    async def __call__(self, request: Request) -> VerifiedMessage:
        endpoint = self._endpoint
        result = await verify_body(request, endpoint)
        if isinstance(result, Answer):
            raise QStashRejected(result)
        if _DELIVERY in request.scope:  # a second QStashVerifier on the route: ended once
            return result
        if not request.scope.get(_FINISHER):  # nothing would see the route's answer
            if endpoint.options.dedupe is not None:  # an app the start-up check did not see
                missing = refusal(ConfigError(_MISSING_INSTALL))
                raise QStashRejected(endpoint.refuse(missing, result))
            handed = endpoint.claim(result)  # no guard: recorded as handed over, handled
            if isinstance(handed, Processing):
                handed.finish(200)
            return result
        delivery = await endpoint.claim_async(result, offload)
        if isinstance(delivery, Answer):
            raise QStashRejected(delivery)
        request.scope[_DELIVERY] = delivery
        return result


#: The dependency with the default options: ``Depends(verified_message)``.
verified_message = QStashVerifier()
