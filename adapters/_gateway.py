"""The plumbing of the framework-neutral adapters (WSGI, ASGI, http.server), framework-free.

The ``paths=`` option (prefixes, each covering the paths below it: ``"/qstash"`` covers ``/qstash``
and ``/qstash/jobs``, not ``/qstashx``); reading a body under the limit from a WSGI ``wsgi.input``
or an ASGI ``receive``; answering an [`Answer`][qstash_receiver.answers.Answer] on the wire (ASGI,
WSGI, an ``http.server`` handler); capturing the status an app answers with, which the duplicate
guard finishes its claim with; and holding an ``http.server`` method's output until then.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any

from qstash_receiver import PayloadTooLargeError, Receiver
from qstash_receiver.answers import CLIENT_GONE, declared_too_large
from qstash_receiver.headers import decimal
from qstash_receiver.integration import Answer, Ending, Endpoint, Headers, refusal
from qstash_receiver.names import CONTENT_LENGTH_HEADER

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler  # the type only: WSGI and ASGI never load it

__all__ = ["CHUNK", "MESSAGE_KEY", "default_receiver", "covers", "prefixes", "phrase"]
__all__ += ["StatusCapture", "receive_body", "respond"]  # ASGI
__all__ += ["StartResponseCapture", "read_input", "answer_wsgi", "started"]  # WSGI
__all__ += ["answer_handler", "HeldOutput"]  # http.server

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Any]

#: Where a verified message is kept: the ASGI scope's key and the WSGI environ's.
MESSAGE_KEY = "qstash_receiver.message"
#: How much of a body of unknown length (chunked) is read at a time.
CHUNK = 64 * 1024
#: The receiver used without ``receiver=``: it reads the environment on the first request.
default_receiver = Receiver()


def prefixes(paths: Iterable[str] | None) -> tuple[str, ...] | None:
    """The validated prefixes (``None``: every path), without trailing ``/``."""
    listed = None if paths is None or isinstance(paths, str) else tuple(paths)
    if paths is not None and not (
        listed and all(isinstance(p, str) and p.startswith("/") for p in listed)
    ):
        raise ValueError("paths must be a list of paths, each starting with '/'")
    return None if listed is None else tuple(p.rstrip("/") for p in listed)


def covers(listed: tuple[str, ...] | None, path: str) -> bool:
    """Whether ``path`` is one of ``listed`` or below one (``None`` covers every path)."""
    return listed is None or any(p == path or path.startswith(p + "/") for p in listed)


def phrase(status: int) -> str:
    """The reason phrase of ``status`` (``Error`` for QStash's 489, which has none)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --- ASGI ------------------------------------------------------------------------------------


#: The response messages that may be an answer's last part: a body or a zero-copy send without
#: ``more_body``, or a path send (always its last).
_BODY = frozenset({"http.response.body", "http.response.zerocopysend"})
_PATHSEND = "http.response.pathsend"


class StatusCapture:
    """An ASGI ``send`` that passes every message on and keeps the status the app answers with
    (``None`` until it starts an answer). Given the delivery's ``ending`` (here or by
    ``end_with()``), it awaits it before the answer's last part goes out: the claim is ended by
    the time QStash sees the answer."""

    __slots__ = ("_ending", "_send", "status")

    def __init__(self, send: Send, ending: Ending | None = None) -> None:
        self._send, self._ending = send, ending
        self.status: int | None = None

    def end_with(self, ending: Ending) -> None:
        """Await ``ending`` (with the status) before the answer's last part is sent."""
        self._ending = ending

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start" and self.status is None:
            self.status = message["status"]
        elif kind == _PATHSEND or (kind in _BODY and not message.get("more_body", False)):
            ending, self._ending = self._ending, None
            if ending is not None:
                await ending(self.status)
        await self._send(message)


async def receive_body(headers: Headers, receive: Receive, endpoint: Endpoint) -> bytes | Answer:
    """The body from ``receive``, at most one chunk past the limit, or the answer to give
    (413; ``CLIENT_GONE`` when the client left mid-body)."""
    early = endpoint.too_large(headers.first(CONTENT_LENGTH_HEADER), headers)
    if early is not None:
        return early  # refused on its declared length: nothing read
    parts: list[bytes] = []
    size, more, limit = 0, True, endpoint.max_body_bytes
    while more and size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return endpoint.refuse(CLIENT_GONE, headers)
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        more = message.get("more_body", False)
    if size > limit:  # refused without joining: no second copy
        return endpoint.refuse(refusal(PayloadTooLargeError(limit)), headers)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def respond(send: Send, answer: Answer) -> None:
    """Send ``answer`` as a ``text/plain`` ASGI response."""
    text = answer.text.encode()
    headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in answer.headers.items()]
    headers.append((b"content-length", b"%d" % len(text)))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


