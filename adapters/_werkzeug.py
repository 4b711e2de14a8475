"""Request handling shared by the Flask and Cloud Functions adapters: functions-framework runs
HTTP functions as Flask views, so both get a ``flask.Request`` and answer alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Request, Response, g, has_app_context, request
from werkzeug.exceptions import RequestEntityTooLarge

from qstash_receiver import (
    DEFAULT_MAX_BODY_BYTES,
    Receiver,
    Rejection,
    VerifiedMessage,
    check_content_length,
    check_options,
    check_request,
)

#: The ``flask.g`` attribute holding the :class:`VerifiedMessage` of a verified request.
MESSAGE_ATTRIBUTE = "qstash_message"
#: The ``app.extensions`` key of the Flask extension, whose receiver decorators then use.
EXTENSION = "qstash"

#: The expected signed URL: fixed, computed from the request, or ``None`` (not checked).
UrlOption = str | Callable[[Request], str] | None


def current_message() -> VerifiedMessage:
    """The message verified for the current request (typed access to ``g.qstash_message``).

    Raises:
        LookupError: outside a request, or the request was not verified.
    """
    message = g.get(MESSAGE_ATTRIBUTE) if has_app_context() else None
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request did not pass verify_qstash")
    return message


def _read_body(request: Request, max_body_bytes: int) -> bytes | Rejection:
    app_limit = original = request.max_content_length  # Flask's MAX_CONTENT_LENGTH
    if app_limit is None or app_limit > max_body_bytes:
        early = check_content_length(request.headers.get("Content-Length"), max_body_bytes)
        if early is not None:
            return early
        app_limit = None  # max_body_bytes is the stricter limit
    limit = max_body_bytes if app_limit is None else app_limit
    # Werkzeug stops a body of unknown length (chunked) at max_content_length without an
    # error, so one byte more is read: a longer body then shows as too large, not truncated.
    request.max_content_length = limit + 1
    try:
        body = request.get_data(cache=True)  # cached: get_json()/get_data() work in the view
    finally:
        request.max_content_length = original
    if app_limit is not None and len(body) > app_limit:
        raise RequestEntityTooLarge()  # the stricter app limit answers Flask's own 413
    return body  # over max_body_bytes: the core answers 413


@dataclass(frozen=True)
class Guard:
    """Verifies the current request; ``None`` means "run the handler"."""

    receiver: Callable[[], Receiver]
    url: UrlOption = None
    clock_tolerance: float = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        check_options(self.clock_tolerance, self.max_body_bytes)  # at decoration time

    def __call__(self) -> Response | None:
        result = self.check(request)
        if isinstance(result, Rejection):
            return Response(result.text, status=result.status, headers=result.headers)
        setattr(g, MESSAGE_ATTRIBUTE, result)
        return None

    def check(self, request: Request) -> VerifiedMessage | Rejection:
        body = _read_body(request, self.max_body_bytes)
        if isinstance(body, Rejection):
            return body
        url = self.url(request) if callable(self.url) else self.url
        return check_request(
            self.receiver,
            request.headers.items(),
            body,
            url=url,
            clock_tolerance=self.clock_tolerance,
            max_body_bytes=self.max_body_bytes,
        )
