"""What every duplicate-guard store must do, checked against a real backend.

Each check takes ``make(retention=..., lease=...)`` returning a fresh store over the real
backend under test (a unique key per check keeps them apart). Imported as a top-level module
by the store tests here and in django_adapter/.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from qstash_receiver.dedupe import Claim, DedupeStore, Held, KeyValueStore

StoreFactory = Callable[..., DedupeStore]


def key() -> str:
    return uuid.uuid4().hex


def claimed(outcome: Claim | Held) -> Claim:
    assert isinstance(outcome, Claim), outcome
    return outcome


def held(outcome: Claim | Held) -> Held:
    assert isinstance(outcome, Held), outcome
    return outcome


def claim_then_in_progress(make: StoreFactory) -> None:
    store, k = make(lease=30), key()
    claimed(store.claim(k, 30))
    other = held(store.claim(k, 30))
    assert not other.done
    assert 20 < other.retry_after <= 31


def complete_then_done(make: StoreFactory) -> None:
    store, k = make(), key()
    store.complete(claimed(store.claim(k, 30)))
    assert held(store.claim(k, 30)) == Held(done=True)
    assert held(store.claim(k, 30)).done  # and stays done


def release_frees_the_message(make: StoreFactory) -> None:
    store, k = make(), key()
    first = claimed(store.claim(k, 30))
    store.release(first)
    second = claimed(store.claim(k, 30))
    assert second != first
    assert not held(store.claim(k, 30)).done


def claims_and_done_expire(make: StoreFactory) -> None:
    store, abandoned, handled = make(retention=1, lease=1), key(), key()
    claimed(store.claim(abandoned, 1))  # a worker that died holding it
    store.complete(claimed(store.claim(handled, 1)))
    assert isinstance(store.claim(abandoned, 1), Held)
    time.sleep(2.2)  # whole seconds in Redis and DynamoDB: past both expiries
    claimed(store.claim(abandoned, 30))
    claimed(store.claim(handled, 30))


def one_of_many_concurrent_claims_wins(make: StoreFactory, copies: int = 50) -> None:
    store, k = make(), key()
    start = threading.Barrier(copies)

    def attempt(_: int) -> Claim | Held:
        start.wait()
        return store.claim(k, 30)

    with ThreadPoolExecutor(copies) as pool:
        outcomes = list(pool.map(attempt, range(copies)))
    winners = [o for o in outcomes if isinstance(o, Claim)]
    assert len(winners) == 1
    assert all(isinstance(o, Held) and not o.done for o in outcomes if o is not winners[0])


def release_keeps_a_newer_claim(make: StoreFactory) -> None:
    """A key-value store's release deletes only its own claim (token compared)."""
    store, k = make(lease=1), key()
    assert isinstance(store, KeyValueStore)
    old = claimed(store.claim(k, 1))
    time.sleep(1.3)  # the old claim expired; another worker claims
    newer = claimed(store.claim(k, 30))
    store.release(old)
    assert isinstance(store.claim(k, 30), Held)
    store.release(newer)
    claimed(store.claim(k, 30))


CHECKS = [
    claim_then_in_progress,
    complete_then_done,
    release_frees_the_message,
    claims_and_done_expire,
    one_of_many_concurrent_claims_wins,
]
