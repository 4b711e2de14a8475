"""``request_url(event)``: the URL a Lambda HTTP event was sent to, for the signed URL check.


```python
from qstash_receiver.adapters.aws_lambda.urls import request_url

@verify_qstash(url=request_url)
def handler(event, context): ...
```

Built from what AWS itself puts into the event, per integration:

- API Gateway REST API (and HTTP API payload 1.0): ``https://`` + ``requestContext.domainName``
  + ``requestContext.path``, which is the path as called: with the stage on an
  ``execute-api`` URL, with the base path on a custom domain. The query string is rebuilt
  from the (decoded) ``multiValueQueryStringParameters``.
- API Gateway HTTP API (payload 2.0) and Function URLs: ``https://`` + ``domainName`` +
  ``rawPath`` (a named stage or an API mapping's path included) + ``rawQueryString``.
- Application Load Balancer: ``X-Forwarded-Proto`` + ``Host`` + ``path`` + the query string
  as received. ALB passes the ``Host`` a client sent, so here the host is only as good as
  the listener's host-based rules.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["request_url"]

logger = logging.getLogger("qstash_receiver")

# Characters a query key or value keeps when the query is rebuilt from decoded parameters.
_QUERY_SAFE = "!$'()*,/:;@-._~"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _pairs(parameters: object) -> list[tuple[str, str]]:
    # {"k": "v"} or {"k": ["v1", "v2"]} (multi-value); odd entries are skipped.
    pairs: list[tuple[str, str]] = []
    for name, value in _mapping(parameters).items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((str(name), item) for item in values if isinstance(item, str))
    return pairs


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for source in (event.get("multiValueHeaders"), event.get("headers")):
        for key, value in _mapping(source).items():
            if str(key).lower() == name:
                first = value[0] if isinstance(value, list) and value else value
                return first if isinstance(first, str) else None
    return None


def _alb(event: Mapping[str, Any]) -> tuple[str | None, str | None, object, str]:
    scheme = (_header(event, "x-forwarded-proto") or "").split(",")[0].strip()
    parameters = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters")
    query = "&".join(f"{name}={value}" for name, value in _pairs(parameters))  # as received
    return scheme or None, _header(event, "host"), event.get("path"), query


def _api_gateway(event: Mapping[str, Any]) -> tuple[str | None, str | None, object, str]:
    context = _mapping(event.get("requestContext"))
    domain = context.get("domainName")
    if event.get("version") == "2.0":  # HTTP API payload 2.0, Function URLs
        query = event.get("rawQueryString")
        path: object = event.get("rawPath")
    else:  # REST API, HTTP API payload 1.0: only decoded parameters are given
        parameters = event.get("multiValueQueryStringParameters") or event.get(
            "queryStringParameters"
        )
        query = "&".join(
            f"{quote(name, safe=_QUERY_SAFE)}={quote(value, safe=_QUERY_SAFE)}"
            for name, value in _pairs(parameters)
        )
        path = context.get("path")
    return "https", domain if isinstance(domain, str) else None, path, str(query or "")


def request_url(event: Mapping[str, Any]) -> str:
    """The URL a Lambda HTTP event was sent to, for ``verify_qstash(url=request_url)``.

    Never raises: an event without the parts (no ``requestContext.domainName``, as in some
    hand-made test events) gives ``""``, which no signed URL equals, so the delivery is
    refused ``401 url_mismatch`` and a warning names the missing part.
    """
    parts: tuple[str | None, str | None, object, str] = (None, None, None, "")
    if isinstance(event, Mapping):
        elb = "elb" in _mapping(event.get("requestContext"))
        parts = _alb(event) if elb else _api_gateway(event)
    scheme, host, path, query = parts
    if not scheme or not host or not isinstance(path, str) or not path.startswith("/"):
        missing = "scheme" if not scheme else "host" if not host else "path"
        logger.warning("QStash URL check: the Lambda event has no usable %s", missing)
        return ""
    return f"{scheme}://{host}{path}?{query}" if query else f"{scheme}://{host}{path}"
