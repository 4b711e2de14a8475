"""Published signing keys: the demo keys of the README, the stand-in and the test helpers.

They are public, so [`load_config()`][qstash_receiver.load_config] refuses them on a cloud runtime,
like the QStash dev server's keys ([`qstash_receiver.names`][qstash_receiver.names]). The stand-in
signs with them and [`qstash_receiver.testing`][qstash_receiver.testing] re-exports them for users'
tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from . import names as N
from .names import Region

__all__ = ["DEMO_ENV", "DEMO_KEYS", "PUBLISHED_SIGNING_KEYS"]

#: Made-up signing keys per region for demos and tests (never valid on QStash).
DEMO_KEYS: Final[Mapping[Region, tuple[str, str]]] = {
    "EU_CENTRAL_1": ("sig_demoEuCurrent000000000000000", "sig_demoEuNext00000000000000000000"),
    "US_EAST_1": ("sig_demoUsCurrent000000000000000", "sig_demoUsNext00000000000000000000"),
}

#: A migration-mode environment (primary US_EAST_1) built from
#: [`DEMO_KEYS`][qstash_receiver.demo_keys.DEMO_KEYS].
DEMO_ENV: Final[Mapping[str, str]] = {
    N.QSTASH_REGION: "US_EAST_1",
    **{
        N.regional(region, name): value
        for region, (current, nxt) in DEMO_KEYS.items()
        for name, value in (
            (N.QSTASH_CURRENT_SIGNING_KEY, current),
            (N.QSTASH_NEXT_SIGNING_KEY, nxt),
            (N.QSTASH_TOKEN, f"demo-token-{region.lower()}"),
        )
    },
    **{N.regional(region, N.QSTASH_URL): url for region, url in N.REGION_URLS.items()},
}

#: Every signing key anyone can sign with: the dev server's and the demo keys.
PUBLISHED_SIGNING_KEYS: Final[frozenset[str]] = frozenset(
    {N.DEV_CURRENT_SIGNING_KEY, N.DEV_NEXT_SIGNING_KEY, *(k for p in DEMO_KEYS.values() for k in p)}
)
