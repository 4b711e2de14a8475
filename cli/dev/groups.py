"""Queues and URL groups in the stand-in, per region, in the shapes of QStash's API.

Queues: ``POST /v2/queues`` (``{"queueName", "parallelism", "paused"}``) upserts one; ``GET
/v2/queues`` and ``/v2/queues/{name}`` read them; ``DELETE`` removes one. The stand-in does not
enqueue (``/v2/enqueue`` is not served), so a queue's ``lag`` is always 0. URL groups: ``POST
/v2/topics/{name}/endpoints`` (``{"endpoints": [{"url", "name"}]}``) creates the group or adds
endpoints, ``DELETE`` on the same path removes endpoints (an emptied group is removed, as QStash
does); ``GET /v2/topics`` and ``/v2/topics/{name}`` read them; ``DELETE /v2/topics/{name}``
removes one. A publish to a group's name delivers to every endpoint (see the server).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from qstash_receiver.names import Region

from .proto import Refused, checked_url

__all__ = ["Endpoint", "Groups", "Queue", "UrlGroup", "valid_name"]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def valid_name(name: str, what: str) -> str:
    """``name`` when it can name a queue or URL group (letters, digits, ``_.-``), else Refused."""
    if not _NAME.fullmatch(name):
        raise Refused(400, f"invalid {what} name: use letters, digits, '_', '.' and '-'")
    return name


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Queue:
    """A queue: its name and settings (it never holds messages here)."""

    name: str
    parallelism: int
    paused: bool
    created_ms: int
    updated_ms: int

    def entry(self) -> dict[str, Any]:
        """As ``GET /v2/queues`` lists it."""
        return {
            "name": self.name,
            "parallelism": self.parallelism,
            "paused": self.paused,
            "lag": 0,
            "createdAt": self.created_ms,
            "updatedAt": self.updated_ms,
        }


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of a URL group."""

    url: str
    name: str | None = None


@dataclass(frozen=True)
class UrlGroup:
    """A URL group (QStash's "topic"): a name and the endpoints a publish fans out to."""

    name: str
    created_ms: int
    updated_ms: int
    endpoints: tuple[Endpoint, ...] = field(default=())

    def entry(self) -> dict[str, Any]:
        """As ``GET /v2/topics`` lists it."""
        endpoints = [{"url": e.url, **({"name": e.name} if e.name else {})} for e in self.endpoints]
        return {
            "name": self.name,
            "createdAt": self.created_ms,
            "updatedAt": self.updated_ms,
            "endpoints": endpoints,
        }


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise Refused(400, "the body must be JSON") from None


def _endpoints(body: bytes) -> list[Endpoint]:
    payload = _json(body)
    items = payload.get("endpoints") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise Refused(400, 'the body must be {"endpoints": [{"url": ..., "name": ...}]}')
    found: list[Endpoint] = []
    for item in items:
        url, name = (item.get("url"), item.get("name")) if isinstance(item, dict) else (None, None)
        if not isinstance(url, (str, type(None))) or not isinstance(name, (str, type(None))):
            raise Refused(400, "an endpoint's url and name must be strings")
        if url is None and name is None:
            raise Refused(400, "an endpoint needs a url or a name")
        found.append(Endpoint(checked_url(url, "endpoint url") if url else "", name))
    return found


class Groups:
    """Both regions' queues and URL groups; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[tuple[Region, str], Queue] = {}
        self._groups: dict[tuple[Region, str], UrlGroup] = {}

    def upsert_queue(self, region: Region, body: bytes) -> None:
        """``POST /v2/queues``: create the queue or change its settings."""
        payload = _json(body)
        name = payload.get("queueName") if isinstance(payload, dict) else None
        if not isinstance(name, str):
            raise Refused(400, 'the body must be {"queueName": ..., "parallelism": ...}')
        parallelism, paused = payload.get("parallelism", 1), payload.get("paused", False)
        if not isinstance(parallelism, int) or parallelism < 1 or not isinstance(paused, bool):
            raise Refused(400, "parallelism must be a positive number and paused a boolean")
        key, now = (region, valid_name(name, "queue")), _now_ms()
        with self._lock:
            created = old.created_ms if (old := self._queues.get(key)) else now
            self._queues[key] = Queue(name, parallelism, paused, created, now)

    def queues(self, region: Region) -> list[Queue]:
        """The region's queues, by name."""
        with self._lock:
            return sorted((q for (r, _), q in self._queues.items() if r == region),
                          key=lambda q: q.name)  # fmt: skip

    def queue(self, region: Region, name: str, *, delete: bool = False) -> Queue:
        """One queue (removed with ``delete``), or Refused (404)."""
        with self._lock:
            found = (self._queues.pop if delete else self._queues.get)((region, name), None)
        if found is None:
            raise Refused(404, f"queue not found: {name[:100]}")
        return found

    def add_endpoints(self, region: Region, name: str, body: bytes) -> None:
        """``POST /v2/topics/{name}/endpoints``: create the group or add endpoints to it."""
        added = _endpoints(body)
        if any(not endpoint.url for endpoint in added):
            raise Refused(400, "an endpoint to add needs a url")
        key, now = (region, valid_name(name, "URL group")), _now_ms()
        with self._lock:
            group = self._groups.get(key) or UrlGroup(name, now, now)
            kept = [e for e in group.endpoints if e.url not in {a.url for a in added}]
            self._groups[key] = replace(group, updated_ms=now, endpoints=(*kept, *added))

    def remove_endpoints(self, region: Region, name: str, body: bytes) -> None:
        """``DELETE /v2/topics/{name}/endpoints``: remove endpoints by URL or name."""
        removed = _endpoints(body)
        with self._lock:
            group = self._groups.get((region, name))
            if group is None:
                raise Refused(404, f"URL group not found: {name[:100]}")
            kept = tuple(
                e for e in group.endpoints
                if not any((r.url and r.url == e.url) or (r.name and r.name == e.name)
                           for r in removed)
            )  # fmt: skip
            if kept:
                self._groups[(region, name)] = replace(group, updated_ms=_now_ms(), endpoints=kept)
            else:
                del self._groups[(region, name)]

    def groups(self, region: Region) -> list[UrlGroup]:
        """The region's URL groups, by name."""
        with self._lock:
            return sorted((g for (r, _), g in self._groups.items() if r == region),
                          key=lambda g: g.name)  # fmt: skip

    def group(self, region: Region, name: str, *, delete: bool = False) -> UrlGroup:
        """One URL group (removed with ``delete``), or Refused (404)."""
        with self._lock:
            found = (self._groups.pop if delete else self._groups.get)((region, name), None)
        if found is None:
            raise Refused(404, f"URL group not found: {name[:100]}")
        return found

    def find_group(self, region: Region, name: str) -> UrlGroup | None:
        """The URL group a publish or schedule names, if the region has it."""
        with self._lock:
            return self._groups.get((region, name))
