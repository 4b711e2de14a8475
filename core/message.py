"""The value a successful verification returns: built once, complete, immutable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import names as N
from .config import KeySource
from .headers import Headers
from .jws import KeyUsed
from .names import Region

__all__ = ["VerifiedMessage"]


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class VerifiedMessage:
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
    """

    body: bytes
    claims: Mapping[str, Any]
    key_source: KeySource
    key_region: Region | None
    key_used: KeyUsed
    upstash_region: Region | None = None
    message_id: str | None = None
    retried: int | None = None
    schedule_id: str | None = None
    topic_name: str | None = None
    caller_ip: str | None = None
    headers: Headers = field(default_factory=Headers)

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
