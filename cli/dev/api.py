"""The stand-in's REST API beside publishing: the paths and shapes the official SDKs call.

Every route needs the region's token (401 otherwise); an unknown path is answered 404 naming
what is served. See `.schedules`, `.groups` and `.events` for each resource.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from qstash_receiver.headers import Headers

from .delivery import DeadLetter
from .events import EventLog
from .groups import Groups, valid_name
from .proto import (
    Refused,
    RegionSetup,
    authorized,
    checked_url,
    publish_settings,
    url_or_name,
)
from .schedules import Schedule, ScheduleBook, schedule_id

__all__ = ["SERVED", "Desk", "Request", "dlq_entry", "route"]

SERVED = (
    "the qstash-receiver stand-in serves POST /v2/publish, /v2/schedules, /v2/queues, "
    "/v2/topics, GET /v2/dlq and GET /v2/events (QStash's logs)"
)


class Desk(Protocol):
    """What the routes need from the stand-in
    ([`DevServer`][qstash_receiver.cli.dev.server.DevServer] provides it)."""

    default_retries: int
    events: EventLog
    groups: Groups
    schedules: ScheduleBook

    @property
    def dead_letters(self) -> list[DeadLetter]: ...


class Request:
    """One API request to a region: method, path and query, headers, body, caller."""

    def __init__(
        self,
        setup: RegionSetup,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        caller_ip: str,
    ) -> None:
        parts = urlsplit(target)
        self.setup, self.method, self.target = setup, method, target
        self.path = parts.path.rstrip("/")
        self.query: dict[str, list[str]] = parse_qs(parts.query, keep_blank_values=True)
        self.headers, self.body, self.caller_ip = headers, body, caller_ip


Handler = Callable[[Desk, Request, Sequence[str]], object]
_routes: list[tuple[str, re.Pattern[str], Handler]] = []


def _route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _routes.append((method, re.compile(pattern), handler))
        return handler

    return register


def route(desk: Desk, request: Request) -> object:
    """The JSON answer to ``request`` (None: an empty 200), or Refused."""
    for method, pattern, handler in _routes:
        match = pattern.fullmatch(request.path)
        if match is not None and method == request.method:
            if not authorized(request.setup, request.headers):
                raise Refused(401, "Unauthorized")
            return handler(desk, request, match.groups())
    raise Refused(404, SERVED)


def _headers_json(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def _body_fields(prefix: str, body: bytes) -> dict[str, str]:
    # QStash's API: ``body`` when the bytes are UTF-8, else ``bodyBase64``.
    try:
        return {prefix: body.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{prefix}Base64": base64.b64encode(body).decode("ascii")}


def dlq_entry(dead: DeadLetter) -> dict[str, Any]:
    """A dead letter as QStash's ``GET /v2/dlq`` lists it (the fields the SDKs read)."""
    message, answer = dead.message, dead.answer
    settings = message.settings
    optional = {
        "topicName": message.url_group,
        "endpointName": message.endpoint_name,
        "scheduleId": message.schedule_id,
    }
    return {
        "dlqId": dead.dlq_id,
        "messageId": message.message_id,
        "url": message.destination,
        "method": settings.method,
        "header": _headers_json(settings.forwarded.items()),
        **_body_fields("body", message.body),
        "maxRetries": settings.retries,
        "notBefore": message.created_ms + int(settings.delay * 1000),
        "createdAt": message.created_ms,
        "callerIP": message.caller_ip,
        "responseStatus": answer.status if answer else 0,
        "responseHeader": _headers_json(answer.headers if answer else ()),
        **_body_fields("responseBody", answer.body if answer else b""),
        **{name: value for name, value in optional.items() if value is not None},
    }


def _dlq(desk: Desk, request: Request) -> list[dict[str, Any]]:
    region = request.setup
    return [dlq_entry(dead) for dead in desk.dead_letters if dead.message.region == region]


@_route("GET", r"/v2/dlq")
def _list_dlq(desk: Desk, request: Request, _: Sequence[str]) -> object:
    return {"messages": _dlq(desk, request)}


@_route("GET", r"/v2/dlq/([^/]+)")
def _get_dlq(desk: Desk, request: Request, found: Sequence[str]) -> object:
    for entry in _dlq(desk, request):
        if entry["dlqId"] == found[0]:
            return entry
    raise Refused(404, f"dlq message not found: {found[0][:100]}")


