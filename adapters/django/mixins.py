"""``QStashVerifiedMixin``: verification for class-based views, at dispatch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import classonlymethod
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from qstash_receiver import Receiver, VerifiedMessage
from qstash_receiver.dedupe import DedupeStore
from qstash_receiver.integration import DEFAULT_MAX_BODY_BYTES, Endpoint, Options, UrlOption

from .verification import RESPONDER, endpoint, get_message, offload, verify_request

__all__ = ["QStashVerifiedMixin"]

_OPTION_ATTRIBUTES: dict[str, str] = {
    "url": "qstash_url",
    "clock_tolerance": "qstash_clock_tolerance",
    "max_body_bytes": "qstash_max_body_bytes",
    "receiver": "qstash_receiver",
    "dedupe": "qstash_dedupe",
}


class QStashVerifiedMixin(View):
    """Verify QStash deliveries before any handler of a class-based view runs.

    Put it first among the bases (``class Hook(QStashVerifiedMixin, View)``). Sync and async views
    both work (Django requires a view's handlers to be all sync or all async). The view is
    CSRF-exempt; verified handlers read ``self.qstash_message``; other requests are answered
    401/413/500 as by [`verify_qstash()`][qstash_receiver.adapters.django.verify_qstash], whose
    options are these class attributes (also settable through ``as_view(**initkwargs)``), validated
    once by [`as_view()`][qstash_receiver.adapters.django.QStashVerifiedMixin.as_view].

    Attributes:
        qstash_url: when set, the signed destination URL must equal it.
        qstash_clock_tolerance: seconds of clock skew accepted.
        qstash_max_body_bytes: larger bodies are refused before they are read.
        qstash_receiver: the [`Receiver`][qstash_receiver.Receiver] to use; default: built from
            Django settings with environment fallback (``QSTASH_*`` names), resolved on the first
            request.
        qstash_dedupe: a duplicate-delivery guard store (each message handled once), as the
            decorator's ``dedupe=``.
    """

    qstash_url: UrlOption = None
    qstash_clock_tolerance: float = 0
    qstash_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    qstash_receiver: Receiver | None = None
    qstash_dedupe: DedupeStore | None = None
    # Set by as_view(): the validated options of this view function.
    _qstash_endpoint: ClassVar[Endpoint | None] = None
    # Also set by as_view(): View.view_is_async inspects every handler on each access.
    _qstash_is_async: ClassVar[bool | None] = None

    @classonlymethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        """The view function, CSRF-exempt (QStash sends no CSRF token).

        Raises:
            ValueError, TypeError: invalid ``qstash_*`` options.
        """
        options = Options(
            **{
                option: initkwargs.get(attribute, getattr(cls, attribute))
                for option, attribute in _OPTION_ATTRIBUTES.items()
            }
        )
        view = super().as_view(
            **initkwargs, _qstash_endpoint=endpoint(options), _qstash_is_async=cls.view_is_async
        )
        return csrf_exempt(view)

    @property
    def qstash_message(self) -> VerifiedMessage:
        """The verified message of the current request.

        Raises:
            LookupError: called outside a verified request.
        """
        return get_message(self.request)

    def _endpoint(self) -> Endpoint:
        checked = self._qstash_endpoint
        if checked is None:  # dispatch() called without as_view(), e.g. in a unit test
            checked = endpoint(
                Options(**{o: getattr(self, a) for o, a in _OPTION_ATTRIBUTES.items()})
            )
        return checked

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        checked = self._endpoint()
        is_async = self._qstash_is_async
        if is_async if is_async is not None else self.view_is_async:
            # Django awaits what an async view returns, rejections included.
            return cast(HttpResponseBase, self._dispatch_async(checked, request, *args, **kwargs))
        message = verify_request(request, checked)
        if not isinstance(message, VerifiedMessage):
            return message
        handle = super().dispatch
        answer = checked.run(message, lambda: handle(request, *args, **kwargs), RESPONDER)
        return cast(HttpResponseBase, answer)

    async def _dispatch_async(
        self, checked: Endpoint, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        message = verify_request(request, checked)
        if not isinstance(message, VerifiedMessage):
            return message
        handle = cast(Callable[..., Awaitable[HttpResponseBase]], super().dispatch)
        return cast(
            HttpResponseBase,
            await checked.run_async(
                message, lambda: handle(request, *args, **kwargs), RESPONDER, offload=offload
            ),
        )
