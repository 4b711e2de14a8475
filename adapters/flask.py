"""Flask adapter: verify QStash deliveries in views, or in every view of a blueprint.

::

    qstash = QStash(app)                  # QSTASH_* from app.config, else the environment

    @app.post("/qstash")
    @verify_qstash
    def hook():
        message = current_message()       # also flask.g.qstash_message
        ...

    qstash.protect(jobs_blueprint)        # every view of the blueprint, no decorator needed

Cloud Functions (functions-framework) runs HTTP functions as Flask views, so
:mod:`qstash_receiver.adapters.gcf` uses this module's decorator.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ParamSpec, TypeVar, cast, overload

from qstash_receiver.integration import missing_extra

try:
    from flask import Blueprint, Flask, Request, Response, current_app, g, has_app_context, request
    from werkzeug.exceptions import RequestEntityTooLarge
except ModuleNotFoundError as error:
    raise missing_extra(error, "flask") from None

from qstash_receiver import (
    ConfigError,
    QStashError,
    Receiver,
    SignatureError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.config import overlay_settings
from qstash_receiver.integration import Endpoint, Headers, Options, Rejection, guarded

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = [
    "verify_qstash",
    "QStash",
    "current_message",
    "MESSAGE_ATTRIBUTE",
    "VerifiedMessage",
    "QStashError",
    "SignatureError",
    "ConfigError",
]

P = ParamSpec("P")
R = TypeVar("R")

#: The ``flask.g`` attribute holding the :class:`VerifiedMessage` of a verified request.
MESSAGE_ATTRIBUTE = "qstash_message"
_EXTENSION = "qstash"


def current_message() -> VerifiedMessage:
    """The message verified for the current request (typed access to ``g.qstash_message``).

    Raises:
        LookupError: outside a request, or the request was not verified.
    """
    message = g.get(MESSAGE_ATTRIBUTE) if has_app_context() else None
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request did not pass verify_qstash")
    return message


def _read_body(request: Request, endpoint: Endpoint) -> bytes | Rejection:
    limit = endpoint.max_body_bytes
    declared = request.content_length
    if declared is not None and declared <= limit:
        # Werkzeug reads exactly the declared length, and refuses it with Flask's own 413
        # when MAX_CONTENT_LENGTH is smaller: nothing to cap.
        return request.get_data(cache=True)  # cached: get_json()/get_data() in the view
    app_limit = request.max_content_length  # Flask's MAX_CONTENT_LENGTH
    if app_limit is None or app_limit > limit:
        early = endpoint.declared_too_large(declared)
        if early is not None:
            return early
        app_limit = None  # max_body_bytes is the stricter limit
    cap = limit if app_limit is None else app_limit
    # Werkzeug stops a body of unknown length (chunked) at max_content_length without an
    # error, so one byte more is read: a longer body then shows as too large, not truncated.
    original, request.max_content_length = request.max_content_length, cap + 1
    try:
        body = request.get_data(cache=True)
    finally:
        request.max_content_length = original
    if app_limit is not None and len(body) > app_limit:
        raise RequestEntityTooLarge()  # the stricter app limit answers Flask's own 413
    return body  # over max_body_bytes: the core answers 413


def _answer(rejection: Rejection) -> Response:
    return Response(rejection.text, status=rejection.status, headers=rejection.headers)


def _guard(endpoint: Endpoint) -> Callable[..., Response | None]:
    def guard(*_: object, **__: object) -> Response | None:
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        body = _read_body(current, endpoint)
        result = (
            body
            if isinstance(body, Rejection)
            else endpoint.check(Headers.from_environ(current.environ), body, current)
        )
        if isinstance(result, Rejection):
            return _answer(result)
        setattr(g, MESSAGE_ATTRIBUTE, result)
        return None

    return guard


def _app_receiver() -> Callable[[], Receiver]:
    fallback = Receiver()  # resolves load_config() lazily, on the first request

    def resolve() -> Receiver:
        extension = current_app.extensions.get(_EXTENSION)
        return fallback if extension is None else cast(QStash, extension).receiver()

    return resolve


def _decorate(view: Callable[P, R], endpoint: Endpoint) -> Callable[P, R]:
    return guarded(view, _guard(endpoint))


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
    :func:`current_message`); the raw body stays cached, so ``request.get_json()`` works.
    Other requests get ``text/plain`` 401 (not verified), 413 (body over ``max_body_bytes``;
    a smaller ``MAX_CONTENT_LENGTH`` answers Flask's own 413) or 500 (no usable keys).

    Args:
        url: the signed destination URL must equal it; a callable gets the
            ``flask.Request`` and returns the URL (e.g. ``qstash_receiver.adapters.gcf.
            public_url``).
        clock_tolerance: seconds of clock skew accepted.
        max_body_bytes: larger bodies (declared or streamed) are refused with 413.
        receiver: default: the Flask ``QStash`` extension's when the app has one, else one
            ``Receiver()`` per view, reading the environment (``QSTASH_REGION``, the
            ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY`` pairs, ``QSTASH_DEV``; see
            :func:`qstash_receiver.load_config`) on the first request.

    Raises:
        ValueError, TypeError: invalid options (when decorating). Nothing per request:
            failures become responses. The view's own exceptions propagate.
    """
    endpoint = Endpoint(Options(**options), _app_receiver())
    if view is not None:
        return _decorate(view, endpoint)
    return functools.partial(_decorate, endpoint=endpoint)


class QStash:
    """Flask extension: QStash settings in ``app.config`` and blueprint protection.

    Every ``QSTASH_*`` environment variable (``QSTASH_REGION``, ``QSTASH_CURRENT_SIGNING_KEY``,
    ``US_EAST_1_QSTASH_NEXT_SIGNING_KEY``, ...) may be set in ``app.config`` under the same
    name; names absent from it (or ``None``) come from ``environ``. The merged mapping goes to
    :func:`qstash_receiver.load_config` on the app's first delivery and the result is cached.
    :func:`verify_qstash` views without an explicit ``receiver`` use it too.

    Args:
        app: the app to initialise now (or call :meth:`init_app` later).
        environ: the fallback environment; default ``os.environ`` (tests pass a dict).
    """

    def __init__(
        self, app: Flask | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self._environ = environ
        self._receivers: weakref.WeakKeyDictionary[Flask, Receiver] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the extension on ``app`` (as ``app.extensions["qstash"]``)."""
        app.extensions[_EXTENSION] = self

    def environ(self, app: Flask) -> dict[str, str]:
        """What ``load_config`` sees for ``app``: the environment overlaid with app.config."""
        return overlay_settings(app.config.get, self._environ)

    def receiver(self, app: Flask | None = None) -> Receiver:
        """The :class:`Receiver` of ``app`` (default: the current app), built on first use.

        Raises:
            ConfigError: invalid settings/environment (not cached: a fix takes effect).
        """
        target = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        receiver = self._receivers.get(target)
        if receiver is None:
            receiver = self._receivers[target] = Receiver(config=load_config(self.environ(target)))
        return receiver

    def protect(self, scope: Blueprint | Flask, **options: Unpack[OptionArgs]) -> None:
        """Verify every request of a blueprint (or app) before its views run.

        A ``before_request`` hook: register it before hooks that need the message. Options
        and answers are those of :func:`verify_qstash` (default receiver: this extension's).

        Raises:
            ValueError, TypeError: invalid options.
        """
        scope.before_request(_guard(Endpoint(Options(**options), self.receiver)))
