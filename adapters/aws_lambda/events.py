"""Lambda HTTP events: which shape an event has, its headers and its RAW body bytes."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any, TypeGuard, cast

from aws_lambda_powertools.utilities.data_classes.alb_event import ALBEvent
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEvent,
    APIGatewayProxyEventV2,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from aws_lambda_powertools.utilities.data_classes.lambda_function_url_event import (
    LambdaFunctionUrlEvent,
)

from qstash_receiver import MalformedBodyError, QStashError, VerifiedMessage
from qstash_receiver.integration import Answer, Endpoint, answer_for

__all__ = ["UnsupportedEventError", "verify_event", "request_parts", "to_proxy_event"]

logger = logging.getLogger("qstash_receiver")

#: Header fields as the event holds them (the core's Headers drops what is not text).
HeaderSource = Mapping[str, str | list[str]]


class UnsupportedEventError(QStashError, TypeError):
    """The Lambda event is not an HTTP request (API Gateway, Function URL or ALB).

    Such an invocation (SQS, S3, a test console event...) has no HTTP answer to give, so the
    handler raises this instead of returning a response.
    """


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    # Events are dicts (json.loads); the ABC check, ten times slower, only for anything else.
    return type(value) is dict or isinstance(value, Mapping)


def to_proxy_event(event: object) -> BaseProxyEvent:
    """Wrap an HTTP event in the Powertools data class of its shape.

    Raises:
        UnsupportedEventError: ``event`` is not an HTTP event.
    """
    context = event.get("requestContext") if _is_mapping(event) else None
    if not _is_mapping(event) or not _is_mapping(context):
        keys = sorted(str(key)[:40] for key in event)[:5] if isinstance(event, Mapping) else []
        raise UnsupportedEventError(
            "qstash_receiver: the Lambda event is not an HTTP event (API Gateway REST or HTTP "
            f"API, Function URL or ALB); its top-level keys: {keys or type(event).__name__}"
        )
    data: dict[str, Any] = event if isinstance(event, dict) else dict(event)
    if "elb" in context:
        return ALBEvent(data)
    if event.get("version") == "2.0":
        domain = str(context.get("domainName", ""))
        if ".lambda-url." in domain and domain.endswith(".on.aws"):
            return LambdaFunctionUrlEvent(data)
        return APIGatewayProxyEventV2(data)
    if "httpMethod" in event:  # REST API, or an HTTP API using payload format 1.0
        return APIGatewayProxyEvent(data)
    raise UnsupportedEventError(
        "qstash_receiver: the Lambda event has a requestContext but is no API Gateway, "
        "Function URL or ALB request"
    )


def _header_field(raw: Mapping[str, Any]) -> Mapping[object, object]:
    # REST events carry both fields (multiValueHeaders complete); ALB carries exactly one, by
    # the target group's multi-value setting; payload 2.0 carries "headers" only. A field that
    # is not an object (a malformed event) counts as absent.
    for name in ("multiValueHeaders", "headers"):
        field = raw.get(name)
        if _is_mapping(field) and field:
            return field
    return {}


def _headers(proxy: BaseProxyEvent) -> HeaderSource:
    # The raw mapping, not Powertools' CaseInsensitiveDict: that one keeps one value per
    # lower-cased name, which would hide a duplicated Upstash-Signature header. Names and
    # values that are not text ([], [None], numbers: a malformed event) are left out by the
    # core's Headers, so they are passed on as they are.
    raw = proxy.raw_event
    field = _header_field(raw)
    cookies = raw.get("cookies")
    if isinstance(proxy, APIGatewayProxyEventV2) and isinstance(cookies, list):
        # Payload 2.0 moves Cookie headers into "cookies"; put them back for message.headers.
        kept = [c for c in cookies if isinstance(c, str)]
        if kept and "cookie" not in field:
            return cast(HeaderSource, {**field, "cookie": "; ".join(kept)})
    return cast(HeaderSource, field)


def _body(proxy: BaseProxyEvent) -> bytes:
    # Built here rather than with decoded_body, which returns str and breaks binary bodies.
    body = proxy.body
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedBodyError()
    try:
        if proxy.is_base64_encoded:
            return base64.b64decode(body, validate=True)
        return body.encode("utf-8")
    except ValueError as err:  # binascii.Error, non-ASCII base64, lone surrogates
        raise MalformedBodyError() from err


def request_parts(proxy: BaseProxyEvent) -> tuple[HeaderSource, bytes]:
    """The headers (case-insensitive once wrapped by the core) and RAW body of an event.

    Raises:
        MalformedBodyError: the body is not valid base64 (or not text) as declared.
    """
    return _headers(proxy), _body(proxy)


def verify_event(proxy: BaseProxyEvent, endpoint: Endpoint) -> VerifiedMessage | Answer:
    """Run the core's request check on one HTTP event (a callable ``url`` gets the event)."""
    try:
        headers, body = request_parts(proxy)
    except MalformedBodyError as error:
        return endpoint.refuse(answer_for(error), _headers(proxy))
    return endpoint.verify(headers, body, proxy.raw_event)
