"""Interop with the official Python SDK (``qstash`` on PyPI).

Tokens made by ``qstash_receiver.testing.sign`` must verify with ``qstash.Receiver`` and with
ours alike, and every tampered token must be rejected by both. ``qstash.Receiver`` takes ``str``
bodies only, so every body here is text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import qstash
import qstash.errors

from qstash_receiver import Receiver, SignatureError
from qstash_receiver.testing import sign

# At least 32 bytes: pyjwt warns about shorter HMAC keys, and warnings are errors here.
CURRENT = "sig_interopCurrent00000000000000000"
NEXT = "sig_interopNext0000000000000000000000"
UNKNOWN = "sig_interopUnknown00000000000000000"
URL = "https://example.com/api/qstash"

BODIES = {
    "json": '{"hello":"world","n":1}',
    "unicode": '{"name":"Zoë","city":"Zürich","emoji":"\U0001f680"}',
    "empty": "",
}


def qstash_accepts(signature: str, body: str, url: str | None = URL, tolerance: int = 0) -> bool:
    try:
        qstash.Receiver(CURRENT, NEXT).verify(
            signature=signature, body=body, url=url, clock_tolerance=tolerance
        )
    except qstash.errors.SignatureError:
        return False
    return True


def ours_accepts(signature: str, body: str, url: str | None = URL, tolerance: int = 0) -> bool:
    try:
        message = Receiver(CURRENT, NEXT).verify(
            signature=signature, body=body, url=url, clock_tolerance=tolerance
        )
    except SignatureError:
        return False
    assert message.body == body.encode("utf-8")
    return True


@pytest.mark.parametrize("body_name", sorted(BODIES))
@pytest.mark.parametrize("padded", [True, False], ids=["padded", "unpadded"])
@pytest.mark.parametrize("key", [CURRENT, NEXT], ids=["current", "next"])
def test_our_tokens_verify_with_the_official_sdk(body_name: str, padded: bool, key: str) -> None:
    body = BODIES[body_name]
    token = sign(body, key=key, url=URL, padded=padded)
    assert qstash_accepts(token, body)
    assert ours_accepts(token, body)
    # Neither checks the URL when none is given.
    assert qstash_accepts(token, body, url=None)
    assert ours_accepts(token, body, url=None)


def _flip(text: str, index: int) -> str:
    # A character in the middle of a segment: all six of its bits carry data.
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def _swap_payload(token: str) -> str:
    # The payload of a token for another body, under the original header and signature.
    header, _, signature = token.split(".")
    other = sign("something else", key=CURRENT, url=URL).split(".")[1]
    return f"{header}.{other}.{signature}"


BODY = BODIES["json"]
# case -> (the reason code ours must give, a factory of (token, body))
TAMPERED: dict[str, tuple[str, Callable[[], tuple[str, str]]]] = {
    "other_body": ("body_mismatch", lambda: (sign(BODY, key=CURRENT, url=URL), BODY + " ")),
    "other_url": ("url_mismatch", lambda: (sign(BODY, key=CURRENT, url=URL + "/x"), BODY)),
    "unknown_key": ("invalid_signature", lambda: (sign(BODY, key=UNKNOWN, url=URL), BODY)),
    "flipped_signature": (
        "invalid_signature",
        lambda: (_flip(sign(BODY, key=CURRENT, url=URL), -20), BODY),
    ),
    "flipped_payload": (
        "invalid_signature",
        lambda: (_flip(sign(BODY, key=NEXT, url=URL), 60), BODY),
    ),
    "swapped_payload": (
        "invalid_signature",
        lambda: (_swap_payload(sign(BODY, key=CURRENT, url=URL)), BODY),
    ),
    "expired": (
        "expired",
        lambda: (sign(BODY, key=CURRENT, url=URL, now=time.time() - 400), BODY),
    ),
    "not_yet_valid": (
        "not_yet_valid",
        lambda: (sign(BODY, key=CURRENT, url=URL, now=time.time() + 400), BODY),
    ),
    "wrong_issuer": (
        "invalid_issuer",
        lambda: (sign(BODY, key=CURRENT, url=URL, claims={"iss": "Other"}), BODY),
    ),
    "wrong_body_claim": (
        "body_mismatch",
        lambda: (sign(BODY, key=NEXT, url=URL, claims={"body": "AAAA"}), BODY),
    ),
    "truncated": ("invalid_signature", lambda: (sign(BODY, key=CURRENT, url=URL)[:-1], BODY)),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_tokens_are_rejected_by_both(case: str) -> None:
    reason, make = TAMPERED[case]
    token, body = make()
    assert not qstash_accepts(token, body)
    with pytest.raises(SignatureError) as caught:
        Receiver(CURRENT, NEXT).verify(signature=token, body=body, url=URL)
    assert caught.value.reason == reason


def test_official_sdk_ignores_clock_tolerance() -> None:
    """Known bug in ``qstash`` (3.x): ``clock_tolerance`` goes into pyjwt's ``options`` dict,
    where pyjwt does not read it, so it has no effect. Ours honours it. If this test fails on
    the ``qstash`` line, upstream fixed the bug: update DESIGN.md and README accordingly."""
    token = sign(BODY, key=CURRENT, url=URL, now=time.time() - 305)  # expired by ~5 s
    assert not qstash_accepts(token, BODY, tolerance=60)
    assert ours_accepts(token, BODY, tolerance=60)
    # Without tolerance both reject it: the difference is only the tolerance.
    assert not qstash_accepts(token, BODY)
    assert not ours_accepts(token, BODY)


def handler_written_for_the_sdk(receiver: Any, signature: str, body: str) -> int:
    """What code switching from qstash.Receiver looks like: it still catches the SDK's error."""
    try:
        receiver.verify(signature=signature, body=body, url=URL)
    except qstash.errors.SignatureError:
        return 401
    return 200


def test_the_compat_receiver_is_a_drop_in_for_sdk_except_clauses() -> None:
    from qstash_receiver.compat import Receiver as CompatReceiver

    body = BODIES["json"]
    good = sign(body, key=CURRENT, url=URL)
    tampered = sign(body + " ", key=CURRENT, url=URL)
    compat = CompatReceiver(CURRENT, NEXT)
    assert handler_written_for_the_sdk(compat, good, body) == 200
    assert handler_written_for_the_sdk(compat, tampered, body) == 401
    # The plain receiver's errors are ours only: the switch needs compat or a new except.
    with pytest.raises(SignatureError) as caught:
        Receiver(CURRENT, NEXT).verify(signature=tampered, body=body, url=URL)
    assert not isinstance(caught.value, qstash.errors.SignatureError)
    with pytest.raises(SignatureError) as twin:
        compat.verify(signature=tampered, body=body, url=URL)
    assert isinstance(twin.value, qstash.errors.SignatureError)
    assert (twin.value.reason, twin.value.claim, str(twin.value)) == (
        "body_mismatch",
        "body",
        caught.value.args[0] if caught.value.args else str(caught.value),
    )
