"""The duplicate guard's claims: the store protocol and the claim/done/release rules.

:class:`KeyValueStore` holds the rules once; each store in :mod:`qstash_receiver.dedupe` maps
four primitives (add-if-absent, get, set, delete, each with an expiry) onto a real client. How
the lifecycle uses a claim (which answer each outcome gets) is :mod:`qstash_receiver.guard`.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from .message import VerifiedMessage

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "Claim",
    "DedupeStore",
    "Held",
    "KeyValueStore",
    "check_seconds",
    "dedupe_key",
]

_DAY: Final = 24 * 60 * 60

#: How long a handled message is remembered (seconds): 21 days. A copy of a message can only
#: arrive while QStash may still attempt it. Each attempt after the first comes at most one day
#: after the one before (the backoff ``min(86400, e ** (2.5 * n))`` and ``Retry-After`` are both
#: capped at one day), and the largest plan allows 20 retries (Free 3, Pay as you go 5, Pro 20),
#: so the last copy arrives within 20 days plus the attempts' own durations.
DEFAULT_RETENTION: Final = 21 * _DAY

#: How long a claim lasts when its worker never finishes it (seconds): 15 minutes, the longest
#: a Lambda function can run. A handler that can run longer needs a longer lease, or a retry
#: arriving meanwhile runs too; a worker that dies blocks its message for at most the lease.
DEFAULT_LEASE: Final = 15 * 60

_CLAIMED: Final = "claim:"
_DONE: Final = "done"
_RETRIES: Final = 3  # claim attempts when the key vanishes between the add and the read


def dedupe_key(message: VerifiedMessage) -> str | None:
    """The guard's key for ``message``, or ``None`` when it has no message id.

    ``Upstash-Message-Id`` is not covered by the signature, so the key also holds the signed
    destination URL and body hash: a forged id cannot mark another message (with another body)
    as done. Hashed, so that any id makes a short key that every store accepts.
    """
    if not message.message_id:
        return None
    signed = f"{message.message_id}\0{message.claims.get('sub')}\0{message.claims.get('body')}"
    return hashlib.sha256(signed.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """This worker's hold on a message, from :meth:`DedupeStore.claim`.

    Attributes:
        key: the store's key for the message.
        token: tells this claim from a later one on the same key.
        lease: seconds the claim lasts.
        taken_at: ``time.monotonic()`` just before the claim was asked for.
    """

    key: str
    token: str
    lease: float
    taken_at: float

    def alive(self) -> bool:
        """Whether the claim surely has not expired yet (a margin covers clock drift and the
        round trip): only then may a release delete it without racing a newer claim."""
        margin = min(2.0, self.lease / 4)
        return time.monotonic() - self.taken_at < self.lease - margin


@dataclass(frozen=True, slots=True)
class Held:
    """Another delivery holds the message: ``done`` already, or in progress.

    Attributes:
        done: the message was handled (the duplicate is answered 2xx without running).
        retry_after: seconds until an in-progress claim expires (0 when done).
    """

    done: bool
    retry_after: float = 0.0


@runtime_checkable
class DedupeStore(Protocol):
    """What the guard needs from a store (implemented by every store here).

    Attributes:
        retention: seconds a done message is remembered.
        lease: seconds a claim lasts (a request may ask for less, e.g. Lambda's remaining time).
    """

    retention: float
    lease: float

    def claim(self, key: str, lease: float) -> Claim | Held:
        """Claim ``key`` for ``lease`` seconds, atomically; or say who holds it."""
        ...

    def complete(self, claim: Claim) -> None:
        """Mark the claimed message done, for :attr:`retention` seconds."""
        ...

    def release(self, claim: Claim) -> None:
        """Drop ``claim`` (only that claim, never a newer one) so that a retry can claim."""
        ...


def check_seconds(value: float, name: str) -> float:
    """``value`` as float seconds, for a store's ``retention`` or ``lease`` option.

    Raises:
        TypeError: not an ``int`` or ``float`` (a ``bool`` included).
        ValueError: not finite, or not > 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0")
    return float(value)


def _ttl(seconds: float) -> int:
    return max(1, math.ceil(seconds))  # the stores take whole seconds >= 1


class KeyValueStore(ABC):
    """The guard's rules over a key-value store with add-if-absent and expiry.

    A claim is ``claim:<token>:<expiry, Unix ms>``, added only if the key is absent, expiring
    after the lease; done is ``done``, kept for the retention; a release reads the key and
    deletes it only while it still holds this claim's token. Lua-free: the read-then-delete
    cannot race a newer claim because the guard releases only a claim that is still
    :meth:`Claim.alive` (a live claim's key can be neither re-added nor expired by anyone).

    Args:
        retention: seconds a done message is remembered (default 21 days).
        lease: seconds a claim lasts (default 15 minutes).
        prefix: prepended to every key.
        clock: wall-clock seconds, for the expiry written into a claim (its ``Retry-After``).

    Raises:
        ValueError, TypeError: ``retention`` or ``lease`` not a finite number > 0.
    """

    def __init__(
        self,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "qstash:dedupe:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retention = check_seconds(retention, "retention")
        self.lease = check_seconds(lease, "lease")
        self.prefix = prefix
        self._clock = clock

    @abstractmethod
    def _add(self, key: str, value: str, ttl: int) -> bool:
        """Set ``key`` only if absent (atomically), expiring after ``ttl`` s; True if set."""

    @abstractmethod
    def _get(self, key: str) -> str | bytes | None:
        """The value of ``key`` (``None`` when absent or expired)."""

    @abstractmethod
    def _set(self, key: str, value: str, ttl: int) -> None:
        """Set ``key`` whatever it holds, expiring after ``ttl`` s."""

    @abstractmethod
    def _delete(self, key: str) -> None:
        """Delete ``key``."""

    def claim(self, key: str, lease: float) -> Claim | Held:
        """Claim ``key`` for ``lease`` seconds, or report the delivery holding it."""
        full = self.prefix + key
        for _ in range(_RETRIES):
            token, taken_at = secrets.token_hex(8), time.monotonic()
            expiry_ms = math.floor((self._clock() + lease) * 1000)  # never past the lease
            value = f"{_CLAIMED}{token}:{expiry_ms}"
            if self._add(full, value, _ttl(lease)):
                return Claim(full, token, lease, taken_at)
            held = self._held(self._get(full))
            if held is not None:
                return held
        return Held(done=False, retry_after=1.0)  # claimed and freed over and over: try soon

    def complete(self, claim: Claim) -> None:
        """Mark the message done (whoever holds the key now: the handler did succeed)."""
        self._set(claim.key, _DONE, _ttl(self.retention))

    def release(self, claim: Claim) -> None:
        """Delete the key if it still holds ``claim`` (the guard checks it is alive first)."""
        current = self._get(claim.key)
        text = current.decode("utf-8", "replace") if isinstance(current, bytes) else current
        if text is not None and text.startswith(f"{_CLAIMED}{claim.token}:"):
            self._delete(claim.key)

    def _held(self, current: str | bytes | None) -> Held | None:
        if current is None:
            return None  # released or expired since the add: claim again
        text = current.decode("utf-8", "replace") if isinstance(current, bytes) else current
        if text == _DONE:
            return Held(done=True)
        try:
            expiry = int(text.rsplit(":", 1)[1]) / 1000
        except (IndexError, ValueError):
            return Held(done=False, retry_after=self.lease)  # not ours to read: wait a lease
        return Held(done=False, retry_after=max(0.0, expiry - self._clock()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(retention={self.retention:g}, lease={self.lease:g})"
