"""What the Starlette and FastAPI adapters share: the one request flow, on Starlette's types.

:func:`deliver` (verify, then run the handler through the core's flow: the duplicate guard
and the handler's ``NonRetryableError`` / ``RetryLater``, else answer) is the single place a
request goes through; :func:`verify_body` reads the body under the limit and verifies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from qstash_receiver import PayloadTooLargeError, Receiver, VerifiedMessage
from qstash_receiver.answers import CLIENT_GONE
from qstash_receiver.integration import (
    Answer,
    Endpoint,
    Headers,
    Responder,
    answer_for,
    missing_extra,
)
from qstash_receiver.names import CONTENT_LENGTH_HEADER, PATH_SAFE

try:
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
    from starlette.types import Message, Send
except ModuleNotFoundError as error:
    raise missing_extra(error, "starlette") from None

__all__ = [
    "MESSAGE_SCOPE_KEY",
    "RESPONDER",
    "StatusCapture",
    "answer",
    "default_receiver",
    "deliver",
    "offload",
    "get_message",
    "request_url",
    "verify_body",
]

R = TypeVar("R")

#: The ASGI scope key holding the :class:`VerifiedMessage` of a verified request.
MESSAGE_SCOPE_KEY = "qstash_receiver.message"
#: The receiver used without ``receiver=``: it reads the environment on the first request.
default_receiver = Receiver()


def get_message(request: HTTPConnection) -> VerifiedMessage:
    """The message verified for ``request`` (by the middleware, decorator or dependency).

    Raises:
        LookupError: the request was not verified.
    """
    message = request.scope.get(MESSAGE_SCOPE_KEY)
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request was not verified")
    return message


def request_url(request: HTTPConnection) -> str:
    """The URL the client addressed (for ``url=request_url``): scheme and host as
    ``request.url`` has them (``Host``; uvicorn's ``--proxy-headers`` set the scheme), the path
    as sent (``raw_path``, ``root_path`` included) and the query."""
    scope = request.scope
    raw = scope.get("raw_path")
    target = raw.decode("latin-1") if isinstance(raw, bytes) else ""
    if not target.startswith("/") or unquote(target) != scope["path"]:  # none (Mangum)
        target = quote(scope["path"], safe=PATH_SAFE)
    query = scope.get("query_string", b"").decode("latin-1")
    url = request.url
    return f"{url.scheme}://{url.netloc}{target}{'?' if query else ''}{query}"


def answer(rejection: Answer) -> Response:
    """The ``text/plain`` response every adapter gives for ``rejection``."""
    return Response(rejection.text, status_code=rejection.status, headers=rejection.headers)


async def verify_body(request: Request, endpoint: Endpoint) -> VerifiedMessage | Answer:
    """Read the body, at most one chunk past the limit, and verify it; once verified, the
    message is in the scope and the body in Starlette's cache (``request.body()``)."""
    # Built once from ASGI's latin-1 byte pairs; the check copies it without the signature.
    headers = Headers(request.scope["headers"])
    early = endpoint.too_large(headers.first(CONTENT_LENGTH_HEADER), headers)
    if early is not None:
        return early
    body: bytes | None = getattr(request, "_body", None)  # read already (body parameters)
    if body is None:
        parts: list[bytes] = []
        size, more, receive = 0, True, request.receive
        while more and size <= endpoint.max_body_bytes:  # past the limit: the core says 413
            message = await receive()
            if message["type"] == "http.disconnect":  # nobody to read the answer: nothing raised
                return endpoint.refuse(CLIENT_GONE, headers)
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            more = message.get("more_body", False)
        if size > endpoint.max_body_bytes:  # refused without joining: no second copy
            return endpoint.refuse(
                answer_for(PayloadTooLargeError(endpoint.max_body_bytes)), headers
            )
        body = parts[0] if len(parts) == 1 else b"".join(parts)
    result = endpoint.verify(headers, body, request)
    if isinstance(result, VerifiedMessage):
        request.scope[MESSAGE_SCOPE_KEY] = result
        request._body = body  # as Request.body() caches it: the route reads it again
    return result


class StatusCapture:
    """An ASGI ``send`` that passes every message on and keeps the status the app answers with
    (``None`` until it starts an answer): what the guard finishes a claim with."""

    __slots__ = ("_send", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self.status is None:
            self.status = message["status"]
        await self._send(message)


def _status(response: object) -> int | None:
    return response.status_code if isinstance(response, Response) else None


#: How the ASGI adapters answer: a Starlette ``Response`` (its status tells the guard).
RESPONDER: Responder[Any] = Responder(answer, _status)


def offload(call: Callable[[], Any]) -> Awaitable[Any]:
    """Run a (blocking) store call of the guard in Starlette's thread pool (anyio)."""
    return run_in_threadpool(call)


async def deliver(
    endpoint: Endpoint,
    request: Request,
    handler: Callable[[VerifiedMessage], Awaitable[R]],
    status: Callable[[], int | None] | None = None,
) -> R | Response | None:
    """The one request flow of the ASGI adapters: verify, then run ``handler`` through the
    guard, else answer. ``status`` reads the answer's status when the handler sends it
    itself (a middleware's app); such a caller gets ``None`` for a client gone mid-body,
    where there is nobody to answer."""
    result = await verify_body(request, endpoint)
    if isinstance(result, Answer):
        return None if result is CLIENT_GONE and status is not None else answer(result)
    responder = RESPONDER if status is None else Responder(answer, lambda _: status())
    answered: R | Response | None = await endpoint.run_async(
        result, lambda: handler(result), responder, offload=offload
    )
    return answered
