"""Differential test: our hand-written HS256 parser against PyJWT (what the official SDK uses).

A seeded corpus of valid, expired, not-yet-valid, wrong-issuer, missing-claim, wrongly typed,
mutated and hostile tokens is verified twice:

* ours: ``Receiver.verify`` with a fixed clock;
* the oracle: ``jwt.decode(token, key, algorithms=["HS256"], issuer="Upstash",
  options={"require": ["exp", "nbf", "iat", "iss", "sub"]}, leeway=tol)`` with the current key,
  then (only on ``InvalidSignatureError``) the next key, followed by the official SDK's body
  check (``body`` claim without ``=`` equals the unpadded base64url SHA-256 of the body) and,
  when a URL is given, ``sub == url``. Any other exception from PyJWT counts as a rejection.

The verdicts (accept/reject) must be equal, except for these classes where we reject on
purpose and PyJWT accepts. Each is recognised by an independent predicate on the token text
(not by our parser), and the test asserts the exact divergence and that the corpus holds at
least one token of each class that PyJWT accepts:

``padded``
    A segment carries ``=`` padding. JWS (RFC 7515) forbids padding; PyJWT strips up to two
    trailing ``=`` (e.g. ``signature + "="``), so a second spelling of the same token passes.
``non_number_time``
    ``exp``/``nbf``/``iat`` is a string (``"9999999999"``) or a boolean. RFC 7519 requires a
    NumericDate; PyJWT calls ``int()`` on the value, so ``"9999999999"`` and ``true`` pass.
``non_json_constant``
    The header or payload holds ``NaN``/``Infinity``/``-Infinity``, which is not JSON
    (RFC 8259) but Python's ``json`` module reads it.
``crit``
    The header has a ``crit`` parameter. We implement no JWS extension, so any ``crit`` is
    refused (RFC 7515 4.1.11); PyJWT accepts ``"crit": ["b64"]`` with ``"b64": true``.
``utf16_32_json``
    The header or payload JSON is UTF-16 or UTF-32 encoded. RFC 7515/7519 define both as UTF-8
    (as the TypeScript SDK reads them); PyJWT's ``json.loads(bytes)`` detects other encodings.
``oversized``
    The token is longer than ``MAX_TOKEN_LENGTH`` (64 KiB); we refuse it before parsing (no
    platform passes a longer header with its defaults), PyJWT parses anything.

Classes that older PyJWT releases added, and why they are not listed: PyJWT < 2.14 accepted
non-canonical base64 (changed low bits in the last character of the signature) and silently
dropped characters outside the base64url alphabet (CVE-2026-102269). PyJWT >= 2.14 rejects
both, as we do, so those tokens are ordinary "both reject" cases here and the test requires
PyJWT >= 2.14.

The clock: our Receiver runs at a fixed ``now`` (taken when the corpus is built, at test time);
PyJWT reads the real clock, which is at most the test's duration later. Every time claim lies
minutes away from an edge, so that gap can never flip a verdict.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from qstash_receiver import Receiver, SignatureError, load_config
from qstash_receiver.jws import MAX_TOKEN_LENGTH

CURRENT = "sig_diffCurrent0123456789abcdefghijklmn"
NEXT = "sig_diffNext0123456789abcdefghijklmnopqr"
OTHER = "sig_diffOther0123456789abcdefghijklmnopq"
URL = "https://example.com/api/qstash"
REQUIRED = ["exp", "nbf", "iat", "iss", "sub"]
SEED = 20261127


def receiver_at(now: int) -> Receiver:
    config = load_config({"QSTASH_CURRENT_SIGNING_KEY": CURRENT, "QSTASH_NEXT_SIGNING_KEY": NEXT})
    return Receiver(config=config, clock=lambda: float(now))


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def body_hash(body: bytes) -> str:
    return b64(hashlib.sha256(body).digest())


def segment(value: object) -> str:
    """A base64url segment of a JSON value (dict/list/...) or of raw bytes."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return b64(raw)


def mac(signing_input: str, key: str, digest: str = "sha256") -> str:
    return b64(hmac.digest(key.encode(), signing_input.encode("ascii"), digest))


def token(header: object, payload: object, key: str = CURRENT) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{mac(signing_input, key)}"


def sign_segments(header_seg: str, payload_seg: str, key: str = CURRENT) -> str:
    signing_input = f"{header_seg}.{payload_seg}"
    return f"{signing_input}.{mac(signing_input, key)}"


