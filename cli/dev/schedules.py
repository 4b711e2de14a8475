"""Schedules in the stand-in: created, listed, read, paused, resumed and deleted through the
official SDKs' calls, and fired on their cron.

A schedule is created with ``POST /v2/schedules/{destination}`` (a URL or a URL group's name)
and ``Upstash-Cron``, five fields, optionally after ``CRON_TZ=<IANA zone>`` as QStash takes it;
``Upstash-Schedule-Id`` updates an existing schedule. The other publish headers (method, delay,
retries, forwarded headers, callbacks) apply to every message it makes. Cron expressions are
evaluated by ``cronsim`` (Healthchecks.io's cron library); each firing publishes one message
(one per endpoint for a URL group) carrying ``Upstash-Schedule-Id``.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qstash_receiver.integration import missing_extra

try:
    from cronsim import CronSim, CronSimError
except ModuleNotFoundError as error:  # the stand-in imports this module
    raise missing_extra(error, "cli") from None

from qstash_receiver.names import Region

from .proto import Refused, RegionSetup, Settings
from .queue import Scheduler

__all__ = ["Schedule", "ScheduleBook", "new_schedule_id", "next_fire", "schedule_id"]

_TZ = re.compile(r"CRON_TZ=(\S+)\s+(.*)", re.DOTALL)
_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def next_fire(cron: str, after: float) -> float:
    """The first time (Unix seconds) strictly after ``after`` that ``cron`` names.

    Raises:
        Refused: not a five-field cron expression, or an unknown ``CRON_TZ`` zone (400).
    """
    zone: Any = timezone.utc
    expression = cron.strip()
    if (match := _TZ.fullmatch(expression)) is not None:
        try:
            zone = ZoneInfo(match.group(1))
        except (ZoneInfoNotFoundError, ValueError):
            raise Refused(400, "invalid Upstash-Cron: unknown CRON_TZ time zone") from None
        expression = match.group(2).strip()
    if len(expression.split()) != 5:
        raise Refused(400, "invalid Upstash-Cron: use five fields (minute hour day month weekday)")
    try:
        upcoming = next(CronSim(expression, datetime.fromtimestamp(after, zone)))
    except (CronSimError, StopIteration, ValueError):
        raise Refused(400, "invalid Upstash-Cron expression") from None
    return upcoming.timestamp()


@dataclass(frozen=True)
class Schedule:
    """One schedule of one region: what it publishes, and when."""

    schedule_id: str
    region: RegionSetup
    destination: str
    cron: str
    body: bytes = field(repr=False)
    settings: Settings
    caller_ip: str
    created_ms: int
    paused: bool = False
    last_ms: int | None = None
    next_ms: int | None = None

    def entry(self) -> dict[str, Any]:
        """The schedule as ``GET /v2/schedules`` lists it (the fields the SDKs read)."""
        settings = self.settings
        try:
            body: dict[str, str] = {"body": self.body.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"bodyBase64": base64.b64encode(self.body).decode("ascii")}
        fields: dict[str, Any] = {
            "scheduleId": self.schedule_id,
            "cron": self.cron,
            "createdAt": self.created_ms,
            "destination": self.destination,
            "method": settings.method,
            "header": {name: [value] for name, value in settings.forwarded.items()},
            **body,
            "retries": settings.retries,
            "delay": int(settings.delay),
            "callerIP": self.caller_ip,
            "isPaused": self.paused,
        }
        optional = {
            "callback": settings.callback.url if settings.callback else None,
            "failureCallback": settings.failure_callback.url if settings.failure_callback else None,
            "lastScheduleTime": self.last_ms,
            "nextScheduleTime": self.next_ms,
        }
        return fields | {name: value for name, value in optional.items() if value is not None}


Fire = Callable[[Schedule], list[str]]  # publishes; the message ids


class ScheduleBook:
    """Both regions' schedules, each armed on a timer until deleted; thread-safe.

    Args:
        fire: publishes what a schedule makes (called on the book's own timer thread).
        clock: the wall clock the crons are read against (Unix seconds; tests shift it).
    """

    def __init__(self, fire: Fire, clock: Callable[[], float] = time.time) -> None:
        self._fire = fire
        self._clock = clock
        self._timer = Scheduler(1)
        self._lock = threading.Lock()
        self._schedules: dict[tuple[Region, str], Schedule] = {}
        self._armed: dict[tuple[Region, str], int] = {}  # the generation a timer may fire
        self._generations = itertools.count()

    def start(self) -> None:
        """Start the timer thread."""
        self._timer.start()

    def stop(self) -> None:
        """Stop firing; pending firings are dropped."""
        self._timer.stop(0.5)

    def upsert(self, schedule: Schedule) -> str:
        """Add ``schedule`` or replace the one with its id (keeping its creation time)."""
        next_fire(schedule.cron, self._clock())  # Refused before anything is stored
        key = (schedule.region.region, schedule.schedule_id)
        with self._lock:
            old = self._schedules.get(key)
            if old is not None:
                schedule = replace(schedule, created_ms=old.created_ms, last_ms=old.last_ms)
            self._schedules[key] = schedule
            self._arm(key)
        return schedule.schedule_id

    def in_region(self, region: Region) -> list[Schedule]:
        """The region's schedules, oldest first."""
        with self._lock:
            found = [s for (r, _), s in self._schedules.items() if r == region]
        return sorted(found, key=lambda s: (s.created_ms, s.schedule_id))

    def get(self, region: Region, schedule_id: str) -> Schedule:
        """One schedule, or Refused (404)."""
        with self._lock:
            found = self._schedules.get((region, schedule_id))
        if found is None:
            raise Refused(404, f"schedule not found: {schedule_id[:100]}")
        return found

    def delete(self, region: Region, schedule_id: str) -> None:
        """Remove a schedule: it fires no more (a message it made is still delivered)."""
        with self._lock:
            if self._schedules.pop((region, schedule_id), None) is None:
                raise Refused(404, f"schedule not found: {schedule_id[:100]}")
            self._armed.pop((region, schedule_id), None)

    def set_paused(self, region: Region, schedule_id: str, paused: bool) -> None:
        """Pause (no firings) or resume a schedule, or Refused (404)."""
        key = (region, schedule_id)
        with self._lock:
            found = self._schedules.get(key)
            if found is None:
                raise Refused(404, f"schedule not found: {schedule_id[:100]}")
            self._schedules[key] = replace(found, paused=paused)
            self._arm(key)

    def fire_now(self, region: Region, schedule_id: str) -> list[str]:
        """Fire a schedule at once, as its cron would (dev and tests: no minute to wait);
        the ids of the messages it made (none while paused), or Refused (404)."""
        self.get(region, schedule_id)
        return self._fire_and_rearm((region, schedule_id), None)

    def _arm(self, key: tuple[Region, str]) -> None:
        # Under the lock. A new generation: a timer armed earlier for this key fires nothing.
        schedule = self._schedules[key]
        due = next_fire(schedule.cron, self._clock())
        generation = self._armed[key] = next(self._generations)
        self._schedules[key] = replace(schedule, next_ms=int(due * 1000))
        wait = max(0.0, due - self._clock())

        def job() -> None:
            self._fire_and_rearm(key, generation)

        self._timer.at(wait, job)

    def _fire_and_rearm(self, key: tuple[Region, str], generation: int | None) -> list[str]:
        with self._lock:
            schedule = self._schedules.get(key)
            if schedule is None or (generation is not None and self._armed.get(key) != generation):
                return []
            if generation is not None and self._clock() * 1000 < (schedule.next_ms or 0):
                self._arm(key)  # the timer ran early against a shifted clock: wait again
                return []
            fired = replace(schedule, last_ms=int(self._clock() * 1000))
            self._schedules[key] = fired
            if generation is not None:
                self._arm(key)
        return [] if schedule.paused else self._fire(fired)


def new_schedule_id() -> str:
    """A schedule id in QStash's shape (``scd_`` and random characters)."""
    return f"scd_{secrets.token_hex(12)}"


def schedule_id(wanted: str | None) -> str:
    """The id a create asks for (``Upstash-Schedule-Id``), or a new one; Refused if invalid."""
    if wanted is None:
        return new_schedule_id()
    if not _ID.fullmatch(wanted):
        raise Refused(400, "invalid Upstash-Schedule-Id: letters, digits, '_', '.' and '-'")
    return wanted
