"""The duplicate guard's claims: the store protocol and the claim/extend/done/release rules.

[`KeyValueStore`][qstash_receiver.dedupe.KeyValueStore] holds the rules once over four primitives
(add-if-absent, get, set, delete, with expiries); Redis overrides them with one script each. The
lifecycle's use of a claim is [`qstash_receiver.guard`][qstash_receiver.guard].
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Protocol, runtime_checkable

from .message import VerifiedMessage

__all__ = [
    "DEFAULT_LEASE", "DEFAULT_RETENTION", "DEFAULT_TIMEOUT", "REPLAYED", "AsyncDedupeStore",
    "Binding", "Claim", "DedupeStore", "Held", "KeyValueStore", "binding", "check_seconds",
    "claim_value", "dedupe_key", "held", "new_token", "owned_by", "text",
]  # fmt: skip

_DAY: Final = 24 * 60 * 60

#: How long a handled message is remembered (seconds): 21 days. A copy of a message can only
#: arrive while QStash may still attempt it. Each attempt after the first comes at most one day
#: after the one before (the backoff ``min(86400, e ** (2.5 * n))`` and ``Retry-After`` are both
#: capped at one day), and the largest plan allows 20 retries (Free 3, Pay as you go 5, Pro 20),
#: so the last copy arrives within 20 days plus the attempts' own durations.
DEFAULT_RETENTION: Final = 21 * _DAY

#: How long a claim outlives a worker that died holding it (seconds): 30. A live handler's
#: claim is renewed every third of the lease, however long it runs; a dead worker's message
#: is blocked for at most this long (``Retry-After`` says when its claim expires).
DEFAULT_LEASE: Final = 30.0

#: The longest one store call may hold a request (seconds): past it the delivery is answered
#: 503 (retryable) and the handler does not run, whatever the client's own retry settings.
DEFAULT_TIMEOUT: Final = 3.0

_CLAIMED: Final = "claim:"
_DONE: Final = "done"
_RETRIES: Final = 3  # claim attempts when the key vanishes between the add and the read


def dedupe_key(message: VerifiedMessage) -> str | None:
    """The guard's key for ``message`` (``None``: neither a message id nor a ``jti``).

    The id is not signed, so the key also holds the signed URL and body hash (a forged id
    cannot mark another message done); without an id the signature's ``jti`` names the
    delivery (resent without its id, it is a duplicate). Hashed: a short key for any store.
    """
    if message.message_id:
        name = message.message_id
    else:
        jti = message.claims.get("jti")
        if not isinstance(jti, str) or not jti:
            return None
        name = f"jti:{jti}"
    signed = f"{name}\0{message.claims.get('sub')}\0{message.claims.get('body')}"
    return hashlib.sha256(signed.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A delivery's own claim token: random, kept by the delivery for every call it makes."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Binding:
    """A signature's ``jti`` bound to the first message key it was used with.

    Attributes:
        key: the store's key for the ``jti`` (a hash of it).
        ttl: seconds to remember it: until the token's ``exp`` plus the clock tolerance.
    """

    key: str
    ttl: float


def binding(message: VerifiedMessage, clock_tolerance: float, now: float) -> Binding | None:
    """The replay binding of ``message``'s signature, or ``None`` without ``jti``/``exp``."""
    jti, exp = message.claims.get("jti"), message.claims.get("exp")
    if (
        not (jti and isinstance(jti, str))
        or isinstance(exp, bool)
        or not isinstance(exp, (int, float))
    ):
        return None
    ttl = float(exp) + clock_tolerance - now
    digest = hashlib.sha256(jti.encode("utf-8", "surrogatepass")).hexdigest()
    return Binding(f"jti:{digest}", max(1.0, ttl))


