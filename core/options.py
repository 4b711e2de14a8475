"""The options every adapter takes, validated once, where a view or handler is decorated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypedDict

from . import names as N
from .claims import AsyncDedupeStore, DedupeStore
from .token import validate_tolerance
from .verify import Receiver

__all__ = ["DEFAULT_MAX_BODY_BYTES", "OptionArgs", "Options", "UrlOption"]

#: Default body limit: QStash's largest message size on pay-as-you-go plans.
DEFAULT_MAX_BODY_BYTES: Final = N.MAX_MESSAGE_BYTES

#: The expected signed URL: fixed, computed from the platform's request, or ``None``.
UrlOption = str | Callable[[Any], str] | None


class OptionArgs(TypedDict, total=False):
    """The keyword options every adapter's ``verify_qstash`` accepts (see
    [`Options`][qstash_receiver.options.Options])."""

    url: UrlOption
    clock_tolerance: float
    max_body_bytes: int
    receiver: Receiver | None
    dedupe: DedupeStore | AsyncDedupeStore | None


@dataclass(frozen=True, slots=True)
class Options:
    """The options of one verified view or handler, validated when it is decorated.

    Args:
        url: when given, the signed destination URL (``sub``) must equal it; a callable gets
            the platform's request object and returns the URL.
        clock_tolerance: seconds of clock skew accepted on ``exp``, ``nbf`` and ``iat``.
        max_body_bytes: larger bodies (declared or streamed) are refused with 413.
        receiver: the [`Receiver`][qstash_receiver.Receiver] to use; default: the adapter's
            (built from the environment or the framework's settings on first use).
        dedupe: the duplicate-delivery guard's store
            ([`qstash_receiver.dedupe`][qstash_receiver.dedupe]); each message id then runs the
            handler once. ``None``: every delivery runs it.

    Raises:
        ValueError: ``clock_tolerance`` out of range (negative, NaN) or ``max_body_bytes``
            not an ``int`` >= 0 (a NaN limit would silently switch the limit off).
        TypeError: ``url``, ``receiver`` or ``dedupe`` of the wrong type.
    """

    url: UrlOption = None
    clock_tolerance: float = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    receiver: Receiver | None = None
    dedupe: DedupeStore | AsyncDedupeStore | None = None

    def __post_init__(self) -> None:
        validate_tolerance(self.clock_tolerance)
        limit = self.max_body_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError("max_body_bytes must be an int >= 0")
        if self.url is not None and not (isinstance(self.url, str) or callable(self.url)):
            raise TypeError("url must be a str, a callable taking the request, or None")
        if self.receiver is not None and not isinstance(self.receiver, Receiver):
            raise TypeError("receiver must be a qstash_receiver.Receiver")
        if self.dedupe is not None and not isinstance(self.dedupe, (DedupeStore, AsyncDedupeStore)):
            raise TypeError("dedupe must be a store, e.g. qstash_receiver.dedupe.RedisStore")