HEADER = {"alg": "HS256", "typ": "JWT"}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def claims(content: bytes, now: int, /, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": "Upstash",
        "sub": URL,
        "exp": now + 300,
        "nbf": now - 30,
        "iat": now - 30,
        "jti": "jwt_diff",
        "body": body_hash(content) + "=",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not _DROP}


_DROP: Any = object()


@dataclass(frozen=True)
class Case:
    category: str
    token: str
    body: bytes
    url: str | None = None
    tolerance: float = 0


# --- oracle and subject ---------------------------------------------------------------


def pyjwt_accepts(case: Case) -> bool:
    decoded: dict[str, Any] | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for key in (CURRENT, NEXT):
            try:
                decoded = jwt.decode(
                    case.token,
                    key,
                    algorithms=["HS256"],
                    issuer="Upstash",
                    options={"require": REQUIRED},
                    leeway=case.tolerance,
                )
            except jwt.InvalidSignatureError:
                continue
            except Exception:  # noqa: BLE001 -- like the SDK: any other failure is final
                return False
            break
    # A warning (e.g. a short key) would make PyJWT's verdict depend on filter settings.
    assert not caught, [str(w.message) for w in caught]
    if decoded is None:
        return False
    signed = decoded.get("body")
    if not isinstance(signed, str) or signed.rstrip("=") != body_hash(case.body):
        return False
    return case.url is None or decoded["sub"] == case.url


def ours_accepts(case: Case, receiver: Receiver) -> bool:
    try:
        receiver.verify(
            signature=case.token, body=case.body, url=case.url, clock_tolerance=case.tolerance
        )
    except SignatureError:
        return False
    return True


# --- divergence predicates (independent of our parser) ---------------------------------


def _lenient_json(seg: str) -> tuple[Any, bool]:
    """(value, used a NaN/Infinity constant); (None, False) when the segment is not JSON."""
    used: list[str] = []

    def constant(name: str) -> float:
        used.append(name)
        return float(name.lower().replace("infinity", "inf"))

    try:
        raw = base64.urlsafe_b64decode(seg.rstrip("=") + "=" * (-len(seg.rstrip("=")) % 4))
        return json.loads(raw, parse_constant=constant), bool(used)
    except (ValueError, RecursionError):
        return None, False


def divergence_classes(tok: str) -> set[str]:
    found: set[str] = set()
    if len(tok) > MAX_TOKEN_LENGTH:
        found.add("oversized")
    parts = tok.split(".")
    if len(parts) != 3:
        return found
    if any("=" in part for part in parts):
        found.add("padded")
    for part in parts[:2]:
        try:
            raw = base64.urlsafe_b64decode(part.rstrip("=") + "=" * (-len(part.rstrip("=")) % 4))
        except ValueError:
            continue
        if json.detect_encoding(raw) not in ("utf-8", "utf-8-sig"):
            found.add("utf16_32_json")
    header, header_constants = _lenient_json(parts[0])
    payload, payload_constants = _lenient_json(parts[1])
    if header_constants or payload_constants:
        found.add("non_json_constant")
    if isinstance(header, dict) and "crit" in header:
        found.add("crit")
    if isinstance(payload, dict) and any(
        isinstance(payload.get(name), (str, bool)) for name in ("exp", "nbf", "iat")
    ):
        found.add("non_number_time")
    return found


CLASSES = ("padded", "non_number_time", "non_json_constant", "crit", "utf16_32_json", "oversized")


# --- the corpus ------------------------------------------------------------------------


def _bodies(rng: random.Random) -> Iterator[bytes]:
    fixed = [b"", b"hello", bytes(range(256)), '{"ü": "€"}'.encode(), b"\x00" * 64]
    while True:
        if rng.random() < 0.3:
            yield rng.choice(fixed)
        else:
            yield rng.randbytes(rng.randrange(0, 200))


def _flip_low_bits(text: str, bits: int) -> str:
    """Change the unused low bits of the last character: same bytes, another spelling."""
    return text[:-1] + ALPHABET[ALPHABET.index(text[-1]) ^ bits]


def _mutate(rng: random.Random, tok: str) -> str:
    alphabet = ALPHABET + "=.+/! \x00é"
    kind = rng.randrange(9)
    position = rng.randrange(len(tok))
    if kind == 0:  # substitution
        return tok[:position] + rng.choice(alphabet) + tok[position + 1 :]
    if kind == 1:  # insertion
        return tok[:position] + rng.choice(alphabet) + tok[position:]
    if kind == 2:  # deletion
        return tok[:position] + tok[position + 1 :]
    if kind == 3:  # truncation
        return tok[:position]
    if kind == 4:  # segment swap
        parts = tok.split(".")
        i, j = rng.sample(range(len(parts)), 2)
        parts[i], parts[j] = parts[j], parts[i]
        return ".".join(parts)
    if kind == 5:  # low bits of the signature's last character
        return _flip_low_bits(tok, rng.randrange(1, 4))
    if kind == 6:  # padding on the signature
        return tok + rng.choice(["=", "==", "==="])
    if kind == 7:  # junk appended (CVE-2026-102269 style)
        return tok + rng.choice(["!!!!", " ", "\n", ".", "%3D"])
    return tok.replace("-", "+").replace("_", "/")  # standard alphabet


