"""Framework-neutral WSGI middleware for any WSGI app (Falcon, Flask, Django, Bottle, plain):

```python
application = QStashMiddleware(app, paths=["/qstash"])
message = get_message(environ)   # in the app (req.env, request.environ, request.META)
```

Imports no framework. The app reads the body as it always does: the verified bytes, replayed.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.integration import Answer, Endpoint, Headers, Options, Responder

from ._gateway import (
    MESSAGE_KEY,
    StartResponseCapture,
    answer_wsgi,
    covers,
    default_receiver,
    prefixes,
    read_input,
    started,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["QStashMiddleware", "get_message", "MESSAGE_ENVIRON_KEY"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]

#: A WSGI application (typed loosely: each framework types the environ its own way).
WSGIApp = Callable[[Any, Any], Iterable[bytes]]

#: The WSGI environ key holding the
#: [`VerifiedMessage`][qstash_receiver.adapters.wsgi.VerifiedMessage] of a verified request.
MESSAGE_ENVIRON_KEY = MESSAGE_KEY


def get_message(environ: Mapping[str, Any]) -> VerifiedMessage:
    """The message verified for the request of ``environ`` (Falcon's ``req.env``, Flask's
    ``request.environ``, Django's ``request.META``).

    Raises:
        LookupError: the request was not verified.
    """
    message = environ.get(MESSAGE_ENVIRON_KEY)
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request was not verified")
    return message


class QStashMiddleware:
    """WSGI middleware verifying requests to ``paths`` (default: every request).

    The body is read once under the limit (a declared ``Content-Length`` over it is refused unread;
    a chunked body is read in bounded chunks) and replayed to the app through ``wsgi.input``, with
    ``CONTENT_LENGTH`` set to its length;
    [`get_message()`][qstash_receiver.adapters.wsgi.get_message] gives the message. Rejections get
    ``text/plain`` 401, 413 or 500 and the app is not called. An app raising ``NonRetryableError``
    is answered 489, ``RetryLater`` 503 with ``Retry-After`` (let the two propagate out of your
    framework: see the docs of each).

    Args:
        app: the WSGI app to protect.
        paths: paths below the app's root (``PATH_INFO``), each covering the paths below it
            too (``"/qstash"`` covers ``/qstash/jobs``); other requests pass through.
        **options: the shared options (``url``, ``clock_tolerance``, ``max_body_bytes``,
            ``receiver``, ``dedupe``: [`Options`][qstash_receiver.integration.Options]); a
            callable ``url`` gets the environ. With ``dedupe``, the app's answer counts as
            handled when the status it passes to ``start_response`` is 2xx.

    Raises:
        ValueError, TypeError: invalid options or paths.
    """

    def __init__(
        self, app: WSGIApp, *, paths: Iterable[str] | None = None, **options: Unpack[OptionArgs]
    ) -> None:
        self.app = app
        self.paths = prefixes(paths)
        self._endpoint = Endpoint(Options(**options), default_receiver)

    def __call__(self, environ: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not covers(self.paths, environ.get("PATH_INFO") or "/"):
            return self.app(environ, start_response)
        endpoint = self._endpoint
        body = read_input(environ, endpoint)
        checked = body if isinstance(body, Answer) else endpoint.verify(
            Headers.from_environ(environ), body, environ
        )  # fmt: skip
        if isinstance(checked, Answer):
            return answer_wsgi(start_response, checked)
        environ[MESSAGE_ENVIRON_KEY] = checked
        environ["wsgi.input"] = io.BytesIO(checked.body)
        environ["CONTENT_LENGTH"] = str(len(checked.body))
        capture = StartResponseCapture(start_response)

        def answer(given: Answer) -> Iterable[bytes]:
            # Once the app has started its answer, only with the error (PEP 3333's exc_info).
            error = sys.exc_info() if capture.status is not None else None
            return answer_wsgi(start_response, given, error)

        return endpoint.run(
            checked,
            lambda: started(self.app(environ, capture), capture),
            Responder(answer, lambda _: capture.status),
        )
