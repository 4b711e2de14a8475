"""Configuration resolver: a pure function of an environment mapping.

It resolves the signing keys (each pair a [`SigningKeys`][qstash_receiver.keys.SigningKeys]), the
publishing credentials ([`Outgoing`][qstash_receiver.config.Outgoing]), dev mode and the cloud
runtime; the policy on published keys is
[`qstash_receiver.public_keys`][qstash_receiver.public_keys], framework settings are laid over the
environment by [`qstash_receiver.sources`][qstash_receiver.sources].

The precedence rules here follow @upstash/qstash >= 2.9 (docs/configuration.md); the
differences are listed in docs/differences.md (published keys are refused on a cloud runtime).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import names as E
from .credentials import Outgoing, regional_outgoing, resolve_outgoing
from .errors import ConfigError, UnknownRegionError
from .keys import (
    REGION_HEADER_FALLBACK,
    ConfigWarning,
    KeySource,
    SigningKeys,
    region_keys_fallback,
)
from .names import Region, normalize_region
from .public_keys import refuse_public_keys
from .secret import Secret

__all__ = [
    "REGION_HEADER_FALLBACK",
    "ConfigWarning",
    "KeySource",
    "Outgoing",
    "QStashConfig",
    "SigningKeys",
    "load_config",
]


@dataclass(frozen=True)
class QStashConfig:
    """The resolved configuration. Build it with
    [`load_config()`][qstash_receiver.config.load_config].

    ``warnings`` lists every fallback and ignored variable found while resolving;
    [`load_config()`][qstash_receiver.config.load_config] logs nothing (a
    [`Receiver`][qstash_receiver.Receiver] logs the ones about receiving once, on first use;
    [`qstash_client()`][qstash_receiver.publish.qstash_client] those about publishing). ``outgoing``
    is where messages are published by default, ``outgoing_regions`` where through each region by
    name.
    """

    dev_mode: bool
    primary_region: Region | None
    fixed_keys: SigningKeys | None
    region_keys: Mapping[Region, SigningKeys]
    default_keys: SigningKeys | None
    outgoing: Outgoing
    cloud_runtime: str | None = None
    warnings: tuple[ConfigWarning, ...] = field(default=())
    outgoing_regions: Mapping[Region, Outgoing] = field(default_factory=dict)

    @property
    def migration_mode(self) -> bool:
        """True when ``QSTASH_REGION`` names a valid region."""
        return self.primary_region is not None

    @property
    def receive_warnings(self) -> tuple[ConfigWarning, ...]:
        """The ``warnings`` about verifying deliveries (those about publishing left out)."""
        return tuple(w for w in self.warnings if w not in self.outgoing.warnings)

    @property
    def can_verify(self) -> bool:
        """True when at least one delivery could be verified with this configuration."""
        return bool(self.fixed_keys or self.region_keys or self.default_keys)

    def keys_for(self, upstash_region: str | None) -> SigningKeys:
        """The signing keys for a delivery carrying this ``Upstash-Region`` header value.

        Raises:
            ConfigError: no usable signing keys (answered with a retryable 500).
        """
        return self.select_keys(upstash_region)[0]

    def select_keys(self, upstash_region: str | None) -> tuple[SigningKeys, ConfigWarning | None]:
        """[`keys_for()`][qstash_receiver.config.QStashConfig.keys_for], plus the warning of a
        migration-mode fallback (else ``None``).

        Raises:
            UnknownRegionError: migration mode, no default pair to fall back to, and the
                header names no region (missing or unknown): not a genuine delivery (401).
            ConfigError: no usable signing keys for a delivery that could be genuine
                (answered with a retryable 500); the text says what is missing.
        """
        if self.fixed_keys is not None:
            return self.fixed_keys, None
        fallback: ConfigWarning | None = None
        if self.primary_region is not None:
            region = normalize_region(upstash_region)
            if region is None:
                fallback = REGION_HEADER_FALLBACK
            elif region in self.region_keys:
                return self.region_keys[region], None
            else:
                fallback = region_keys_fallback(region)
        if self.default_keys is not None:
            return self.default_keys, fallback
        if fallback is REGION_HEADER_FALLBACK and self.region_keys:
            # QStash always names its region: a request without one is not a delivery.
            raise UnknownRegionError()
        if fallback is not None and self.region_keys and region is not None:
            raise ConfigError(
                f"migration mode: no signing keys for {region} and no "
                "QSTASH_CURRENT/NEXT_SIGNING_KEY pair to fall back to: "
                f"set {_pair_names(region)}"
            )
        raise ConfigError(
            "no signing keys configured: set QSTASH_CURRENT_SIGNING_KEY and "
            "QSTASH_NEXT_SIGNING_KEY (or the region-prefixed pair with QSTASH_REGION)"
        )


def _pair_names(region: Region) -> str:
    """The variables of ``region``'s signing key pair, as a sentence's object."""
    names = (
        E.regional(region, E.QSTASH_CURRENT_SIGNING_KEY),
        E.regional(region, E.QSTASH_NEXT_SIGNING_KEY),
    )
    return " and ".join(names)


def _read(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def _dev_mode(env: Mapping[str, str], explicit: bool | None) -> bool:
    if explicit is not None:
        return explicit
    value = env.get(E.QSTASH_DEV, "")
    if value in ("", "0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise ConfigError("QSTASH_DEV must be one of 1, true, 0, false or empty")


def _cloud_runtime(env: Mapping[str, str]) -> str | None:
    for name, runtime in E.CLOUD_RUNTIME_MARKERS.items():
        if env.get(name):
            return runtime
    return None


def _pair(
    env: Mapping[str, str], prefix: Region | None, warnings: list[ConfigWarning]
) -> SigningKeys | None:
    current_name, next_name = E.QSTASH_CURRENT_SIGNING_KEY, E.QSTASH_NEXT_SIGNING_KEY
    if prefix is not None:
        current_name, next_name = E.regional(prefix, current_name), E.regional(prefix, next_name)
    current, nxt = _read(env, current_name), _read(env, next_name)
    if current and nxt:
        source: KeySource = "region" if prefix else "default"
        return SigningKeys(Secret(current), Secret(nxt), source, prefix)
    if current or nxt:
        missing = next_name if current else current_name
        warnings.append(
            ConfigWarning(
                f"{missing} is not set: the signing key pair is incomplete and unused",
                "incomplete_key_pair",
            )
        )
    return None


def load_config(
    env: Mapping[str, str] | None = None,
    *,
    current_signing_key: str | None = None,
    next_signing_key: str | None = None,
    url: str | None = None,
    token: str | None = None,
    dev_mode: bool | None = None,
) -> QStashConfig:
    """Resolve the QStash configuration from an environment mapping.

    Explicit arguments win over the environment. ``env`` defaults to ``os.environ``; pass a
    plain dict in tests.

    Environment variables read: ``QSTASH_DEV``, ``QSTASH_DEV_PORT``, ``QSTASH_REGION``,
    ``QSTASH_URL``, ``QSTASH_TOKEN``, ``QSTASH_CURRENT_SIGNING_KEY``,
    ``QSTASH_NEXT_SIGNING_KEY``, the same four prefixed with ``EU_CENTRAL_1_`` or
    ``US_EAST_1_``, and ``AWS_LAMBDA_FUNCTION_NAME`` / ``K_SERVICE`` to detect a cloud
    runtime (in ``env`` and in the process environment, whichever ``env`` is).

    Raises:
        ConfigError: ``QSTASH_DEV`` has an invalid value, dev mode is asked for on a cloud
            runtime, a signing key is a published one (the dev server's or a demo key) on a
            cloud runtime, or only one of the two explicit signing keys is given.
    """
    source: Mapping[str, str] = os.environ if env is None else env
    warnings: list[ConfigWarning] = []
    # The runtime is a fact about this process, not about the mapping a caller passes in:
    # a hand-built mapping must not be a way around the refusal of the public dev keys.
    cloud = _cloud_runtime(source) or _cloud_runtime(os.environ)
    dev = _dev_mode(source, dev_mode)
    if dev and cloud:
        raise ConfigError(f"QStash dev mode is refused on {cloud}: the dev signing keys are public")
    if (current_signing_key is None) != (next_signing_key is None):
        raise ConfigError("pass both current_signing_key and next_signing_key, or neither")

    raw_region = _read(source, E.QSTASH_REGION)
    primary = normalize_region(raw_region)
    if raw_region and primary is None:
        warnings.append(
            ConfigWarning(
                "QSTASH_REGION is not EU_CENTRAL_1 or US_EAST_1: migration mode is off",
                "invalid_region",
            )
        )

    fixed: SigningKeys | None = None
    if dev:
        fixed = SigningKeys(
            Secret(E.DEV_CURRENT_SIGNING_KEY), Secret(E.DEV_NEXT_SIGNING_KEY), "dev"
        )
    elif current_signing_key and next_signing_key:
        fixed = SigningKeys(Secret(current_signing_key), Secret(next_signing_key), "explicit")

    region_keys: dict[Region, SigningKeys] = {}
    missing: list[Region] = []
    key_names = (E.QSTASH_CURRENT_SIGNING_KEY, E.QSTASH_NEXT_SIGNING_KEY)
    for region in E.REGIONS:
        has_region_keys = any(_read(source, E.regional(region, n)) for n in key_names)
        if primary is None:
            if has_region_keys:
                warnings.append(
                    ConfigWarning(
                        f"{region}_QSTASH_*_SIGNING_KEY is set but QSTASH_REGION is "
                        f"{'not a valid region' if raw_region else 'not'}: "
                        "region-prefixed keys are ignored outside migration mode",
                        "region_keys_ignored",
                    )
                )
            continue
        pair = _pair(source, region, warnings)
        if pair is not None:
            region_keys[region] = pair
        elif not has_region_keys:
            missing.append(region)
    default_keys = _pair(source, None, warnings)
    for region in missing if fixed is None else ():  # explicit keys verify every delivery
        warnings.append(
            ConfigWarning(
                f"migration mode: no {region} signing keys; its deliveries are verified "
                "with QSTASH_CURRENT/NEXT_SIGNING_KEY"
                if default_keys is not None
                else f"migration mode: no {region} signing keys and no "
                "QSTASH_CURRENT/NEXT_SIGNING_KEY pair: its deliveries will be answered 500 "
                f"(set {_pair_names(region)})",
                "region_keys_missing",
            )
        )
    refuse_public_keys(cloud, fixed, region_keys, default_keys)
    if not (fixed or region_keys or default_keys):
        warnings.append(
            ConfigWarning(
                "no signing keys are configured: every delivery will be answered 500",
                "no_signing_keys",
            )
        )

    outgoing = resolve_outgoing(source, dev, primary, url, token)
    return QStashConfig(
        dev_mode=dev,
        primary_region=primary,
        fixed_keys=fixed,
        region_keys=region_keys,
        default_keys=default_keys,
        outgoing=outgoing,
        cloud_runtime=cloud,
        warnings=(*warnings, *outgoing.warnings),
        outgoing_regions=regional_outgoing(source, outgoing),
    )
