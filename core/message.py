"""The value a successful verification returns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .config import KeySource
from .env import Region
from .jws import KeyUsed

__all__ = ["VerifiedMessage"]


@dataclass(frozen=True, repr=False)
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


# Receiver.verify builds its result through new_message(): the frozen-dataclass __init__ pays
# one object.__setattr__ per field, a sixth of a small verification. Same state as __init__:
# every default, a fresh value from every default_factory, then the given fields.
_DEFAULTS = {f.name: f.default for f in fields(VerifiedMessage) if f.default is not MISSING}
_FACTORIES = tuple(
    (f.name, f.default_factory) for f in fields(VerifiedMessage) if callable(f.default_factory)
)
_GIVEN = {"body", "claims", "key_source", "key_region", "key_used", "upstash_region"}
if {f.name for f in fields(VerifiedMessage)} != _GIVEN | set(_DEFAULTS) | dict(_FACTORIES).keys():
    raise RuntimeError("new_message() does not set every field of VerifiedMessage")


def new_message(
    body: bytes,
    claims: Mapping[str, Any],
    key_source: KeySource,
    key_region: Region | None,
    key_used: KeyUsed,
    upstash_region: Region | None,
) -> VerifiedMessage:
    """``VerifiedMessage(body=..., ..., upstash_region=...)``, built faster."""
    message = object.__new__(VerifiedMessage)
    state = message.__dict__
    state.update(_DEFAULTS)
    for name, factory in _FACTORIES:
        state[name] = factory()
    state.update(
        body=body,
        claims=claims,
        key_source=key_source,
        key_region=key_region,
        key_used=key_used,
        upstash_region=upstash_region,
    )
    return message
