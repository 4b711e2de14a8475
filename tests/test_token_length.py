"""Long destination URLs: the token carries the URL, so a long URL makes a long token.

Issue 13, defect 1: tokens over 8,192 characters were refused unparsed, which a URL of about
5,900 characters reaches, although the TypeScript SDK accepts them. ``MAX_TOKEN_LENGTH`` is now
derived from the platforms' header limits (see its comment in ``jws.py``). Each genuine token
here is checked by ours and by the SDK's ``Receiver`` (one Node process).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from node_runner import run_node

from qstash_receiver import MalformedSignatureError, Receiver
from qstash_receiver.jws import MAX_TOKEN_LENGTH
from qstash_receiver.testing import sign

CURRENT = "sig_lengthCurrent00000000000000000"
NEXT = "sig_lengthNext000000000000000000000"
BODY = '{"long":"url"}'
BASE = "https://example.com/api/qstash?q="


def url_for_token_length(target: int, now: int) -> str:
    """The longest URL of the form ``BASE + "a" * n`` whose token is at most ``target`` long."""
    low, high = 0, target
    while low < high:  # token length grows with n: binary search for the largest fitting n
        middle = (low + high + 1) // 2
        if len(sign(BODY, key=CURRENT, url=BASE + "a" * middle, now=now)) <= target:
            low = middle
        else:
            high = middle - 1
    return BASE + "a" * low


def _case(token: str, url: str) -> dict[str, Any]:
    return {
        "kind": "verify",
        "signature": token,
        "body": BODY,
        "url": url,
        "currentSigningKey": CURRENT,
        "nextSigningKey": NEXT,
    }


@pytest.fixture(scope="module")
def now() -> int:
    return int(time.time())


def test_long_and_near_max_urls_verify_here_and_in_the_ts_sdk(now: int) -> None:
    urls = {
        "6000-char url": BASE + "a" * (6000 - len(BASE)),
        "near-max url": url_for_token_length(MAX_TOKEN_LENGTH, now),
    }
    tokens = {name: sign(BODY, key=CURRENT, url=url, now=now) for name, url in urls.items()}
    assert len(urls["6000-char url"]) == 6000
    assert len(tokens["6000-char url"]) > 8192  # over the old limit
    assert MAX_TOKEN_LENGTH - 4 <= len(tokens["near-max url"]) <= MAX_TOKEN_LENGTH

    receiver = Receiver(CURRENT, NEXT)
    for name, token in tokens.items():
        message = receiver.verify(signature=token, body=BODY, url=urls[name])
        assert message.url == urls[name], name
    results = run_node([_case(tokens[name], urls[name]) for name in urls], {})
    assert [result["ok"] for result in results] == [True, True], results


def test_a_token_over_the_limit_is_refused_unparsed_although_the_ts_sdk_takes_it(now: int) -> None:
    # Listed in docs/differences.md ("oversized token"): no platform delivers such a header
    # with its default limits.
    url = url_for_token_length(MAX_TOKEN_LENGTH + 8, now)
    token = sign(BODY, key=CURRENT, url=url, now=now)
    assert len(token) > MAX_TOKEN_LENGTH
    with pytest.raises(MalformedSignatureError):
        Receiver(CURRENT, NEXT).verify(signature=token, body=BODY, url=url)
    [result] = run_node([_case(token, url)], {})
    assert result["ok"] is True, result
