"""The verification every Flask integration shares: the current request, its answer, its message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qstash_receiver.integration import missing_extra

try:
    from flask import Request, Response, current_app, g, has_app_context, request
except ModuleNotFoundError as error:
    raise missing_extra(error, "flask") from None

from qstash_receiver import Receiver, VerifiedMessage
from qstash_receiver.integration import Answer, Endpoint, Headers, Responder

from .body import read_body

__all__ = [
    "EXTENSION",
    "MESSAGE_ATTRIBUTE",
    "RECEIVER",
    "RESPONDER",
    "answer",
    "app_receiver",
    "current_message",
    "default_receiver",
    "verify_current",
]

#: The ``flask.g`` attribute holding the
#: [`VerifiedMessage`][qstash_receiver.adapters.flask.VerifiedMessage] of a verified request.
MESSAGE_ATTRIBUTE = "qstash_message"
#: ``app.extensions`` keys: the ``QStash`` extension, and the app's receiver.
EXTENSION = "qstash"
RECEIVER = "qstash.receiver"
#: The receiver of views in apps without the ``QStash`` extension: it reads the environment on
#: the first delivery.
default_receiver = Receiver()


def current_message() -> VerifiedMessage:
    """The message verified for the current request (typed access to ``g.qstash_message``).

    Raises:
        LookupError: outside a request, or the request was not verified.
    """
    message = g.get(MESSAGE_ATTRIBUTE) if has_app_context() else None
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request did not pass verify_qstash")
    return message


def answer(fixed: Answer) -> Response:
    """The ``text/plain`` response for ``fixed``."""
    return Response(fixed.text, status=fixed.status, headers=fixed.headers)


def _make_response(result: object) -> Response:
    # What Flask does with a view's return value, done first so that its status is known.
    return current_app.make_response(result)  # type: ignore[arg-type]


#: How Flask answers: any return value a view may give becomes a Response first.
RESPONDER: Responder[Response] = Responder(
    answer, lambda response: response.status_code, _make_response
)


def app_receiver() -> Receiver:
    """The current app's receiver (set up by the ``QStash`` extension), else one reading the
    environment."""
    receiver = current_app.extensions.get(RECEIVER)
    return receiver if isinstance(receiver, Receiver) else default_receiver


def verify_current(endpoint: Endpoint) -> Callable[..., Response | VerifiedMessage]:
    """A function verifying the current request (whatever arguments it is given): the
    message, also in ``flask.g``, or the response to give."""

    def verify(*_: Any, **__: Any) -> Response | VerifiedMessage:
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        body = read_body(current, endpoint)
        result = (
            body
            if isinstance(body, Answer)
            else endpoint.verify(Headers.from_environ(current.environ), body, current)
        )
        if isinstance(result, Answer):
            return answer(result)
        setattr(g, MESSAGE_ATTRIBUTE, result)
        return result

    return verify