def build_corpus(now: int) -> list[Case]:
    rng = random.Random(SEED)  # noqa: S311 -- reproducible test data, not security
    bodies = _bodies(rng)
    cases: list[Case] = []

    def add(category: str, tok: str, body: bytes, url: str | None = None) -> None:
        cases.append(Case(category, tok, body, url, rng.choice([0, 0, 5, 30])))

    minutes: Callable[[], int] = lambda: rng.randrange(2, 60) * 60  # noqa: E731

    for _ in range(150):
        body = next(bodies)
        key = rng.choice([CURRENT, NEXT])
        padded = rng.random() < 0.5
        payload = claims(body, now, body=body_hash(body) + ("=" if padded else ""))
        add("valid", token(HEADER, payload, key), body)
        add("valid_url", token(HEADER, payload, key), body, URL)
        add("url_mismatch", token(HEADER, payload, key), body, URL + "/other")
        add("body_mismatch", token(HEADER, payload, key), body + b"x")
        add("wrong_key", token(HEADER, payload, OTHER), body)
        add("expired", token(HEADER, claims(body, now, exp=now - 30 - minutes()), key), body)
        add("nbf_future", token(HEADER, claims(body, now, nbf=now + 30 + minutes()), key), body)
        add("iat_future", token(HEADER, claims(body, now, iat=now + 30 + minutes()), key), body)

    wrong_issuers: list[Any] = ["upstash", "", "Upstash ", None, 1, ["Upstash"], {}, _DROP]
    for issuer in wrong_issuers:
        body = next(bodies)
        add("wrong_issuer", token(HEADER, claims(body, now, iss=issuer)), body)

    for name in ("exp", "nbf", "iat", "iss", "sub", "body", "jti"):
        for value in (_DROP, None):
            body = next(bodies)
            add("missing_claim", token(HEADER, claims(body, now, **{name: value})), body)

    # Claims of the wrong type (or odd but valid types), signed with the real key.
    odd_values: dict[str, list[Any]] = {
        "exp": [
            str(now + 3600),
            "soon",
            True,
            False,
            [now + 3600],
            {"t": 1},
            float(now + 3600) + 0.25,
            10**400,
            -(10**400),
            " 9999999999 ",
            "9_999_999_999",
        ],
        "nbf": [str(now - 60), True, False, None, [1], float(now - 60), -(10**400), "x"],
        "iat": [str(now - 60), True, False, [1], float(now - 60), 10**400, "1e3"],
        "sub": [1, None, ["u"], {"u": 1}, ""],
        "body": [1, None, [body_hash(b"")], "", "==", "\u00e9" * 43],
        "jti": [1, None, [], "", "x" * 200],
        "aud": ["someone", ["a"], "", [], None, 0, {}],
        "iss": [["Upstash"], {"Upstash": 1}, 0],
    }
    for name, values in odd_values.items():
        for value in values:
            body = b"" if name == "body" else next(bodies)
            add("odd_type", token(HEADER, claims(body, now, **{name: value})), body)
    # Numbers JSON can spell but Python turns into inf, NaN constants, huge digit strings.
    body = b"payload"
    good = json.dumps(claims(body, now))
    for raw in (
        good.replace(f'"exp": {now + 300}', '"exp": 1e400'),
        good.replace(f'"exp": {now + 300}', '"exp": Infinity'),
        good.replace(f'"nbf": {now - 30}', '"nbf": -Infinity'),
        good.replace(f'"iat": {now - 30}', '"iat": NaN'),
        good.replace('"jti": "jwt_diff"', '"jti": "jwt_diff", "x": NaN'),
        good.replace('"jti": "jwt_diff"', '"jti": "jwt_diff", "x": Infinity'),
        good.replace(f'"exp": {now + 300}', '"exp": ' + "9" * 5000),
        good.replace('"iss": "Upstash"', '"iss": "someone", "iss": "Upstash"'),
        good.replace('"iss": "Upstash"', '"iss": "Upstash", "iss": "someone"'),
        good[:-1],
        good + "garbage",
        "\ufeff" + good,
        # Whitespace around the value (JSON allows it), and what follows a complete value.
        " " + good,
        good + " ",
        "\n" + good + "\r\n",
        "\t" + good + "\t",
        "\ufeff " + good,
        good + " x",
        good + "{}",
        good + "\x00",
        " ",
        "",
    ):
        add("raw_payload", sign_segments(segment(HEADER), b64(raw.encode())), body)
    for encoding in ("utf-16", "utf-16-le", "utf-32"):
        add("raw_payload", sign_segments(segment(HEADER), b64(good.encode(encoding))), body)
    deep = b"[" * 3000 + b"]" * 3000
    for value in (deep, b'{"a":' * 2000 + b"1" + b"}" * 2000):
        add("deep_json", sign_segments(segment(HEADER), b64(value)), body)
        add("deep_json", sign_segments(b64(value), segment(claims(body, now))), body)

    # Hostile headers, signed with the real key unless the algorithm says otherwise.
    payload = claims(body, now)
    headers: list[object] = [
        {"alg": "none"},
        {"alg": "None", "typ": "JWT"},
        {"alg": "hs256"},
        {"alg": "HS384"},
        {"alg": "RS256"},
        {"alg": "ES256"},
        {"alg": ""},
        {"alg": None},
        {"alg": ["HS256"]},
        {"typ": "JWT"},
        {},
        {"alg": "HS256", "crit": ["b64"], "b64": True},
        {"alg": "HS256", "crit": ["b64"], "b64": False},
        {"alg": "HS256", "crit": ["exp"], "exp": 1},
        {"alg": "HS256", "crit": []},
        {"alg": "HS256", "crit": "b64", "b64": True},
        {"alg": "HS256", "b64": False},
        {"alg": "HS256", "b64": True},
        {"alg": "HS256", "b64": 0},
        {"alg": "HS256", "kid": 1},
        {"alg": "HS256", "kid": None},
        {"alg": "HS256", "kid": "k1"},
        {"alg": "HS256", "typ": 7, "cty": ["x"]},
        {"alg": "HS256", "jku": "https://evil.test/keys"},
        ["HS256"],
        "HS256",
        256,
        None,
        True,
    ]
    for header in headers:
        add("hostile_header", token(header, payload), body)
    add("hostile_header", sign_segments(b64(b'{"alg":"HS256",}'), segment(payload)), body)
    add("hostile_header", sign_segments(b64(b'{"alg":"HS256","x":NaN}'), segment(payload)), body)
    add("hostile_header", sign_segments(b64(b"\xff\xfe"), segment(payload)), body)
    add("hostile_header", sign_segments(b64(b' {"alg":"HS256"}\n'), segment(payload)), body)
    add("hostile_header", sign_segments(b64(b'{"alg":"HS256"} {}'), segment(payload)), body)
    add("hostile_header", sign_segments("", segment(payload)), body)
    signing_input = f"{segment({'alg': 'none'})}.{segment(payload)}"
    add("alg_none", f"{signing_input}.", body)
    add("alg_none", f"{signing_input}", body)
    for digest, alg in (("sha512", "HS512"), ("sha384", "HS384")):
        signing_input = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(payload)}"
        add("other_hmac", f"{signing_input}.{mac(signing_input, CURRENT, digest)}", body)
    # Payloads that are JSON but not objects, signed with the real key.
    for value in ([payload], "claims", 12, None, True, b"", b"not json", b"\x80\x81"):
        add("non_object_payload", token(HEADER, value), body)

    # Padding and non-canonical encodings inside segments, signed with the real key.
    padded_header = base64.urlsafe_b64encode(b'{"alg":"HS256"}  ').decode()
    payload_text = json.dumps(payload).encode()
    while len(payload_text) % 3 == 0:  # a length whose encoding needs padding
        payload_text += b" "
    padded_payload = base64.urlsafe_b64encode(payload_text).decode()
    for header_seg, payload_seg in (
        (padded_header, segment(payload)),
        (segment(HEADER), padded_payload),
        (padded_header, padded_payload),
    ):
        assert "=" in header_seg + payload_seg
        add("padded_segment", sign_segments(header_seg, payload_seg), body)
    for is_header, data in ((True, b'{"alg":"HS256"}'), (False, json.dumps(payload).encode())):
        while len(data) % 3 == 0:  # the last character then carries unused low bits
            data += b" "
        tweaked = _flip_low_bits(b64(data), 1)
        pair = (tweaked, segment(payload)) if is_header else (segment(HEADER), tweaked)
        add("non_canonical_segment", sign_segments(*pair), body)

    # Wrong segment counts and garbage.
    valid = token(HEADER, payload)
    h, p, s = valid.split(".")
    for tok in (
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        h,
        f"{h}.{p}",
        f"{h}.{p}.{s}.{s}",
        f"{h}.{p}.{s}.",
        f".{h}.{p}.{s}",
        f"{h}..{s}",
        f"{h}.{p}.",
        f"{h}.{p[:-1]}.{s}",
        f"{h}.{p}x.{s}",
        "Bearer " + valid,
        valid.encode().hex(),
        valid.upper(),
        valid[::-1],
        "\u00e9" + valid,
    ):
        add("garbage", tok, body)
    # 4 segments whose first three verify (HMAC over "h.p.s" as signing input).
    add("garbage", sign_segments(h, f"{p}.{s}"), body)

    # Huge tokens: valid (a big extra claim), and garbage of the same size.
    for size in (8000, 9000, 20000, MAX_TOKEN_LENGTH):
        big = claims(body, now, pad="x" * size)
        add("huge", token(HEADER, big), body)
        add("huge", "A" * size + "." + "B" * size + "." + "C" * 43, body)

    # Random mutations of valid tokens.
    for _ in range(400):
        body = next(bodies)
        key = rng.choice([CURRENT, NEXT])
        add("mutated", _mutate(rng, token(HEADER, claims(body, now), key)), body)
    return cases


