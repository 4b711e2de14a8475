"""``verify_qstash``: the decorator for Django function views, sync and async."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest

from qstash_receiver import DEFAULT_MAX_BODY_BYTES, Receiver, check_options

from .verification import verify_request

__all__ = ["verify_qstash"]

V = TypeVar("V", bound=Callable[..., Any])


def _wrap(view: V, options: dict[str, Any]) -> V:
    wrapper: Callable[..., Any]
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            answer = verify_request(request, **options)
            return answer if answer is not None else await view(request, *args, **kwargs)

    else:

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            answer = verify_request(request, **options)
            return answer if answer is not None else view(request, *args, **kwargs)

    # The marker CsrfViewMiddleware reads (what csrf_exempt sets), set on our own wrapper:
    # Django < 5.0's csrf_exempt turns an async view into a sync one.
    wrapper.csrf_exempt = True  # type: ignore[attr-defined]
    return cast(V, wrapper)


@overload
def verify_qstash(view: V, /) -> V: ...


@overload
def verify_qstash(
    *,
    url: str | None = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    receiver: Receiver | None = None,
) -> Callable[[V], V]: ...


def verify_qstash(
    view: V | None = None,
    /,
    *,
    url: str | None = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    receiver: Receiver | None = None,
) -> V | Callable[[V], V]:
    """Verify QStash deliveries before a Django function view (sync or async) runs.

    Use bare (``@verify_qstash``) or with options (``@verify_qstash(url=...)``). The view is
    CSRF-exempt and runs only for verified requests, with the message available as
    ``request.qstash_message`` (typed: :func:`get_message`). Other requests are answered
    401 (not verified), 413 (body over ``max_body_bytes`` or ``DATA_UPLOAD_MAX_MEMORY_SIZE``)
    or 500 (no usable signing keys; QStash retries), as ``text/plain``.

    Args:
        view: the view function (bare use).
        url: when given, the signed destination URL must equal it.
        clock_tolerance: seconds of clock skew accepted.
        max_body_bytes: larger bodies are refused before they are read.
        receiver: the :class:`Receiver` to use; default: one built from Django settings
            with environment fallback (see ``qstash_receiver.adapters.django.settings``),
            resolved on the first request.

    Settings / environment variables read (default receiver): ``QSTASH_REGION``,
    ``QSTASH_CURRENT_SIGNING_KEY``, ``QSTASH_NEXT_SIGNING_KEY``, their ``EU_CENTRAL_1_`` /
    ``US_EAST_1_`` prefixed forms, ``QSTASH_DEV``.

    Raises:
        ValueError: when decorating, for options that would weaken verification (a negative
            or NaN ``clock_tolerance``, a ``max_body_bytes`` that is not an int >= 0). Per
            request nothing of its own: every verification or configuration failure becomes
            a response, and the view's own exceptions propagate.
    """
    check_options(clock_tolerance, max_body_bytes)
    options: dict[str, Any] = {
        "receiver": receiver,
        "url": url,
        "clock_tolerance": clock_tolerance,
        "max_body_bytes": max_body_bytes,
    }
    if view is not None:
        return _wrap(view, options)
    return functools.partial(_wrap, options=options)
