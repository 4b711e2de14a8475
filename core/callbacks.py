"""Callbacks and failure callbacks: QStash's report of how a delivery went, as a typed value.

A message published with ``Upstash-Callback: <url>`` makes QStash call that URL after each
delivery attempt with the destination's answer; ``Upstash-Failure-Callback: <url>`` once
all retries are exhausted. Both are ordinary signed deliveries (verify them like any other),
whose JSON body is described at https://upstash.com/docs/qstash/features/callbacks:

```python
@verify_qstash
def on_callback():
    callback = parse_callback(current_message())
    if callback.is_failure:
        alert(callback.source_message_id, callback.status, callback.dlq_id)
```

Field by field (the page's names in parentheses): ``status``, the answer's headers
(``header``) and base64 body (``body``), ``retried``, ``maxRetries``, ``sourceMessageId``,
``topicName``, ``endpointName``, the source ``url`` and ``method``, its headers
(``sourceHeader``) and base64 body (``sourceBody``), ``notBefore`` and ``createdAt`` (Unix
milliseconds), ``scheduleId``, ``callerIP``, and, in failure callbacks only, ``dlqId``.

The numeric fields (``status``, ``retried``, ``maxRetries``, ``notBefore``, ``createdAt``) are
accepted as JSON numbers or as strings of digits: the page documents the timestamps as
strings, Upstash's SDKs and live payloads send numbers. Each must be a whole number >= 0 of at
most 20 digits.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import names as N
from .message import VerifiedMessage
from .retry_control import CallbackError

__all__ = ["Callback", "CallbackError", "parse_callback"]

_EMPTY: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True, repr=False)
class Callback:
    """A parsed callback or failure-callback body. Immutable.

    Attributes:
        status: the HTTP status the destination answered (the last attempt's).
        body: the destination's answer body, decoded from base64 (QStash may truncate it;
            a base64 text cut mid-group is decoded up to its last whole byte).
        headers: the destination's answer headers, names lower-cased, each with its values.
        retried: how many times QStash had retried the source message (0: first attempt).
        max_retries: how many retries it allows before the message counts as failed.
        source_message_id: the id of the message the callback reports on.
        url: the source message's destination URL.
        method: the source message's HTTP method.
        source_headers: the source message's headers (names lower-cased).
        source_body: the source message's body, decoded from base64.
        topic_name, endpoint_name: the URL Group and endpoint name, when sent to one.
        schedule_id: the schedule that triggered the source message, if any.
        caller_ip: where the source message was published from.
        not_before, created_at: Unix times in milliseconds (delivery time, creation time).
        dlq_id: the dead letter queue id (failure callbacks only; ``None`` otherwise).
    """

    status: int
    body: bytes
    retried: int
    max_retries: int
    source_message_id: str
    dlq_id: str | None = None
    url: str | None = None
    method: str | None = None
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    source_headers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    source_body: bytes = b""
    topic_name: str | None = None
    endpoint_name: str | None = None
    schedule_id: str | None = None
    caller_ip: str | None = None
    not_before: int | None = None
    created_at: int | None = None

    @property
    def is_failure(self) -> bool:
        """A failure callback: every retry was used and the message is in the DLQ."""
        return self.dlq_id is not None

    @property
    def succeeded(self) -> bool:
        """The destination answered 2xx."""
        return 200 <= self.status < 300

    @property
    def is_final(self) -> bool:
        """No further attempt follows: a success, a failure callback, the last retry
        (``retried >= max_retries``), or a 489 with ``Upstash-NonRetryable-Error: true``."""
        refused = self.status == 489 and any(
            value.strip().lower() == "true"
            for value in self.headers.get(N.NON_RETRYABLE_HEADER.lower(), ())
        )
        return self.succeeded or self.is_failure or self.retried >= self.max_retries or refused

    def text(self, encoding: str = "utf-8") -> str:
        """The destination's answer body as text (raises ``UnicodeDecodeError`` if binary)."""
        return self.body.decode(encoding)

    def __repr__(self) -> str:
        kind = "failure callback" if self.is_failure else "callback"
        return (
            f"Callback({kind}, status={self.status}, retried={self.retried}/{self.max_retries}, "
            f"source_message_id={self.source_message_id!r}, body=<{len(self.body)} bytes>)"
        )


def _field(payload: Mapping[str, Any], name: str, kind: type, required: bool = False) -> Any:
    value = payload.get(name)
    if value is None:
        if required:
            raise CallbackError(f"not a QStash callback: the {name!r} field is missing")
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CallbackError(f"not a QStash callback: the {name!r} field is not a {kind.__name__}")
    return value


