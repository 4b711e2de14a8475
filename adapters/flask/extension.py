"""The Flask extension ``QStash``: settings in ``app.config``, and whole blueprints protected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from qstash_receiver.integration import missing_extra

try:
    from flask import Blueprint, Flask, Response, current_app, g
except ModuleNotFoundError as error:
    raise missing_extra(error, "flask") from None

from qstash_receiver import NonRetryableError, Receiver, RetryLater, VerifiedMessage, load_config
from qstash_receiver.integration import Answer, Endpoint, Options, Processing, handler_answer
from qstash_receiver.sources import overlay_settings

from .verification import EXTENSION, RECEIVER, answer, verify_current

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["QStash", "protect"]

_DELIVERY = "_qstash_delivery"  # flask.g: the Processing between protect()'s hooks


def protect(scope: Blueprint | Flask, endpoint: Endpoint) -> None:
    """Verify every request of ``scope`` (a blueprint or app) before its views, through hooks."""
    # Hooks instead of a wrapper: claim before the view, finish once its response exists
    # (after_request also sees error handlers' answers), fail if the request died; each
    # delivery is ended once (popped from flask.g).
    check = verify_current(endpoint)

    def before() -> Response | None:
        checked = check()
        if not isinstance(checked, VerifiedMessage):
            return checked
        delivery = endpoint.claim(checked)
        if isinstance(delivery, Answer):
            return answer(delivery)
        setattr(g, _DELIVERY, delivery)
        return None

    def after(response: Response) -> Response:
        delivery = g.pop(_DELIVERY, None)
        if isinstance(delivery, Processing):
            delivery.finish(response.status_code)
        return response

    def teardown(error: BaseException | None) -> None:
        delivery = g.pop(_DELIVERY, None)
        if isinstance(delivery, Processing):
            delivery.fail(error)

    def refused(error: Exception) -> Response:
        delivery = g.pop(_DELIVERY, None)  # the view's NonRetryableError / RetryLater
        fixed = delivery.fail(error) if isinstance(delivery, Processing) else None
        return answer(fixed or handler_answer(cast(NonRetryableError | RetryLater, error)))

    scope.before_request(before)
    scope.after_request(after)
    scope.teardown_request(teardown)
    scope.register_error_handler(NonRetryableError, refused)
    scope.register_error_handler(RetryLater, refused)


class QStash:
    """Flask extension: QStash settings in ``app.config`` and blueprint protection.

    Every ``QSTASH_*`` environment variable (``QSTASH_REGION``, ``QSTASH_CURRENT_SIGNING_KEY``,
    ``US_EAST_1_QSTASH_NEXT_SIGNING_KEY``, ...) may be set in ``app.config`` under the same name;
    names absent from it (or ``None``) come from ``environ``. The merged mapping goes to
    [`qstash_receiver.load_config()`][qstash_receiver.load_config] on the app's first delivery and
    the result is cached. [`verify_qstash()`][qstash_receiver.adapters.flask.verify_qstash] views
    without an explicit ``receiver`` use it too.

    Args:
        app: the app to initialise now (or call
            [`init_app()`][qstash_receiver.adapters.flask.QStash.init_app] later).
        environ: the fallback environment; default ``os.environ`` (tests pass a dict).
    """

    def __init__(
        self, app: Flask | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self._environ = environ
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the extension on ``app`` (as ``app.extensions["qstash"]``)."""
        app.extensions[EXTENSION] = self
        app.extensions[RECEIVER] = Receiver(source=lambda: load_config(self.environ(app)))

    def environ(self, app: Flask) -> dict[str, str]:
        """What ``load_config`` sees for ``app``: the environment overlaid with app.config."""
        return overlay_settings(app.config.get, self._environ)

    def receiver(self, app: Flask | None = None) -> Receiver:
        """The [`Receiver`][qstash_receiver.Receiver] of ``app`` (default: the current app), built
        on first use.

        Raises:
            ConfigError: invalid settings/environment (not cached: a fix takes effect).
        """
        target = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        receiver = target.extensions.get(RECEIVER)
        if not isinstance(receiver, Receiver):
            self.init_app(target)
            receiver = cast(Receiver, target.extensions[RECEIVER])
        receiver.config  # noqa: B018 (resolved now: an invalid configuration raises here)
        return receiver

    def protect(self, scope: Blueprint | Flask, **options: Unpack[OptionArgs]) -> None:
        """Verify every request of a blueprint (or app) before its views run.

        A ``before_request`` hook: register it before hooks that need the message. Options and
        answers are those of [`verify_qstash()`][qstash_receiver.adapters.flask.verify_qstash]
        (default receiver: this extension's); with ``dedupe=``, an ``after_request`` hook completes
        or releases the claim by the response's status, and ``NonRetryableError`` / ``RetryLater``
        raised by the scope's views get their answers through its error handlers.

        Raises:
            ValueError, TypeError: invalid options.
        """
        protect(scope, Endpoint(Options(**options), self.receiver))
