"""What the Starlette and FastAPI adapters share: the one request flow, on Starlette's types.

`deliver()` (verify, then run the handler through the core's flow: the duplicate guard
and the handler's ``NonRetryableError`` / ``RetryLater``, else answer) is the single place an
endpoint's request goes through; `verify_body()` reads the body under the limit (with the
framework-neutral middleware's reading, ``receive_body``)
and verifies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from qstash_receiver import VerifiedMessage
from qstash_receiver.integration import Answer, Endpoint, Headers, Responder, missing_extra
from qstash_receiver.names import CONTENT_LENGTH_HEADER, PATH_SAFE

try:
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
except ModuleNotFoundError as error:
    raise missing_extra(error, "starlette") from None

from ._gateway import StatusCapture, default_receiver, receive_body
from .asgi import MESSAGE_SCOPE_KEY
from .asgi import get_message as scope_message

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


def get_message(request: HTTPConnection) -> VerifiedMessage:
    """The message verified for ``request`` (by the middleware, decorator or dependency).

    Raises:
        LookupError: the request was not verified.
    """
    return scope_message(request.scope)


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
    cached: bytes | None = getattr(request, "_body", None)  # read already (body parameters)
    body = cached if cached is not None else await receive_body(headers, request.receive, endpoint)
    if isinstance(body, Answer):
        return body
    result = endpoint.verify(headers, body, request)
    if isinstance(result, VerifiedMessage):
        request.scope[MESSAGE_SCOPE_KEY] = result
        request._body = body  # as Request.body() caches it: the route reads it again
    return result


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
) -> R | Response:
    """The one request flow of the Starlette endpoints: verify, then run ``handler`` through
    the guard, else answer."""
    result = await verify_body(request, endpoint)
    if isinstance(result, Answer):
        return answer(result)
    answered: R | Response = await endpoint.run_async(
        result, lambda: handler(result), RESPONDER, offload=offload
    )
    return answered
