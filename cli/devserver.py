"""A local two-region QStash stand-in for development and tests. It is not QStash.

One loopback HTTP server per region accepts ``POST /v2/publish/{destination}`` with that
region's token and delivers each message the way QStash does: signed with the region's current
key (``sub`` = destination), with ``Upstash-Region``, ``Upstash-Message-Id``, ``Upstash-Retried``
and the forwarded headers, retrying non-2xx answers with a short backoff. Needs httpx.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from qstash_receiver import env as E
from qstash_receiver.env import Region
from qstash_receiver.headers import Headers

from .devproto import (
    Message,
    PublishRefused,
    RegionSetup,
    delivery_headers,
    demo_regions,
    parse_duration,
    publish_settings,
    read_publish,
)

__all__ = ["Attempt", "DevServer", "RegionSetup", "demo_regions", "parse_duration"]

logger = logging.getLogger("qstash_receiver.dev")


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt and its outcome (``status`` is None when nothing answered)."""

    region: Region
    message_id: str
    destination: str
    method: str
    retried: int
    status: int | None
    response_body: bytes = field(repr=False)
    error: str | None
    final: bool

    @property
    def ok(self) -> bool:
        """True when the destination answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


class _RegionServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], setup: RegionSetup, owner: DevServer) -> None:
        super().__init__(address, _Handler)
        self.setup = setup
        self.owner = owner


class _Handler(BaseHTTPRequestHandler):
    server: _RegionServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.server.setup.region, format % args)

    def _answer(self, status: int, payload: Mapping[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        try:
            answer = self.server.owner._accept(self.server.setup, self)
        except PublishRefused as err:
            self._answer(err.status, {"error": err.error})
        else:
            self._answer(201, answer)

    def do_GET(self) -> None:
        self._answer(404, {"error": "the qstash-receiver stand-in only supports publishing"})

    do_PUT = do_PATCH = do_DELETE = do_GET


class DevServer:
    """Run both simulated regions on loopback; use as a context manager.

    Args:
        regions: the simulated regions (default: :func:`demo_regions`).
        host: the address to bind (loopback by default; it signs with known keys).
        ports: a port per region; 0 or missing picks a free one.
        default_retries: retries when the publish has no ``Upstash-Retries`` (QStash: 3).
        backoff: seconds before the first retry; doubles for each further retry.
        timeout: seconds to wait for the destination's answer.
        on_attempt: called with every :class:`Attempt` (from delivery threads).
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
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> None:
        self.regions = {setup.region: setup for setup in (regions or demo_regions())}
        self.host = host
        self._ports = dict(ports or {})
        self.default_retries = default_retries
        self.backoff = backoff
        self.timeout = timeout
        self._on_attempt = on_attempt
        self._servers: dict[Region, _RegionServer] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._attempts: list[Attempt] = []
        self._dedup: dict[tuple[Region, str], str] = {}
        self._client: httpx.Client | None = None

    def start(self) -> DevServer:
        """Bind one server per region and start serving in background threads."""
        self._client = httpx.Client(timeout=self.timeout)
        try:
            for region, setup in self.regions.items():
                address = (self.host, self._ports.get(region, 0))
                self._servers[region] = _RegionServer(address, setup, self)
        except OSError:
            self.stop()
            raise
        for server in self._servers.values():
            self._spawn(server.serve_forever, args=(0.1,))
        return self

    def stop(self) -> None:
        """Stop serving, cancel pending deliveries and wait for the threads to end."""
        self._stopping.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in list(self._threads):
            thread.join(timeout=self.timeout + 1)
        self._servers.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

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
        """Every delivery attempt so far, in order."""
        with self._changed:
            return list(self._attempts)

    def wait_for(self, message_id: str, timeout: float = 10.0) -> Attempt:
        """Block until the message's final attempt (success or retries used up).

        Raises:
            TimeoutError: it did not finish within ``timeout`` seconds.
        """
        with self._changed:
            found = self._changed.wait_for(
                lambda: [a for a in self._attempts if a.message_id == message_id and a.final],
                timeout,
            )
        if not found:
            raise TimeoutError(f"message {message_id} not delivered within {timeout} s")
        return found[0]

    def _spawn(self, target: Callable[..., object], args: tuple[object, ...] = ()) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, setup: RegionSetup, request: _Handler) -> dict[str, object]:
        headers = Headers(request.headers.items())
        destination, body = read_publish(setup, request.path, headers, request.rfile)
        method, delay, retries = publish_settings(headers, self.default_retries)
        dedup = headers.get("Upstash-Deduplication-Id")
        if (headers.get("Upstash-Content-Based-Deduplication") or "").lower() == "true":
            dedup = hashlib.sha256(destination.encode() + b"\0" + body).hexdigest()
        with self._changed:
            if dedup and (setup.region, dedup) in self._dedup:
                return {"messageId": self._dedup[(setup.region, dedup)], "deduplicated": True}
            message_id = f"msg_{secrets.token_hex(12)}"
            if dedup:
                self._dedup[(setup.region, dedup)] = message_id
        message = Message(
            setup,
            message_id,
            destination,
            method,
            body,
            headers,
            delay,
            retries,
            caller_ip=request.client_address[0],
        )
        self._spawn(self._deliver, args=(message,))
        return {"messageId": message_id}

    def _deliver(self, message: Message) -> None:
        if message.delay and self._stopping.wait(message.delay):
            return
        for retried in range(message.retries + 1):
            attempt = self._attempt(message, retried)
            self._record(attempt)
            if attempt.final or self._stopping.wait(self.backoff * 2**retried):
                return

    def _attempt(self, message: Message, retried: int) -> Attempt:
        status: int | None = None
        answer, error, give_up = b"", None, False
        assert self._client is not None
        try:
            response = self._client.request(
                message.method,
                message.destination,
                content=message.body,
                headers=delivery_headers(message, retried),
            )
            status, answer = response.status_code, response.content[:4096]
            # QStash's documented opt-out of retries.
            give_up = status == 489 and response.headers.get("Upstash-NonRetryable-Error") == "true"
        except httpx.HTTPError as err:
            error = type(err).__name__
        done = (status is not None and 200 <= status < 300) or give_up
        final = done or retried >= message.retries
        return Attempt(
            message.region.region,
            message.message_id,
            message.destination,
            message.method,
            retried,
            status,
            answer,
            error,
            final,
        )

    def _record(self, attempt: Attempt) -> None:
        with self._changed:
            self._attempts.append(attempt)
            self._changed.notify_all()
        outcome = attempt.status if attempt.status is not None else attempt.error
        logger.info(
            "%s %s -> %s %s (retried %d): %s%s",
            attempt.region,
            attempt.message_id,
            attempt.method,
            attempt.destination,
            attempt.retried,
            outcome,
            "" if attempt.final or attempt.ok else ", will retry",
        )
        if self._on_attempt is not None:
            self._on_attempt(attempt)
