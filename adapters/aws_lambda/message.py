"""How a verified message reaches user code: ``get_message(event)`` or ``get_message(app)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from qstash_receiver import VerifiedMessage

__all__ = ["MESSAGE_KEY", "QStashEvent", "get_message"]

#: The Powertools resolver context key holding the message (``app.context[MESSAGE_KEY]``).
MESSAGE_KEY = "qstash_message"


class QStashEvent(dict[str, Any]):
    """What a verified handler receives: a copy of the Lambda event, plus ``.message``.

    A plain dict otherwise (``json.dumps`` and logging keep working): the message is an
    attribute, not a key.
    """

    __slots__ = ("message",)

    def __init__(self, event: Mapping[str, Any], message: VerifiedMessage) -> None:
        super().__init__(event)
        self.message = message


class _HasContext(Protocol):
    @property
    def context(self) -> Mapping[str, Any]: ...


def get_message(source: Mapping[str, Any] | _HasContext) -> VerifiedMessage:
    """The verified message of a delivery.

    ``source`` is the ``event`` a
    [`verify_qstash()`][qstash_receiver.adapters.aws_lambda.verify_qstash] handler received, or the
    Powertools resolver (``app``) or ``Router`` inside a route verified by ``QStashMiddleware``.

    Raises:
        LookupError: ``source`` did not go through ``verify_qstash`` or the middleware.
    """
    if isinstance(source, QStashEvent):
        return source.message
    context = getattr(source, "context", None)
    message = context.get(MESSAGE_KEY) if isinstance(context, Mapping) else None
    if isinstance(message, VerifiedMessage):
        return message
    raise LookupError(
        "no verified QStash message: not wrapped by verify_qstash or QStashMiddleware"
    )