# --- WSGI ------------------------------------------------------------------------------------


class StartResponseCapture:
    """A WSGI ``start_response`` that passes every call on and keeps the status of the last
    (``None`` until the app starts its answer)."""

    __slots__ = ("_start_response", "status")

    def __init__(self, start_response: StartResponse) -> None:
        self._start_response = start_response
        self.status: int | None = None

    def __call__(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        self.status = decimal(status[:3])
        return self._start_response(status, headers, exc_info)


def read_input(environ: Mapping[str, Any], endpoint: Endpoint) -> bytes | Answer:
    """The body of a WSGI request, read at most to the limit (plus one byte), or the 413."""
    declared = environ.get("CONTENT_LENGTH")
    early = declared_too_large(declared, endpoint.max_body_bytes)
    if early is not None:  # refused on its declared length: nothing read
        return endpoint.refuse(early, Headers.from_environ(environ))
    stream: IO[bytes] = environ["wsgi.input"]
    length = decimal(declared)
    if length is not None:
        return stream.read(length) if length else b""
    if not environ.get("wsgi.input_terminated"):
        return b""  # PEP 3333: no length and a stream that may not end: no body
    parts: list[bytes] = []
    size, limit = 0, endpoint.max_body_bytes
    while size <= limit:  # a chunked body, read until it ends or passes the limit
        chunk = stream.read(min(CHUNK, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        return endpoint.refuse(refusal(PayloadTooLargeError(limit)), Headers.from_environ(environ))
    return b"".join(parts)


def answer_wsgi(start_response: StartResponse, answer: Answer, exc_info: Any = None) -> list[bytes]:
    """``answer`` as a ``text/plain`` WSGI response."""
    text = answer.text.encode()
    headers = [*answer.headers.items(), ("Content-Length", str(len(text)))]
    start_response(f"{answer.status} {phrase(answer.status)}", headers, exc_info)
    return [text]


class _Started:
    # A lazy app's response once its first chunk is out: that chunk, the rest, its close().
    def __init__(self, first: bytes, rest: Iterator[bytes], result: Iterable[bytes]) -> None:
        self.first, self.rest, self.result = first, rest, result

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        yield from self.rest

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is not None:
            close()


def started(result: Iterable[bytes], capture: StartResponseCapture) -> Iterable[bytes]:
    """The app's response with its status known: an app that starts its answer lazily (a
    generator) is run to its first chunk, so that its status and its errors come now."""
    if capture.status is not None:
        return result
    rest = iter(result)
    try:
        first = next(rest, b"")
    except BaseException:
        _Started(b"", rest, result).close()
        raise
    return _Started(first, rest, result)


# --- http.server ------------------------------------------------------------------------------


def answer_handler(handler: BaseHTTPRequestHandler, answer: Answer, unread: bool = False) -> None:
    """Send ``answer`` through an ``http.server`` handler (``unread``: the request's body is still
    on the connection, which is then closed after the answer)."""
    text = answer.text.encode()
    handler.send_response(answer.status, phrase(answer.status))
    for name, value in answer.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(text)))
    if unread:  # the body is still on the connection: no next request can follow it
        handler.send_header("Connection", "close")
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(text)


class HeldOutput(io.BytesIO):
    """What a verified ``http.server`` method writes, held until its delivery is ended. Closing
    it (the method calling ``self.wfile.close()`` or ``self.finish()``) keeps what was written;
    the handler then closes the connection after sending it."""

    closing = False

    def close(self) -> None:
        """Record that the method closed its output (nothing written is dropped)."""
        self.closing = True

    def send(self, wfile: io.BufferedIOBase) -> None:
        """Write what was held to ``wfile``, the connection's own stream."""
        try:
            with self.getbuffer() as written:
                wfile.write(written)
        finally:
            super().close()