@_route("GET", r"/v2/(?:events|logs)")
def _events(desk: Desk, request: Request, _: Sequence[str]) -> object:
    return desk.events.page(request.setup.region, request.query)


@_route("POST", r"/v2/schedules/(.+)")
def _create_schedule(desk: Desk, request: Request, found: Sequence[str]) -> object:
    headers = request.headers
    cron = headers.get("Upstash-Cron")
    if not cron:
        raise Refused(400, "Upstash-Cron is required")
    if headers.get("Upstash-Queue-Name"):
        raise Refused(400, "the stand-in does not enqueue: a schedule cannot target a queue")
    # From the raw target: a destination URL keeps its own query string and trailing slash.
    destination = url_or_name(request.target.split("/v2/schedules/", 1)[1])
    if destination.startswith(("http://", "https://")):
        destination = checked_url(destination, "destination url")
    else:
        valid_name(destination, "URL group")
    schedule = Schedule(
        schedule_id(headers.get("Upstash-Schedule-Id")),
        request.setup,
        destination,
        cron,
        request.body,
        publish_settings(headers, desk.default_retries),
        request.caller_ip,
        int(time.time() * 1000),
    )
    return {"scheduleId": desk.schedules.upsert(schedule)}


@_route("GET", r"/v2/schedules")
def _list_schedules(desk: Desk, request: Request, _: Sequence[str]) -> object:
    return [schedule.entry() for schedule in desk.schedules.in_region(request.setup.region)]


@_route("GET", r"/v2/schedules/([^/]+)")
def _get_schedule(desk: Desk, request: Request, found: Sequence[str]) -> object:
    return desk.schedules.get(request.setup.region, found[0]).entry()


@_route("DELETE", r"/v2/schedules/([^/]+)")
def _delete_schedule(desk: Desk, request: Request, found: Sequence[str]) -> object:
    desk.schedules.delete(request.setup.region, found[0])
    return None


@_route("PATCH", r"/v2/schedules/([^/]+)/(pause|resume)")
def _pause_schedule(desk: Desk, request: Request, found: Sequence[str]) -> object:
    desk.schedules.set_paused(request.setup.region, found[0], found[1] == "pause")
    return None


@_route("POST", r"/v2/queues")
def _upsert_queue(desk: Desk, request: Request, _: Sequence[str]) -> object:
    desk.groups.upsert_queue(request.setup.region, request.body)
    return None


@_route("GET", r"/v2/queues")
def _list_queues(desk: Desk, request: Request, _: Sequence[str]) -> object:
    return [queue.entry() for queue in desk.groups.queues(request.setup.region)]


@_route("GET", r"/v2/queues/([^/]+)")
def _get_queue(desk: Desk, request: Request, found: Sequence[str]) -> object:
    return desk.groups.queue(request.setup.region, found[0]).entry()


@_route("DELETE", r"/v2/queues/([^/]+)")
def _delete_queue(desk: Desk, request: Request, found: Sequence[str]) -> object:
    desk.groups.queue(request.setup.region, found[0], delete=True)
    return None


@_route("POST", r"/v2/topics/([^/]+)/endpoints")
def _add_endpoints(desk: Desk, request: Request, found: Sequence[str]) -> object:
    desk.groups.add_endpoints(request.setup.region, found[0], request.body)
    return None


@_route("DELETE", r"/v2/topics/([^/]+)/endpoints")
def _remove_endpoints(desk: Desk, request: Request, found: Sequence[str]) -> object:
    desk.groups.remove_endpoints(request.setup.region, found[0], request.body)
    return None


@_route("GET", r"/v2/topics")
def _list_groups(desk: Desk, request: Request, _: Sequence[str]) -> object:
    return [group.entry() for group in desk.groups.groups(request.setup.region)]


@_route("GET", r"/v2/topics/([^/]+)")
def _get_group(desk: Desk, request: Request, found: Sequence[str]) -> object:
    return desk.groups.group(request.setup.region, found[0]).entry()


@_route("DELETE", r"/v2/topics/([^/]+)")
def _delete_group(desk: Desk, request: Request, found: Sequence[str]) -> object:
    desk.groups.group(request.setup.region, found[0], delete=True)
    return None
