"""Flask adapter: verify QStash deliveries in views, or in every view of a blueprint.

::

    qstash = QStash(app)                  # QSTASH_* from app.config, else the environment

    @app.post("/qstash")
    @verify_qstash
    def hook():
        message = current_message()       # also flask.g.qstash_message
        ...

    qstash.protect(jobs_blueprint)        # every view of the blueprint, no decorator needed

    @app.post("/once")
    @verify_qstash(dedupe=RedisStore(redis_client))   # each message id handled once
    def once(): ...

Cloud Functions (functions-framework) runs HTTP functions as Flask views, so
:mod:`qstash_receiver.adapters.gcf` uses this module's decorator.
"""

from __future__ import annotations

import functools
import io
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ParamSpec, TypeVar, cast, overload
from urllib.parse import quote

from qstash_receiver.integration import missing_extra

try:
    from flask import Blueprint, Flask, Request, Response, current_app, g, has_app_context, request
    from werkzeug.exceptions import RequestEntityTooLarge
except ModuleNotFoundError as error:
    raise missing_extra(error, "flask") from None

from qstash_receiver import (
    ConfigError,
    NonRetryableError,
    PayloadTooLargeError,
    QStashError,
    Receiver,
    RetryLater,
    SignatureError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.config import overlay_settings
from qstash_receiver.integration import (
    Attempt,
    Endpoint,
    Headers,
    Options,
    Rejection,
    Shape,
    guarded,
    handler_rejection,
    rejection_for,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = [
    "verify_qstash",
    "QStash",
    "current_message",
    "request_url",
    "request_target",
    "MESSAGE_ATTRIBUTE",
    "VerifiedMessage",
    "QStashError",
    "SignatureError",
    "ConfigError",
    "NonRetryableError",
    "RetryLater",
]

P = ParamSpec("P")
R = TypeVar("R")

#: The ``flask.g`` attribute holding the :class:`VerifiedMessage` of a verified request.
MESSAGE_ATTRIBUTE = "qstash_message"
_EXTENSION = "qstash"
# Characters of a path kept as they are when it is rebuilt (RFC 3986 pchar, plus "/" and "%").
_PATH_SAFE = "/!$&'()*+,;=:@%"
_ATTEMPT = "_qstash_attempt"  # flask.g: the guard's attempt between protect()'s hooks


def current_message() -> VerifiedMessage:
    """The message verified for the current request (typed access to ``g.qstash_message``).

    Raises:
        LookupError: outside a request, or the request was not verified.
    """
    message = g.get(MESSAGE_ATTRIBUTE) if has_app_context() else None
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request did not pass verify_qstash")
    return message


def request_target(request: Request) -> str:
    """The path and query string ``request`` was sent to, percent-encoding kept.

    The target as the client sent it (``RAW_URI`` / ``REQUEST_URI``, set by gunicorn, uWSGI,
    mod_wsgi and werkzeug), behind the app's root path: ``SCRIPT_NAME``, or under
    ``ProxyFix(x_prefix=...)`` the ``X-Forwarded-Prefix`` the proxy stripped. Without a raw
    target it is rebuilt from the decoded path (``%2F`` and the like then come back decoded).
    """
    environ = request.environ
    root = request.root_path.rstrip("/")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    original = environ.get("werkzeug.proxy_fix.orig")
    served = original.get("SCRIPT_NAME") if isinstance(original, dict) else request.root_path
    served = (served or "").rstrip("/")  # the root the server itself saw, part of RAW_URI
    if isinstance(raw, str) and raw.startswith(served + "/"):
        return quote(root, safe=_PATH_SAFE) + raw[len(served) :]
    target = quote(root + request.path, safe=_PATH_SAFE)
    query = request.query_string.decode("latin-1")
    return f"{target}?{query}" if query else target


def request_url(request: Request) -> str:
    """The URL ``request`` was made to, for ``verify_qstash(url=request_url)``.

    Scheme and host as werkzeug sees them: behind a proxy, wrap the app in
    ``werkzeug.middleware.proxy_fix.ProxyFix`` with the proxy's ``X-Forwarded-Proto`` /
    ``-Host`` / ``-Port`` / ``-Prefix`` enabled, as for anything else that builds URLs; a
    default port is left out, and Flask's ``TRUSTED_HOSTS`` applies. Then
    :func:`request_target`.

    Raises:
        werkzeug.exceptions.SecurityError: the host is not in ``TRUSTED_HOSTS`` (Flask
            answers 400).
    """
    return f"{request.scheme}://{request.host}{request_target(request)}"


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


def _read_body(request: Request, endpoint: Endpoint) -> bytes | Rejection:
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
    if flask_answers:
        raise RequestEntityTooLarge()  # Flask's own 413 (an app's errorhandler applies)
    return endpoint.declared_too_large(declared) or rejection_for(PayloadTooLargeError(limit))


def _answer(rejection: Rejection) -> Response:
    return Response(rejection.text, status=rejection.status, headers=rejection.headers)


def _make_response(result: object) -> Response:
    # What Flask does with a view's return value, done first so that its status is known.
    return current_app.make_response(result)  # type: ignore[arg-type]


#: How Flask answers: any return value a view may give becomes a Response first.
_SHAPE: Shape[Response] = Shape(_answer, lambda response: response.status_code, _make_response)


def _guard(endpoint: Endpoint) -> Callable[..., Response | VerifiedMessage]:
    def guard(*_: object, **__: object) -> Response | VerifiedMessage:
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
        return result

    return guard


def _protect(scope: Blueprint | Flask, endpoint: Endpoint) -> None:
    # Hooks instead of a wrapper: claim before the view, finish once its response exists
    # (after_request also sees error handlers' answers), release if the request died.
    check = _guard(endpoint)

    def before() -> Response | None:
        checked = check()
        if not isinstance(checked, VerifiedMessage):
            return checked
        attempt = endpoint.begin(checked)
        if isinstance(attempt, Rejection):
            return _answer(attempt)
        setattr(g, _ATTEMPT, attempt)
        return None

    def after(response: Response) -> Response:
        attempt = g.pop(_ATTEMPT, None)
        if isinstance(attempt, Attempt):
            attempt.finish(response.status_code)
        return response

    def teardown(_: BaseException | None) -> None:
        attempt = g.pop(_ATTEMPT, None)
        if isinstance(attempt, Attempt):
            attempt.release()

    def refused(error: Exception) -> Response:
        return _answer(handler_rejection(cast(NonRetryableError | RetryLater, error)))

    scope.before_request(before)
    scope.after_request(after)
    scope.teardown_request(teardown)
    scope.register_error_handler(NonRetryableError, refused)
    scope.register_error_handler(RetryLater, refused)


def _app_receiver() -> Callable[[], Receiver]:
    fallback = Receiver()  # resolves load_config() lazily, on the first request

    def resolve() -> Receiver:
        extension = current_app.extensions.get(_EXTENSION)
        return fallback if extension is None else cast(QStash, extension).receiver()

    return resolve


def _decorate(view: Callable[P, R], endpoint: Endpoint) -> Callable[P, R]:
    return guarded(view, _guard(endpoint), endpoint, _SHAPE)


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
    a smaller ``MAX_CONTENT_LENGTH`` answers Flask's own 413) or 500 (no usable keys). A view
    raising ``NonRetryableError`` is answered 489 (QStash does not retry), ``RetryLater`` 503
    with ``Retry-After``.

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the
            ``flask.Request`` and returns the URL (e.g. ``qstash_receiver.adapters.gcf.
            public_url``).
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or streamed) are refused with 413.
        receiver (Receiver | None): default: the Flask ``QStash`` extension's when the app has one,
            else one ``Receiver()`` per view, reading the environment (``QSTASH_REGION``, the
            ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY`` pairs, ``QSTASH_DEV``; see
            :func:`qstash_receiver.load_config`) on the first request.
        dedupe (DedupeStore | None): a duplicate-delivery guard store
            (:mod:`qstash_receiver.dedupe`): each message runs the view once; a copy of a
            handled one is answered 200 without running it, one in progress 409 with
            ``Retry-After``; an unreachable store 503. The view's answer counts as handled when
            its status is 2xx.

    Raises:
        ValueError, TypeError: invalid options (when decorating). Nothing per request:
            failures become responses. The view's own exceptions propagate (after the
            guard's claim is released).
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
        and answers are those of :func:`verify_qstash` (default receiver: this extension's);
        with ``dedupe=``, an ``after_request`` hook completes or releases the claim by the
        response's status, and ``NonRetryableError`` / ``RetryLater`` raised by the scope's
        views get their answers through its error handlers.

        Raises:
            ValueError, TypeError: invalid options.
        """
        _protect(scope, Endpoint(Options(**options), self.receiver))
