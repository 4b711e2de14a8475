"""A loopback stand-in for the two QStash API calls upstash-workflow makes after verifying.

The project's stand-in (``qstash_receiver.cli.dev.server.DevServer``) speaks QStash's publish
and DLQ API only; a workflow endpoint, once a request is verified, also calls ``POST
/v2/batch`` (to start a run, or to hand QStash a step's result) and ``DELETE
/v2/workflows/runs/{id}`` (when the run ends). This server answers those two as QStash does
(the first with one message id per message, the second with an empty 200) and records every
call, so a test or the demo can see what the SDK did after a request it accepted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ApiCall", "WorkflowApi", "workflow_api"]


@dataclass(frozen=True)
class ApiCall:
    """One call the workflow SDK made: ``("POST", "/v2/batch", [...messages])``."""

    method: str
    path: str
    body: Any  # the JSON it sent, or None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[ApiCall] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: object) -> None:
        pass

    def _handle(self) -> None:
        # One request per connection: a client that is never closed (the SDK's have no close())
        # then holds no open socket.
        self.close_connection = True
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            self.server.calls.append(ApiCall(self.command, path, body))
            number = len(self.server.calls)
        if (self.command, path) == ("POST", "/v2/batch") and isinstance(body, list):
            answer = json.dumps([{"messageId": f"msg_wf{number}_{i}"} for i in range(len(body))])
        elif self.command == "DELETE" and path.startswith("/v2/workflows/runs/"):
            answer = ""
        else:
            self.send_response(404)
            self.send_header("Connection", "close")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = answer.encode()
        self.send_response(200)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_DELETE = _handle


class WorkflowApi:
    """The running stand-in: its base URL and the calls it has seen."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    @property
    def calls(self) -> list[ApiCall]:
        """Every call so far, in order."""
        with self._server.lock:
            return list(self._server.calls)

    def clear(self) -> None:
        """Forget the calls seen so far."""
        with self._server.lock:
            self._server.calls.clear()


@contextmanager
def workflow_api() -> Iterator[WorkflowApi]:
    """Serve the stand-in on a free loopback port for the ``with`` block."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield WorkflowApi(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
