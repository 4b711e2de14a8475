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

from qstash_receiver.dedupe import Binding, Claim, DedupeStore, Held

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
    """A release deletes only its own claim (token compared)."""
    store, k = make(lease=1), key()
    old = claimed(store.claim(k, 1))
    time.sleep(1.3)  # the old claim expired; another worker claims
    newer = claimed(store.claim(k, 30))
    store.release(old)
    assert isinstance(store.claim(k, 30), Held)
    store.release(newer)
    claimed(store.claim(k, 30))


def a_retried_claim_with_the_same_token_is_ours(make: StoreFactory) -> None:
    """A call retried after its reply was lost finds its own claim (the token is the
    delivery's, the same on every call), never "in progress elsewhere"."""
    store, k = make(lease=30), key()
    first = claimed(store.claim(k, 30, token="tok-a"))
    again = claimed(store.claim(k, 30, token="tok-a"))
    assert (again.key, again.token) == (first.key, first.token)
    other = held(store.claim(k, 30, token="tok-b"))
    assert not other.done
    store.release(again)
    claimed(store.claim(k, 30, token="tok-b"))


def extend_renews_only_its_own_claim(make: StoreFactory) -> None:
    store, k = make(lease=2), key()
    mine = claimed(store.claim(k, 2, token="tok-live"))
    for _ in range(3):  # renewed past its first lease: it never expires while renewed
        time.sleep(1.0)
        renewed = store.extend(mine, 2)
        assert renewed is not None
        mine = renewed
    waiting = held(store.claim(k, 30, token="tok-other"))
    assert 1 <= waiting.retry_after <= 2.5  # Retry-After: when the renewed claim expires
    stranger = Claim(mine.key, "tok-stranger", 2, time.monotonic())
    assert store.extend(stranger, 2) is None
    store.complete(mine)
    assert store.extend(mine, 2) is None  # done: nothing left to renew
    assert held(store.claim(k, 30)).done


def a_signature_is_bound_to_its_first_message(make: StoreFactory) -> None:
    store, first, second = make(), key(), key()
    jti = Binding(f"jti:{key()}", 30)
    claimed(store.claim(first, 30, token="t1", bind=jti))
    same = held(store.claim(first, 30, token="t2", bind=jti))  # a duplicate, as before
    assert not same.done
    assert not same.replayed
    assert same.retry_after > 20
    replay = held(store.claim(second, 30, token="t4", bind=jti))
    assert replay.replayed
    assert not replay.done
    claimed(store.claim(second, 30, token="t5"))  # nothing was claimed for the replay
    claimed(store.claim(key(), 30, bind=Binding(f"jti:{key()}", 30)))


def a_claim_known_only_by_its_key_and_token_is_released(make: StoreFactory) -> None:
    """The guard undoes a claim its failed call may have left from what it knew beforehand:
    the message key and its token (and a store's prefix is the store's business)."""
    store, k = make(lease=30), key()
    claimed(store.claim(k, 30, token="tok-lost"))
    store.release(Claim(k, "tok-lost", 30, time.monotonic()))
    claimed(store.claim(k, 30, token="tok-next"))


CHECKS = [
    claim_then_in_progress,
    complete_then_done,
    release_frees_the_message,
    claims_and_done_expire,
    one_of_many_concurrent_claims_wins,
    a_retried_claim_with_the_same_token_is_ours,
    extend_renews_only_its_own_claim,
    a_signature_is_bound_to_its_first_message,
    release_keeps_a_newer_claim,
    a_claim_known_only_by_its_key_and_token_is_released,
]
