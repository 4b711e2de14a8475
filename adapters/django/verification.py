"""The request check shared by ``verify_qstash`` and ``QStashVerifiedMixin``."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from qstash_receiver import (
    DEFAULT_MAX_BODY_BYTES,
    MalformedBodyError,
    PayloadTooLargeError,
    Receiver,
    Rejection,
    VerifiedMessage,
    check_content_length,
    check_request,
)
from qstash_receiver.request import rejection_for

from .settings import get_receiver

__all__ = ["MESSAGE_ATTRIBUTE", "get_message", "verify_request"]

#: The ``HttpRequest`` attribute holding the :class:`VerifiedMessage` of a verified request.
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


def _answer(rejection: Rejection) -> HttpResponse:
    return HttpResponse(rejection.text, status=rejection.status, headers=rejection.headers)


def verify_request(
    request: HttpRequest,
    *,
    receiver: Receiver | None = None,
    url: str | None = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> HttpResponse | None:
    """Verify ``request``: ``None`` (message attached to it) or the rejection's response."""
    declared = request.headers.get("Content-Length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        # runserver passes a malformed length on; Django 5 then fails on request.body, but
        # Django 6 reads it as 0 and the check would say body_mismatch: refuse it here.
        return _answer(rejection_for(MalformedBodyError()))
    early = check_content_length(declared, max_body_bytes)
    if early is not None:
        return _answer(early)
    try:
        body = request.body  # the only read; later request.body calls reuse it
    except RequestDataTooBig:  # Django would answer 400; the delivery is too large: 413
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or max_body_bytes
        return _answer(rejection_for(PayloadTooLargeError(limit)))
    except ValueError:  # a malformed Content-Length that the server passed on (runserver)
        return _answer(rejection_for(MalformedBodyError()))
    result = check_request(
        receiver if receiver is not None else get_receiver,
        request.headers,
        body,
        url=url,
        clock_tolerance=clock_tolerance,
        max_body_bytes=max_body_bytes,
    )
    if isinstance(result, Rejection):
        return _answer(result)
    setattr(request, MESSAGE_ATTRIBUTE, result)
    return None
