"""QStash configuration from Django settings, falling back to the environment.

Every ``QSTASH_*`` name the core reads (``QSTASH_REGION``, ``QSTASH_CURRENT_SIGNING_KEY``,
``US_EAST_1_QSTASH_NEXT_SIGNING_KEY``, ...) may be set in ``settings.py`` under the same name; a
name absent from settings (or set to ``None``) is read from the environment. The merged mapping goes
to [`qstash_receiver.load_config()`][qstash_receiver.load_config], which owns every resolution rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings
from django.core.signals import setting_changed

from qstash_receiver import Receiver, load_config
from qstash_receiver import names as N
from qstash_receiver.sources import overlay_settings

__all__ = ["SETTING_NAMES", "default_receiver", "qstash_environ"]

#: The names read from Django settings (each falls back to the environment variable).
SETTING_NAMES: Final[tuple[str, ...]] = N.CONFIG_NAMES


def qstash_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment as the core should see it: ``environ`` overlaid with QStash settings.

    Args:
        environ: the environment to fall back to (default ``os.environ``); tests pass a dict.

    Environment variables read: those of
    [`qstash_receiver.load_config()`][qstash_receiver.load_config].
    """
    return overlay_settings(lambda name: getattr(settings, name, None), environ)


#: The receiver views use when none is passed: built from the settings on first use, kept
#: until a QStash setting changes (``override_settings`` in tests).
default_receiver: Final = Receiver(source=lambda: load_config(qstash_environ()))


def _reset(*, setting: str, **_: Any) -> None:
    if setting in SETTING_NAMES:
        default_receiver.reset()


setting_changed.connect(_reset, dispatch_uid="qstash_receiver.settings.reset")
