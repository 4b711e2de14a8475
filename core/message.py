"""The value a successful verification returns: built once, complete, immutable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from types import MappingProxyType
from typing import Any, NoReturn, final

from . import names as N
from .config import KeySource
from .headers import Headers
from .jws import KeyUsed
from .names import Region

__all__ = ["VerifiedMessage"]

#: The headers of a message built without any (a bare ``Receiver.verify``): one shared
#: instance, which is safe because a ``Headers`` cannot be changed.
_NO_HEADERS = Headers()


class _Slots:
    # The storage of a VerifiedMessage, settable only while one is being built. A frozen
    # dataclass pays one object.__setattr__ per field (about 0.25 us each, 3-4 us a message on
    # the hot path); plain slot stores on this class cost a tenth of that, and the finished
    # object is then switched to VerifiedMessage, whose layout is identical (no extra slots).
    __slots__ = (
        "body",
        "caller_ip",
        "claims",
        "headers",
        "key_region",
        "key_source",
        "key_used",
        "message_id",
        "retried",
        "schedule_id",
        "topic_name",
        "upstash_region",
    )

    body: bytes
    claims: Mapping[str, Any]
    key_source: KeySource
    key_region: Region | None
    key_used: KeyUsed
    upstash_region: Region | None
    message_id: str | None
    retried: int | None
    schedule_id: str | None
    topic_name: str | None
    caller_ip: str | None
    headers: Headers


@final
class VerifiedMessage(_Slots):
    """A delivery whose signature, claims and body were verified. Immutable.

    Always truthy, so ``if receiver.verify(...):`` keeps working for code written against
    ``qstash.Receiver``. The delivery fields (``message_id`` and the rest) come from the
    request's headers: every adapter fills them; a bare :meth:`Receiver.verify` call, which
    sees no headers, leaves them ``None``.

    Attributes:
        body: the raw request body.
        claims: the verified JWT claims (``iss``, ``sub``, ``exp``, ``nbf``, ``iat``,
            ``jti``, ``body``), read-only.
        key_source: where the matching keys came from: ``dev``, ``explicit``, ``region``
            (migration mode) or ``default``.
        key_region: the region whose keys verified it (migration mode), else ``None``.
        key_used: ``current`` or ``next``.
        upstash_region: the normalised ``Upstash-Region`` header, if any.
        message_id, retried, schedule_id, topic_name, caller_ip: the ``Upstash-*``
            delivery headers (``retried`` is 0 on the first delivery; ``None`` when the
            header is absent or not a number).
        headers: every request header but the signature, read-only and case-insensitive
            (names lower-cased when iterated; repeated headers joined with ``", "``).

    Setting or deleting an attribute raises :class:`dataclasses.FrozenInstanceError` (an
    ``AttributeError``). Equality is identity, as for any delivery. Copies and pickles keep
    every field. Not meant to be subclassed.
    """

    __slots__ = ()
    # The constructor's order (also pattern matching's, as for a dataclass).
    __match_args__ = (
        "body",
        "claims",
        "key_source",
        "key_region",
        "key_used",
        "upstash_region",
        "message_id",
        "retried",
        "schedule_id",
        "topic_name",
        "caller_ip",
        "headers",
    )

    def __new__(
        cls,
        body: bytes,
        claims: Mapping[str, Any],
        key_source: KeySource,
        key_region: Region | None,
        key_used: KeyUsed,
        upstash_region: Region | None = None,
        message_id: str | None = None,
        retried: int | None = None,
        schedule_id: str | None = None,
        topic_name: str | None = None,
        caller_ip: str | None = None,
        headers: Headers | None = None,
    ) -> VerifiedMessage:
        """Build one; ``claims`` is kept behind a read-only view."""
        draft = _Slots()
        draft.body = body
        draft.claims = claims if type(claims) is MappingProxyType else MappingProxyType(claims)
        draft.key_source = key_source
        draft.key_region = key_region
        draft.key_used = key_used
        draft.upstash_region = upstash_region
        draft.message_id = message_id
        draft.retried = retried
        draft.schedule_id = schedule_id
        draft.topic_name = topic_name
        draft.caller_ip = caller_ip
        draft.headers = _NO_HEADERS if headers is None else headers
        draft.__class__ = VerifiedMessage  # from here on, nothing can be set
        return draft  # type: ignore[return-value]

    def __init_subclass__(cls, **kwargs: object) -> NoReturn:
        raise TypeError("VerifiedMessage cannot be subclassed")

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: VerifiedMessage is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"cannot delete field {name!r}: VerifiedMessage is immutable")

    def __reduce__(self) -> tuple[type[VerifiedMessage], tuple[Any, ...]]:
        # For copy and pickle: rebuilt through the constructor (the claims view as a dict).
        fields = tuple(getattr(self, name) for name in self.__match_args__)
        return VerifiedMessage, (fields[0], dict(self.claims), *fields[2:])

    @property
    def url(self) -> str:
        """The destination URL QStash signed (the ``sub`` claim)."""
        return str(self.claims["sub"])

    @property
    def forwarded_headers(self) -> Mapping[str, str]:
        """The headers the publisher forwarded (QStash strips the ``Upstash-Forward-`` prefix):
        every header but ``upstash-*`` and transport ones (``host``, ``content-length``...)."""
        return {
            name: value
            for name, value in self.headers.items()
            if not name.startswith(N.UPSTASH_HEADER_PREFIX) and name not in N.TRANSPORT_HEADERS
        }

    def text(self, encoding: str = "utf-8") -> str:
        """The body decoded as text (raises ``UnicodeDecodeError`` for binary bodies)."""
        return self.body.decode(encoding)

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.body)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return (
            f"VerifiedMessage(message_id={self.message_id!r}, key_source={self.key_source!r}, "
            f"key_region={self.key_region!r}, key_used={self.key_used!r}, "
            f"body=<{len(self.body)} bytes>)"
        )
