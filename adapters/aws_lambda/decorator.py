"""``verify_qstash`` for Lambda handlers, and typed access to the verified message."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEventV2,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from qstash_receiver.integration import Answer, Endpoint, Options, Responder

from .events import to_proxy_event, verify_event
from .keys import receiver_from_env
from .message import QStashEvent
from .powertools import observer
from .responses import answer_response

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = [
    "LambdaHandler", "VerifiedHandler", "answer_status", "endpoint", "remaining_seconds",
    "verify_qstash",
]  # fmt: skip

R = TypeVar("R")
#: ``handler(event, context)`` as Lambda calls it.
LambdaHandler = Callable[[dict[str, Any], Any], R]
#: The decorated handler: the handler's own answer, or a rejection response dict.
VerifiedHandler = Callable[[dict[str, Any], Any], R | dict[str, Any]]


def endpoint(
    options: Options, metrics: Metrics | None = None, tracer: Tracer | None = None
) -> Endpoint:
    """A Lambda endpoint: its own receiver, or
    [`receiver_from_env()`][qstash_receiver.adapters.aws_lambda.receiver_from_env] built on first
    use (and kept; a ``ConfigError`` is not kept, so a fixed environment takes effect); its
    deliveries also go to Powertools' ``metrics`` and ``tracer`` when given."""
    return Endpoint(options, functools.cache(receiver_from_env), observer=observer(metrics, tracer))


def answer_status(proxy: BaseProxyEvent, answer: object) -> int | None:
    """The HTTP status a Lambda handler's return value becomes at the event's front end.

    A ``statusCode`` when the answer has one. Without it, HTTP APIs (payload 2.0) and Function
    URLs answer 200 (they send any other value as the body); REST APIs and ALB answer 502,
    so ``None`` (not a success).
    """
    if isinstance(answer, Mapping) and "statusCode" in answer:
        code = answer["statusCode"]
        if isinstance(code, bool) or not isinstance(code, (int, str)):
            return None
        try:
            return int(code)
        except ValueError:
            return None
    return 200 if isinstance(proxy, APIGatewayProxyEventV2) else None


def remaining_seconds(context: object) -> float | None:
    """The invocation's remaining time, the longest a claim needs to last (None if unknown)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    millis = remaining()
    return millis / 1000 if isinstance(millis, (int, float)) and millis > 0 else None


def _decorate(handler: LambdaHandler[R], endpoint: Endpoint) -> VerifiedHandler[R]:
    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: Any) -> R | dict[str, Any]:
        proxy = to_proxy_event(event)
        result = verify_event(proxy, endpoint)
        if isinstance(result, Answer):
            return answer_response(proxy, result)
        responder: Responder[Any] = Responder(
            functools.partial(answer_response, proxy), functools.partial(answer_status, proxy)
        )
        call = functools.partial(handler, QStashEvent(event, result), context)
        answer: R | dict[str, Any] = endpoint.run(
            result, call, responder, lease=remaining_seconds(context)
        )
        return answer

    return wrapper


@overload
def verify_qstash(handler: LambdaHandler[R], /) -> VerifiedHandler[R]: ...
@overload
def verify_qstash(
    *,
    metrics: Metrics | None = None,
    tracer: Tracer | None = None,
    **options: Unpack[OptionArgs],
) -> Callable[[LambdaHandler[R]], VerifiedHandler[R]]: ...
def verify_qstash(
    handler: LambdaHandler[R] | None = None,
    /,
    *,
    metrics: Metrics | None = None,
    tracer: Tracer | None = None,
    **options: Unpack[OptionArgs],
) -> VerifiedHandler[R] | Callable[[LambdaHandler[R]], VerifiedHandler[R]]:
    """Verify QStash deliveries before a Lambda handler ``handler(event, context)`` runs.

    Use bare (``@verify_qstash``) or with options (``@verify_qstash(url=...)``). Works behind
    API Gateway REST APIs (payload 1.0), HTTP APIs (payload 2.0), Function URLs and ALB
    (with or without multi-value headers); the shape is recognised from the event. The
    handler runs only for verified deliveries and gets the message via
    ``get_message(event)``. Other requests are answered in the event's own response shape:
    401 (not verified, including an undecodable base64 body), 413 (body over
    ``max_body_bytes``) or 500 (no usable signing keys, or they could not be fetched;
    QStash retries), as ``text/plain``. A handler raising ``NonRetryableError`` is answered
    489 (QStash does not retry), ``RetryLater`` 503 with ``Retry-After``.

    Args:
        handler: the Lambda handler (bare use).

    Keyword Args:
        url (UrlOption): when given, the signed destination URL must equal it (a callable gets the
            event).
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies are refused (413).
        receiver (Receiver | None): the [`Receiver`][qstash_receiver.Receiver] to use; default:
            [`receiver_from_env()`][qstash_receiver.adapters.aws_lambda.receiver_from_env] on the
            first request.
        dedupe (DedupeStore | None): a duplicate-delivery guard store: on Lambda usually
            [`PowertoolsStore`][qstash_receiver.adapters.aws_lambda.idempotency.PowertoolsStore]
            over Powertools' DynamoDB (or Redis) persistence layer. Each message runs the handler
            once; a copy of a handled one is answered 200 without running it, one in progress 409
            with ``Retry-After``, an unreachable store 503. A claim lasts at most the invocation's
            remaining time. The answer counts as handled when its ``statusCode`` is 2xx (HTTP APIs
            and Function URLs: also an answer without one).
        metrics (Metrics | None), tracer (Tracer | None): Powertools' own: each delivery is
            also EMF metrics with ``region`` and ``outcome`` dimensions and an X-Ray subsegment
            ([`powertools`][qstash_receiver.adapters.aws_lambda.powertools]).

    Environment variables read (default receiver): ``QSTASH_SIGNING_KEYS_SECRET``,
    ``QSTASH_SIGNING_KEYS_PARAMETER``, and those of ``load_config`` (``QSTASH_REGION``,
    ``QSTASH_CURRENT_SIGNING_KEY``, ``QSTASH_NEXT_SIGNING_KEY``, their ``EU_CENTRAL_1_`` /
    ``US_EAST_1_`` prefixed forms, ``QSTASH_DEV``, ``AWS_LAMBDA_FUNCTION_NAME``).

    Raises:
        ValueError, TypeError: invalid options (when decorating).
        UnsupportedEventError: the invocation is not an HTTP event (e.g. SQS or S3): there is
            no HTTP answer to give, so the invocation fails visibly. The handler's own
            exceptions propagate (after the guard's claim is released).
    """
    checked = endpoint(Options(**options), metrics, tracer)
    if handler is None:
        return functools.partial(_decorate, endpoint=checked)
    return _decorate(handler, checked)
