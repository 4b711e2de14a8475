"""Framework-neutral ASGI middleware for any ASGI app (Litestar, Quart, Django, plain):

```python
application = QStashMiddleware(app, paths=["/qstash"])
message = get_message(request.scope)   # in the app; the body reads as it always does
```

Imports no framework. Starlette's ``QStashMiddleware`` is this one with Starlette's types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.answers import CLIENT_GONE
from qstash_receiver.integration import (
    Answer,
    Endpoint,
    Headers,
    Offload,
    Options,
    Responder,
    to_thread,
)

from ._gateway import (
    MESSAGE_KEY,
    StatusCapture,
    covers,
    default_receiver,
    prefixes,
    receive_body,
    respond,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["QStashMiddleware", "get_message", "MESSAGE_SCOPE_KEY"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application (typed loosely: each framework types the scope its own way).
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

#: The ASGI scope key holding the [`VerifiedMessage`][qstash_receiver.adapters.asgi.VerifiedMessage]
#: of a verified request.
MESSAGE_SCOPE_KEY = MESSAGE_KEY


def get_message(scope: Mapping[str, Any]) -> VerifiedMessage:
    """The message verified for the request of ``scope`` (``request.scope`` in most frameworks).

    Raises:
        LookupError: the request was not verified.
    """
    message = scope.get(MESSAGE_SCOPE_KEY)
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request was not verified")
    return message


def _same(answer: Answer) -> Answer:
    return answer


class QStashMiddleware:
    """Pure ASGI middleware verifying HTTP requests to ``paths`` (default: every request).

    The body is read once under the limit (a declared length over it is refused unread) and replayed
    to the app, which reads it its own way;
    [`get_message()`][qstash_receiver.adapters.asgi.get_message] gives the message. Rejections get
    ``text/plain`` 401, 413 or 500 and the app is not called. An app raising ``NonRetryableError``
    is answered 489, ``RetryLater`` 503 with ``Retry-After`` (let the two propagate out of your
    framework: see the docs of each).

    Args:
        app: the ASGI app to protect.
        paths: route paths (below ``root_path``), each covering the paths below it too
            (``"/qstash"`` covers ``/qstash/jobs``); other requests pass through unverified.
        **options: the shared options (``url``, ``clock_tolerance``, ``max_body_bytes``,
            ``receiver``, ``dedupe``: [`Options`][qstash_receiver.integration.Options]); a
            callable ``url`` gets the scope. With ``dedupe``, the app's answer counts as
            handled when the status it starts is 2xx.

    Raises:
        ValueError, TypeError: invalid options or paths.
    """

    #: Runs the guard's (blocking) store calls from the event loop: a worker thread.
    offload: Offload = staticmethod(to_thread)

    def __init__(
        self, app: ASGIApp, *, paths: Iterable[str] | None = None, **options: Unpack[OptionArgs]
    ) -> None:
        self.app = app
        self.paths = prefixes(paths)
        self._endpoint = Endpoint(Options(**options), default_receiver)

    def request(self, scope: Scope, receive: Receive) -> object:
        """What a callable ``url`` option is given: the scope."""
        return scope

    def _covers(self, scope: Scope) -> bool:
        path, root = scope["path"], scope.get("root_path", "")
        return covers(self.paths, path[len(root) :] if root and path.startswith(root) else path)

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._covers(scope):
            return await self.app(scope, receive, send)
        endpoint, headers = self._endpoint, Headers(scope["headers"])
        body = await receive_body(headers, receive, endpoint)
        checked = body if isinstance(body, Answer) else endpoint.verify(
            headers, body, self.request(scope, receive)
        )  # fmt: skip
        if isinstance(checked, Answer):
            return None if checked is CLIENT_GONE else await respond(send, checked)
        scope[MESSAGE_SCOPE_KEY] = checked
        sending, replayed = StatusCapture(send), False

        async def replay() -> Message:  # the body once, then the server's messages
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": checked.body, "more_body": False}

        responder = Responder(_same, lambda _: sending.status)
        answered = await endpoint.run_async(
            checked,
            lambda: self.app(scope, replay, sending),
            responder,
            offload=self.offload,
            answering=sending.end_with,
        )
        if isinstance(answered, Answer) and sending.status is None:  # else it is under way
            await respond(send, answered)
        return None
