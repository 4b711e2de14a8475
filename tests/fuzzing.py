"""Mutators and the false-accept oracle shared by the fuzz tests (not a test module).

Every genuine delivery is signed here and recorded by its ``jti``; a verified message is a
true accept only if its claims and body are exactly those of a recorded delivery. As the HMAC
covers the claims (``jti`` and the body hash included), anything else reaching a handler would
be a forgery that verified: a false accept.

Sizes: ``QSTASH_FUZZ_CASES`` (default 2,000 per target; the ``make test`` size) and
``QSTASH_FUZZ_SEED``.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.testing import sign

CASES = int(os.environ.get("QSTASH_FUZZ_CASES", "2000"))
SEED = int(os.environ.get("QSTASH_FUZZ_SEED", "20261202"))

CURRENT = "sig_fuzzCurrent0000000000000000000000"
NEXT = "sig_fuzzNext000000000000000000000000000"
FORGER = "sig_fuzzForger00000000000000000000000"
URL = "https://example.com/api/qstash"
#: Explicit keys, and nothing read from the process environment.
RECEIVER = Receiver(config=load_config({}, current_signing_key=CURRENT, next_signing_key=NEXT))

BODIES = [
    b"",
    b'{"hello":"world"}',
    '{"name":"Zoë","emoji":"\U0001f680"}'.encode(),
    bytes(range(256)),
    b"\xff\xfe\x00 not utf-8",
    b"x" * 3000,
]
REGIONS = [None, "US-EAST-1", "EU-CENTRAL-1", "us_east_1", "mars-1", ""]


def rng_for(name: str) -> random.Random:
    """One seeded generator per target, so each target's cases are reproducible alone."""
    return random.Random(f"{SEED}:{name}")  # noqa: S311 (reproducible cases, not secrets)


@dataclass
class Delivery:
    """One request as built: its headers (in order, repeats allowed) and raw body."""

    headers: list[tuple[str, str]]
    body: bytes
    genuine: bool  # signed by a signing key and not mutated
    mutations: list[str] = field(default_factory=list)

    def header_dict(self) -> dict[str, str]:
        """The headers as a client library sends a dict (the last of a repeated name wins)."""
        return dict(self.headers)


@dataclass
class Tally:
    """What one fuzz target saw."""

    cases: int = 0
    accepted: int = 0
    genuine_accepted: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    false_accepts: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.cases} cases, {self.accepted} accepted ({self.genuine_accepted} "
            f"unmutated), statuses {dict(sorted(self.statuses.items()))}, "
            f"{len(self.false_accepts)} false accepts, {len(self.escaped)} exceptions escaped"
        )


class Registry:
    """Signs genuine deliveries and judges verified messages against them."""

    def __init__(self) -> None:
        self._signed: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self._tokens: list[tuple[str, bytes]] = []

    def sign(self, rng: random.Random, body: bytes, key: str) -> str:
        token = sign(body, key=key, url=URL, padded=rng.random() < 0.8)
        claims = _claims_of(token)
        self._signed[claims["jti"]] = (body, claims)
        self._tokens.append((token, body))
        return token

    def other_token(self, rng: random.Random) -> tuple[str, bytes] | None:
        """A genuine token signed earlier (for another body, as a rule)."""
        return rng.choice(self._tokens) if self._tokens else None

    def is_genuine(self, seen: Seen) -> bool:
        claims, body = seen
        jti = claims.get("jti")
        signed = self._signed.get(jti) if isinstance(jti, str) else None
        return signed is not None and signed == (body, dict(claims))


#: What a handler saw of a verified message: its claims and raw body.
Seen = tuple[Mapping[str, Any], bytes]


def seen_by_handler(message: VerifiedMessage) -> Seen:
    return message.claims, message.body


def seen_as_json(message: VerifiedMessage) -> str:
    """What the adapters' test views answer with, so the test can judge across a server."""
    return json.dumps({"claims": dict(message.claims), "body": message.body.hex()})


def seen_from_json(text: str | bytes) -> Seen:
    answer = json.loads(text)
    return answer["claims"], bytes.fromhex(answer["body"])


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    claims: dict[str, Any] = json.loads(raw)
    return claims


# --- mutators -----------------------------------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def mutate_token(rng: random.Random, token: str, registry: Registry) -> str:
    kind = rng.randrange(16)
    if kind == 0 and token:  # one character replaced
        at = rng.randrange(len(token))
        return token[:at] + rng.choice(ALPHABET + ".=+/ é") + token[at + 1 :]
    if kind == 1 and token:
        at = rng.randrange(len(token))
        return token[:at] + token[at + 1 :]
    if kind == 2:
        at = rng.randrange(len(token) + 1)
        return token[:at] + rng.choice(ALPHABET + ".=\t\n\x00\u2028") + token[at:]
    if kind == 3:
        return token[: rng.randrange(len(token) + 1)]
    if kind == 4:
        parts = token.split(".")
        rng.shuffle(parts)
        return ".".join(parts)
    if kind == 5:
        other = registry.other_token(rng)
        if other is not None:  # splice segments of two genuine tokens
            mine, theirs = token.split("."), other[0].split(".")
            index = rng.randrange(3)
            mine[index] = theirs[index]
            return ".".join(mine)
    if kind == 6:
        return token + "=" * rng.randrange(1, 3)
    if kind == 7:
        return token.swapcase()
    if kind == 8:
        return f"{token}, {token}"
    if kind == 9:
        return rng.choice(["", " ", "Bearer " + token, token + "." + token, "a.b.c", "..", "null"])
    if kind == 10:
        other = registry.other_token(rng)
        return other[0] if other is not None else token  # genuine, for another body
    if kind == 11:
        return rng.choice([" ", "\t"]) + token + rng.choice(["", " ", "\t"])
    if kind == 12:
        return "".join(rng.choice(ALPHABET + ".") for _ in range(rng.randrange(0, 200)))
    if kind == 13:
        header, payload, signature = [*token.split("."), "", "", ""][:3]
        return f"{header}.{payload}.{signature[:-1]}{rng.choice(ALPHABET)}"
    if kind == 14:
        return token * rng.randrange(2, 4)
    return token.replace("-", "+").replace("_", "/")


