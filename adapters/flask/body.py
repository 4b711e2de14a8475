"""Reading a Flask request's body under the endpoint's limit, once, kept for the view."""

from __future__ import annotations

import io

from qstash_receiver.integration import missing_extra

try:
    from flask import Request
    from werkzeug.exceptions import RequestEntityTooLarge
except ModuleNotFoundError as error:
    raise missing_extra(error, "flask") from None

from qstash_receiver import PayloadTooLargeError
from qstash_receiver.integration import Answer, Endpoint, Headers, answer_for

__all__ = ["read_body"]


#: How much of a body of unknown length (chunked) is read at a time.
_CHUNK = 64 * 1024


def _read_at_most(request: Request, cap: int) -> bytes | None:
    # In chunks, so that a body longer than ``cap`` costs at most ``cap + _CHUNK`` bytes
    # of memory before it is refused (one get_data() of ``cap + 1`` bytes peaks at twice).
    original = request.max_content_length
    request.max_content_length = cap + 1  # werkzeug's own limit on a stream it creates now
    chunks: list[bytes] = []
    total = 0
    try:
        stream = request.stream
        while total <= cap:
            chunk = stream.read(min(_CHUNK, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        request.max_content_length = original
    if total > cap:
        return None
    # get_data() caches it, so request.get_json()/get_data() work in the view; a body
    # that something read before this view is already cached, and get_data() returns it.
    request.stream = io.BytesIO(b"".join(chunks))
    return request.get_data(cache=True)


def read_body(request: Request, endpoint: Endpoint) -> bytes | Answer:
    """The body of ``request``, read at most to the stricter of the endpoint's and Flask's
    limits, or the 413 to answer (Flask's own ``RequestEntityTooLarge`` when its
    ``MAX_CONTENT_LENGTH`` is the stricter one, so an app's error handler applies)."""
    limit = endpoint.max_body_bytes
    app_limit = request.max_content_length  # Flask's MAX_CONTENT_LENGTH (or per request)
    flask_answers = app_limit is not None and app_limit <= limit  # the stricter limit answers
    cap = limit if app_limit is None else min(limit, app_limit)
    declared = request.content_length  # None when chunked
    if declared is not None and declared <= cap:
        # Werkzeug reads exactly the declared length: nothing to cap. Cached, so
        # request.get_json()/get_data() work in the view.
        return request.get_data(cache=True)
    body = None if declared is not None else _read_at_most(request, cap)
    if body is not None:
        return body  # over max_body_bytes only if something read it before: the core's 413
    # Too large. Whatever reads the body after this view (functions-framework's own
    # after_request hook reads it whole) finds it consumed; the server discards the rest.
    request.stream = io.BytesIO()
    headers = Headers.from_environ(request.environ)  # for the delivery's record
    if flask_answers:
        endpoint.refuse(answer_for(PayloadTooLargeError(cap)), headers)  # recorded
        raise RequestEntityTooLarge()  # Flask's own 413 (an app's errorhandler applies)
    return endpoint.too_large(declared, headers) or endpoint.refuse(
        answer_for(PayloadTooLargeError(limit)), headers
    )
