"""A local two-region QStash stand-in for development and tests. It is not QStash.

One loopback HTTP server per region accepts ``POST /v2/publish/{destination}`` (a URL, or a
URL group's name) with that region's token, and serves that region's schedules, queues, URL
groups, dead letters and logs in the shape of QStash's API (see `.api`). Messages are
delivered the way QStash does (see `.delivery`): signed with the region's current key
(``sub`` = destination), with ``Upstash-Region``, ``Upstash-Message-Id``, ``Upstash-Retried``
and the forwarded headers, retried, dead-lettered, reported to callback URLs. Needs httpx and
cronsim (the ``cli`` extra).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase

from qstash_receiver import names as E
from qstash_receiver.headers import Headers
from qstash_receiver.names import Region

from .api import Request, route
from .delivery import Attempt, AttemptHook, DeadLetter, Outbox, new_message_id
from .events import EventLog
from .groups import Groups
from .proto import (
    DELIVER_TWICE,
    Message,
    Refused,
    RegionSetup,
    Settings,
    checked_url,
    demo_regions,
    parse_duration,
    publish_settings,
    read_body,
    read_publish,
)
from .schedules import Schedule, ScheduleBook

__all__ = [
    "DELIVER_TWICE",
    "Attempt",
    "DeadLetter",
    "DevServer",
    "RegionSetup",
    "Schedule",
    "demo_regions",
    "parse_duration",
]

logger = logging.getLogger("qstash_receiver.dev")

_PUBLISH = "/v2/publish/"
_NOT_A_DESTINATION = (
    "invalid destination url: must start with http:// or https://, or name a URL group of "
    "this region"
)


class _RegionServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for clients' idle keep-alive connections
    request_queue_size = 1024  # socketserver's 5 reset most of a burst of 300 publishes

    def __init__(self, address: tuple[str, int], setup: RegionSetup, desk: DevServer) -> None:
        super().__init__(address, _Handler)
        self.setup = setup
        self.desk = desk


class _Handler(BaseHTTPRequestHandler):
    server: _RegionServer
    protocol_version = "HTTP/1.1"
    timeout = 60.0  # the thread of an idle keep-alive connection ends
    # Buffered: an answer leaves in one write (handle_one_request flushes it). Headers and body
    # written apart meet the client's delayed ACK: about 40 ms per keep-alive request.
    wbufsize = -1

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.server.setup.region, format % args)

    def _answer(self, status: int, payload: object, *, close: bool = False) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:  # the request's body may be unread: it must not be taken for the next request
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _serve(self) -> None:
        headers = Headers(self.headers.items())
        setup, desk, caller = self.server.setup, self.server.desk, self.client_address[0]
        try:
            if self.command == "POST" and self.path.startswith(_PUBLISH):
                answer = desk.accept(setup, self.path, headers, self.rfile, caller)
                self._answer(201, answer)
                return
            body = read_body(headers, self.rfile)
            request = Request(setup, self.command, self.path, headers, body, caller)
            answer = route(desk, request)
        except Refused as err:
            self._answer(err.status, {"error": err.error}, close=True)
        else:
            self._answer(200, answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class DevServer:
    """Run both simulated regions on loopback; use as a context manager.

    Args:
        regions: the simulated regions (default:
            [`demo_regions()`][qstash_receiver.cli.dev.server.demo_regions]).
        host: the address to bind (loopback by default; it signs with known keys).
        ports: a port per region; 0 or missing picks a free one.
        default_retries: retries when a publish has no ``Upstash-Retries`` (QStash: 3).
        backoff: seconds before the first retry; doubles for each further retry.
        timeout: seconds to wait for a destination's answer.
        workers: delivery threads (deliveries wait in one queue, not in threads of their own).
        max_retry_after: the longest ``Retry-After`` honoured, in seconds (longer ones are
            cut to it; QStash honours up to a day).
        deliver_twice: deliver every message a second time after it succeeded, as QStash's
            at-least-once delivery may (dev only; per message: ``X-Dev-Deliver-Twice: true``).
        stop_grace: seconds [`stop()`][qstash_receiver.cli.dev.server.DevServer.stop] waits for
            attempts already on the wire.
        on_attempt: called with every [`Attempt`][qstash_receiver.cli.dev.server.Attempt] (from a
            delivery thread).
        clock: the wall clock schedules' crons are read against (Unix seconds; tests move it
            close to a minute's end instead of waiting for it).
    """

    def __init__(
        self,
        regions: Iterable[RegionSetup] | None = None,
        *,
        host: str = "127.0.0.1",
        ports: Mapping[Region, int] | None = None,
        default_retries: int = 3,
        backoff: float = 0.2,
        timeout: float = 10.0,
        workers: int = 8,
        max_retry_after: float = 60.0,
        deliver_twice: bool = False,
        stop_grace: float = 1.0,
        on_attempt: AttemptHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.regions = {setup.region: setup for setup in (regions or demo_regions())}
        self.host = host
        self._ports = dict(ports or {})
        self.default_retries = default_retries
        self.deliver_twice = deliver_twice
        self.stop_grace = stop_grace
        self.events = EventLog()
        self.groups = Groups()
        self.schedules = ScheduleBook(self._fire, clock)
        self._outbox = Outbox(
            backoff=backoff,
            timeout=timeout,
            workers=workers,
            max_retry_after=max_retry_after,
            on_attempt=on_attempt,
            events=self.events,
        )
        self._servers: dict[Region, _RegionServer] = {}
        self._serving: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._dedup: dict[tuple[Region, str], object] = {}

    def start(self) -> DevServer:
        """Bind one server per region and start serving and delivering in background threads."""
        try:
            for region, setup in self.regions.items():
                address = (self.host, self._ports.get(region, 0))
                self._servers[region] = _RegionServer(address, setup, self)
        except OSError:
            self.stop()
            raise
        self._outbox.start()
        self.schedules.start()
        for server in self._servers.values():
            thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
            self._serving.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, firing schedules and delivering; returns within about ``stop_grace`` s.

        An attempt already waiting for a destination's answer then finishes in the background
        (within ``timeout``) and is not recorded.
        """
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._serving:
            thread.join()
        self._servers.clear()
        self._serving.clear()
        self.schedules.stop()
        self._outbox.stop(self.stop_grace)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def url(self, region: Region) -> str:
        """The base URL of a running region (``http://127.0.0.1:PORT``)."""
        host, port = self._servers[region].server_address[:2]
        return f"http://{host!s}:{port}"

    def env(self, primary: Region = "US_EAST_1") -> dict[str, str]:
        """The migration-mode environment pointing at this stand-in (real demo values)."""
        values: dict[str, str] = {E.QSTASH_REGION: primary}
        for region, setup in self.regions.items():
            values[E.regional(region, E.QSTASH_URL)] = self.url(region)
            values[E.regional(region, E.QSTASH_TOKEN)] = setup.token
            values[E.regional(region, E.QSTASH_CURRENT_SIGNING_KEY)] = setup.current_key
            values[E.regional(region, E.QSTASH_NEXT_SIGNING_KEY)] = setup.next_key
        return values

    @property
    def attempts(self) -> list[Attempt]:
        """The delivery attempts so far (the latest 10,000), in order."""
        return self._outbox.attempts

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """The dead-lettered messages of both regions, in order."""
        return self._outbox.dead_letters

    def wait_for(self, message_id: str, timeout: float = 10.0) -> Attempt:
        """Block until the message's final attempt (success, or dead-lettered).

        Raises:
            TimeoutError: it did not finish within ``timeout`` seconds.
        """
        return self._outbox.wait_for(message_id, timeout)

    def fire_schedule(self, region: Region, schedule_id: str) -> list[str]:
        """Fire a schedule now, as its cron would (dev only); the ids of the messages it made.

        Raises:
            Refused: the region has no such schedule (404).
        """
        return self.schedules.fire_now(region, schedule_id)

    def accept(
        self, setup: RegionSetup, path: str, headers: Headers, body: BufferedIOBase, caller_ip: str
    ) -> object:
        """Take one publish to ``setup``'s region; the JSON answer (``messageId``, or one
        ``{"messageId", "url"}`` per endpoint of a URL group).

        Raises:
            Refused: the publish is invalid (answered with its status).
        """
        destination, raw = read_publish(setup, path, headers, body)
        settings = publish_settings(headers, self.default_retries)
        if self.deliver_twice:
            settings = replace(settings, deliver_twice=True)
        dedup = headers.get(E.DEDUPLICATION_ID_HEADER)
        if (headers.get(E.CONTENT_BASED_DEDUPLICATION_HEADER) or "").lower() == "true":
            dedup = hashlib.sha256(destination.encode() + b"\0" + raw).hexdigest()
        now = int(time.time() * 1000)
        with self._lock:
            if dedup and (setup.region, dedup) in self._dedup:
                return _deduplicated(self._dedup[(setup.region, dedup)])
            messages = self._messages(setup, destination, raw, settings, caller_ip, now)
            answer: object = [{"messageId": m.message_id, "url": m.destination} for m in messages]
            if destination.startswith(("http://", "https://")):
                answer = {"messageId": messages[0].message_id}
            if dedup:
                self._dedup[(setup.region, dedup)] = answer
        if not all([self._outbox.submit(message) for message in messages]):
            raise Refused(503, "the stand-in is stopping")
        return answer

    def _messages(
        self,
        setup: RegionSetup,
        destination: str,
        raw: bytes,
        settings: Settings,
        caller_ip: str,
        now: int,
        schedule_id: str | None = None,
    ) -> list[Message]:
        """One message to a URL, or one per endpoint of the URL group ``destination`` names."""
        if destination.startswith(("http://", "https://")):
            url = checked_url(destination, "destination url")
            return [Message(setup, new_message_id(), url, raw, settings, caller_ip, now,
                            schedule_id=schedule_id)]  # fmt: skip
        group = self.groups.find_group(setup.region, destination)
        if group is None:
            raise Refused(400, _NOT_A_DESTINATION)
        return [
            Message(setup, new_message_id(), endpoint.url, raw, settings, caller_ip, now,
                    schedule_id=schedule_id, url_group=group.name, endpoint_name=endpoint.name)
            for endpoint in group.endpoints
        ]  # fmt: skip

    def _fire(self, schedule: Schedule) -> list[str]:
        """Publish what a schedule makes when it fires; the message ids."""
        try:
            messages = self._messages(
                schedule.region, schedule.destination, schedule.body, schedule.settings,
                schedule.caller_ip, int(time.time() * 1000), schedule.schedule_id,
            )  # fmt: skip
        except Refused as err:  # e.g. its URL group was deleted
            logger.warning("schedule %s fired nothing: %s", schedule.schedule_id, err.error)
            return []
        return [m.message_id for m in messages if self._outbox.submit(m)]


def _deduplicated(answer: object) -> object:
    if isinstance(answer, dict):
        return {**answer, "deduplicated": True}
    if isinstance(answer, list):
        return [{**entry, "deduplicated": True} for entry in answer]
    return answer
