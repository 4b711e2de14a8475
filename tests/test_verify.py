"""``Receiver.verify``: one test per failure mode, tolerance edges, bodies, a known answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from verdicts import check_request

from qstash_receiver import (
    BodyMismatchError,
    ConfigError,
    DuplicateSignatureError,
    ExpiredError,
    InvalidClaimsError,
    InvalidIssuerError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingSignatureError,
    NotYetValidError,
    QStashError,
    Receiver,
    SignatureError,
    UnsupportedAlgorithmError,
    UrlMismatchError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.integration import Answer
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign

CURRENT = "sig_verifyCurrent00000000000000"
NEXT = "sig_verifyNext000000000000000000"
OTHER = "sig_verifyOther00000000000000000"
NOW = 1_800_000_000
URL = "https://example.com/api/qstash"
BODY = b'{"hello": "world"}'


def receiver(now: float = NOW, env: dict[str, str] | None = None) -> Receiver:
    env = env or {"QSTASH_CURRENT_SIGNING_KEY": CURRENT, "QSTASH_NEXT_SIGNING_KEY": NEXT}
    return Receiver(config=load_config({"QSTASH_TOKEN": "t", **env}), clock=lambda: now)


def signed(body: bytes | str = BODY, key: str = CURRENT, **claims: Any) -> str:
    return sign(body, key=key, url=URL, now=NOW - 10, claims=claims)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def raw_token(header: object, payload: object, key: str = CURRENT, digest: str = "sha256") -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.digest(key.encode(), signing_input.encode(), digest)
    return f"{signing_input}.{b64(mac)}"


def good_claims(body: bytes = BODY) -> dict[str, Any]:
    return {
        "iss": "Upstash",
        "sub": URL,
        "exp": NOW + 300,
        "nbf": NOW - 10,
        "iat": NOW - 10,
        "jti": "jwt_x",
        "body": b64(hashlib.sha256(body).digest()),
    }


def expect(error: type[SignatureError], reason: str, signature: str, **options: Any) -> None:
    with pytest.raises(SignatureError) as caught:
        receiver().verify(signature=signature, body=options.pop("body", BODY), **options)
    assert type(caught.value) is error
    assert caught.value.reason == reason


# --- one test per reason code -----------------------------------------------------------


def test_valid_token_verifies() -> None:
    message = receiver().verify(signature=signed(), body=BODY)
    assert isinstance(message, VerifiedMessage)
    assert message


def test_hand_built_baseline_verifies() -> None:
    # The failure cases below change one thing in this token; unchanged, it verifies.
    for header in ({"alg": "HS256"}, {"alg": "HS256", "typ": "JWT", "kid": "k1"}):
        assert receiver().verify(signature=raw_token(header, good_claims()), body=BODY)


@pytest.mark.parametrize("signature", ["", None], ids=["empty", "none"])
def test_missing_signature(signature: Any) -> None:
    expect(MissingSignatureError, "missing_signature", signature)


@pytest.mark.parametrize("shape", ["two-values", "comma-joined"])
def test_duplicate_signature(shape: str) -> None:
    # Only a request carries headers, so duplicates are detected by check_request.
    valid = signed()
    headers: Any = (
        [("Upstash-Signature", valid), ("upstash-signature", valid)]
        if shape == "two-values"
        else {"Upstash-Signature": f"{valid}, {valid}"}
    )
    assert check_request(receiver(), headers, BODY) == Answer(401, "duplicate_signature")
    assert DuplicateSignatureError.reason == "duplicate_signature"
    assert issubclass(DuplicateSignatureError, SignatureError)


HS256_HEADER = b64(b'{"alg":"HS256"}')
EMPTY_OBJECT = b64(b"{}")
MALFORMED = {
    "one-segment": "abc",
    "two-segments": "abc.def",
    "four-segments": "a.b.c.d",
    "dots-only": "..",
    "bad-base64-length": "a.b.c",
    "bad-alphabet": "ab!c.abcd.abcd",
    "padding": HS256_HEADER + "=.abcd.abcd",
    "non-json-header": b64(b"not json") + f".{EMPTY_OBJECT}.abcd",
    "array-header": b64(b"[1]") + f".{EMPTY_OBJECT}.abcd",
    "string-header": b64(b'"HS256"') + f".{EMPTY_OBJECT}.abcd",
    "non-ascii": "é.é.é",
    "huge": "a" * 10_000 + ".b.c",
    "crit-header": raw_token({"alg": "HS256", "crit": ["b64"], "b64": True}, good_claims()),
    "b64-false": raw_token({"alg": "HS256", "b64": False}, good_claims()),
    "kid-not-string": raw_token({"alg": "HS256", "kid": 7}, good_claims()),
    "payload-not-json": HS256_HEADER + "." + b64(b"nope"),
    "payload-array": raw_token({"alg": "HS256"}, [good_claims()]),
}


@pytest.mark.parametrize("signature", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_signature(signature: str) -> None:
    if signature.count(".") == 1:  # sign the two segments so only their content is wrong
        mac = hmac.digest(CURRENT.encode(), signature.encode(), "sha256")
        signature = f"{signature}.{b64(mac)}"
    expect(MalformedSignatureError, "malformed_signature", signature)


def test_non_canonical_payload_encoding_is_malformed() -> None:
    header = HS256_HEADER
    text = json.dumps(good_claims()).encode()
    while len(text) % 3 == 0:
        text += b" "
    payload = b64(text)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    payload = payload[:-1] + alphabet[alphabet.index(payload[-1]) ^ 1]  # same bytes
    signing_input = f"{header}.{payload}"
    mac = hmac.digest(CURRENT.encode(), signing_input.encode(), "sha256")
    expect(MalformedSignatureError, "malformed_signature", f"{signing_input}.{b64(mac)}")


UNSUPPORTED = {
    "none-empty-signature": raw_token({"alg": "none"}, good_claims()).rsplit(".", 1)[0] + ".",
    "none-signed": raw_token({"alg": "none"}, good_claims()),
    "HS512": raw_token({"alg": "HS512", "typ": "JWT"}, good_claims(), digest="sha512"),
    "HS384": raw_token({"alg": "HS384"}, good_claims(), digest="sha384"),
    "RS256": raw_token({"alg": "RS256"}, good_claims()),
    "lowercase": raw_token({"alg": "hs256"}, good_claims()),
    "missing-alg": raw_token({"typ": "JWT"}, good_claims()),
    "alg-list": raw_token({"alg": ["HS256"]}, good_claims()),
}


@pytest.mark.parametrize("signature", list(UNSUPPORTED.values()), ids=list(UNSUPPORTED))
def test_unsupported_algorithm(signature: str) -> None:
    expect(UnsupportedAlgorithmError, "unsupported_algorithm", signature)


def test_invalid_signature_wrong_key() -> None:
    expect(InvalidSignatureError, "invalid_signature", signed(key=OTHER))


def test_invalid_signature_tampered_payload() -> None:
    header, _, mac = signed().split(".")
    forged = b64(json.dumps({**good_claims(), "sub": "https://evil.test"}).encode())
    expect(InvalidSignatureError, "invalid_signature", f"{header}.{forged}.{mac}")


def test_invalid_signature_truncated_mac() -> None:
    expect(InvalidSignatureError, "invalid_signature", signed()[:-2])


BAD_CLAIMS: dict[str, dict[str, Any]] = {
    "exp-missing": {"exp": None},
    "exp-string": {"exp": str(NOW + 300)},
    "exp-bool": {"exp": True},
    "nbf-bool": {"nbf": True},
    "iat-list": {"iat": [NOW]},
    "sub-int": {"sub": 7},
    "body-missing": {"body": None},
    "body-list": {"body": ["x"]},
    "jti-int": {"jti": 7},
    "aud-present": {"aud": "someone"},
}


@pytest.mark.parametrize("overrides", list(BAD_CLAIMS.values()), ids=list(BAD_CLAIMS))
def test_invalid_claims(overrides: dict[str, Any]) -> None:
    payload = {k: v for k, v in {**good_claims(), **overrides}.items() if v is not None}
    expect(InvalidClaimsError, "invalid_claims", raw_token({"alg": "HS256"}, payload))


def test_huge_integer_time_claims_are_numbers() -> None:
    # 10**400 cannot become a float; it must still compare (and not raise OverflowError).
    far = raw_token({"alg": "HS256"}, {**good_claims(), "exp": 10**400})
    assert receiver().verify(signature=far, body=BODY).claims["exp"] == 10**400
    past = raw_token({"alg": "HS256"}, {**good_claims(), "exp": -(10**400)})
    expect(ExpiredError, "expired", past)


@pytest.mark.parametrize("issuer", ["upstash", "", "Upstash ", None, ["Upstash"]])
def test_invalid_issuer(issuer: Any) -> None:
    payload = {k: v for k, v in {**good_claims(), "iss": issuer}.items() if v is not None}
    expect(InvalidIssuerError, "invalid_issuer", raw_token({"alg": "HS256"}, payload))


def test_expired() -> None:
    expect(ExpiredError, "expired", sign(BODY, key=CURRENT, now=NOW - 301, lifetime=300))


def test_not_yet_valid_nbf() -> None:
    expect(NotYetValidError, "not_yet_valid", signed(nbf=NOW + 60))


def test_not_yet_valid_iat() -> None:
    expect(NotYetValidError, "not_yet_valid", signed(iat=NOW + 60))


def test_body_mismatch() -> None:
    expect(BodyMismatchError, "body_mismatch", signed(), body=BODY + b" ")


def test_body_claim_with_non_ascii_is_a_mismatch() -> None:
    token = sign(BODY, key=CURRENT, now=NOW - 10, claims={"body": "é" * 43})
    expect(BodyMismatchError, "body_mismatch", token)


def test_url_mismatch() -> None:
    expect(UrlMismatchError, "url_mismatch", signed(), url=URL + "/")


def test_url_match() -> None:
    assert receiver().verify(signature=signed(), body=BODY, url=URL).url == URL


def test_every_reason_code_is_distinct_and_stable() -> None:
    reasons = {
        cls.reason
        for cls in (
            MissingSignatureError,
            DuplicateSignatureError,
            MalformedSignatureError,
            UnsupportedAlgorithmError,
            InvalidSignatureError,
            InvalidClaimsError,
            InvalidIssuerError,
            ExpiredError,
            NotYetValidError,
            BodyMismatchError,
            UrlMismatchError,
        )
    }
    assert reasons == {
        "missing_signature",
        "duplicate_signature",
        "malformed_signature",
        "unsupported_algorithm",
        "invalid_signature",
        "invalid_claims",
        "invalid_issuer",
        "expired",
        "not_yet_valid",
        "body_mismatch",
        "url_mismatch",
    }


# --- current/next key ------------------------------------------------------------------


def test_current_key_is_used_first() -> None:
    assert receiver().verify(signature=signed(key=CURRENT), body=BODY).key_used == "current"


def test_next_key_when_current_signature_fails() -> None:
    assert receiver().verify(signature=signed(key=NEXT), body=BODY).key_used == "next"


def test_next_key_token_failing_body_check_is_body_mismatch() -> None:
    expect(BodyMismatchError, "body_mismatch", signed(key=NEXT), body=b"other")


def test_next_key_token_failing_url_check_is_url_mismatch() -> None:
    expect(UrlMismatchError, "url_mismatch", signed(key=NEXT), url="https://other.test")


def test_expired_current_key_token_is_not_retried() -> None:
    # Retrying with the next key would end in invalid_signature; the verdict stays "expired".
    expired = sign(BODY, key=CURRENT, now=NOW - 1000)
    expect(ExpiredError, "expired", expired)


def test_current_key_token_with_wrong_body_is_not_retried() -> None:
    expect(BodyMismatchError, "body_mismatch", signed(key=CURRENT), body=b"other")


def test_same_key_in_both_slots_reports_current() -> None:
    env = {"QSTASH_CURRENT_SIGNING_KEY": NEXT, "QSTASH_NEXT_SIGNING_KEY": NEXT}
    message = receiver(env=env).verify(signature=signed(key=NEXT), body=BODY)
    assert message.key_used == "current"


# --- clock tolerance edges (+-1 s) -----------------------------------------------------


@pytest.mark.parametrize("tolerance", [0, 1, 5, 60])
def test_exp_edge(tolerance: int) -> None:
    at_edge = signed(exp=NOW - tolerance)
    with pytest.raises(ExpiredError):
        receiver().verify(signature=at_edge, body=BODY, clock_tolerance=tolerance)
    one_later = signed(exp=NOW - tolerance + 1, nbf=NOW - 400, iat=NOW - 400)
    assert receiver().verify(signature=one_later, body=BODY, clock_tolerance=tolerance)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
@pytest.mark.parametrize("tolerance", [0, 1, 5, 60])
def test_nbf_and_iat_edges(claim: str, tolerance: int) -> None:
    edge: dict[str, Any] = {claim: NOW + tolerance}
    at_edge = signed(**edge)
    assert receiver().verify(signature=at_edge, body=BODY, clock_tolerance=tolerance)
    after: dict[str, Any] = {claim: NOW + tolerance + 1}
    one_later = signed(**after)
    with pytest.raises(NotYetValidError):
        receiver().verify(signature=one_later, body=BODY, clock_tolerance=tolerance)


def test_fractional_tolerance_and_clock() -> None:
    token = signed(exp=NOW)
    with pytest.raises(ExpiredError):
        receiver(now=NOW + 0.5).verify(signature=token, body=BODY, clock_tolerance=0.4)
    assert receiver(now=NOW + 0.5).verify(signature=token, body=BODY, clock_tolerance=0.6)


def test_negative_tolerance_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="clock_tolerance"):
        receiver().verify(signature=signed(), body=BODY, clock_tolerance=-1)


def test_nan_tolerance_is_refused_not_a_disabled_expiry_check() -> None:
    # Every comparison with NaN is false: taken as is, it would accept any expired token.
    expired = signed(exp=NOW - 3600, nbf=NOW - 4000, iat=NOW - 4000)
    with pytest.raises(ValueError, match="clock_tolerance"):
        receiver().verify(signature=expired, body=BODY, clock_tolerance=float("nan"))


def test_clock_is_called_per_verification() -> None:
    times = iter([NOW, NOW + 1000])
    moving = Receiver(
        config=load_config(
            {"QSTASH_CURRENT_SIGNING_KEY": CURRENT, "QSTASH_NEXT_SIGNING_KEY": NEXT}
        ),
        clock=lambda: next(times),
    )
    token = signed()
    assert moving.verify(signature=token, body=BODY)
    with pytest.raises(ExpiredError):
        moving.verify(signature=token, body=BODY)


# --- bodies ----------------------------------------------------------------------------


def test_empty_body_of_a_schedule() -> None:
    token = signed(b"")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["body"] == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="  # SHA-256 of b""
    assert receiver().verify(signature=token, body=b"").body == b""
    assert receiver().verify(signature=token, body="")
    with pytest.raises(BodyMismatchError):
        receiver().verify(signature=token, body=b"\n")


BINARY = bytes(range(256)) * 4


@pytest.mark.parametrize(
    "body", [BINARY, bytearray(BINARY), memoryview(BINARY)], ids=["bytes", "bytearray", "view"]
)
def test_non_utf8_binary_body(body: bytes | bytearray | memoryview) -> None:
    message = receiver().verify(signature=signed(BINARY), body=body)
    assert message.body == BINARY
    assert type(message.body) is bytes


def test_binary_body_one_byte_changed() -> None:
    changed = BINARY[:500] + b"\x00" + BINARY[501:]
    expect(BodyMismatchError, "body_mismatch", signed(BINARY), body=changed)


@pytest.mark.parametrize("padded", [True, False], ids=["padded", "unpadded"])
def test_body_claim_with_and_without_padding(padded: bool) -> None:
    token = sign(BODY, key=CURRENT, now=NOW - 10, padded=padded)
    claim = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["body"]
    assert claim.endswith("=") is padded
    assert receiver().verify(signature=token, body=BODY)


def test_body_claim_with_double_padding() -> None:
    claim = b64(hashlib.sha256(BODY).digest()) + "=="
    token = sign(BODY, key=CURRENT, now=NOW - 10, claims={"body": claim})
    assert receiver().verify(signature=token, body=BODY)


def test_str_body_equals_bytes_body() -> None:
    text = '{"greeting": "grüß dich €"}'
    from_str = receiver().verify(signature=signed(text), body=text.encode())
    from_bytes = receiver().verify(signature=signed(text.encode()), body=text)
    assert from_str.body == from_bytes.body == text.encode("utf-8")
    assert from_bytes.text() == text


# --- known-answer vector ---------------------------------------------------------------

# Made once with an independent HS256 implementation (hmac + base64 from the standard
# library), key KAT_KEY, claims iss=Upstash, sub=https://example.com/api/qstash,
# exp=1767225900, nbf=iat=1767225600, jti=jwt_known_answer_vector_0001, body=hash(b"hello")+"=".
KAT_KEY = "sig_3mJr4VLUvDYHfmJ9ZsPaWK6Ltc4B"
KAT_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJVcHN0YXNoIiwic3ViIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS9hcGkvcXN0YXNoIiwiZXhwIjoxNzY3"
    "MjI1OTAwLCJuYmYiOjE3NjcyMjU2MDAsImlhdCI6MTc2NzIyNTYwMCwianRpIjoiand0X2tub3duX2Fuc3dlcl92"
    "ZWN0b3JfMDAwMSIsImJvZHkiOiJMUEpOdWwtd293NG02RHNxeGJuaW5oc1dIbHdmcDBKZWN3UXpZcE9MbUNRPSJ9."
    "6mxGx1quVfeqjWURTCJRUkKiLLp65oJRMoEUlBo3QHE"
)
KAT_NOW = 1767225700
HELLO_HASH = "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"


def kat_receiver(current: str, nxt: str, now: float = KAT_NOW) -> Receiver:
    config = load_config({"QSTASH_CURRENT_SIGNING_KEY": current, "QSTASH_NEXT_SIGNING_KEY": nxt})
    return Receiver(config=config, clock=lambda: now)


def test_known_answer_vector() -> None:
    message = kat_receiver(KAT_KEY, OTHER).verify(
        signature=KAT_TOKEN, body=b"hello", url="https://example.com/api/qstash"
    )
    assert dict(message.claims) == {
        "iss": "Upstash",
        "sub": "https://example.com/api/qstash",
        "exp": 1767225900,
        "nbf": 1767225600,
        "iat": 1767225600,
        "jti": "jwt_known_answer_vector_0001",
        "body": HELLO_HASH + "=",
    }
    assert message.key_used == "current"
    assert kat_receiver(OTHER, KAT_KEY).verify(signature=KAT_TOKEN, body="hello").key_used == "next"


def test_known_answer_vector_edges() -> None:
    with pytest.raises(ExpiredError):
        kat_receiver(KAT_KEY, OTHER, now=1767225900).verify(signature=KAT_TOKEN, body=b"hello")
    with pytest.raises(NotYetValidError):
        kat_receiver(KAT_KEY, OTHER, now=1767225599).verify(signature=KAT_TOKEN, body=b"hello")
    with pytest.raises(BodyMismatchError):
        kat_receiver(KAT_KEY, OTHER).verify(signature=KAT_TOKEN, body=b"hello\n")
    with pytest.raises(InvalidSignatureError):
        kat_receiver(OTHER, NEXT).verify(signature=KAT_TOKEN, body=b"hello")


def test_known_body_hashes() -> None:
    from qstash_receiver.token import body_hash

    assert body_hash(b"hello") == HELLO_HASH
    assert body_hash("hello") == HELLO_HASH
    assert body_hash(b"") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"


def test_testing_sign_reproduces_the_vector() -> None:
    again = sign(
        b"hello",
        key=KAT_KEY,
        url="https://example.com/api/qstash",
        now=1767225600,
        claims={"jti": "jwt_known_answer_vector_0001"},
    )
    assert again == KAT_TOKEN


# --- the returned message ----------------------------------------------------------------


def test_verified_message_fields() -> None:
    message = receiver().verify(signature=signed(), body=BODY)
    assert bool(message) is True
    assert message.body == BODY
    assert message.claims["iss"] == "Upstash"
    assert message.claims["sub"] == URL
    assert message.url == URL
    assert message.key_source == "default"
    assert message.key_region is None
    assert message.key_used == "current"
    assert message.upstash_region is None
    assert message.message_id is None
    assert message.retried is None
    assert message.json() == {"hello": "world"}
    assert message.text() == BODY.decode()


def test_migration_mode_selects_keys_by_region_header() -> None:
    migration = Receiver(config=load_config(DEMO_ENV), clock=lambda: NOW)
    eu_token = sign(BODY, key=DEMO_KEYS["EU_CENTRAL_1"][0], now=NOW - 10)
    message = migration.verify(signature=eu_token, body=BODY, upstash_region="eu-central-1")
    assert (message.key_source, message.key_region, message.upstash_region) == (
        "region",
        "EU_CENTRAL_1",
        "EU_CENTRAL_1",
    )
    eu_next = sign(BODY, key=DEMO_KEYS["EU_CENTRAL_1"][1], now=NOW - 10)
    message = migration.verify(signature=eu_next, body=BODY, upstash_region="EU-CENTRAL-1")
    assert message.key_used == "next"
    # The US keys are not tried for an EU delivery, and vice versa.
    with pytest.raises(InvalidSignatureError):
        migration.verify(signature=eu_token, body=BODY, upstash_region="US-EAST-1")


def test_explicit_keys_receiver() -> None:
    explicit = Receiver(CURRENT, NEXT)
    message = explicit.verify(signature=sign(BODY, key=NEXT), body=BODY)
    assert (message.key_source, message.key_used) == ("explicit", "next")


def test_receiver_argument_errors() -> None:
    with pytest.raises(ConfigError, match="both"):
        Receiver(CURRENT)
    with pytest.raises(ConfigError, match="not both"):
        Receiver(CURRENT, NEXT, config=load_config({}))


def test_no_keys_is_a_config_error_not_a_signature_error() -> None:
    empty = Receiver(config=load_config({}), clock=lambda: NOW)
    with pytest.raises(ConfigError) as caught:
        empty.verify(signature=signed(), body=BODY)
    assert not isinstance(caught.value, SignatureError)
    assert isinstance(caught.value, QStashError)
