"""The policy on published signing keys: refused on a cloud runtime.

Anyone can sign with the QStash dev server's keys and with the demo keys
([`PUBLISHED_SIGNING_KEYS`][qstash_receiver.demo_keys.PUBLISHED_SIGNING_KEYS]), so a deployed
function configured with one would accept forged deliveries; dev mode itself is refused there by
[`load_config()`][qstash_receiver.load_config].
"""

from __future__ import annotations

from collections.abc import Mapping

from . import names as E
from .demo_keys import PUBLISHED_SIGNING_KEYS
from .errors import ConfigError
from .keys import SigningKeys
from .names import Region
from .secret import Secret

__all__ = ["refuse_public_keys"]


def refuse_public_keys(
    cloud: str | None,
    fixed: SigningKeys | None,
    region_keys: Mapping[Region, SigningKeys],
    default_keys: SigningKeys | None,
) -> None:
    """On a cloud runtime (``cloud`` names it), refuse published keys configured as signing keys.

    Raises:
        ConfigError: naming the variable (or argument) that holds one, never the key.
    """
    if cloud is None:
        return
    current, nxt = E.QSTASH_CURRENT_SIGNING_KEY, E.QSTASH_NEXT_SIGNING_KEY
    slots: list[tuple[str, Secret]] = []
    if fixed is not None and fixed.source == "explicit":
        slots += [("current_signing_key", fixed.current), ("next_signing_key", fixed.next)]
    for region, pair in region_keys.items():
        slots += [(E.regional(region, current), pair.current), (E.regional(region, nxt), pair.next)]
    if default_keys is not None:
        slots += [(current, default_keys.current), (nxt, default_keys.next)]
    for name, key in slots:
        if key.reveal() in PUBLISHED_SIGNING_KEYS:
            raise ConfigError(
                f"{name} holds a published signing key (the QStash dev server's or a demo key): "
                f"refused on {cloud}, where anyone could sign deliveries with it"
            )
