"""``qstash-receiver doctor``: explain the resolved configuration, keys masked."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from typing import Any

from qstash_receiver import names as E
from qstash_receiver.config import QStashConfig, SigningKeys, load_config
from qstash_receiver.errors import ConfigError, UnknownRegionError
from qstash_receiver.urlcheck import doctor_line

from . import redis_check
from ._common import add_env_options, masked, read_env

__all__ = ["register", "report", "run"]

_WIDTH = 30
# A value shown back as typed: short and region-like (anything else may be a misplaced key).
_SHOWABLE = re.compile(r"[A-Za-z0-9_-]{1,20}")


def register(commands: Any) -> None:
    """Add the ``doctor`` subcommand."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "doctor",
        help="explain the resolved configuration (keys masked)",
        description="Explain which keys and credentials the library would use, keys masked. "
        "Publishing is checked when any of its variables is set (or with --publishing). "
        "Exit status 1 when no delivery could be verified, 2 when the configuration is invalid.",
    )
    parser.add_argument(
        "--publishing",
        action="store_true",
        help="check the publishing credentials (QSTASH_TOKEN, ...) even when none is set",
    )
    add_env_options(parser)
    redis_check.add_option(parser)
    parser.set_defaults(run=run)


def _line(label: str, value: str) -> None:
    print(f"  {label:<{_WIDTH}} {value}")


def _mode(config: QStashConfig) -> str:
    if config.dev_mode:
        return "dev (the QStash dev server's public keys and token)"
    if config.primary_region is not None:
        return f"migration (primary region {config.primary_region})"
    return "single-region"


def _region_setting(config: QStashConfig, env: Mapping[str, str]) -> str:
    raw = env.get(E.QSTASH_REGION) or ""
    if config.primary_region is not None:
        return config.primary_region
    if not raw:
        return "not set"
    shown = repr(raw) if _SHOWABLE.fullmatch(raw) else f"the value ({len(raw)} chars)"
    return f"{shown} is invalid (use {' or '.join(E.REGIONS)}): migration mode is off"


def _pair(keys: SigningKeys) -> str:
    return f"current {masked(keys.current)}, next {masked(keys.next)}"


def _origin(keys: SigningKeys) -> str:
    if keys.source == "region" and keys.region is not None:
        return f"{keys.region}_QSTASH_CURRENT/NEXT_SIGNING_KEY"
    if keys.source == "default":
        return "QSTASH_CURRENT/NEXT_SIGNING_KEY"
    if keys.source == "dev":
        return "QSTASH_DEV: the QStash dev server's public keys"
    return "explicit keys"


def _outgoing_origin(config: QStashConfig) -> str:
    region = config.outgoing.region
    if region is not None:
        return f"{region}_QSTASH_URL / {region}_QSTASH_TOKEN"
    return {
        "dev": "QSTASH_DEV (local dev server)",
        "explicit": "explicit url and token",
        "default": "QSTASH_URL / QSTASH_TOKEN (the URL defaults to the EU region)",
    }.get(config.outgoing.source, config.outgoing.source)


#: Variables that configure publishing (any one set means the app publishes, or means to).
_PUBLISHING = (
    E.QSTASH_URL,
    E.QSTASH_TOKEN,
    *(E.regional(region, name) for region in E.REGIONS for name in (E.QSTASH_URL, E.QSTASH_TOKEN)),
)


def _publishes(config: QStashConfig, env: Mapping[str, str]) -> bool:
    # Dev mode brings the dev server's token, explicit credentials are the caller's own.
    if config.dev_mode or config.outgoing.source == "explicit":
        return True
    return any((env.get(name) or "").strip() for name in _PUBLISHING)


def _outgoing(config: QStashConfig, checked: bool) -> None:
    print("Outgoing (publishing)")
    if not checked:
        _line(
            "publishing",
            "not configured: receive only (--publishing checks it)",
        )
        return
    _line("url", config.outgoing.url)
    _line("token", masked(config.outgoing.token))
    _line("from", _outgoing_origin(config))


def _region_keys(config: QStashConfig, env: Mapping[str, str]) -> None:
    print("Signing keys")
    names = (E.QSTASH_CURRENT_SIGNING_KEY, E.QSTASH_NEXT_SIGNING_KEY)
    for region in E.REGIONS:
        keys = config.region_keys.get(region)
        if keys is not None:
            _line(region, _pair(keys))
        elif any(env.get(E.regional(region, name)) for name in names):
            if config.migration_mode:
                used = "incomplete pair, unused"
            elif env.get(E.QSTASH_REGION):
                used = "ignored: QSTASH_REGION is invalid"
            else:
                used = "ignored: no QSTASH_REGION"
            _line(region, f"set ({used})")
        else:
            _line(region, "not set")
    default = config.default_keys
    _line("default (QSTASH_*)", _pair(default) if default else "not set")
    if config.fixed_keys is not None:
        _line(f"{config.fixed_keys.source} (used for all)", _pair(config.fixed_keys))


def _deliveries(config: QStashConfig) -> None:
    print("A delivery would be verified with")
    for header in ("EU-CENTRAL-1", "US-EAST-1", None):
        label = f"Upstash-Region: {header}" if header else "no Upstash-Region header"
        try:
            keys = config.keys_for(header)
        except UnknownRegionError:
            _line(label, "nothing: answered 401 (no region to pick keys by, no default pair)")
            continue
        except ConfigError:
            _line(label, "nothing: answered 500 (no signing keys)")
            continue
        fallback = config.migration_mode and keys.source == "default"
        _line(label, f"{keys.label} ({_origin(keys)}){' [fallback]' if fallback else ''}")


def _warnings(config: QStashConfig, publishing: bool) -> list[str]:
    """The resolver's warnings as text: the one place doctor reads them. Those about
    publishing (``token_missing``, ...) only when publishing is checked: a receive-only app
    is not told on every run that a token it never uses is missing."""
    found = config.warnings if publishing else config.receive_warnings
    return [warning.text for warning in found]


def run(args: argparse.Namespace) -> int:
    """Print the report; 1 when nothing can be verified.

    Raises:
        ConfigError: the environment is invalid (the CLI prints it and exits 2).
    """
    env = dict(read_env(args))
    status = report(load_config(env), env, publishing=args.publishing)
    url = getattr(args, "redis_url", None)
    return max(status, redis_check.report(url)) if url else status


def report(config: QStashConfig, env: Mapping[str, str], *, publishing: bool = False) -> int:
    """Print the doctor report for ``config`` (resolved from ``env``); 1 if it verifies nothing.

    Publishing is reported (credentials and their warnings) when ``env`` sets any of its
    variables, in dev mode, with explicit credentials, or when ``publishing`` is true;
    otherwise one line says it is not configured.
    """
    checked = publishing or _publishes(config, env)
    print("qstash-receiver doctor (keys and tokens masked)")
    print("Mode")
    _line("mode", _mode(config))
    _line(E.QSTASH_REGION, _region_setting(config, env))
    _line("cloud runtime", config.cloud_runtime or "none detected")
    _outgoing(config, checked)
    _region_keys(config, env)
    _deliveries(config)
    _line(*doctor_line())
    warnings = _warnings(config, checked)
    print(f"Warnings ({len(warnings)})")
    for text in warnings:
        print(f"  - {text}")
    if not config.can_verify:
        print("Result: NOT OK: this configuration cannot verify any delivery")
        return 1
    print("Result: OK")
    return 0
