"""``verify_qstash``: one decorator for Flask views and functions-framework HTTP functions."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast, overload

from flask import current_app

from qstash_receiver import DEFAULT_MAX_BODY_BYTES, Receiver

from ._werkzeug import EXTENSION, Guard, UrlOption

P = ParamSpec("P")
R = TypeVar("R")


def _receiver(explicit: Receiver | None) -> Callable[[], Receiver]:
    fallback = explicit or Receiver()  # resolves load_config() lazily, on the first request

    def resolve() -> Receiver:
        extension = current_app.extensions.get(EXTENSION) if explicit is None else None
        return fallback if extension is None else cast(Receiver, extension.receiver())

    return resolve


def _wrap(view: Callable[P, R], guard: Guard) -> Callable[P, R]:
    verified: Callable[..., Any]
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def verified(*args: P.args, **kwargs: P.kwargs) -> Any:
            rejected = guard()
            return rejected if rejected is not None else await view(*args, **kwargs)

    else:

        @functools.wraps(view)
        def verified(*args: P.args, **kwargs: P.kwargs) -> Any:
            rejected = guard()
            return rejected if rejected is not None else view(*args, **kwargs)

    # A rejection returns a flask.Response in place of R, which Flask accepts from any view.
    return cast(Callable[P, R], verified)


@overload
def verify_qstash(view: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def verify_qstash(
    *,
    url: UrlOption = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    receiver: Receiver | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def verify_qstash(
    view: Callable[P, R] | None = None,
    /,
    *,
    url: UrlOption = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    receiver: Receiver | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Verify QStash deliveries before a Flask view or functions-framework HTTP function runs.

    Use bare (``@verify_qstash``) or with options, on sync and async views. The view runs
    only for verified requests, with the message in ``flask.g.qstash_message`` (typed:
    :func:`current_message`); the raw body stays cached, so ``request.get_json()`` works.
    Other requests get ``text/plain`` 401 (not verified), 413 (body over ``max_body_bytes``;
    a smaller ``MAX_CONTENT_LENGTH`` answers Flask's own 413) or 500 (no usable keys).

    Args:
        url: the signed destination URL must equal it; a callable gets the request and
            returns the URL (e.g. ``qstash_receiver.adapters.gcf.public_url``).
        clock_tolerance: seconds of clock skew accepted.
        max_body_bytes: larger bodies (declared or streamed) are refused with 413.
        receiver: default: the Flask ``QStash`` extension's when the app has one, else one
            ``Receiver()`` per view, reading the environment (``QSTASH_REGION``, the
            ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY`` pairs, ``QSTASH_DEV``; see
            :func:`qstash_receiver.load_config`) on the first request.

    Raises:
        Nothing per request: failures become responses. The view's own exceptions propagate.
    """
    guard = Guard(_receiver(receiver), url, clock_tolerance, max_body_bytes)
    if view is not None:
        return _wrap(view, guard)
    return functools.partial(_wrap, guard=guard)