@dataclass(frozen=True)
class Run:
    now: int
    cases: list[Case]
    receiver: Receiver


@pytest.fixture(scope="module")
def run() -> Run:
    # Built when the tests start, not at import: PyJWT compares with the real clock.
    now = int(time.time())
    return Run(now, build_corpus(now), receiver_at(now))


def test_pyjwt_is_recent_enough() -> None:
    major, minor = (int(part) for part in jwt.__version__.split(".")[:2])
    # Before 2.14 PyJWT accepted non-canonical signatures (CVE-2026-102269): other verdicts.
    assert (major, minor) >= (2, 14), jwt.__version__


def test_corpus_is_large_and_mixed(run: Run) -> None:
    accepted = sum(pyjwt_accepts(case) for case in run.cases)
    assert len(run.cases) >= 1000
    assert accepted >= 300
    assert len(run.cases) - accepted >= 600


def test_verdicts_equal_pyjwt_except_listed_divergences(run: Run) -> None:
    mismatches: list[str] = []
    seen: dict[str, int] = dict.fromkeys(CLASSES, 0)
    for case in run.cases:
        theirs = pyjwt_accepts(case)
        divergent = divergence_classes(case.token)
        for name in divergent:
            if theirs:
                seen[name] += 1
        expected = theirs and not divergent
        if ours_accepts(case, run.receiver) != expected:
            mismatches.append(
                f"{case.category}: ours={not expected} pyjwt={theirs} "
                f"classes={sorted(divergent)} token={case.token[:120]!r}"
            )
    assert not mismatches, "\n".join(mismatches[:20])
    # Every listed divergence really occurs (we reject, PyJWT accepts) in this corpus.
    assert all(seen.values()), seen