@dataclass(frozen=True, slots=True)
class Claim:
    """This delivery's hold on a message (what ``DedupeStore.claim`` returns).

    Attributes:
        key: the guard's key for the message (a store may prefix it).
        token: this delivery's own token (the same on every call it makes).
        lease: seconds the claim lasts from ``taken_at``.
        taken_at: ``time.monotonic()`` just before the claim (or its last renewal) was asked.
    """

    key: str
    token: str
    lease: float
    taken_at: float

    def alive(self) -> bool:
        """Whether the claim surely has not expired yet (a margin covers clock drift and the
        round trip): only then may a read-then-write store touch it without racing a newer
        claim."""
        margin = min(2.0, self.lease / 4)
        return time.monotonic() - self.taken_at < self.lease - margin

    def renewed(self, lease: float, taken_at: float) -> Claim:
        """This claim, extended for ``lease`` seconds from ``taken_at``."""
        return replace(self, lease=lease, taken_at=taken_at)


@dataclass(frozen=True, slots=True)
class Held:
    """Another delivery holds the message (done already, or in progress), or the signature was
    used before under another message id.

    Attributes:
        done: the message was handled (the duplicate is answered 2xx without running).
        retry_after: seconds until an in-progress claim expires (0 when done).
        replayed: the signature's ``jti`` is bound to another message id (answered 401).
    """

    done: bool
    retry_after: float = 0.0
    replayed: bool = False


#: What a replayed signature's claim gives.
REPLAYED: Final = Held(done=False, replayed=True)


@runtime_checkable
class DedupeStore(Protocol):
    """What the guard needs from a store (implemented by every store here).

    Optional: ``timeout`` (one call's bound, default
        [`DEFAULT_TIMEOUT`][qstash_receiver.dedupe.DEFAULT_TIMEOUT]); ``self_bounded``
    (the client returns within it by itself: called directly, not from a helper thread).

    Attributes:
        retention: seconds a done message is remembered.
        lease: seconds a claim outlives a dead worker (a request may ask for less).
    """

    retention: float
    lease: float

    def claim(
        self, key: str, lease: float, *, token: str | None = None, bind: Binding | None = None
    ) -> Claim | Held:
        """Claim ``key`` for ``lease`` seconds with ``token``, atomically; or say who holds it.

        A claim already holding ``token`` (a retried call whose first reply was lost) is this
        delivery's own. With ``bind``, the ``jti`` is bound to ``key`` first; bound to another
        key, the answer is `REPLAYED` and nothing is claimed.
        """

    def extend(self, claim: Claim, lease: float) -> Claim | None:
        """Extend ``claim`` by ``lease`` seconds from now if it still holds its token."""

    def complete(self, claim: Claim) -> None:
        """Mark the claimed message done, for `retention` seconds."""

    def release(self, claim: Claim) -> None:
        """Drop ``claim`` (only that claim, never a newer one) so that a retry can claim."""


@runtime_checkable
class AsyncDedupeStore(Protocol):
    """[`DedupeStore`][qstash_receiver.dedupe.DedupeStore] with coroutine methods, awaited on the
    event loop by async views."""

    retention: float
    lease: float

    async def claim(
        self, key: str, lease: float, *, token: str | None = None, bind: Binding | None = None
    ) -> Claim | Held: ...
    async def extend(self, claim: Claim, lease: float) -> Claim | None: ...
    async def complete(self, claim: Claim) -> None: ...
    async def release(self, claim: Claim) -> None: ...


def check_seconds(value: float, name: str) -> float:
    """``value`` as float seconds, for a store's ``retention``, ``lease`` or ``timeout``.

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


def text(value: object) -> str | None:
    """A stored value as text (clients give ``bytes`` or ``str``), ``None`` for other values."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def claim_value(token: str, expiry: float) -> str:
    """What a claim holds: ``claim:<token>:<expiry, Unix ms>`` (the expiry is its
    ``Retry-After``)."""
    return f"{_CLAIMED}{token}:{math.floor(expiry * 1000)}"


def owned_by(token: str) -> str:
    """The prefix of every value a claim with ``token`` writes."""
    return f"{_CLAIMED}{token}:"


