"""``limit_body``: refuse oversize bodies before Django's ASGI handler receives them.

Under ASGI, Django's ``ASGIHandler`` receives the whole request body before any middleware or
view runs (into a temporary file that moves to disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE``).
``DATA_UPLOAD_MAX_MEMORY_SIZE`` and a view's ``max_body_bytes`` are applied when the view reads
``request.body``, after all of it was received. This wrapper stands between the server and
Django and answers 413 as soon as a body is known to be too large: at once when the declared
``Content-Length`` says so, or at the first chunk past the limit of a chunked body, without
receiving the rest. ``asgi.py``:

```python
from django.core.asgi import get_asgi_application
from qstash_receiver.adapters.django.asgi import limit_body

application = limit_body(get_asgi_application(), max_body_bytes=1024 * 1024,
                         paths=["/qstash/"])
```

Under WSGI (gunicorn, uWSGI, mod_wsgi) nothing is needed: Django reads the body only when the
view asks for it, and the view's check refuses a declared oversize body before that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from qstash_receiver import PayloadTooLargeError
from qstash_receiver.answers import declared_too_large
from qstash_receiver.integration import DEFAULT_MAX_BODY_BYTES, Options, answer_for
from qstash_receiver.telemetry import refused as record

__all__ = ["ASGIApp", "limit_body"]

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application, as Django's ``get_asgi_application()`` returns one.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISCONNECT: Message = {"type": "http.disconnect"}


def _declared_length(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            return bytes(value).decode("latin-1")
    return None


def _prefixes(paths: Iterable[str] | None) -> tuple[str, ...] | None:
    if paths is None:
        return None
    if isinstance(paths, str):  # a lone "/qstash/" would be iterated character by character
        raise TypeError("paths must be an iterable of path prefixes, e.g. ['/qstash/']")
    prefixes = tuple(paths)
    if not all(isinstance(prefix, str) and prefix.startswith("/") for prefix in prefixes):
        raise ValueError("each of paths must be a str starting with '/'")
    return prefixes


def limit_body(
    application: ASGIApp,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    paths: Iterable[str] | None = None,
) -> ASGIApp:
    """Wrap an ASGI application so that HTTP bodies over ``max_body_bytes`` get 413 early.

    A request whose ``Content-Length`` exceeds the limit is answered 413 ``body_too_large``
    (``text/plain``) without calling ``application``. A chunked body is passed through chunk by
    chunk and counted; at the first byte past the limit the client gets the same 413 and
    ``application`` receives ``http.disconnect`` (Django then stops quietly), so the rest is
    never received into memory or onto disk.

    Args:
        application: the ASGI application, e.g. ``django.core.asgi.get_asgi_application()``.
        max_body_bytes: the largest body accepted; keep it at least the ``max_body_bytes``
            of the QStash views it covers (default: theirs, 10 MiB).
        paths: path prefixes the limit applies to (matched against the ASGI ``path``, which
            includes ``root_path``), e.g. ``["/qstash/"]``; default: every HTTP request.

    Raises:
        ValueError, TypeError: invalid ``max_body_bytes`` or ``paths`` (when wrapping).
    """
    limit = Options(max_body_bytes=max_body_bytes).max_body_bytes  # validated as views are
    prefixes = _prefixes(paths)
    rejection = answer_for(PayloadTooLargeError(limit))
    text = rejection.text.encode()
    start: Message = {
        "type": "http.response.start",
        "status": rejection.status,
        "headers": [
            *((name.lower().encode(), value.encode()) for name, value in rejection.headers.items()),
            (b"content-length", str(len(text)).encode()),
        ],
    }
    answer: Message = {"type": "http.response.body", "body": text}

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope.get("type") != "http" or (prefixes is not None and not path.startswith(prefixes)):
            await application(scope, receive, send)
            return
        if declared_too_large(_declared_length(scope), limit) is not None:
            record(rejection, scope.get("headers"))  # the delivery log's record, its span
            await send(start)
            await send(answer)
            return
        received = 0
        refused = started = False

        async def receive_counted() -> Message:
            nonlocal received, refused
            if refused:
                return _DISCONNECT
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    record(rejection, scope.get("headers"))
                    if not started:  # else the application's own answer is under way
                        await send(start)
                        await send(answer)
                    return _DISCONNECT
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the client has its answer
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        await application(scope, receive_counted, send_unless_refused)

    return limited
