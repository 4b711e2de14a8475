"""What an adapter needs from the core, in one place (for authors of adapters).

An adapter translates shapes and nothing else. It builds one
[`Endpoint`][qstash_receiver.lifecycle.Endpoint] when a view or handler is decorated, from
[`Options`][qstash_receiver.options.Options]; per request it pulls the headers and RAW body out of
the platform's request for [`verify()`][qstash_receiver.lifecycle.Endpoint.verify], runs the handler
through [`run()`][qstash_receiver.lifecycle.Endpoint.run] (or ``run_async``) with a
[`Responder`][qstash_receiver.lifecycle.Responder], and turns each
[`Answer`][qstash_receiver.answers.Answer] into its platform's response. The lifecycle itself is
[`qstash_receiver.lifecycle`][qstash_receiver.lifecycle]; the answers
[`qstash_receiver.answers`][qstash_receiver.answers].

Users of the library need none of this: they use the adapters' ``verify_qstash``.
"""

from __future__ import annotations

from .answers import DUPLICATE, Answer, answer_for, handler_answer, is_success, refusal
from .guard import Delivery
from .headers import Headers
from .lifecycle import (
    Ending,
    Endpoint,
    Offload,
    Processing,
    ReceiverFactory,
    Responder,
    handled,
    to_thread,
    wrap_view,
)
from .options import DEFAULT_MAX_BODY_BYTES, OptionArgs, Options, UrlOption

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DUPLICATE",
    "Answer",
    "Delivery",
    "Endpoint",
    "Ending",
    "Headers",
    "Offload",
    "OptionArgs",
    "Options",
    "ReceiverFactory",
    "Responder",
    "UrlOption",
    "answer_for",
    "handled",
    "handler_answer",
    "is_success",
    "missing_extra",
    "refusal",
    "to_thread",
    "wrap_view",
    "Processing",
]


def missing_extra(error: ModuleNotFoundError, extra: str) -> ModuleNotFoundError:
    """The error an adapter raises when its framework is not installed: it names the extra.

    ``raise missing_extra(error, "django") from None`` in place of the bare import error.
    """
    return ModuleNotFoundError(
        f"qstash_receiver needs {error.name!r} here, which is not installed: "
        f'pip install "qstash-receiver[{extra}]"',
        name=error.name,
    )
