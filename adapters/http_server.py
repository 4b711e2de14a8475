"""Adapter for the standard library's ``http.server`` and Vercel's Python runtime:

```python
class handler(BaseHTTPRequestHandler):      # api/qstash.py on Vercel
    @verify_qstash
    def do_POST(self) -> None:
        message = get_message(self)         # and self.rfile gives the same body
```

Imports no framework.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Final, TypeVar, overload

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.headers import decimal
from qstash_receiver.integration import Answer, Endpoint, Options, Responder

from ._gateway import HeldOutput, answer_handler, default_receiver

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["verify_qstash", "get_message", "MESSAGE_ATTRIBUTE", "LENGTH_REQUIRED"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]

H = TypeVar("H", bound=BaseHTTPRequestHandler)
Method = Callable[[H], None]

#: The handler attribute holding the message while a verified method runs.
MESSAGE_ATTRIBUTE = "qstash_message"
#: The answer to a body without one usable ``Content-Length`` (chunked, malformed, two
#: values): ``http.server`` does not decode chunked bodies, and QStash always sends a length.
LENGTH_REQUIRED: Final = Answer(411, "length_required")


def get_message(handler: BaseHTTPRequestHandler) -> VerifiedMessage:
    """The message verified for the request ``handler`` is handling.

    Raises:
        LookupError: the request was not verified (or its method has returned).
    """
    message = getattr(handler, MESSAGE_ATTRIBUTE, None)
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request was not verified")
    return message


def _read(handler: BaseHTTPRequestHandler, endpoint: Endpoint) -> bytes | Answer:
    lengths = handler.headers.get_all("Content-Length") or []
    declared = lengths[0].strip() if lengths else "0"
    length = decimal(declared)
    chunked = handler.headers.get("Transfer-Encoding") is not None or len(set(lengths)) > 1
    if chunked or length is None:
        return endpoint.refuse(LENGTH_REQUIRED, list(handler.headers.items()))
    early = endpoint.too_large(declared, list(handler.headers.items()))  # 413, nothing read
    return early or handler.rfile.read(length)


def _decorate(method: Method[H], endpoint: Endpoint) -> Method[H]:
    @functools.wraps(method)
    def wrapper(self: H) -> None:
        body = _read(self, endpoint)
        checked = body if isinstance(body, Answer) else endpoint.verify(
            self.headers.items(), body, self
        )  # fmt: skip
        if isinstance(checked, Answer):
            return answer_handler(self, checked, unread=isinstance(body, Answer))
        statuses: list[int] = []
        send_response, rfile = self.send_response, self.rfile

        def capture(code: int, message: str | None = None) -> None:
            statuses.append(code)
            send_response(code, message)

        def answer(given: Answer) -> None:
            if statuses:  # the method has started its answer: no second one on this connection
                self.close_connection = True
            else:
                answer_handler(self, given)

        self.send_response = capture  # type: ignore[method-assign]
        self.rfile = io.BytesIO(checked.body)  # the method reads the body as usual
        # The answer is held until the delivery (the guard's claim) is ended: a retry sent as
        # soon as it arrives never finds the claim still held.
        held, wfile = HeldOutput(), self.wfile
        self.wfile = held
        setattr(self, MESSAGE_ATTRIBUTE, checked)
        try:
            responder = Responder(answer, lambda _: statuses[0] if statuses else None)
            endpoint.run(checked, functools.partial(method, self), responder)
        finally:  # this handler serves the connection's next request too
            del self.send_response
            self.rfile, self.wfile = rfile, wfile
            delattr(self, MESSAGE_ATTRIBUTE)
            self.close_connection = self.close_connection or held.closing
            held.send(wfile)

    return wrapper


@overload
def verify_qstash(method: Method[H], /) -> Method[H]: ...
@overload
def verify_qstash(**options: Unpack[OptionArgs]) -> Callable[[Method[H]], Method[H]]: ...
def verify_qstash(
    method: Method[H] | None = None, /, **options: Unpack[OptionArgs]
) -> Method[H] | Callable[[Method[H]], Method[H]]:
    """Verify QStash deliveries before a ``BaseHTTPRequestHandler`` method (``do_POST``...) runs.

    Bare or with options. The method runs only for verified requests, with
    [`get_message()`][qstash_receiver.adapters.http_server.get_message] giving the message and
    ``self.rfile`` the verified body. Other requests get ``text/plain`` 401, 413 (over
    ``max_body_bytes``, unread), 411 (no usable ``Content-Length``) or 500. A method raising
    ``NonRetryableError`` is answered 489, ``RetryLater`` 503 (``Retry-After``).

    Keyword Args:
        **options: the shared options (``url``, ``clock_tolerance``, ``max_body_bytes``,
            ``receiver``, ``dedupe``: [`Options`][qstash_receiver.integration.Options]); a
            callable ``url`` gets the handler. With ``dedupe``, the method's answer counts as
            handled when the status it passes to ``send_response`` is 2xx.

    Raises:
        ValueError, TypeError: invalid options (when decorating).
    """
    endpoint = Endpoint(Options(**options), default_receiver)
    if method is not None:
        return _decorate(method, endpoint)
    return functools.partial(_decorate, endpoint=endpoint)
