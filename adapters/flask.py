"""Flask adapter: verify QStash deliveries in views, or in every view of a blueprint.

::

    qstash = QStash(app)                  # QSTASH_* from app.config, else the environment

    @app.post("/qstash")
    @verify_qstash
    def hook():
        message = current_message()       # also flask.g.qstash_message
        ...

    qstash.protect(jobs_blueprint)        # every view of the blueprint, no decorator needed
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import cast

from flask import Blueprint, Flask, current_app

from qstash_receiver import (
    DEFAULT_MAX_BODY_BYTES,
    ConfigError,
    QStashError,
    Receiver,
    SignatureError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.config import overlay_settings

from ._views import verify_qstash
from ._werkzeug import EXTENSION, MESSAGE_ATTRIBUTE, Guard, UrlOption, current_message

__all__ = [
    "verify_qstash",
    "QStash",
    "current_message",
    "MESSAGE_ATTRIBUTE",
    "VerifiedMessage",
    "QStashError",
    "SignatureError",
    "ConfigError",
]


class QStash:
    """Flask extension: QStash settings in ``app.config`` and blueprint protection.

    Every ``QSTASH_*`` environment variable (``QSTASH_REGION``, ``QSTASH_CURRENT_SIGNING_KEY``,
    ``US_EAST_1_QSTASH_NEXT_SIGNING_KEY``, ...) may be set in ``app.config`` under the same
    name; names absent from it (or ``None``) come from ``environ``. The merged mapping goes to
    :func:`qstash_receiver.load_config` on the app's first delivery and the result is cached.
    :func:`verify_qstash` views without an explicit ``receiver`` use it too.

    Args:
        app: the app to initialise now (or call :meth:`init_app` later).
        environ: the fallback environment; default ``os.environ`` (tests pass a dict).
    """

    def __init__(
        self, app: Flask | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self._environ = environ
        self._receivers: weakref.WeakKeyDictionary[Flask, Receiver] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the extension on ``app`` (as ``app.extensions["qstash"]``)."""
        app.extensions[EXTENSION] = self

    def environ(self, app: Flask) -> dict[str, str]:
        """What ``load_config`` sees for ``app``: the environment overlaid with app.config."""
        return overlay_settings(app.config.get, self._environ)

    def receiver(self, app: Flask | None = None) -> Receiver:
        """The :class:`Receiver` of ``app`` (default: the current app), built on first use.

        Raises:
            ConfigError: invalid settings/environment (not cached: a fix takes effect).
        """
        target = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        if target not in self._receivers:
            self._receivers[target] = Receiver(config=load_config(self.environ(target)))
        return self._receivers[target]

    def protect(
        self,
        scope: Blueprint | Flask,
        *,
        url: UrlOption = None,
        clock_tolerance: float = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        """Verify every request of a blueprint (or app) before its views run.

        A ``before_request`` hook: register it before hooks that need the message. Options
        and answers are those of :func:`verify_qstash`.
        """
        scope.before_request(Guard(self.receiver, url, clock_tolerance, max_body_bytes))
