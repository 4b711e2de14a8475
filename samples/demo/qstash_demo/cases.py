"""The delivery cases the demo plays: genuine ones and forgeries, signed with the demo keys."""

from __future__ import annotations

import json
import time

from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_KEYS, signed_headers

__all__ = ["FORGED", "forge", "other_region"]

#: Forged case -> the reason code it must be rejected with (401).
FORGED = {
    "tampered": "body_mismatch",
    "wrong-region-keys": "invalid_signature",
    "expired": "expired",
}


def other_region(region: Region) -> Region:
    """The region that is not ``region``."""
    return "US_EAST_1" if region == "EU_CENTRAL_1" else "EU_CENTRAL_1"


def forge(case: str, url: str, region: Region) -> tuple[dict[str, str], bytes]:
    """Headers and body of a delivery claiming to come from ``region``.

    ``genuine`` and ``genuine-next-key`` are signed correctly (current / next key); the
    :data:`FORGED` cases are not.
    """
    body = json.dumps({"case": case, "region": region}).encode()
    current, nxt = DEMO_KEYS[region]
    if case == "genuine":
        return signed_headers(body, key=current, url=url, region=region), body
    if case == "genuine-next-key":
        return signed_headers(body, key=nxt, url=url, region=region), body
    if case == "tampered":
        headers = signed_headers(body, key=current, url=url, region=region)
        return headers, body.replace(b"tampered", b"TAMPERED")
    if case == "wrong-region-keys":  # signed by the other region, claims to come from this one
        other = DEMO_KEYS[other_region(region)][0]
        return signed_headers(body, key=other, url=url, region=region), body
    if case == "expired":
        return signed_headers(
            body, key=current, url=url, region=region, now=time.time() - 600
        ), body
    raise ValueError(f"unknown case: {case}")
