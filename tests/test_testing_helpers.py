"""``qstash_receiver.testing``: tokens exactly as QStash makes them, checked independently."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from qstash import Receiver as OfficialReceiver
from verdicts import check_request

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.names import Region
from qstash_receiver.testing import DEFAULT_LIFETIME, DEMO_ENV, DEMO_KEYS, sign, signed_headers

KEY = "sig_helpersCurrent0000000000000000"
NEXT = "sig_helpersNext000000000000000000000"


def _decode(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return _decode(header), _decode(payload)


def test_sign_claims_and_header() -> None:
    token = sign(b"hello", key=KEY, url="https://x.test/hook", now=1_700_000_000.9)
    header, claims = segments(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == "Upstash"
    assert claims["sub"] == "https://x.test/hook"
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        1_700_000_000,
        1_700_000_000,
        1_700_000_000 + 300,
    )
    assert claims["jti"].startswith("jwt_")
    assert claims["body"] == "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    assert DEFAULT_LIFETIME == 300


def test_sign_is_valid_hs256_for_pyjwt() -> None:
    token = sign(b"{}", key=KEY, url="https://x.test/hook")
    claims = jwt.decode(token, KEY, algorithms=["HS256"], issuer="Upstash")
    assert claims["sub"] == "https://x.test/hook"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, NEXT, algorithms=["HS256"])


def test_sign_is_accepted_by_the_official_sdk() -> None:
    body = '{"hello": "world"}'
    official = OfficialReceiver(KEY, NEXT)
    official.verify(
        signature=sign(body, key=KEY, url="https://x.test"), body=body, url="https://x.test"
    )
    official.verify(signature=sign(body, key=NEXT), body=body)


def test_jti_is_unique_per_token() -> None:
    tokens = {segments(sign(b"", key=KEY, now=0))[1]["jti"] for _ in range(20)}
    assert len(tokens) == 20


def test_default_now_is_the_current_time() -> None:
    before = int(time.time())
    claims = segments(sign(b"", key=KEY))[1]
    assert before <= claims["iat"] <= int(time.time())


def test_sign_options() -> None:
    claims = segments(
        sign(b"x", key=KEY, now=100, lifetime=60, padded=False, claims={"iss": "me", "extra": 1})
    )[1]
    assert claims["exp"] == 160
    assert claims["iss"] == "me"
    assert claims["extra"] == 1
    assert claims["body"] == base64.urlsafe_b64encode(hashlib.sha256(b"x").digest()).decode()[:-1]
    assert not claims["body"].endswith("=")


def test_str_and_bytes_bodies_sign_the_same_hash() -> None:
    text = "grüß €"
    a = segments(sign(text, key=KEY, now=0))[1]["body"]
    b = segments(sign(text.encode(), key=KEY, now=0))[1]["body"]
    c = segments(sign(bytearray(text.encode()), key=KEY, now=0))[1]["body"]
    assert a == b == c


def test_signed_headers() -> None:
    headers = signed_headers(b"x", key=KEY, region="US_EAST_1", message_id="msg_1", retried=2)
    assert set(headers) == {
        "Upstash-Signature",
        "Upstash-Message-Id",
        "Upstash-Retried",
        "User-Agent",
        "Upstash-Region",
    }
    assert headers["Upstash-Region"] == "US-EAST-1"
    assert headers["Upstash-Message-Id"] == "msg_1"
    assert headers["Upstash-Retried"] == "2"
    assert headers["User-Agent"] == "Upstash-QStash"


def test_signed_headers_defaults() -> None:
    headers = signed_headers(b"x", key=KEY)
    assert "Upstash-Region" not in headers
    assert headers["Upstash-Retried"] == "0"
    assert headers["Upstash-Message-Id"].startswith("msg_")
    assert headers["Upstash-Message-Id"] != signed_headers(b"x", key=KEY)["Upstash-Message-Id"]


@pytest.mark.parametrize("region", ["eu-central-1", "EU_CENTRAL_1", "eu_central_1"])
def test_signed_headers_region_spelling(region: str) -> None:
    assert signed_headers(b"", key=KEY, region=region)["Upstash-Region"] == "EU-CENTRAL-1"


def test_signed_headers_pass_sign_options() -> None:
    headers = signed_headers(b"x", key=KEY, url="https://y.test", now=50, lifetime=10)
    claims = segments(headers["Upstash-Signature"])[1]
    assert (claims["sub"], claims["iat"], claims["exp"]) == ("https://y.test", 50, 60)


def test_demo_env_is_a_clean_migration_config() -> None:
    config = load_config(DEMO_ENV)
    assert config.warnings == ()
    assert config.primary_region == "US_EAST_1"
    assert config.default_keys is None
    for region, (current, nxt) in DEMO_KEYS.items():
        keys = config.region_keys[region]
        assert (keys.current.reveal(), keys.next.reveal()) == (current, nxt)
    assert config.outgoing.url == "https://qstash-us-east-1.upstash.io"
    assert config.outgoing.token is not None
    assert config.outgoing.token.reveal() == "demo-token-us_east_1"


def test_demo_keys_are_distinct_and_long_enough_for_pyjwt() -> None:
    keys = [key for pair in DEMO_KEYS.values() for key in pair]
    assert len(set(keys)) == 4
    assert all(len(key) >= 32 and key.startswith("sig_") for key in keys)


@pytest.mark.parametrize("region", ["EU_CENTRAL_1", "US_EAST_1"])
@pytest.mark.parametrize("slot", [0, 1])
def test_round_trip_through_check_request(region: Region, slot: int) -> None:
    body = bytes(range(256))
    headers = signed_headers(body, key=DEMO_KEYS[region][slot], region=region)
    result = check_request(Receiver(config=load_config(DEMO_ENV)), headers, body)
    assert isinstance(result, VerifiedMessage), result
    assert (result.key_region, result.key_used) == (region, ("current", "next")[slot])
