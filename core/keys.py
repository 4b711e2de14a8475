"""Signing keys: a current/next pair, where it came from, and the resolver's findings.

[`QStashConfig`][qstash_receiver.QStashConfig] ([`qstash_receiver.config`][qstash_receiver.config])
holds the pairs and picks one per delivery; this module holds what both it and the verifier speak
of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .findings import ConfigWarning
from .names import Region
from .secret import Secret

__all__ = [
    "REGION_HEADER_FALLBACK",
    "ConfigWarning",
    "KeySource",
    "SigningKeys",
    "region_keys_fallback",
]

#: Where a key pair came from: the dev server's, passed explicitly, a region's, the default.
KeySource = Literal["dev", "explicit", "region", "default"]


#: Per-request fallbacks in migration mode (logged once per receiver, see Receiver).
REGION_HEADER_FALLBACK = ConfigWarning(
    "migration mode: Upstash-Region header missing or invalid; "
    "falling back to QSTASH_CURRENT/NEXT_SIGNING_KEY",
    "region_header_fallback",
)


def region_keys_fallback(region: Region) -> ConfigWarning:
    """The warning for a delivery from ``region`` when that region has no complete key pair."""
    return ConfigWarning(
        f"migration mode: no complete signing key pair for {region}; "
        "falling back to QSTASH_CURRENT/NEXT_SIGNING_KEY",
        "region_keys_fallback",
    )


@dataclass(frozen=True)
class SigningKeys:
    """A current/next signing key pair and where it came from."""

    current: Secret
    next: Secret
    source: KeySource
    region: Region | None = None

    @property
    def label(self) -> str:
        """Human-readable origin, e.g. ``US_EAST_1 keys`` or ``default keys``."""
        return f"{self.region} keys" if self.region else f"{self.source} keys"
