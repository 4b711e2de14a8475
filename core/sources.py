"""Where a [`Receiver`][qstash_receiver.Receiver]'s configuration comes from, besides a fixed one.

A source is a function returning a [`QStashConfig`][qstash_receiver.QStashConfig]. A receiver calls
it on first use and keeps the result, or on every use when the source has ``refresh = True`` (then
it caches by itself, as [`StoredKeys`][qstash_receiver.sources.StoredKeys] does). Either way the
receiver logs each configuration's warnings once, so every platform logs the same ones.

- the environment: ``Receiver()`` (``load_config()``);
- framework settings laid over the environment (Django settings, Flask's ``app.config``):
  ``Receiver(source=lambda: load_config(overlay_settings(lookup)))``;
- a secret store (Secrets Manager, SSM): ``Receiver(source=StoredKeys(fetch, parse))``, where
  ``fetch`` is the one function a new store needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from . import names as E
from .config import QStashConfig, load_config

__all__ = ["ConfigSource", "StoredKeys", "overlay_settings"]

#: A function returning the configuration to verify with (may raise ``ConfigError``).
ConfigSource = Callable[[], QStashConfig]


def overlay_settings(
    lookup: Callable[[str], object], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``environ`` (default ``os.environ``) overlaid with framework settings of the same names.

    ``lookup(name)`` returns a setting or ``None`` (absent: the environment variable stays).
    Booleans become ``true``/``false`` (``QSTASH_DEV = True``); other values ``str()``. The result
    is what [`load_config()`][qstash_receiver.load_config] should see, so the resolution rules stay
    there.
    """
    merged = dict(os.environ if environ is None else environ)
    for name in E.CONFIG_NAMES:
        value = lookup(name)
        if value is not None:
            merged[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return merged


class StoredKeys:
    """A source over a secret store: the stored values laid over the environment.

    Args:
        fetch: returns the stored value (the store's client caches it; any exception it
            raises reaches the receiver, so raise a ``ConfigError`` for a retryable 500).
        parse: turns the stored value into ``QSTASH_*`` variables (raise ``ConfigError``).
        env: the environment the values are laid over (default ``os.environ``).

    ``fetch`` runs on every delivery; the configuration is resolved again only when the value
    it returns changed (a rotated secret takes effect without a restart).
    """

    __slots__ = ("_env", "_fetch", "_last", "_parse")
    refresh = True

    def __init__(
        self,
        fetch: Callable[[], object],
        parse: Callable[[object], Mapping[str, str]],
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._fetch, self._parse, self._env = fetch, parse, env
        self._last: tuple[object, QStashConfig] | None = None

    def __call__(self) -> QStashConfig:
        raw = self._fetch()
        last = self._last
        if last is None or last[0] != raw:
            base = os.environ if self._env is None else self._env
            last = self._last = (raw, load_config({**base, **self._parse(raw)}))
        return last[1]
