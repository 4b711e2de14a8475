"""``verify_qstash``: the decorator for Flask views and functions-framework HTTP functions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar, overload

from qstash_receiver.integration import Endpoint, Options, wrap_view

from .order import refuse_wrong_order
from .verification import RESPONDER, app_receiver, verify_current

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["verify_qstash"]

P = ParamSpec("P")
R = TypeVar("R")


def _decorate(view: Callable[P, R], endpoint: Endpoint) -> Callable[P, R]:
    refuse_wrong_order(view, "verify_qstash", _is_ours)
    return wrap_view(view, verify_current(endpoint), endpoint, RESPONDER)


def _is_ours(value: object) -> bool:
    """Whether ``value`` is ``verify_qstash`` or a decorator made from it (``verify_qstash(...)``,
    a ``functools.partial`` of it), under whatever name it is bound to."""
    if isinstance(value, functools.partial):
        return value.func is verify_qstash or value.func is _decorate
    return value is verify_qstash


@overload
def verify_qstash(view: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def verify_qstash(
    **options: Unpack[OptionArgs],
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def verify_qstash(
    view: Callable[P, R] | None = None, /, **options: Unpack[OptionArgs]
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Verify QStash deliveries before a Flask view or functions-framework HTTP function runs.

    Use bare (``@verify_qstash``) or with options, on sync and async views. The view runs
    only for verified requests, with the message in ``flask.g.qstash_message`` (typed:
    [`current_message()`][qstash_receiver.adapters.flask.current_message]); the raw body stays
    cached, so ``request.get_json()`` works. Other requests get ``text/plain`` 401 (not verified),
    413 (body over ``max_body_bytes``; a smaller ``MAX_CONTENT_LENGTH`` answers Flask's own 413) or
    500 (no usable keys). A view raising ``NonRetryableError`` is answered 489 (QStash does not
    retry), ``RetryLater`` 503 with ``Retry-After``.

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the
            ``flask.Request`` and returns the URL (e.g. ``qstash_receiver.adapters.gcf.
            public_url``).
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or streamed) are refused with 413.
        receiver (Receiver | None): default: the Flask ``QStash`` extension's when the app has one,
            else one ``Receiver()`` reading the environment (``QSTASH_REGION``, the
            ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY`` pairs, ``QSTASH_DEV``; see
            [`qstash_receiver.load_config()`][qstash_receiver.load_config]) on the first request.
        dedupe (DedupeStore | None): a duplicate-delivery guard store
            ([`qstash_receiver.dedupe`][qstash_receiver.dedupe]): each message runs the view once; a
            copy of a handled one is answered 200 without running it, one in progress 409 with
            ``Retry-After``; an unreachable store 503. The view's answer counts as handled when its
            status is 2xx.

    Raises:
        ValueError, TypeError: invalid options (when decorating); TypeError also when
            ``@verify_qstash`` is written above the route decorator (``@app.post(...)``,
            ``@functions_framework.http``), where the route would run unverified. Nothing
            per request: failures become responses. The view's own exceptions propagate
            (after the duplicate guard's claim is released).
    """
    endpoint = Endpoint(Options(**options), app_receiver)
    if view is not None:
        return _decorate(view, endpoint)
    return functools.partial(_decorate, endpoint=endpoint)
