"""The value a successful verification returns: built once, complete, immutable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from . import names as N
from .headers import Headers, decimal
from .jws import KeyUsed
from .keys import KeySource, SigningKeys
from .names import Region, normalize_region

__all__ = ["VerifiedMessage"]

#: The headers of a message built without any (a bare ``Receiver.verify``): one shared
#: instance, which is safe because a ``Headers`` cannot be changed.
_NO_HEADERS = Headers()


class VerifiedMessage:
    """A delivery whose signature, claims and body were verified. Immutable.

    Always truthy, so ``if receiver.verify(...):`` keeps working for code written against
    ``qstash.Receiver``. The delivery fields (``message_id`` and the rest) come from the request's
    headers: every adapter fills them; a bare [`Receiver.verify()`][qstash_receiver.Receiver.verify]
    call, which sees no headers, leaves them ``None``.

    Every field is a read-only property: setting or deleting one raises ``AttributeError``.
    Equality is identity, as for any delivery. Copies and pickles keep every field (also
    those of a subclass).
    """

    # Read-only properties over private slots, set once in __init__: a frozen dataclass pays
    # one object.__setattr__ per field on the hot path (make bench measures the difference).
    __slots__ = (
        "_body",
        "_caller_ip",
        "_claims",
        "_headers",
        "_key_region",
        "_key_source",
        "_key_used",
        "_message_id",
        "_retried",
        "_schedule_id",
        "_topic_name",
        "_upstash_region",
    )

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

    def __init__(
        self,
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
    ) -> None:
        self._body = body
        # Kept as a dict (what verification decodes: no copy), shown through a read-only view.
        self._claims = claims if type(claims) is dict else dict(claims)
        self._key_source = key_source
        self._key_region = key_region
        self._key_used = key_used
        self._upstash_region = upstash_region
        self._message_id = message_id
        self._retried = retried
        self._schedule_id = schedule_id
        self._topic_name = topic_name
        self._caller_ip = caller_ip
        self._headers = _NO_HEADERS if headers is None else headers

    @classmethod
    def of_delivery(
        cls,
        body: bytes,
        claims: dict[str, Any],
        keys: SigningKeys,
        used: KeyUsed,
        upstash_region: str | None,
        headers: Headers | None = None,
    ) -> VerifiedMessage:
        """The message of a verified delivery; with ``headers``, its delivery fields too."""
        region = normalize_region(upstash_region)
        if headers is None:
            return cls(body, claims, keys.source, keys.region, used, region)
        return cls(
            body,
            claims,
            keys.source,
            keys.region,
            used,
            region,
            headers.first(N.MESSAGE_ID_HEADER),
            decimal(headers.first(N.RETRIED_HEADER)),
            headers.first(N.SCHEDULE_ID_HEADER),
            headers.first(N.TOPIC_NAME_HEADER),
            headers.first(N.CALLER_IP_HEADER),
            headers,
        )

    @property
    def body(self) -> bytes:
        """The raw request body."""
        return self._body

    @property
    def claims(self) -> Mapping[str, Any]:
        """The verified JWT claims (``iss``, ``sub``, ``exp``, ``nbf``, ``iat``, ``jti``,
        ``body``), read-only."""
        return MappingProxyType(self._claims)

    @property
    def key_source(self) -> KeySource:
        """Where the matching keys came from (``dev``, ``explicit``, ``region``, ``default``)."""
        return self._key_source

    @property
    def key_region(self) -> Region | None:
        """The region whose keys verified it (migration mode), else ``None``."""
        return self._key_region

    @property
    def key_used(self) -> KeyUsed:
        """Which key matched: ``current`` or ``next``."""
        return self._key_used

    @property
    def upstash_region(self) -> Region | None:
        """The normalised ``Upstash-Region`` header, if any."""
        return self._upstash_region

    @property
    def message_id(self) -> str | None:
        """The ``Upstash-Message-Id`` header."""
        return self._message_id

    @property
    def retried(self) -> int | None:
        """The ``Upstash-Retried`` header: 0 on the first delivery; ``None`` when absent or not a
        number."""
        return self._retried

    @property
    def schedule_id(self) -> str | None:
        """The ``Upstash-Schedule-Id`` header (deliveries of a schedule)."""
        return self._schedule_id

    @property
    def topic_name(self) -> str | None:
        """The ``Upstash-Topic-Name`` header (deliveries through a URL group)."""
        return self._topic_name

    @property
    def caller_ip(self) -> str | None:
        """The ``Upstash-Caller-Ip`` header (who published the message)."""
        return self._caller_ip

    @property
    def headers(self) -> Headers:
        """Every request header but the signature, read-only and case-insensitive (names
        lower-cased when iterated; repeated headers joined with ``", "``)."""
        return self._headers

    @property
    def url(self) -> str:
        """The destination URL QStash signed (the ``sub`` claim)."""
        return str(self._claims["sub"])

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
