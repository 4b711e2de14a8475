"""What the aiohttp adapter's decorator and middleware share: one request flow, on aiohttp's types.

`deliver()` reads the body under the limit, verifies it, then runs the handler through the
lifecycle (the duplicate guard, ``NonRetryableError`` / ``RetryLater``), else answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from qstash_receiver import PayloadTooLargeError, Receiver, VerifiedMessage
from qstash_receiver.answers import CLIENT_GONE
from qstash_receiver.integration import Answer, Endpoint, Responder, missing_extra, refusal

try:
    from aiohttp import web
    from aiohttp.http_exceptions import HttpProcessingError
except ModuleNotFoundError as error:
    raise missing_extra(error, "aiohttp") from None

__all__ = ["MESSAGE_KEY", "default_receiver", "deliver", "get_message", "request_url"]

_KEY = getattr(web, "RequestKey", None)  # newer aiohttp warns about plain str keys
#: The request key holding the [`VerifiedMessage`][qstash_receiver.VerifiedMessage] (a
#: ``web.RequestKey`` where it exists).
MESSAGE_KEY: Final[Any] = _KEY("qstash_message", VerifiedMessage) if _KEY else "qstash_message"
_CHUNK = 64 * 1024
#: The receiver used without ``receiver=``: it reads the environment on the first request.
default_receiver = Receiver()


def get_message(request: web.BaseRequest) -> VerifiedMessage:
    """The message verified for ``request`` (by the decorator or the middleware).

    Raises:
        LookupError: the request was not verified.
    """
    message = request.get(MESSAGE_KEY)
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request was not verified")
    return message


def request_url(request: web.BaseRequest) -> str:
    """The URL the client addressed, for ``url=request_url``: scheme (behind a TLS proxy, fix
    it with ``request.clone(scheme=...)`` in a middleware), ``Host``, path and query as sent."""
    return f"{request.scheme}://{request.host}{request.raw_path}"


def _answer(rejection: Answer) -> web.Response:
    body, status = rejection.text.encode(), rejection.status
    return web.Response(body=body, status=status, headers=rejection.headers)


def _status(response: object) -> int | None:
    return response.status if isinstance(response, web.StreamResponse) else None


_RESPONDER: Responder[Any] = Responder(_answer, _status)


async def _verify(endpoint: Endpoint, request: web.BaseRequest) -> VerifiedMessage | Answer:
    headers = list(request.raw_headers)
    early = endpoint.too_large(request.content_length, headers)
    if early is not None:
        return early
    limit, parts, size, stream = endpoint.max_body_bytes, list[bytes](), 0, request.content
    try:
        while size <= limit and not stream.at_eof():  # at most limit + 1 bytes, whatever is sent
            chunk = await stream.read(min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
    except (OSError, HttpProcessingError):  # the client left mid-body, or broke its framing
        return endpoint.refuse(CLIENT_GONE, headers)
    if size > limit:  # refused without joining: no second copy
        return endpoint.refuse(refusal(PayloadTooLargeError(limit)), headers)
    body = b"".join(parts)
    result = endpoint.verify(headers, body, request)
    if isinstance(result, VerifiedMessage):
        request[MESSAGE_KEY] = result
        request._read_bytes = body  # as request.read() caches it: the handler reads it again
    return result


async def deliver(endpoint: Endpoint, request: web.BaseRequest, call: Callable[[], Any]) -> Any:
    """Verify ``request``, then run ``call`` (the handler) through the lifecycle; the guard's
    store is called in a worker thread. Returns the handler's answer or a ``web.Response``."""
    checked = await _verify(endpoint, request)
    if isinstance(checked, Answer):
        return _answer(checked)
    return await endpoint.run_async(checked, call, _RESPONDER)
