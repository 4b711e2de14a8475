"""Starlette adapter: a pure ASGI middleware, and a decorator for single endpoints.


```python
app = Starlette(routes=routes, middleware=[Middleware(QStashMiddleware, paths=["/qstash"])])

async def hook(request: Request) -> Response:
    message = get_message(request)        # the verified delivery
    order = await request.json()          # the same raw bytes, still readable
```

FastAPI apps take the message as a dependency:
[`qstash_receiver.adapters.fastapi`][qstash_receiver.adapters.fastapi].
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, cast, overload

from qstash_receiver.integration import missing_extra

try:
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope
except ModuleNotFoundError as error:
    raise missing_extra(error, "starlette") from None

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.integration import Endpoint, Options

from . import asgi
from ._asgi import MESSAGE_SCOPE_KEY, default_receiver, deliver, get_message, request_url
from ._asgi import offload as in_threadpool

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["QStashMiddleware", "verify_qstash", "get_message", "request_url", "MESSAGE_SCOPE_KEY"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]

P = ParamSpec("P")
View = Callable[P, Awaitable[Response]] | Callable[P, Response]
Wrapped = Callable[P, Coroutine[Any, Any, Response]]


class QStashMiddleware(asgi.QStashMiddleware):
    """Pure ASGI middleware verifying HTTP requests to ``paths`` (default: every request).

    The framework-neutral
    [`qstash_receiver.adapters.asgi.QStashMiddleware`][qstash_receiver.adapters.asgi.QStashMiddleware],
    with Starlette's ``Request`` given to a callable ``url`` and the guard's store calls in
    Starlette's thread pool. The body is read once, the limit enforced while it streams (a declared
    length over it is refused unread), and replayed to the app: routes still ``await
    request.body()``, and [`get_message()`][qstash_receiver.adapters.starlette.get_message] gives
    the message. Rejections get ``text/plain`` 401, 413 or 500 (no usable keys) and the app is not
    called. An app raising ``NonRetryableError`` is answered 489 (QStash does not retry),
    ``RetryLater`` 503 with ``Retry-After``.

    Args:
        app: the ASGI app to protect.
        paths: route paths (below ``root_path``), each covering the paths below it too
            (``"/qstash"`` covers ``/qstash/jobs``); other requests pass through unverified.

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the ``Request``
            (e.g. [`request_url()`][qstash_receiver.adapters.starlette.request_url]). Default: no
            URL check.
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or streamed) are refused with 413.
        receiver (Receiver | None): default: one reading the environment on the first request
            (``QSTASH_REGION``, ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY``, ``QSTASH_DEV``).
        dedupe (DedupeStore | None): a duplicate-delivery guard store
            ([`qstash_receiver.dedupe`][qstash_receiver.dedupe]): each message runs the app once; a
            copy of a handled one is answered 200 without running it, one in progress 409 with
            ``Retry-After``; an unreachable store 503. The app's answer counts as handled when the
            status it starts is 2xx.

    Raises:
        ValueError, TypeError: invalid options or paths.
    """

    offload = staticmethod(in_threadpool)

    def request(self, scope: Scope, receive: Receive) -> Request:
        """What a callable ``url`` option is given: Starlette's ``Request``."""
        return Request(scope, receive)


def _decorate(view: View[P], endpoint: Endpoint) -> Wrapped[P]:
    if inspect.iscoroutinefunction(view):
        call = cast(Callable[P, Awaitable[Response]], view)
    else:  # as Starlette runs sync endpoints: in its thread pool
        call = functools.partial(run_in_threadpool, cast(Callable[P, Response], view))

    @functools.wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = args[-1] if args else None  # endpoint(request), HTTPEndpoint (self, request)
        if not isinstance(request, Request):
            raise TypeError("verify_qstash decorates Starlette endpoints taking the request")
        return await deliver(endpoint, request, lambda _: call(*args, **kwargs))

    return wrapper


@overload
def verify_qstash(view: View[P], /) -> Wrapped[P]: ...
@overload
def verify_qstash(
    **options: Unpack[OptionArgs],
) -> Callable[[View[P]], Wrapped[P]]: ...
def verify_qstash(
    view: View[P] | None = None, /, **options: Unpack[OptionArgs]
) -> Wrapped[P] | Callable[[View[P]], Wrapped[P]]:
    """Verify QStash deliveries before a Starlette endpoint, sync or async, runs.

    Bare or with the options of
    [`QStashMiddleware`][qstash_receiver.adapters.starlette.QStashMiddleware], whose answers it
    gives; the endpoint sees [`get_message()`][qstash_receiver.adapters.starlette.get_message] and
    the body through ``await request.body()``. The wrapper is async (a sync endpoint runs in
    Starlette's thread pool).

    Raises:
        ValueError, TypeError: invalid options (when decorating).
    """
    endpoint = Endpoint(Options(**options), default_receiver)
    if view is not None:
        return _decorate(view, endpoint)
    return functools.partial(_decorate, endpoint=endpoint)
