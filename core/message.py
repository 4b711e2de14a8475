"""The value a successful verification returns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import KeySource
from .env import Region
from .jws import KeyUsed

__all__ = ["VerifiedMessage"]


# Not frozen: a frozen dataclass pays one object.__setattr__ per field in __init__, which
# tripled the cost of building the message on the verification hot path.
@dataclass(slots=True, repr=False)
class VerifiedMessage:
    """A delivery whose signature, claims and body were verified.

    Always truthy, so ``if receiver.verify(...):`` keeps working for code written against
    ``qstash.Receiver``. The delivery fields (``message_id`` and the rest) are filled when the
    message comes from a request check (every adapter); a bare :meth:`Receiver.verify` call
    leaves them ``None``.

    Attributes:
        body: the raw request body.
        claims: the verified JWT claims (``iss``, ``sub``, ``exp``, ``nbf``, ``iat``,
            ``jti``, ``body``).
        key_source: where the matching keys came from: ``dev``, ``explicit``, ``region``
            (migration mode) or ``default``.
        key_region: the region whose keys verified it (migration mode), else ``None``.
        key_used: ``current`` or ``next``.
        upstash_region: the normalised ``Upstash-Region`` header, if any.
        message_id, retried, schedule_id, topic_name, caller_ip: the ``Upstash-*``
            delivery headers.
        headers: every request header, names lower-cased.
        forwarded_headers: the headers the publisher forwarded (QStash strips the
            ``Upstash-Forward-`` prefix): all headers but ``upstash-*`` and transport ones.
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
    headers: Mapping[str, str] = field(default_factory=dict)
    forwarded_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The destination URL QStash signed (the ``sub`` claim)."""
        return str(self.claims["sub"])

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
