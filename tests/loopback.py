"""HTTP servers that run in a thread of the test process, on a free loopback port.

Imported as a top-level module by tests in this folder (pytest puts tests/ on ``sys.path``).
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that reads requests whole and logs nothing (tests record instead)."""

    def read_request(self) -> tuple[dict[str, str], bytes]:
        """The request's headers (names lower-cased) and its body."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return {k.lower(): v for k, v in self.headers.items()}, body

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def in_thread(server: socketserver.TCPServer) -> Iterator[str]:
    """Serve ``server`` from a thread; yield ``http://127.0.0.1:<port>``; always shut it down."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
