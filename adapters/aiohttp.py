"""aiohttp adapter: a decorator for handlers and ``web.View`` methods, a middleware for apps.


```python
@verify_qstash                          # or @verify_qstash(url=request_url, dedupe=...)
async def hook(request: web.Request) -> web.Response:
    message = get_message(request)      # the verified delivery
    order = await request.json()        # the same raw bytes, still readable

app = web.Application(middlewares=[qstash_middleware(paths=["/tasks"])])
```
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from qstash_receiver.integration import missing_extra

try:
    from aiohttp import web
except ModuleNotFoundError as error:
    raise missing_extra(error, "aiohttp") from None

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.integration import Endpoint, Options

from ._aiohttp import MESSAGE_KEY, default_receiver, deliver, get_message, request_url

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["verify_qstash", "qstash_middleware", "get_message", "request_url", "MESSAGE_KEY"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]

P = ParamSpec("P")
R = TypeVar("R", bound=web.StreamResponse)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
View = Callable[P, Awaitable[R]]
Wrapped = Callable[P, Coroutine[Any, Any, R]]


def _decorate(view: View[P, R], endpoint: Endpoint) -> Wrapped[P, R]:
    if not inspect.iscoroutinefunction(view):
        raise TypeError("verify_qstash decorates async aiohttp handlers (async def)")

    @functools.wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        first = args[0] if args else None  # handler(request), or a web.View's method(self)
        request = first.request if isinstance(first, web.View) else first
        if not isinstance(request, web.BaseRequest):
            raise TypeError("verify_qstash decorates handlers taking the request, or View methods")
        answered: R = await deliver(endpoint, request, functools.partial(view, *args, **kwargs))
        return answered  # a rejection: a web.Response in place of R

    return wrapper


@overload
def verify_qstash(view: View[P, R], /) -> Wrapped[P, R]: ...
@overload
def verify_qstash(**options: Unpack[OptionArgs]) -> Callable[[View[P, R]], Wrapped[P, R]]: ...
def verify_qstash(
    view: View[P, R] | None = None, /, **options: Unpack[OptionArgs]
) -> Wrapped[P, R] | Callable[[View[P, R]], Wrapped[P, R]]:
    """Verify QStash deliveries before an aiohttp handler (or ``web.View`` method) runs.

    The body is read once, at most ``max_body_bytes`` + 1 bytes (a declared length over it is
    refused unread); the handler gets it again from ``await request.read()`` (``text()``,
    ``json()``) and the message from
    [`get_message()`][qstash_receiver.adapters.aiohttp.get_message]. Rejections are ``text/plain``
    ``web.Response``\\ s: 401, 413, 500 (no usable keys). A handler raising ``NonRetryableError`` is
    answered 489 (QStash does not retry), ``RetryLater`` 503 with ``Retry-After``.

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the
            ``web.Request`` (e.g. [`request_url()`][qstash_receiver.adapters.aiohttp.request_url]).
            Default: no URL check.
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or streamed) are refused with 413.
        receiver (Receiver | None): default: one reading the environment on the first request
            (``QSTASH_REGION``, ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY``, ``QSTASH_DEV``).
        dedupe (DedupeStore | None): the duplicate-delivery guard's store
            ([`qstash_receiver.dedupe`][qstash_receiver.dedupe]), called in a worker thread: each
            message runs the handler once; a copy of a handled one is answered 200 without running
            it, one in progress 409; an unreachable store 503. A 2xx answer counts as handled (a
            raised ``web.HTTPException`` releases the claim).

    Raises:
        ValueError, TypeError: invalid options, or a handler that is not ``async def``.
    """
    endpoint = Endpoint(Options(**options), default_receiver)
    if view is not None:
        return _decorate(view, endpoint)
    return functools.partial(_decorate, endpoint=endpoint)


def qstash_middleware(
    *, paths: Iterable[str] | None = None, **options: Unpack[OptionArgs]
) -> Middleware:
    """A middleware verifying requests to ``paths`` before their handlers run, with the options and
    answers of [`verify_qstash()`][qstash_receiver.adapters.aiohttp.verify_qstash]:
    ``web.Application(middlewares=[qstash_middleware()])``.

    Args:
        paths: path prefixes, each covering the paths below it (``"/qstash"`` covers
            ``/qstash/jobs``); None: every request. Other requests pass through unverified.

    Raises:
        ValueError, TypeError: invalid options or paths.
    """
    listed = None if paths is None or isinstance(paths, str) else tuple(paths)
    if paths is not None and not (
        listed and all(isinstance(p, str) and p[:1] == "/" for p in listed)
    ):
        raise ValueError("paths must be a list of paths, each starting with '/'")
    prefixes = None if listed is None else tuple(p.rstrip("/") for p in listed)
    endpoint = Endpoint(Options(**options), default_receiver)

    def covered(request: web.Request) -> bool:
        # Both spellings: a router matching the decoded path must not see one the check missed.
        spellings = (request.rel_url.path, request.rel_url.raw_path)
        return prefixes is None or any(
            s == p or s.startswith(f"{p}/") for s in spellings for p in prefixes
        )

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not covered(request):
            return await handler(request)
        answered: web.StreamResponse = await deliver(endpoint, request, lambda: handler(request))
        return answered

    return middleware
