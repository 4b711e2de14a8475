"""``verify_qstash``: the decorator for Django function views, sync and async."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.views.decorators.csrf import csrf_exempt

from qstash_receiver.integration import Endpoint, Options, wrap_view

from .verification import RESPONDER, endpoint, offload, verify_request

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["verify_qstash"]

V = TypeVar("V", bound=Callable[..., Any])


def _wrap(view: V, endpoint: Endpoint) -> V:
    def verify(request: HttpRequest, *_: object, **__: object) -> object:
        return verify_request(request, endpoint)

    wrapped = wrap_view(
        view, verify, endpoint, RESPONDER, is_async=iscoroutinefunction(view), offload=offload
    )
    # Django >= 5.0's csrf_exempt keeps an async view async.
    return cast(V, csrf_exempt(wrapped))


@overload
def verify_qstash(view: V, /) -> V: ...
@overload
def verify_qstash(**options: Unpack[OptionArgs]) -> Callable[[V], V]: ...
def verify_qstash(view: V | None = None, /, **options: Unpack[OptionArgs]) -> V | Callable[[V], V]:
    """Verify QStash deliveries before a Django function view (sync or async) runs.

    Use bare (``@verify_qstash``) or with options (``@verify_qstash(url=...)``). The view is
    CSRF-exempt and runs only for verified requests, with the message available as
    ``request.qstash_message`` (typed:
    [`get_message()`][qstash_receiver.adapters.django.get_message]). Other requests are answered 401
    (not verified), 413 (body over ``max_body_bytes`` or ``DATA_UPLOAD_MAX_MEMORY_SIZE``) or 500 (no
    usable signing keys; QStash retries), as ``text/plain``. A view raising ``NonRetryableError`` is
    answered 489 (QStash does not retry), ``RetryLater`` 503 with ``Retry-After``.

    Args:
        view: the view function (bare use).

    Keyword Args:
        url (UrlOption): when given, the signed destination URL must equal it (a callable gets the
            ``HttpRequest``).
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies are refused before they are read.
        receiver (Receiver | None): the [`Receiver`][qstash_receiver.Receiver] to use; default: one
            built from Django settings with environment fallback (see
            ``qstash_receiver.adapters.django.settings``), resolved on the first request.
        dedupe (DedupeStore | None): a duplicate-delivery guard store
            ([`qstash_receiver.dedupe`][qstash_receiver.dedupe], or
            ``qstash_receiver.adapters.django.CacheStore`` for a Django cache): each message runs
            the view once; a copy of a handled one is answered 200 without running it, one in
            progress 409 with ``Retry-After``; an unreachable store 503. The view's answer counts as
            handled when its status is 2xx.

    Settings / environment variables read (default receiver): ``QSTASH_REGION``,
    ``QSTASH_CURRENT_SIGNING_KEY``, ``QSTASH_NEXT_SIGNING_KEY``, their ``EU_CENTRAL_1_`` /
    ``US_EAST_1_`` prefixed forms, ``QSTASH_DEV``.

    Raises:
        ValueError: when decorating, for options that would weaken verification (a
            ``clock_tolerance`` out of range, a ``max_body_bytes`` that is not an int >= 0).
            Per request nothing of its own: every verification or configuration failure
            becomes a response, and the view's own exceptions propagate (after the guard's
            claim is released).
        TypeError: when decorating, for a ``url``, ``receiver`` or ``dedupe`` of the wrong
            type.
    """
    checked = endpoint(Options(**options))
    if view is not None:
        return _wrap(view, checked)
    return functools.partial(_wrap, endpoint=checked)
