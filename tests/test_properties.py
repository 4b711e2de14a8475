"""Property tests: no mutation of a token or body verifies, and nothing but SignatureError escapes.

Deterministic (``derandomize=True``, no example database) and bounded, so the suite stays fast
and every run checks the same examples.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verdicts import check_request

from qstash_receiver import Receiver, SignatureError, VerifiedMessage, load_config
from qstash_receiver.integration import Answer, Headers
from qstash_receiver.testing import sign

CURRENT = "sig_propertyCurrent000000000000000"
NEXT = "sig_propertyNext00000000000000000000"
NOW = 1_800_000_000
BODY = b'{"event": "order.created", "id": 1}'
VALID = sign(BODY, key=CURRENT, now=NOW - 10, claims={"jti": "jwt_property"})
VALID_NEXT = sign(BODY, key=NEXT, now=NOW - 10, claims={"jti": "jwt_property_next"})
RECEIVER = Receiver(
    config=load_config({"QSTASH_CURRENT_SIGNING_KEY": CURRENT, "QSTASH_NEXT_SIGNING_KEY": NEXT}),
    clock=lambda: NOW,
)
REASONS = {
    "missing_signature",
    "malformed_signature",
    "unsupported_algorithm",
    "invalid_signature",
    "invalid_claims",
    "invalid_issuer",
    "expired",
    "not_yet_valid",
    "body_mismatch",
}

BOUNDED = settings(derandomize=True, max_examples=400, deadline=None, database=None)

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Mostly base64url characters so that mutations reach the deeper checks, plus troublemakers.
CHARACTERS = st.one_of(
    st.sampled_from(ALPHABET),
    st.sampled_from(list("=.+/ \t\n,!\x00\x7f")),
    st.characters(codec="utf-8"),
)


def outcome(token: Any, body: bytes | str = BODY) -> str:
    """The reason code, or "verified". Any exception other than SignatureError fails the test."""
    try:
        RECEIVER.verify(signature=token, body=body)
    except SignatureError as error:
        caught = error
    else:
        return "verified"
    assert caught.reason in REASONS, caught.reason
    assert type(caught) is not SignatureError  # always a specific subclass
    return caught.reason


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_the_unmutated_tokens_verify() -> None:
    assert outcome(VALID) == "verified"
    assert outcome(VALID_NEXT) == "verified"


@st.composite
def mutated(draw: st.DrawFn, original: str) -> str:
    token = original
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["sub", "ins", "del", "trunc", "swap", "dup", "bits", "pad"]))
        where = draw(st.integers(0, max(len(token) - 1, 0)))
        if kind == "sub" and token:
            token = token[:where] + draw(CHARACTERS) + token[where + 1 :]
        elif kind == "ins":
            token = token[:where] + draw(CHARACTERS) + token[where:]
        elif kind == "del":
            token = token[:where] + token[where + 1 :]
        elif kind == "trunc":
            token = token[:where]
        elif kind in ("swap", "dup"):
            parts = token.split(".")
            i = draw(st.integers(0, len(parts) - 1))
            j = draw(st.integers(0, len(parts) - 1))
            if kind == "swap":
                parts[i], parts[j] = parts[j], parts[i]
            else:
                parts.insert(i, parts[j])
            token = ".".join(parts)
        elif kind == "bits" and token and token[-1] in ALPHABET:
            bits = draw(st.integers(1, 63))
            token = token[:-1] + ALPHABET[ALPHABET.index(token[-1]) ^ bits]
        elif kind == "pad":
            parts = token.split(".")
            i = draw(st.integers(0, len(parts) - 1))
            parts[i] += "=" * draw(st.integers(1, 3))
            token = ".".join(parts)
    return token


@BOUNDED
@given(mutated(VALID))
def test_mutated_current_key_token_never_verifies(token: str) -> None:
    if token != VALID:
        assert outcome(token) != "verified"


@BOUNDED
@given(mutated(VALID_NEXT))
def test_mutated_next_key_token_never_verifies(token: str) -> None:
    if token != VALID_NEXT:
        assert outcome(token) != "verified"


@st.composite
def mutated_body(draw: st.DrawFn) -> bytes:
    body = bytearray(BODY)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["sub", "ins", "del", "trunc", "append"]))
        where = draw(st.integers(0, max(len(body) - 1, 0)))
        byte = draw(st.integers(0, 255))
        if kind == "sub" and body:
            body[where] = byte
        elif kind == "ins":
            body.insert(where, byte)
        elif kind == "del" and body:
            del body[where]
        elif kind == "trunc":
            del body[where:]
        else:
            body.extend(draw(st.binary(min_size=1, max_size=8)))
    return bytes(body)


@BOUNDED
@given(mutated_body())
def test_mutated_body_is_a_body_mismatch(body: bytes) -> None:
    if body != BODY:
        assert outcome(VALID, body) == "body_mismatch"
        assert outcome(VALID_NEXT, body) == "body_mismatch"


@BOUNDED
@given(st.text(max_size=300))
def test_arbitrary_text_never_verifies(token: str) -> None:
    assert outcome(token) != "verified"


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=5,
)
CLAIM_NAMES = st.sampled_from(["iss", "sub", "exp", "nbf", "iat", "jti", "body", "aud", "alg"])


@st.composite
def json_segment(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return b64(draw(st.binary(max_size=80)))
    if choice == 1:
        return b64(json.dumps(draw(JSON)).encode())
    if choice == 2:  # objects that look like headers/claims, with values of any type
        obj = draw(st.dictionaries(CLAIM_NAMES, JSON, max_size=8))
        return b64(json.dumps(obj).encode())
    if choice == 3:
        return b64(
            json.dumps({"alg": "HS256", **draw(st.dictionaries(CLAIM_NAMES, JSON))}).encode()
        )
    return draw(st.text(ALPHABET, max_size=60))


@BOUNDED
@given(json_segment(), json_segment(), json_segment())
def test_three_random_segments_never_verify(header: str, payload: str, signature: str) -> None:
    assert outcome(f"{header}.{payload}.{signature}") != "verified"


@BOUNDED
@given(st.dictionaries(CLAIM_NAMES, JSON, max_size=9), st.dictionaries(CLAIM_NAMES, JSON))
def test_random_claims_signed_with_the_real_key_raise_only_signature_errors(
    claims: dict[str, Any], header_extra: dict[str, Any]
) -> None:
    # Correctly signed, so the claim checks themselves meet every value type.
    header = b64(json.dumps({**header_extra, "alg": "HS256"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    mac = b64(hmac.digest(CURRENT.encode(), signing_input.encode(), "sha256"))
    assert outcome(f"{signing_input}.{mac}") != "verified"  # no body claim can match


BODY_HASH = b64(hashlib.sha256(BODY).digest())
NEAR_NOW = st.integers(NOW - 100, NOW + 100) | st.floats(NOW - 100, NOW + 100)
CLAIM_VALUES = {
    "exp": NEAR_NOW | JSON,
    "nbf": NEAR_NOW | JSON,
    "iat": NEAR_NOW | JSON,
    "iss": st.sampled_from(["Upstash", "upstash", "Upstash\x00"]) | JSON,
    "sub": st.text(max_size=10) | JSON,
    "jti": st.text(max_size=10) | JSON,
    "aud": JSON,
    "body": st.sampled_from([BODY_HASH, BODY_HASH + "==", "é" + BODY_HASH[1:], BODY_HASH[:-1]])
    | st.text(max_size=50)
    | JSON,
}


# One or two claims changed at a time, so that the others stay valid and the change decides.
OVERRIDES = st.lists(
    st.sampled_from(sorted(CLAIM_VALUES)).flatmap(
        lambda name: CLAIM_VALUES[name].map(lambda value: (name, value))
    ),
    min_size=1,
    max_size=2,
).map(dict)


@BOUNDED
@given(OVERRIDES, st.sets(st.sampled_from(sorted(CLAIM_VALUES)), max_size=1))
def test_correctly_signed_claims_pass_only_when_well_formed(
    overrides: dict[str, Any], dropped: set[str]
) -> None:
    claims: dict[str, Any] = {
        "iss": "Upstash",
        "sub": "u",
        "exp": NOW + 60,
        "nbf": NOW,
        "iat": NOW,
        "jti": "j",
        "body": BODY_HASH,
        **overrides,
    }
    for name in dropped:
        claims.pop(name, None)
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    mac = b64(hmac.digest(CURRENT.encode(), signing_input.encode(), "sha256"))
    if outcome(f"{signing_input}.{mac}") != "verified":
        return
    times = [claims.get(name) for name in ("exp", "nbf", "iat")]
    assert all(type(value) in (int, float) for value in times), times
    assert claims["exp"] > NOW
    assert claims["nbf"] <= NOW
    assert claims["iat"] <= NOW
    assert claims["iss"] == "Upstash"
    assert isinstance(claims["sub"], str)
    assert isinstance(claims.get("jti", ""), str)
    assert not claims.get("aud")
    assert isinstance(claims["body"], str)
    assert claims["body"].rstrip("=") == BODY_HASH


# Not a hypothesis test: hypothesis raises the recursion limit while it runs a test.
@pytest.mark.parametrize(
    "nested",
    [
        pytest.param("[" * 3000 + "]" * 3000, id="arrays"),
        pytest.param('{"":' * 1200 + "1" + "}" * 1200, id="objects"),
    ],
)
def test_json_deeper_than_the_recursion_limit_is_malformed(nested: str) -> None:
    assert sys.getrecursionlimit() < 1200  # so json.loads really hits RecursionError
    header = b64(b'{"alg":"HS256"}')
    signing_input = f"{header}.{b64(nested.encode())}"
    mac = b64(hmac.digest(CURRENT.encode(), signing_input.encode(), "sha256"))
    try:
        json.loads(nested)
    except RecursionError:
        assert outcome(f"{signing_input}.{mac}") == "malformed_signature"
    else:
        # Python >= 3.12 bounds json's C recursion by its own limit, not sys.getrecursionlimit(),
        # and parses this depth (3.13 also the arrays); deeper does not fit MAX_TOKEN_LENGTH.
        # The token is then refused for what it holds: never a crash, never verified.
        assert outcome(f"{signing_input}.{mac}") in {"malformed_signature", "invalid_claims"}


@BOUNDED
@given(st.binary(max_size=2000), st.booleans())
def test_any_body_round_trips(body: bytes, use_next: bool) -> None:
    key = NEXT if use_next else CURRENT
    message = RECEIVER.verify(signature=sign(body, key=key, now=NOW - 1), body=body)
    assert message.body == body
    assert message.key_used == ("next" if use_next else "current")


@BOUNDED
@given(st.text(max_size=500))
def test_str_body_equals_its_utf8_bytes(text: str) -> None:
    encoded = text.encode("utf-8")
    assert RECEIVER.verify(signature=sign(text, key=CURRENT, now=NOW), body=encoded)
    assert RECEIVER.verify(signature=sign(encoded, key=CURRENT, now=NOW), body=text)


HEADER_NAMES = st.sampled_from(
    ["Upstash-Signature", "upstash-signature", "Upstash-Region", "Upstash-Retried", "X-Other"]
) | st.text(min_size=1, max_size=10)


@BOUNDED
@given(
    st.lists(
        st.tuples(HEADER_NAMES, st.one_of(st.text(max_size=60), st.sampled_from([VALID]))),
        max_size=6,
    ),
    st.binary(min_size=40, max_size=60) | st.binary(max_size=8) | st.just(BODY),
)
def test_check_request_answers_every_header_set(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    result = check_request(RECEIVER, headers, body, max_body_bytes=48)
    if isinstance(result, Answer):
        assert result.status in (401, 413)
        assert result.text.startswith(f"{result.status} ")
    else:
        assert isinstance(result, VerifiedMessage)
        assert Headers(headers).get_all("upstash-signature") == [VALID]
        assert body == BODY
