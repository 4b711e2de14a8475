"""The deliveries every test of the aiohttp, Azure Functions and Workflow adapters sends (not a
test module): for each mode (single-region, migration) and region, a genuine delivery and the
forgeries the must-shows name, signed with the demo keys."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qstash_receiver import Receiver, load_config
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

URL = "https://hooks.example.com/qstash"
JSON_BODY = json.dumps({"order_id": 4217, "name": "Zoë"}).encode()
BINARY_BODY = bytes(range(256)) + b"\xff\xfe not utf-8"
#: A key configured nowhere: what a forger signs with.
FORGER_KEY = "sig_forgerKey0000000000000000000000"
#: forged case -> the reason it is refused with (401).
FORGED = {
    "missing": "missing_signature",
    "forged": "invalid_signature",
    "tampered": "body_mismatch",
    "wrong-region": "invalid_signature",
    "expired": "expired",
}


def other(region: Region) -> Region:
    return "US_EAST_1" if region == "EU_CENTRAL_1" else "EU_CENTRAL_1"


@dataclass(frozen=True)
class Mode:
    """A configuration and the regions whose deliveries it verifies."""

    name: str
    env: Mapping[str, str]
    regions: tuple[Region, ...]

    def receiver(self) -> Receiver:
        return Receiver(config=load_config(self.env))

    def __str__(self) -> str:
        return self.name


#: Single-region: one pair (the US demo keys) in QSTASH_*; QStash still names its region.
SINGLE = Mode(
    "single-region",
    {
        "QSTASH_CURRENT_SIGNING_KEY": DEMO_KEYS["US_EAST_1"][0],
        "QSTASH_NEXT_SIGNING_KEY": DEMO_KEYS["US_EAST_1"][1],
    },
    ("US_EAST_1",),
)
#: Migration mode: both regions' pairs (primary US_EAST_1).
MIGRATION = Mode("migration", dict(DEMO_ENV), ("US_EAST_1", "EU_CENTRAL_1"))
MODES = (SINGLE, MIGRATION)
#: (mode, region) pairs for parametrize.
MODE_REGIONS = [(mode, region) for mode in MODES for region in mode.regions]
MODE_REGION_IDS = [f"{mode}-{region}" for mode, region in MODE_REGIONS]


def genuine(
    body: bytes, region: Region, *, url: str = URL, message_id: str | None = None, **options: Any
) -> dict[str, str]:
    """The headers QStash's ``region`` sends with ``body`` (signed with its current key)."""
    return signed_headers(
        body, key=DEMO_KEYS[region][0], url=url, region=region, message_id=message_id, **options
    )


def forged(
    case: str, body: bytes, region: Region, *, url: str = URL
) -> tuple[dict[str, str], bytes]:
    """Headers and body of the forged ``case`` claiming to come from ``region``."""
    if case == "missing":
        headers = genuine(body, region, url=url)
        del headers["Upstash-Signature"]
        return headers, body
    if case == "forged":
        return signed_headers(body, key=FORGER_KEY, url=url, region=region), body
    if case == "tampered":
        return genuine(body, region, url=url), body + b" "
    if case == "wrong-region":  # the other region's key, while claiming to be this region
        key = DEMO_KEYS[other(region)][0]
        return signed_headers(body, key=key, url=url, region=region), body
    if case == "expired":
        return genuine(body, region, url=url, now=time.time() - 600), body
    raise ValueError(case)
