"""Verification micro-benchmark, run by ``make bench``. Not a test: it prints, asserts nothing.

Compares, in one process, the cost of one ``verify`` call of
  ours    ``qstash_receiver.Receiver`` with explicit keys, raw ``bytes`` body;
  qstash  the official Python SDK's ``qstash.Receiver`` (``str`` bodies only, so every body
          here is ASCII; a binary 1 MiB body cannot be given to it at all);
  floor   the irreducible stdlib work, written below: one HMAC per key tried, one SHA-256 of
          the body, base64url + JSON decoding of the payload, the claim comparisons.
Implementations alternate inside every round so that machine noise hits all of them alike; each
figure is the minimum over rounds of the mean time per call within a round.
Then it prints the targets of issue 2 with PASS/MISS, and runs bench/adapter_bench.py (the
per-request cost of each adapter), bench/import_bench.py and bench/telemetry_bench.py (what
the delivery telemetry adds to one delivery).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import adapter_bench  # beside this file (the script's directory is on sys.path)
import import_bench
import qstash
import telemetry_bench
import timing

from qstash_receiver import Receiver, SignatureError, load_config
from qstash_receiver.testing import sign

CURRENT = "sig_benchCurrent0000000000000000000"
NEXT = "sig_benchNext000000000000000000000000"
CURRENT_BYTES, NEXT_BYTES = CURRENT.encode(), NEXT.encode()
URL = "https://example.com/api/qstash"
SIZES = {"0 B": 0, "1 KiB": 1024, "64 KiB": 64 * 1024, "1 MiB": 1024 * 1024}
ROUNDS = 41
IMPLEMENTATIONS = ("floor", "ours", "qstash")


class FloorError(Exception):
    pass


def floor_verify(token: str, body: bytes, url: str) -> dict[str, Any]:
    """The least work a correct verifier does (no structure or type checks beyond need)."""
    header, payload, signature = token.split(".")
    signing_input = f"{header}.{payload}".encode()
    mac = base64.urlsafe_b64decode(signature + "=")
    # The next key only when the current one does not match, as a verifier must.
    if not hmac.compare_digest(
        hmac.digest(CURRENT_BYTES, signing_input, "sha256"), mac
    ) and not hmac.compare_digest(hmac.digest(NEXT_BYTES, signing_input, "sha256"), mac):
        raise FloorError("signature")
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    now = time.time()
    if claims["iss"] != "Upstash" or claims["exp"] <= now:
        raise FloorError("claims")
    if claims["nbf"] > now or claims["iat"] > now:
        raise FloorError("claims")
    if claims["sub"] != url:
        raise FloorError("url")
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
    if not hmac.compare_digest(claims["body"].rstrip("="), digest):
        raise FloorError("body")
    return claims


def _body(size: int) -> bytes:
    # ASCII JSON-looking text, so the same body can go to qstash.Receiver as str.
    chunk = b'{"id":12345,"name":"benchmark","ok":true},'
    return (chunk * (size // len(chunk) + 1))[:size]


Case = tuple[str, str, str]  # (implementation, body size, key or outcome)


def measure(cases: dict[Case, Callable[[], object]], rounds: int = ROUNDS) -> dict[Case, float]:
    """Microseconds per call of each case: min over rounds; each round runs every case once."""
    return {name: min(values) for name, values in timing.measure(cases, rounds).items()}


def _rejecting(func: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        try:
            return func()
        except SignatureError:
            return None

    return call


def _expect_body_mismatch(receiver: Receiver, token: str, body: bytes) -> None:
    # Guards the bench itself: the "reject" case must fail on the body check, not elsewhere.
    try:
        receiver.verify(signature=token, body=body)
    except SignatureError as error:
        if error.reason == "body_mismatch":
            return
    raise RuntimeError("bench setup: the mismatch token is not rejected as body_mismatch")


def _target(ratio: float, limit: float, label: str) -> None:
    print(f"  {'PASS' if ratio <= limit else 'MISS'}  {label}: {ratio:.2f}x")


def main() -> None:
    # Explicit keys need no publishing token; keep the resolver's warning about it off screen.
    logging.getLogger("qstash_receiver").setLevel(logging.ERROR)
    ours = Receiver(config=load_config({}, current_signing_key=CURRENT, next_signing_key=NEXT))
    official = qstash.Receiver(CURRENT, NEXT)
    lifetime = 3600  # outlives the run

    cases: dict[Case, Callable[[], object]] = {}
    for size_name, size in SIZES.items():
        body = _body(size)
        text = body.decode("ascii")
        for key_name, key in (("current", CURRENT), ("next", NEXT)):
            token = sign(body, key=key, url=URL, lifetime=lifetime)
            # functools.partial for every case: the same call overhead for all of them.
            cases["floor", size_name, key_name] = partial(floor_verify, token, body, URL)
            cases["ours", size_name, key_name] = partial(
                ours.verify, signature=token, body=body, url=URL
            )
            cases["qstash", size_name, key_name] = partial(
                official.verify, signature=token, body=text, url=URL
            )
        # Answer of a wrong body vs acceptance: same size, same wrapper, current key.
        token = sign(body, key=CURRENT, url=URL, lifetime=lifetime)
        other = sign(b"x" + body[1:], key=CURRENT, url=URL, lifetime=lifetime)
        ours.verify(signature=token, body=body)  # raises if the "accept" case is broken
        _expect_body_mismatch(ours, other, body)
        cases["ours", size_name, "accept"] = _rejecting(
            partial(ours.verify, signature=token, body=body)
        )
        cases["ours", size_name, "reject"] = _rejecting(
            partial(ours.verify, signature=other, body=body)
        )

    print(f"verify(): microseconds per call, min of {ROUNDS} rounds, all cases in every round")
    print(f"python {sys.version.split()[0]}, qstash {qstash.__version__};")
    print("ours gets the raw bytes, qstash the same ASCII body as str\n")
    us = measure(cases)

    header = (
        f"{'body':>7} {'key':>8} | {'floor us':>9} {'ours us':>9} {'qstash us':>10} | "
        f"{'ours/floor':>10} {'qstash/floor':>12}"
    )
    print(header)
    print("-" * len(header))
    for size_name in SIZES:
        for key_name in ("current", "next"):
            floor, mine, theirs = (us[impl, size_name, key_name] for impl in IMPLEMENTATIONS)
            print(
                f"{size_name:>7} {key_name:>8} | {floor:9.2f} {mine:9.2f} {theirs:10.2f} | "
                f"{mine / floor:10.2f} {theirs / floor:12.2f}"
            )

    print("\nours, body mismatch (401) vs acceptance, current key")
    for size_name in SIZES:
        reject, accept = us["ours", size_name, "reject"], us["ours", size_name, "accept"]
        print(
            f"{size_name:>7}: reject {reject:9.2f} us, accept {accept:9.2f} us, "
            f"ratio {reject / accept:.2f}"
        )

    print("\nTargets (issue 2)")
    for size_name, size in SIZES.items():
        for key_name in ("current", "next"):
            ratio = us["ours", size_name, key_name] / us["floor", size_name, key_name]
            if size <= 1024:
                _target(ratio, 1.6, f"ours <= 1.6x floor, {size_name}, {key_name} key")
            if size == 1024 * 1024:
                _target(ratio, 1.05, f"ours <= 1.05x floor, {size_name}, {key_name} key")
    for size_name in SIZES:
        ratio = us["ours", size_name, "next"] / us["ours", size_name, "current"]
        _target(ratio, 1.2, f"ours next-key <= 1.2x current-key, {size_name}")
    for size_name, size in SIZES.items():
        ratio = us["ours", size_name, "reject"] / us["ours", size_name, "accept"]
        if size <= 1024:
            _target(ratio, 1.0, f"ours body-mismatch rejection <= acceptance, {size_name}")
        else:
            # Both paths are one SHA-256 of the body plus the same small fixed work: equal up
            # to noise, so a verdict here would be a coin toss.
            print(f"  (info) ours body-mismatch rejection / acceptance, {size_name}: {ratio:.2f}x")
    geo = statistics.geometric_mean(
        us["qstash", size_name, key_name] / us["ours", size_name, key_name]
        for size_name in SIZES
        for key_name in ("current", "next")
    )
    print(f"\n  (info) qstash.Receiver / ours, geometric mean over the table: {geo:.2f}x")

    print()
    adapter_bench.main([])
    print()
    import_bench.main()
    print()
    telemetry_bench.main()


if __name__ == "__main__":
    main()