def mutate_body(rng: random.Random, body: bytes, registry: Registry) -> bytes:
    kind = rng.randrange(8)
    if kind == 0 and body:
        at = rng.randrange(len(body))
        return body[:at] + bytes([body[at] ^ (1 << rng.randrange(8))]) + body[at + 1 :]
    if kind == 1:
        return body + rng.choice([b" ", b"\n", b"\x00", b"x"])
    if kind == 2:
        return body[: rng.randrange(len(body) + 1)]
    if kind == 3:
        return b""
    if kind == 4:
        return rng.randbytes(rng.randrange(0, 300))
    if kind == 5:
        other = registry.other_token(rng)
        return other[1] if other is not None else body
    if kind == 6:
        return body.upper()
    return body * 2


def mutate_headers(rng: random.Random, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    headers = list(headers)
    signature = next((v for n, v in headers if n.lower() == "upstash-signature"), "")
    kind = rng.randrange(9)
    if kind == 0:  # the signature header dropped
        return [(n, v) for n, v in headers if n.lower() != "upstash-signature"]
    if kind == 1:  # repeated, under another spelling of its name
        return [*headers, (rng.choice(["upstash-signature", "UPSTASH-SIGNATURE"]), signature)]
    if kind == 2:  # the name's case changed
        return [(n.swapcase() if n.lower() == "upstash-signature" else n, v) for n, v in headers]
    if kind == 3:
        return [*headers, ("Upstash-Region", rng.choice(["mars-1", "", "US-EAST-1, EU-CENTRAL-1"]))]
    if kind == 4:
        return [*headers, ("Upstash-Retried", rng.choice(["-1", "x", "9" * 40, ""]))]
    if kind == 5:
        return [*headers, ("X-Junk", "é" * rng.randrange(1, 50)), ("X-Empty", "")]
    if kind == 6:
        return [*headers, ("Upstash-Message-Id", "m" * rng.randrange(0, 500))]
    if kind == 7:
        return [(n, v) for n, v in headers if n.lower() != "upstash-message-id"]
    return [*headers, ("Upstash-Signature", "")]


def delivery(rng: random.Random, registry: Registry, *, on_the_wire: bool = False) -> Delivery:
    """A signed delivery, then 0 to 3 mutations of its token, body and headers.

    ``on_the_wire``: only header values an HTTP request can carry (ISO-8859-1, no CR/LF/NUL),
    for the targets driven through a framework's test client.
    """
    body = rng.choice(BODIES)
    key = rng.choices([CURRENT, NEXT, FORGER], weights=[6, 3, 1])[0]
    token = registry.sign(rng, body, key)
    headers = [("Upstash-Signature", token), ("Upstash-Message-Id", f"msg_{rng.getrandbits(32)}")]
    region = rng.choice(REGIONS)
    if region is not None:
        headers.append(("Upstash-Region", region))
    made = Delivery(headers, body, genuine=key != FORGER)
    for _ in range(rng.choices([0, 1, 2, 3], weights=[3, 4, 2, 1])[0]):
        target = rng.randrange(3)
        if target == 0:
            mutated = mutate_token(rng, token, registry)
            made.headers = [
                (n, mutated if n.lower() == "upstash-signature" else v) for n, v in made.headers
            ]
            made.mutations.append("token")
        elif target == 1:
            made.body = mutate_body(rng, made.body, registry)
            made.mutations.append("body")
        else:
            made.headers = mutate_headers(rng, made.headers)
            made.mutations.append("headers")
    if on_the_wire:
        made.headers = [(n, _wire(v)) for n, v in made.headers]
    made.genuine = made.genuine and not made.mutations
    return made


def _wire(value: str) -> str:
    value = value.encode("latin-1", "replace").decode("latin-1")
    return value.replace("\r", "").replace("\n", "").replace("\x00", "")


def judge(
    tally: Tally,
    registry: Registry,
    made: Delivery,
    run: Callable[[], tuple[int, Seen | None]],
) -> None:
    """Run one request; record its status, and any false accept or escaped exception."""
    tally.cases += 1
    try:
        status, seen = run()
    except Exception as error:  # noqa: BLE001 (every exception escaping is a finding, counted)
        tally.escaped.append(f"{type(error).__name__}: {error} after {made.mutations}")
        return
    tally.statuses[status] += 1
    if seen is not None:
        tally.accepted += 1
        tally.genuine_accepted += made.genuine
        if not registry.is_genuine(seen):
            tally.false_accepts.append(f"{made.mutations} {made.headers!r:.300}")


def assert_clean(tally: Tally, name: str, cases: int) -> None:
    """No false accept, no escaped exception, and a run that was not vacuous."""
    print(tally.line(name))
    assert not tally.false_accepts, tally.false_accepts[:5]
    assert not tally.escaped, tally.escaped[:5]
    assert tally.cases == cases
    assert tally.accepted >= cases * 0.1, tally.line(name)
    assert tally.genuine_accepted >= cases * 0.05, tally.line(name)
    assert tally.statuses[401] >= cases * 0.2, tally.line(name)
