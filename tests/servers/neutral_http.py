"""A ``BaseHTTPRequestHandler`` behind ``qstash_receiver.adapters.http_server.verify_qstash``.

``python tests/servers/neutral_http.py PORT`` serves it with the standard library's
``ThreadingHTTPServer``; ``... PORT vercel`` serves it the way Vercel's Python runtime serves an
``api/*.py`` file's ``handler`` class: a class of the runtime's own deriving from it, whose
request handling calls ``do_<METHOD>`` itself and flushes, on a ``ThreadingHTTPServer``.
``/qstash`` is verified, ``/once`` guarded too; ``read <id> <bytes>`` counts the body bytes the
adapter read from the connection
(and with its last read).
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from neutral_common import CHECKED, GUARD, SLOW, action, log, seen

from qstash_receiver.adapters.http_server import get_message, verify_qstash


class _CountingReader:
    """The connection's ``rfile``, counting the bytes read with ``read`` (the body's)."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.count, self.last = stream, 0, 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.count, self.last = self.count + len(data), len(data) or self.last
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class handler(BaseHTTPRequestHandler):  # the name Vercel's runtime looks for
    protocol_version = "HTTP/1.1"  # keep-alive: the next request on a connection works too

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.rfile = _CountingReader(self.rfile)  # type: ignore[assignment]

    def _handle(self) -> None:
        if not self.path.startswith(("/qstash", "/once")):
            self.send_error(404)
            return
        message = get_message(self)
        if action(message) == "slow":
            time.sleep(SLOW)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = seen(message, raw, get_message(self))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _route(self) -> None:
        reader = self.rfile
        try:
            if self.path.startswith("/once"):
                self._guarded()
            else:
                self._verified()
        finally:
            if isinstance(reader, _CountingReader):
                message_id = self.headers.get("Upstash-Message-Id", "-")
                log.info("read %s %d %d", message_id, reader.count, reader.last)
                reader.count = reader.last = 0

    @verify_qstash(**CHECKED)
    def _verified(self) -> None:
        self._handle()

    @verify_qstash(**GUARD)
    def _guarded(self) -> None:
        self._handle()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _route


class _VercelStyle(BaseHTTPRequestHandler):
    # As the runtime does: it parses the request itself and calls the method by name.
    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(501)
            return
        method()
        self.wfile.flush()


def main(argv: list[str]) -> None:
    port = int(argv[1])
    served: type[BaseHTTPRequestHandler] = handler
    if argv[2:] == ["vercel"]:
        served = type("Handler", (_VercelStyle, handler), {})
    server = ThreadingHTTPServer(("127.0.0.1", port), served)
    server.daemon_threads = True
    print(f"serving on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
