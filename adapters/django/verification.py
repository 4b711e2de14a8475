"""The request check shared by ``verify_qstash`` and ``QStashVerifiedMixin``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from qstash_receiver import MalformedBodyError, PayloadTooLargeError, VerifiedMessage
from qstash_receiver.headers import decimal
from qstash_receiver.integration import (
    Answer,
    Endpoint,
    Headers,
    Options,
    Responder,
    refusal,
)

from .settings import default_receiver
from .urlcheck import record

__all__ = ["MESSAGE_ATTRIBUTE", "RESPONDER", "endpoint", "get_message", "offload", "verify_request"]

#: The ``HttpRequest`` attribute holding the
#: [`VerifiedMessage`][qstash_receiver.adapters.django.VerifiedMessage] of a verified request.
MESSAGE_ATTRIBUTE = "qstash_message"


def get_message(request: HttpRequest) -> VerifiedMessage:
    """The message verified for ``request`` (typed access to ``request.qstash_message``).

    Raises:
        LookupError: the request did not go through ``verify_qstash`` or the mixin.
    """
    message = getattr(request, MESSAGE_ATTRIBUTE, None)
    if not isinstance(message, VerifiedMessage):
        raise LookupError("request was not verified by verify_qstash or QStashVerifiedMixin")
    return message


def endpoint(options: Options) -> Endpoint:
    """The endpoint of a Django view: its options, the settings' receiver by default."""
    record(options)  # for the system check that says which views skip the URL check
    return Endpoint(options, default_receiver)


def _answer(rejection: Answer) -> HttpResponse:
    return HttpResponse(rejection.text, status=rejection.status, headers=rejection.headers)


def _status(response: object) -> int | None:
    return response.status_code if isinstance(response, HttpResponseBase) else None


#: How Django answers (a view's answer is an ``HttpResponseBase``, streaming ones included).
RESPONDER: Responder[Any] = Responder(_answer, _status)


def offload(call: Callable[[], Any]) -> Any:
    """Run a store call from an async view: in Django's thread for sync code (the cache
    store may use the database, whose connections belong to that thread)."""
    return sync_to_async(call)()


def verify_request(request: HttpRequest, endpoint: Endpoint) -> HttpResponse | VerifiedMessage:
    """Verify ``request``: the message (also attached to it) or the rejection's response."""
    declared = request.META.get("CONTENT_LENGTH")
    headers = Headers.from_environ(request.META)
    if declared and decimal(declared) is None:
        # runserver passes a malformed length on; Django 5 then fails on request.body, but
        # Django 6 reads it as 0 and the check would say body_mismatch: refuse it here.
        return _answer(endpoint.refuse(refusal(MalformedBodyError()), headers))
    early = endpoint.too_large(declared, headers)
    if early is not None:
        return _answer(early)
    try:
        body = request.body  # the only read; later request.body calls reuse it
    except RequestDataTooBig:  # Django would answer 400; the delivery is too large: 413
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or endpoint.max_body_bytes
        return _answer(endpoint.refuse(refusal(PayloadTooLargeError(limit)), headers))
    except ValueError:  # a malformed Content-Length that the server passed on (runserver)
        return _answer(endpoint.refuse(refusal(MalformedBodyError()), headers))
    result = endpoint.verify(headers, body, request)
    if isinstance(result, Answer):
        return _answer(result)
    setattr(request, MESSAGE_ATTRIBUTE, result)
    return result