def held(current: object, lease: float, now: float) -> Held | None:
    """Who holds a key whose value is ``current`` (``None``: nobody, claim again)."""
    value = text(current)
    if value is None:
        return None  # released or expired since the add: claim again
    if value == _DONE:
        return Held(done=True)
    try:
        expiry = int(value.rsplit(":", 1)[1]) / 1000
    except (IndexError, ValueError):
        return Held(done=False, retry_after=lease)  # not ours to read: wait a lease
    return Held(done=False, retry_after=max(0.0, expiry - now))


class KeyValueStore(ABC):
    """The guard's rules over a key-value store with add-if-absent and expiry.

    A claim is ``claim:<token>:<expiry, Unix ms>``, added only if the key is absent; an add that
    fails on a key already holding this token is this delivery's own (a retried call). A renewal or
    a release reads the key and writes or deletes it only while it still holds the token and the
    claim is [`Claim.alive()`][qstash_receiver.dedupe.Claim.alive] (a live claim's key can be
    neither re-added nor expired by anyone, so the read-then-write cannot race a newer claim). Done
    is ``done``, kept for the retention. A binding maps ``jti:<hash>`` to the first message key it
    saw.

    Args:
        retention: seconds a done message is remembered (default 21 days).
        lease: seconds a claim outlives a dead worker (default 30).
        prefix: prepended to every key.
        clock: wall-clock seconds, for the expiry written into a claim (its ``Retry-After``).
        timeout: the longest one call may hold a request (default 3 s).

    Raises:
        ValueError, TypeError: ``retention``, ``lease`` or ``timeout`` not a finite number > 0.
    """

    #: Whether the client returns within ``timeout`` by itself (then called directly).
    self_bounded = False

    def __init__(
        self,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        prefix: str = "qstash:dedupe:",
        clock: Callable[[], float] = time.time,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.retention = check_seconds(retention, "retention")
        self.lease = check_seconds(lease, "lease")
        self.timeout = check_seconds(timeout, "timeout")
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

    def claim(
        self, key: str, lease: float, *, token: str | None = None, bind: Binding | None = None
    ) -> Claim | Held:
        """Claim ``key`` for ``lease`` seconds, or report who holds it (``DedupeStore.claim``)."""
        full, token = self.prefix + key, token or new_token()
        if bind is not None:
            bound_key = self.prefix + bind.key
            if not self._add(bound_key, key, _ttl(bind.ttl)):
                bound = text(self._get(bound_key))
                if bound is not None and bound != key:
                    return REPLAYED
        taken_at = time.monotonic()  # the earliest any of these adds can have landed
        for _ in range(_RETRIES):
            value = claim_value(token, self._clock() + lease)
            if self._add(full, value, _ttl(lease)):
                return Claim(key, token, lease, taken_at)
            current = self._get(full)
            if (text(current) or "").startswith(owned_by(token)):
                return Claim(key, token, lease, taken_at)  # ours: an earlier add landed
            found = held(current, self.lease, self._clock())
            if found is not None:
                return found
        return Held(done=False, retry_after=1.0)  # claimed and freed over and over: try soon

    def extend(self, claim: Claim, lease: float) -> Claim | None:
        """Renew ``claim`` for ``lease`` seconds while it is alive and still ours."""
        taken_at, full = time.monotonic(), self.prefix + claim.key
        if not claim.alive() or not (text(self._get(full)) or "").startswith(owned_by(claim.token)):
            return None
        self._set(full, claim_value(claim.token, self._clock() + lease), _ttl(lease))
        return claim.renewed(lease, taken_at)

    def complete(self, claim: Claim) -> None:
        """Mark the message done (whoever holds the key now: the handler did succeed)."""
        self._set(self.prefix + claim.key, _DONE, _ttl(self.retention))

    def release(self, claim: Claim) -> None:
        """Delete the key while it still holds ``claim``'s token and the claim is alive (an
        expired one may have been claimed anew: it is left alone)."""
        full = self.prefix + claim.key
        if claim.alive() and (text(self._get(full)) or "").startswith(owned_by(claim.token)):
            self._delete(full)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(retention={self.retention:g}, lease={self.lease:g})"
