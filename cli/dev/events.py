"""QStash's logs, kept by the stand-in: one entry for each state a message passes through.

The states are the official SDKs' names: ``CREATED`` when a message is accepted (published,
made by a schedule or for a URL group's endpoint, or a callback), ``ACTIVE`` when an attempt
starts, ``ERROR`` and then ``RETRY`` (with ``nextDeliveryTime``) when it failed and will be
tried again, ``DELIVERED`` on a 2xx answer, ``ERROR`` and then ``FAILED`` when it is
dead-lettered. ``GET /v2/events`` (the path both SDKs call) lists them newest first, filtered
by ``state`` (``IN_PROGRESS``: any of ACTIVE, RETRY and ERROR), ``messageId``/``messageIds``,
``url``, ``topicName``, ``scheduleId``, ``queueName``, ``fromDate`` and ``toDate``, ``count``
(at most 1000) at a time, with a ``cursor`` for the next page. As QStash does, only the latest
entries are kept (10,000).
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qstash_receiver.names import Region

from .proto import Message, Refused

__all__ = ["IN_PROGRESS", "EventLog"]

#: What the ``IN_PROGRESS`` filter stands for (QStash's API reference).
IN_PROGRESS = frozenset({"ACTIVE", "RETRY", "ERROR"})
_STATES = frozenset({"CREATED", "DELIVERED", "FAILED", "CANCEL_REQUESTED", "CANCELED"})
_MAX_COUNT = 1000
# Query parameter -> the entry field it filters on.
_Test = Callable[[Mapping[str, Any]], bool]
_EXACT = {"url": "url", "topicName": "topicName", "scheduleId": "scheduleId",
          "queueName": "queueName", "label": "label"}  # fmt: skip


@dataclass(frozen=True)
class _Entry:
    seq: int
    region: Region
    fields: Mapping[str, Any]


def _headers(pairs: Mapping[str, str]) -> dict[str, list[str]]:
    return {name: [value] for name, value in pairs.items()}


class EventLog:
    """The entries of both regions, newest last; thread-safe.

    Args:
        keep: how many entries are kept (the oldest are dropped first).
    """

    def __init__(self, keep: int = 10_000) -> None:
        self._entries: deque[_Entry] = deque(maxlen=keep)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, message: Message, state: str, **extra: Any) -> None:
        """Add an entry for ``message`` in ``state`` (``extra``: more fields, e.g. ``error``)."""
        settings = message.settings
        fields: dict[str, Any] = {
            "time": int(time.time() * 1000),
            "messageId": message.message_id,
            "state": state,
            "url": message.destination,
            "method": settings.method,
            "header": _headers(settings.forwarded),
            "body": base64.b64encode(message.body).decode("ascii"),
            "maxRetries": settings.retries,
        }
        optional = {
            "topicName": message.url_group,
            "endpointName": message.endpoint_name,
            "scheduleId": message.schedule_id,
        }
        fields |= {name: value for name, value in optional.items() if value is not None}
        fields |= {name: value for name, value in extra.items() if value is not None}
        with self._lock:
            self._entries.append(_Entry(next(self._seq), message.region.region, fields))

    def page(self, region: Region, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """``GET /v2/events`` for ``region``: ``{"cursor": ..., "events": [...]}``, or Refused."""
        count = _number(query, "count", _MAX_COUNT)
        if not 0 < count <= _MAX_COUNT:
            raise Refused(400, f"count must be between 1 and {_MAX_COUNT}")
        before = _number(query, "cursor", None)
        wanted = _filters(query)
        with self._lock:
            entries = list(self._entries)
        found: list[_Entry] = []
        for entry in reversed(entries):
            if entry.region != region or (before is not None and entry.seq >= before):
                continue
            if all(test(entry.fields) for test in wanted):
                found.append(entry)
                if len(found) > count:
                    break
        more = len(found) > count
        events = [dict(entry.fields) for entry in found[:count]]
        return {"cursor": str(found[count - 1].seq) if more else None, "events": events}


def _first(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _number(query: Mapping[str, Sequence[str]], name: str, default: int | None) -> Any:
    value = _first(query, name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise Refused(400, f"{name} must be a number") from None


def _filters(query: Mapping[str, Sequence[str]]) -> list[_Test]:
    tests: list[_Test] = []
    state = _first(query, "state")
    if state is not None:
        states = IN_PROGRESS if state == "IN_PROGRESS" else frozenset({state})
        if not states <= IN_PROGRESS | _STATES:
            raise Refused(400, f"unknown state: {state[:40]}")
        tests.append(lambda fields: fields["state"] in states)
    ids = {i for value in query.get("messageIds", ()) for i in value.split(",") if i}
    if (one := _first(query, "messageId")) is not None:
        ids.add(one)
    if ids:
        tests.append(lambda fields: fields["messageId"] in ids)
    exact = {field: value for parameter, field in _EXACT.items()
             if (value := _first(query, parameter)) is not None}  # fmt: skip
    if exact:
        tests.append(lambda fields: all(fields.get(f) == v for f, v in exact.items()))
    since, until = _number(query, "fromDate", None), _number(query, "toDate", None)
    if since is not None:
        tests.append(lambda fields: fields["time"] >= since)
    if until is not None:
        tests.append(lambda fields: fields["time"] <= until)
    return tests
