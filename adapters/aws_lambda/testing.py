"""Signed Lambda HTTP events, for tests of your own handlers.

Start from a real event of your integration (``sam local generate-event apigateway
http-api-proxy`` and friends) and put a signed delivery into a copy of it:

```python
from qstash_receiver.adapters.aws_lambda.testing import signed_event

event = signed_event(template, b'{"hello": "world"}', key="sig_...", region="US_EAST_1")
assert handler(event, None)["statusCode"] == 200
```
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.utilities.data_classes.alb_event import ALBEvent
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEventV2,
)

from qstash_receiver.testing import signed_headers

from .events import to_proxy_event

__all__ = ["event_with", "signed_event"]


def _place_headers(event: dict[str, Any], headers: Mapping[str, list[str]], alb: bool) -> None:
    multi = event.get("multiValueHeaders")
    single = event.get("headers")
    if isinstance(multi, dict):  # REST (beside "headers"), or ALB in multi-value mode
        multi.update(headers)
    if isinstance(single, dict) or not isinstance(multi, dict):
        target = single if isinstance(single, dict) else event.setdefault("headers", {})
        # REST and single-value ALB keep the last value of a repeated header.
        target.update({name: values[-1] for name, values in headers.items()})
    if alb:  # ALB passes header names in lower case
        for field in ("headers", "multiValueHeaders"):
            if isinstance(event.get(field), dict):
                event[field] = {k.lower(): v for k, v in event[field].items()}


def event_with(
    template: Mapping[str, Any],
    *,
    body: bytes | None,
    headers: Mapping[str, str | Sequence[str]],
    method: str = "POST",
    base64_body: bool = True,
) -> dict[str, Any]:
    """A copy of ``template`` carrying this request the way AWS delivers it.

    A header given several values is a repeated header: payload 2.0 joins them with commas,
    REST events list them in ``multiValueHeaders`` (and keep the last in ``headers``), ALB
    lists them in multi-value mode and keeps the last one otherwise. ``body=None`` is a
    request without a body; ``base64_body=False`` passes it as text (UTF-8).

    Raises:
        UnsupportedEventError: ``template`` is not an HTTP event.
    """
    event = copy.deepcopy(dict(template))
    shape = to_proxy_event(event)
    values = {name: [v] if isinstance(v, str) else list(v) for name, v in headers.items()}
    if isinstance(shape, APIGatewayProxyEventV2):
        joined = {name.lower(): ",".join(v) for name, v in values.items()}
        event.setdefault("headers", {}).update(joined)
        event["requestContext"].setdefault("http", {})["method"] = method
    else:
        _place_headers(event, values, isinstance(shape, ALBEvent))
        event["httpMethod"] = method
        if "httpMethod" in event["requestContext"]:
            event["requestContext"]["httpMethod"] = method
    if body is None:
        event["body"], event["isBase64Encoded"] = None, False
    elif base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    else:
        event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
    return event


def signed_event(
    template: Mapping[str, Any],
    body: bytes,
    *,
    key: str,
    url: str = "https://example.com/api/qstash",
    region: str | None = None,
    method: str = "POST",
    **sign_options: Any,
) -> dict[str, Any]:
    """A copy of ``template`` carrying a QStash delivery of ``body`` signed with ``key``.

    ``region`` sets the ``Upstash-Region`` header; ``sign_options`` go to
    [`qstash_receiver.testing.signed_headers()`][qstash_receiver.testing.signed_headers]
    (``message_id``, ``now``, ``lifetime``...).

    Raises:
        UnsupportedEventError: ``template`` is not an HTTP event.
    """
    headers = signed_headers(body, key=key, url=url, region=region, **sign_options)
    return event_with(template, body=body, headers=headers, method=method)
