"""Publishing credentials: where messages are published, and with which token.

A pure function of an environment mapping, as [`load_config()`][qstash_receiver.load_config] is
(which calls it): the outgoing credentials (docs/configuration.md "Resolution order", first match
wins) and those of every region, for publishing through a region by name. Nothing here sends
anything; [`qstash_receiver.publish`][qstash_receiver.publish] builds the official SDK's clients
from these.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from . import names as E
from .errors import ConfigError
from .findings import ConfigWarning
from .names import Region, normalize_region
from .secret import Secret

__all__ = [
    "Outgoing",
    "OutgoingSource",
    "clean_url",
    "outgoing_for",
    "regional_outgoing",
    "resolve_outgoing",
]

_LOGGER = logging.getLogger("qstash_receiver")

#: Where outgoing credentials came from: the dev server, explicit arguments, a region's
#: ``{REGION}_QSTASH_URL``/``_TOKEN``, or ``QSTASH_URL``/``QSTASH_TOKEN``.
OutgoingSource = Literal["dev", "explicit", "region", "default"]


@dataclass(frozen=True)
class Outgoing:
    """Where and with which token messages are published.

    ``warnings`` are the resolver's warnings about publishing; a publishing client logs them
    when it is built from this, so receive-only apps stay quiet. ``region`` is set when the
    URL and token are a region's own (``source == "region"``).
    """

    url: str
    token: Secret | None
    source: OutgoingSource
    region: Region | None = None
    warnings: tuple[ConfigWarning, ...] = ()

    def log_warnings(self) -> None:
        """Log ``warnings`` at WARNING level through the ``qstash_receiver`` logger."""
        for warning in self.warnings:
            _LOGGER.warning("%s", warning.text)


def _read(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def clean_url(url: str) -> str:
    """A base URL as the official SDKs use it: one trailing ``/`` stripped, and the legacy
    ``https://qstash.upstash.io/v2/publish`` taken as the default base."""
    url = url.removesuffix("/")  # one slash, as @upstash/qstash strips it
    return E.DEFAULT_URL if url == E.LEGACY_PUBLISH_URL else url


def _dev(env: Mapping[str, str]) -> Outgoing:
    port = _read(env, E.QSTASH_DEV_PORT)
    number = E.DEV_DEFAULT_PORT
    warnings: tuple[ConfigWarning, ...] = ()
    if port and port.isdigit() and 0 < int(port) < 65536:
        number = int(port)
    elif port:
        warnings = (
            ConfigWarning(
                f"QSTASH_DEV_PORT is not a port number: using {number}", "invalid_dev_port"
            ),
        )
    return Outgoing(f"http://127.0.0.1:{number}", Secret(E.DEV_TOKEN), "dev", warnings=warnings)


def _region(env: Mapping[str, str], region: Region) -> Outgoing | None:
    url = _read(env, E.regional(region, E.QSTASH_URL))
    token = _read(env, E.regional(region, E.QSTASH_TOKEN))
    if url and token:
        return Outgoing(clean_url(url), Secret(token), "region", region)
    return None


def resolve_outgoing(
    env: Mapping[str, str],
    dev_mode: bool,
    primary: Region | None,
    url: str | None,
    token: str | None,
) -> Outgoing:
    """The outgoing credentials, first match wins.

    Dev mode (the local dev server and its public token); explicit ``url`` and ``token``
    (both); in migration mode (``primary``), that region's ``{REGION}_QSTASH_URL`` and
    ``{REGION}_QSTASH_TOKEN`` (both, else a warning and fall through); ``QSTASH_URL``
    (default ``https://qstash.upstash.io``) and ``QSTASH_TOKEN`` (a warning when missing).
    """
    if dev_mode:
        return _dev(env)
    if url and token:
        return Outgoing(clean_url(url), Secret(token), "explicit")
    warnings: list[ConfigWarning] = []
    if primary is not None:
        found = _region(env, primary)
        if found is not None:
            return found
        warnings.append(
            ConfigWarning(
                f"QSTASH_REGION is {primary} but {primary}_QSTASH_URL and {primary}_QSTASH_TOKEN "
                "are not both set: publishing falls back to QSTASH_URL/QSTASH_TOKEN",
                "outgoing_fallback",
            )
        )
    final_token = token or _read(env, E.QSTASH_TOKEN)
    if not final_token:
        warnings.append(
            ConfigWarning(
                "QSTASH_TOKEN is not set: publishing will be rejected by QStash", "token_missing"
            )
        )
    final_url = clean_url(url or _read(env, E.QSTASH_URL) or E.DEFAULT_URL)
    token_secret = Secret(final_token) if final_token else None
    return Outgoing(final_url, token_secret, "default", warnings=tuple(warnings))


def regional_outgoing(env: Mapping[str, str], outgoing: Outgoing) -> dict[Region, Outgoing]:
    """The credentials for publishing through each region by name.

    ``outgoing`` is what `resolve_outgoing()` returned for ``env``. In dev mode every
    region is the dev server (there is one, and nothing is published to QStash from a dev
    setup); otherwise a region is in the result when its ``{REGION}_QSTASH_URL`` and
    ``{REGION}_QSTASH_TOKEN`` are both set, with or without ``QSTASH_REGION`` (naming the
    region is the choice migration mode would make).
    """
    if outgoing.source == "dev":
        return dict.fromkeys(E.REGIONS, outgoing)
    found = {region: _region(env, region) for region in E.REGIONS}
    return {region: value for region, value in found.items() if value is not None}


def outgoing_for(regions: Mapping[Region, Outgoing], region: str) -> Outgoing:
    """The credentials in ``regions`` (``QStashConfig.outgoing_regions``) for ``region``.

    Args:
        regions: the resolved credentials per region.
        region: ``EU_CENTRAL_1`` or ``US_EAST_1``, in any spelling
            [`normalize_region()`][qstash_receiver.names.normalize_region] accepts
            (``eu-central-1``).

    Returns:
        That region's URL and token.

    Raises:
        ConfigError: ``region`` is no region (the value is not repeated: it may be a token
            passed in the wrong place), or its URL and token are not both set.
    """
    name = normalize_region(region) if isinstance(region, str) else None
    if name is None:
        raise ConfigError(
            f"not a QStash region: use one of {', '.join(E.REGIONS)} (any case, with - or _)"
        )
    found = regions.get(name)
    if found is None:
        raise ConfigError(
            f"no publishing credentials for {name}: set {E.regional(name, E.QSTASH_URL)} "
            f"and {E.regional(name, E.QSTASH_TOKEN)}"
        )
    return found