ISOLATED: dict[str, Callable[[int], str]] = {
    "padded": lambda now: token(HEADER, claims(b"x", now)) + "=",
    "non_number_time": lambda now: token(
        HEADER, claims(b"x", now, exp=str(now + 3600), nbf=True, iat=True)
    ),
    "non_json_constant": lambda now: sign_segments(
        segment(HEADER), b64(json.dumps(claims(b"x", now)).replace("}", ', "x": NaN}').encode())
    ),
    "crit": lambda now: token({"alg": "HS256", "crit": ["b64"], "b64": True}, claims(b"x", now)),
    "utf16_32_json": lambda now: sign_segments(
        segment(HEADER), b64(json.dumps(claims(b"x", now)).encode("utf-16"))
    ),
    "oversized": lambda now: token(HEADER, claims(b"x", now, pad="x" * MAX_TOKEN_LENGTH)),
}


@pytest.mark.parametrize("name", list(ISOLATED))
def test_each_divergence_class_in_isolation(name: str) -> None:
    now = int(time.time())
    case = Case(name, ISOLATED[name](now), b"x")
    assert divergence_classes(case.token) == {name}
    assert pyjwt_accepts(case)
    assert not ours_accepts(case, receiver_at(now))


def test_a_plain_valid_token_is_in_no_divergence_class() -> None:
    now = int(time.time())
    case = Case("valid", token(HEADER, claims(b"x", now)), b"x")
    assert divergence_classes(case.token) == set()
    assert pyjwt_accepts(case)
    assert ours_accepts(case, receiver_at(now))
