"""Paired timing shared by the benchmarks: short batches, every case in every round.

A burst of load from other processes then slows one round of everything rather than every
round of a few cases, and the minimum over rounds is the figure least touched by noise.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

#: Duration of one timed batch: short, so that many of them land in quiet spells.
ROUND_SECONDS = 0.005


def calibrate(func: Callable[[], object]) -> int:
    """How many calls of ``func`` fill one batch of about ``ROUND_SECONDS``."""
    number, elapsed = 1, 0.0
    while elapsed < ROUND_SECONDS / 4:
        number *= 4
        elapsed = timeit.Timer(func).timeit(number)
    return max(1, int(number * ROUND_SECONDS / elapsed))


def measure(
    cases: Mapping[K, Callable[[], object]],
    rounds: int,
    groups: Sequence[Sequence[K]] | None = None,
) -> dict[K, list[float]]:
    """Microseconds per call of each case, one sample per round.

    Every round runs every case once; the order of the groups rotates from round to round,
    and so does the order inside a group, whose cases always run back to back (a verified
    handler and the same handler bare, say), so that a pair sees the same machine state.
    Each case is called once first: a broken case raises before any timing.
    """
    for func in cases.values():
        func()
    numbers = {name: calibrate(func) for name, func in cases.items()}
    samples: dict[K, list[float]] = {name: [] for name in cases}
    order = [list(group) for group in groups] if groups is not None else [[c] for c in cases]
    for index in range(rounds):
        shift = index * 7 % len(order)
        for group in order[shift:] + order[:shift]:
            inner = index % len(group)
            for name in group[inner:] + group[:inner]:
                elapsed = timeit.Timer(cases[name]).timeit(numbers[name])
                samples[name].append(elapsed / numbers[name] * 1e6)
    return samples
