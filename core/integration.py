"""What an adapter needs from the core, in one place (for authors of adapters).

An adapter builds one :class:`Endpoint` when a view or handler is decorated (the options are
validated then, once), and per request hands it the headers and RAW body it pulled out of the
platform's request; the endpoint answers with a :class:`~qstash_receiver.VerifiedMessage` or a
:class:`Rejection`, which the adapter turns into the platform's own response shape.
:func:`guarded` is the one sync/async view wrapper; :class:`LazyReceiver` the one lazily built
receiver.

Users of the library need none of this: they use the adapters' ``verify_qstash``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypedDict, TypeVar, cast

from .headers import HeaderInput, Headers
from .message import VerifiedMessage
from .request import (
    DEFAULT_MAX_BODY_BYTES,
    ReceiverSource,
    Rejection,
    check_content_length,
    check_request,
    rejection_for,
)
from .verify import Receiver, check_tolerance

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "Endpoint",
    "Headers",
    "LazyReceiver",
    "OptionArgs",
    "Options",
    "ReceiverSource",
    "Rejection",
    "UrlOption",
    "check_content_length",
    "check_request",
    "guarded",
    "missing_extra",
    "rejection_for",
]

P = ParamSpec("P")
R = TypeVar("R")

#: The expected signed URL: fixed, computed from the platform's request, or ``None``.
UrlOption = str | Callable[[Any], str] | None


class OptionArgs(TypedDict, total=False):
    """The keyword options every adapter's ``verify_qstash`` accepts (see :class:`Options`)."""

    url: UrlOption
    clock_tolerance: float
    max_body_bytes: int
    receiver: Receiver | None


@dataclass(frozen=True, slots=True)
class Options:
    """The options of one verified view or handler, validated when it is decorated.

    Args:
        url: when given, the signed destination URL (``sub``) must equal it; a callable gets
            the platform's request object and returns the URL.
        clock_tolerance: seconds of clock skew accepted on ``exp``, ``nbf`` and ``iat``.
        max_body_bytes: larger bodies (declared or streamed) are refused with 413.
        receiver: the :class:`~qstash_receiver.Receiver` to use; default: the adapter's
            (built from the environment or the framework's settings on first use).

    Raises:
        ValueError: ``clock_tolerance`` out of range (negative, NaN) or ``max_body_bytes``
            not an ``int`` >= 0 (a NaN limit would silently switch the limit off).
        TypeError: ``url`` or ``receiver`` of the wrong type.
    """

    url: UrlOption = None
    clock_tolerance: float = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    receiver: Receiver | None = None

    def __post_init__(self) -> None:
        check_tolerance(self.clock_tolerance)
        limit = self.max_body_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError("max_body_bytes must be an int >= 0")
        if self.url is not None and not (isinstance(self.url, str) or callable(self.url)):
            raise TypeError("url must be a str, a callable taking the request, or None")
        if self.receiver is not None and not isinstance(self.receiver, Receiver):
            raise TypeError("receiver must be a qstash_receiver.Receiver")


class LazyReceiver:
    """A receiver built by ``factory`` on first use, then kept (:meth:`reset` forgets it).

    A failed build (``ConfigError``: an invalid environment) is not kept, so the next
    request tries again and a fixed configuration takes effect without a restart.
    """

    __slots__ = ("_factory", "_lock", "_receiver")

    def __init__(self, factory: Callable[[], Receiver]) -> None:
        self._factory = factory
        self._receiver: Receiver | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Receiver:
        receiver = self._receiver
        if receiver is None:
            with self._lock:
                receiver = self._receiver
                if receiver is None:
                    receiver = self._receiver = self._factory()
        return receiver

    def reset(self) -> None:
        """Forget the receiver: the next request builds a new one (settings changed)."""
        self._receiver = None


class Endpoint:
    """One decorated view's verification: validated :class:`Options` and its receiver.

    Args:
        options: the view's options.
        default_receiver: used when ``options.receiver`` is ``None``: a receiver, or a
            callable returning one per request (e.g. a :class:`LazyReceiver`).
    """

    __slots__ = ("_receiver", "_tolerance", "_url", "max_body_bytes", "options")

    def __init__(self, options: Options, default_receiver: ReceiverSource) -> None:
        self.options = options
        self.max_body_bytes = options.max_body_bytes
        self._receiver: ReceiverSource = (
            options.receiver if options.receiver is not None else default_receiver
        )
        self._url, self._tolerance = options.url, options.clock_tolerance

    def declared_too_large(self, content_length: object) -> Rejection | None:
        """A 413 when a declared ``Content-Length`` exceeds the limit (before any read)."""
        return check_content_length(content_length, self.max_body_bytes)

    def check(
        self, headers: HeaderInput, body: object, request: object = None
    ) -> VerifiedMessage | Rejection:
        """Verify one request; ``request`` is what a callable ``url`` option is given."""
        url = self._url
        if url is not None and not isinstance(url, str):
            url = url(request)
        return check_request(
            self._receiver,
            headers,
            body,
            url=url,
            clock_tolerance=self._tolerance,
            max_body_bytes=self.max_body_bytes,
        )


def guarded(
    view: Callable[P, R],
    guard: Callable[P, Any],
    *,
    is_async: bool | None = None,
) -> Callable[P, R]:
    """Wrap ``view`` so that ``guard(*args, **kwargs)`` runs first.

    The guard returns ``None`` to let the view run, or the answer to give instead (the
    platform's response). Coroutine views get a coroutine wrapper, so frameworks still see
    an async view; ``is_async`` overrides the detection (Django's asgiref markers).
    """
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(view) if is_async is None else is_async:
        run_async = cast(Callable[..., Awaitable[Any]], view)

        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            answer = guard(*args, **kwargs)
            return answer if answer is not None else await run_async(*args, **kwargs)

    else:

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            answer = guard(*args, **kwargs)
            return answer if answer is not None else view(*args, **kwargs)

    # A rejection is the platform's response in place of R, which every platform accepts.
    return cast(Callable[P, R], wrapper)


def missing_extra(error: ModuleNotFoundError, extra: str) -> ModuleNotFoundError:
    """The error an adapter raises when its framework is not installed: it names the extra.

    ``raise missing_extra(error, "django") from None`` in place of the bare import error.
    """
    return ModuleNotFoundError(
        f"qstash_receiver needs {error.name!r} here, which is not installed: "
        f'pip install "qstash-receiver[{extra}]"',
        name=error.name,
    )
