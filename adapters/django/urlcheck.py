"""The signed URL check for Django views: ``url=request_url``, and which views have it.

``request_url`` is Django's own idea of the URL a request was made to, so Django's proxy
settings decide it: ``SECURE_PROXY_SSL_HEADER`` (scheme), ``USE_X_FORWARDED_HOST`` and
``USE_X_FORWARDED_PORT`` (host), ``ALLOWED_HOSTS`` (which hosts are accepted at all) and
``FORCE_SCRIPT_NAME`` (a path prefix). See docs/url-check.md for the trade-off.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from django.http import HttpRequest

from qstash_receiver.integration import Options

__all__ = [
    "RequestUrl",
    "UrlChecks",
    "guard_stores",
    "largest_body_limit",
    "record",
    "request_url",
    "url_checks",
]


class RequestUrl:
    """The URL a request was made to, for ``verify_qstash(url=request_url)``.

    ``request.build_absolute_uri()``: scheme, host and port as Django's proxy settings define
    them, then the path (percent-encoded the way Django encodes it) and the query string. An
    object rather than a function, so that it can also be a class attribute of a view
    (``qstash_url = request_url``) without becoming a method.

    Raises:
        django.core.exceptions.DisallowedHost: the host is not in ``ALLOWED_HOSTS``; Django
            answers that with 400, as ``CommonMiddleware`` does before any view.
    """

    __slots__ = ()

    def __call__(self, request: HttpRequest) -> str:
        """The absolute URL of ``request``."""
        return request.build_absolute_uri()

    def __repr__(self) -> str:
        return "request_url"


#: The one `RequestUrl`: ``@verify_qstash(url=request_url)``.
request_url = RequestUrl()


@dataclass(frozen=True)
class UrlChecks:
    """How many QStash views were built with a URL check, and how many without one."""

    checked: int = 0
    unchecked: int = 0


_lock = threading.Lock()
_counts = {True: 0, False: 0}
_largest_limit = [0]  # the largest max_body_bytes of a QStash view
_stores: weakref.WeakSet[object] = weakref.WeakSet()


def record(options: Options) -> None:
    """Count a view's options (called once per decorated view or ``as_view()``), and keep its
    guard store for the system checks."""
    with _lock:
        _counts[options.url is not None] += 1
        _largest_limit[0] = max(_largest_limit[0], options.max_body_bytes)
        if options.dedupe is not None:
            _stores.add(options.dedupe)


def largest_body_limit() -> int:
    """The largest ``max_body_bytes`` of the QStash views built so far (0: none yet)."""
    with _lock:
        return _largest_limit[0]


def guard_stores() -> list[object]:
    """The guard stores of the QStash views built so far."""
    with _lock:
        return list(_stores)


def url_checks() -> UrlChecks:
    """The views counted so far (the system check imports the URLconf first)."""
    with _lock:
        return UrlChecks(checked=_counts[True], unchecked=_counts[False])
