"""A local two-region QStash stand-in for development and tests. It is not QStash.

One loopback HTTP server per region accepts ``POST /v2/publish/{destination}`` with that
region's token, and lists that region's dead letters at ``GET /v2/dlq`` (and
``/v2/dlq/{dlqId}``) in the shape of QStash's API. Messages are delivered the way QStash does
(see :mod:`.delivery`): signed with the region's current key (``sub`` = destination), with
``Upstash-Region``, ``Upstash-Message-Id``, ``Upstash-Retried`` and the forwarded headers,
retried, dead-lettered, reported to callback URLs. Needs httpx.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any

from qstash_receiver import names as E
from qstash_receiver.headers import Headers
from qstash_receiver.names import Region

from .delivery import Attempt, AttemptHook, DeadLetter, Outbox, new_message_id
from .proto import (
    DELIVER_TWICE,
    Message,
    Refused,
    RegionSetup,
    authorized,
    demo_regions,
    parse_duration,
    publish_settings,
    read_publish,
)

__all__ = [
    "DELIVER_TWICE",
    "Attempt",
    "DeadLetter",
    "DevServer",
    "RegionSetup",
    "demo_regions",
    "parse_duration",
]

logger = logging.getLogger("qstash_receiver.dev")

_DLQ = "/v2/dlq"


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

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.server.setup.region, format % args)

    def _answer(self, status: int, payload: object, *, close: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:  # the request's body may be unread: it must not be taken for the next request
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        headers = Headers(self.headers.items())
        try:
            answer = self.server.desk.accept(
                self.server.setup, self.path, headers, self.rfile, self.client_address[0]
            )
        except Refused as err:
            self._answer(err.status, {"error": err.error}, close=True)
        else:
            self._answer(201, answer)

    def do_GET(self) -> None:
        headers = Headers(self.headers.items())
        try:
            answer = self.server.desk.dead_letter_api(self.server.setup, self.path, headers)
        except Refused as err:
            self._answer(err.status, {"error": err.error}, close=True)
        else:
            self._answer(200, answer)

    def _unsupported(self) -> None:
        error = "the qstash-receiver stand-in supports POST /v2/publish and GET /v2/dlq only"
        self._answer(404, {"error": error}, close=True)

    do_PUT = do_PATCH = do_DELETE = _unsupported


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
    }


class DevServer:
    """Run both simulated regions on loopback; use as a context manager.

    Args:
        regions: the simulated regions (default: :func:`demo_regions`).
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
        stop_grace: seconds :meth:`stop` waits for attempts already on the wire.
        on_attempt: called with every :class:`Attempt` (from a delivery thread).
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
    ) -> None:
        self.regions = {setup.region: setup for setup in (regions or demo_regions())}
        self.host = host
        self._ports = dict(ports or {})
        self.default_retries = default_retries
        self.deliver_twice = deliver_twice
        self.stop_grace = stop_grace
        self._outbox = Outbox(
            backoff=backoff,
            timeout=timeout,
            workers=workers,
            max_retry_after=max_retry_after,
            on_attempt=on_attempt,
        )
        self._servers: dict[Region, _RegionServer] = {}
        self._serving: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._dedup: dict[tuple[Region, str], str] = {}

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
        for server in self._servers.values():
            thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
            self._serving.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop pending deliveries; returns within about ``stop_grace`` s.

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

    def accept(
        self, setup: RegionSetup, path: str, headers: Headers, body: BufferedIOBase, caller_ip: str
    ) -> dict[str, object]:
        """Take one publish to ``setup``'s region; the JSON answer (``messageId``).

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
        with self._lock:
            if dedup and (setup.region, dedup) in self._dedup:
                return {"messageId": self._dedup[(setup.region, dedup)], "deduplicated": True}
            message_id = new_message_id()
            if dedup:
                self._dedup[(setup.region, dedup)] = message_id
        message = Message(
            setup, message_id, destination, raw, settings, caller_ip, int(time.time() * 1000)
        )
        if not self._outbox.submit(message):
            raise Refused(503, "the stand-in is stopping")
        return {"messageId": message_id}

    def dead_letter_api(self, setup: RegionSetup, path: str, headers: Headers) -> object:
        """The answer to ``GET /v2/dlq`` or ``GET /v2/dlq/{dlqId}`` for ``setup``'s region.

        Raises:
            Refused: wrong path or token, or no such dead letter.
        """
        route = path.split("?", 1)[0].rstrip("/")
        if route != _DLQ and not route.startswith(f"{_DLQ}/"):
            raise Refused(404, "only GET /v2/dlq and GET /v2/dlq/{dlqId} are supported")
        if not authorized(setup, headers):
            raise Refused(401, "Unauthorized")
        entries = [dlq_entry(dead) for dead in self.dead_letters if dead.message.region == setup]
        if route == _DLQ:
            return {"messages": entries}
        wanted = route[len(_DLQ) + 1 :]
        for entry in entries:
            if entry["dlqId"] == wanted:
                return entry
        raise Refused(404, f"dlq message not found: {wanted}")
