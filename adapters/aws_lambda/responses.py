"""Answers in the response shape of the event that asked."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.shared.headers_serializer import (
    BaseHeadersSerializer,
    MultiValueHeadersSerializer,
    SingleValueHeadersSerializer,
)
from aws_lambda_powertools.utilities.data_classes.alb_event import ALBEvent
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from qstash_receiver.integration import Answer

from .events import to_proxy_event

__all__ = ["http_response", "answer_response"]


def _status_line(status_code: int) -> str:
    try:
        return f"{status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return str(status_code)


def _serializer(proxy: BaseProxyEvent) -> BaseHeadersSerializer:
    if isinstance(proxy, ALBEvent):
        # Chosen here, not by ALBEvent.header_serializer(): that one wraps multiValueHeaders
        # in a dict and raises for a malformed event whose field is not an object. ALB sends
        # exactly one of the two fields, the one of the target group's mode.
        multi = proxy.raw_event.get("multiValueHeaders") is not None
        return MultiValueHeadersSerializer() if multi else SingleValueHeadersSerializer()
    return proxy.header_serializer()


def http_response(
    event: Mapping[str, Any] | BaseProxyEvent,
    status_code: int,
    body: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A text response in ``event``'s own shape, for API Gateway, Function URLs and ALB.

    REST events get ``multiValueHeaders``, HTTP API and Function URL events ``headers``; ALB
    events get ``statusDescription`` and the header field of the target group's mode
    (multi-value or not), which ALB requires to match.

    Raises:
        UnsupportedEventError: ``event`` is not an HTTP event.
    """
    proxy = event if isinstance(event, BaseProxyEvent) else to_proxy_event(event)
    values: dict[str, str | list[str]] = dict(headers or {})
    answer: dict[str, Any] = {"statusCode": status_code, "body": body, "isBase64Encoded": False}
    answer.update(_serializer(proxy).serialize(headers=values, cookies=[]))
    if isinstance(proxy, ALBEvent):
        answer["statusDescription"] = _status_line(status_code)
    return answer


def answer_response(proxy: BaseProxyEvent, rejection: Answer) -> dict[str, Any]:
    """The answer to a delivery the core rejected (401, 413 or 500)."""
    return http_response(proxy, rejection.status, rejection.text, headers=rejection.headers)