#: A status, count or timestamp has at most 20 digits (2**64 has 20). A longer value is refused
#: before ``int()`` sees it: Python's ``int()`` raises ``ValueError`` beyond 4,300 digits, and
#: below that limit its cost still grows with the length.
_MAX_DIGITS = 20
_MAX_NUMBER = 10**_MAX_DIGITS


def _json_int(text: str) -> int | float:
    # json.loads's parse_int: a literal too long to be any field's value becomes inf, which
    # every field refuses by name, instead of int()'s ValueError refusing the whole body.
    return int(text) if len(text) <= _MAX_DIGITS + 1 else math.inf


def _number(payload: Mapping[str, Any], name: str, required: bool = False) -> int | None:
    # A whole number >= 0, as a JSON number or a string of ASCII digits: the page documents
    # the timestamps as strings, Upstash's SDKs and live payloads carry numbers.
    value = payload.get(name)
    if value is None:
        if required:
            raise CallbackError(f"not a QStash callback: the {name!r} field is missing")
        return None
    number: int | None = None
    if isinstance(value, str):
        if value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS:
            number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():  # 1.7e12: integral, finite
        number = int(value)
    if number is None or not 0 <= number < _MAX_NUMBER:
        raise CallbackError(
            f"not a QStash callback: the {name!r} field is not a whole number >= 0 "
            f"of at most {_MAX_DIGITS} digits"
        )
    return number


def _base64(payload: Mapping[str, Any], name: str) -> bytes:
    # QStash may truncate a long body, which can cut its base64 mid-group: the complete
    # groups are decoded (padding restored) rather than the whole callback refused.
    text = _field(payload, name, str)
    if not text:
        return b""
    data = text.rstrip("=")
    if len(data) % 4 == 1:
        data = data[:-1]  # one character of a group carries no whole byte
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError) as err:  # characters outside the alphabet
        raise CallbackError(f"not a QStash callback: the {name!r} field is not base64") from err


def _headers(payload: Mapping[str, Any], name: str) -> Mapping[str, tuple[str, ...]]:
    # Answer headers are documented as lists of values, source headers as single strings.
    raw = _field(payload, name, dict)
    if not raw:
        return _EMPTY
    headers: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values):
            raise CallbackError(f"not a QStash callback: the {name!r} values are not strings")
        headers[str(key).lower()] = (*headers.get(str(key).lower(), ()), *values)
    return MappingProxyType(headers)


def parse_callback(message: VerifiedMessage | bytes | str) -> Callback:
    """Parse the body of a verified callback or failure-callback delivery.

    Args:
        message: the delivery (a [`VerifiedMessage`][qstash_receiver.VerifiedMessage]), or its body.

    Raises:
        CallbackError: the body is not a callback payload (not JSON, not an object, a
            required field missing or of the wrong type, a numeric field that is not a whole
            number >= 0 of at most 20 digits, invalid base64). Nothing else escapes, whatever
            the body. It is a ``NonRetryableError``: left unhandled in a verified view, it is
            answered 489.
    """
    body = message.body if isinstance(message, VerifiedMessage) else message
    try:
        payload = json.loads(body, parse_int=_json_int)
    except (ValueError, RecursionError) as err:  # bad JSON, bad UTF-8, absurd nesting
        raise CallbackError("not a QStash callback: the body is not JSON") from err
    if not isinstance(payload, dict):
        raise CallbackError("not a QStash callback: the body is not a JSON object")
    return Callback(
        status=_number(payload, "status", required=True) or 0,
        body=_base64(payload, "body"),
        retried=_number(payload, "retried", required=True) or 0,
        max_retries=_number(payload, "maxRetries", required=True) or 0,
        source_message_id=_field(payload, "sourceMessageId", str, required=True),
        dlq_id=_field(payload, "dlqId", str),
        url=_field(payload, "url", str),
        method=_field(payload, "method", str),
        headers=_headers(payload, "header"),
        source_headers=_headers(payload, "sourceHeader"),
        source_body=_base64(payload, "sourceBody"),
        topic_name=_field(payload, "topicName", str),
        endpoint_name=_field(payload, "endpointName", str),
        schedule_id=_field(payload, "scheduleId", str),
        caller_ip=_field(payload, "callerIP", str),
        not_before=_number(payload, "notBefore"),
        created_at=_number(payload, "createdAt"),
    )
