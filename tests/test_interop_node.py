"""Interop with the official TypeScript SDK (@upstash/qstash, pinned in tests/interop).

(a) tokens from ``qstash_receiver.testing.sign`` verify with the SDK's ``Receiver``, and
    tampered ones are rejected by it;
(b) tokens signed with jose, the way the SDK's own test suite signs them, verify with ours.

All cases run in ONE Node process (tests/interop/receiver_cases.mjs), started once per module.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import pytest
from node_runner import run_node

from qstash_receiver import Receiver, SignatureError
from qstash_receiver.testing import sign

CURRENT = "sig_nodeInteropCurrent000000000000"
NEXT = "sig_nodeInteropNext000000000000000000"
UNKNOWN = "sig_nodeInteropUnknown000000000000"
URL = "https://example.com/api/qstash"

TEXT_BODIES = {
    "json": '{"hello":"world","items":[1,2,3]}',
    "empty": "",
    "unicode": '{"name":"Zoë","greeting":"こんにちは","emoji":"\U0001f680"}',
}
# Not valid UTF-8: the TS Receiver hashes `body` through TextEncoder, so such a body cannot be
# handed to it as a string without changing its bytes. Binary bodies are covered on our side
# only (ours hashes raw bytes); jose still signs their hash in (b).
BINARY_BODY = bytes(range(256)) + b"\xff\xfe\x00\xc3"


def _ts_case(token: str, body: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "verify",
        "signature": token,
        "body": body,
        "url": URL,
        "currentSigningKey": CURRENT,
        "nextSigningKey": NEXT,
        **extra,
    }


def ours_to_ts(now: int) -> dict[str, tuple[dict[str, Any], bool]]:
    """(a) our tokens for the SDK to verify: case id -> (verify case, expected verdict)."""
    cases: dict[str, tuple[dict[str, Any], bool]] = {}
    for name, body in TEXT_BODIES.items():
        for key_name, key in (("current", CURRENT), ("next", NEXT)):
            for padded in (True, False):
                token = sign(body, key=key, url=URL, now=now, padded=padded)
                case_id = f"{name}-{key_name}-{'padded' if padded else 'unpadded'}"
                cases[case_id] = (_ts_case(token, body), True)
    body = TEXT_BODIES["json"]
    cases["reject-unknown-key"] = (_ts_case(sign(body, key=UNKNOWN, url=URL, now=now), body), False)
    cases["reject-other-body"] = (
        _ts_case(sign(body, key=CURRENT, url=URL, now=now), body + " "),
        False,
    )
    cases["reject-other-url"] = (
        _ts_case(sign(body, key=NEXT, url=URL + "/x", now=now), body),
        False,
    )
    cases["reject-expired"] = (
        _ts_case(sign(body, key=CURRENT, url=URL, now=now - 400), body),
        False,
    )
    cases["reject-wrong-issuer"] = (
        _ts_case(sign(body, key=CURRENT, url=URL, now=now, claims={"iss": "Other"}), body),
        False,
    )
    # The SDK honours clockTolerance (through jose), as ours does.
    cases["tolerance-accepts-5s-expired"] = (
        _ts_case(sign(body, key=CURRENT, url=URL, now=now - 305), body, clockTolerance=60),
        True,
    )
    return cases


def jose_to_ours(now: int) -> dict[str, tuple[dict[str, Any], bytes]]:
    """(b) tokens for jose to sign and ours to verify: case id -> (sign case, raw body)."""
    bodies = {name: text.encode() for name, text in TEXT_BODIES.items()}
    bodies["binary"] = BINARY_BODY
    cases: dict[str, tuple[dict[str, Any], bytes]] = {}
    for name, raw in bodies.items():
        for key_name, key in (("current", CURRENT), ("next", NEXT)):
            for padded in (True, False):
                case: dict[str, Any] = {
                    "kind": "sign",
                    "key": key,
                    "url": URL,
                    "iat": now,
                    "nbf": now,
                    "exp": now + 300,
                    "jti": f"jwt_{name}_{key_name}",
                    "padded": padded,
                }
                if name == "binary":
                    case["bodyBase64"] = base64.b64encode(raw).decode("ascii")
                else:
                    case["body"] = raw.decode("utf-8")
                cases[f"{name}-{key_name}-{'padded' if padded else 'unpadded'}"] = (case, raw)
    return cases


@dataclass(frozen=True)
class NodeRun:
    """Every case of this module and its Node result, made when the first test needs them
    (tokens are short-lived, so they are not made at collection time)."""

    now: int
    ts: dict[str, tuple[dict[str, Any], bool, dict[str, Any]]]
    jose: dict[str, tuple[dict[str, Any], bytes, dict[str, Any]]]


@pytest.fixture(scope="module")
def node_run() -> NodeRun:
    now = int(time.time())
    ts, jose = ours_to_ts(now), jose_to_ours(now)
    results = iter(run_node([c for c, _ in ts.values()] + [c for c, _ in jose.values()], {}))
    return NodeRun(
        now=now,
        ts={i: (case, expected, next(results)) for i, (case, expected) in ts.items()},
        jose={i: (case, raw, next(results)) for i, (case, raw) in jose.items()},
    )


@pytest.mark.parametrize("case_id", list(ours_to_ts(0)))
def test_ts_receiver_verdict_on_our_tokens(node_run: NodeRun, case_id: str) -> None:
    case, expected, result = node_run.ts[case_id]
    assert result["ok"] is expected, result.get("error")
    # Ours agrees on the same token and body.
    try:
        Receiver(CURRENT, NEXT).verify(
            signature=case["signature"],
            body=case["body"],
            url=URL,
            clock_tolerance=case.get("clockTolerance", 0),
        )
        ours = True
    except SignatureError:
        ours = False
    assert ours is expected


@pytest.mark.parametrize("case_id", list(jose_to_ours(0)))
def test_jose_signed_tokens_verify_with_ours(node_run: NodeRun, case_id: str) -> None:
    case, body, result = node_run.jose[case_id]
    token = result["token"]
    assert isinstance(token, str)
    receiver = Receiver(CURRENT, NEXT)
    message = receiver.verify(signature=token, body=body, url=URL)
    assert message.body == body
    assert message.key_used == ("current" if case["key"] == CURRENT else "next")
    assert message.claims["jti"] == case["jti"]
    now = node_run.now
    assert (message.claims["iat"], message.claims["nbf"], message.claims["exp"]) == (
        now,
        now,
        now + 300,
    )
    assert message.claims["body"].endswith("=") is case["padded"]
    # The same token with a different body or URL is refused.
    with pytest.raises(SignatureError) as other_body:
        receiver.verify(signature=token, body=body + b"x", url=URL)
    assert other_body.value.reason == "body_mismatch"
    with pytest.raises(SignatureError) as other_url:
        receiver.verify(signature=token, body=body, url=URL + "/x")
    assert other_url.value.reason == "url_mismatch"


def test_jose_signed_binary_body_matches_our_signer(node_run: NodeRun) -> None:
    # jose hashed the raw bytes in Node; our signer hashes the same bytes to the same claim.
    token = node_run.jose["binary-current-unpadded"][2]["token"]
    ours = Receiver(CURRENT, NEXT).verify(
        signature=sign(BINARY_BODY, key=CURRENT, url=URL, padded=False), body=BINARY_BODY
    )
    theirs = Receiver(CURRENT, NEXT).verify(signature=token, body=BINARY_BODY)
    assert ours.claims["body"] == theirs.claims["body"]
