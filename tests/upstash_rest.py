"""A local server speaking Upstash Redis's REST protocol, in front of a real redis-server.

What ``upstash_redis`` (sync and asyncio) sends, as read from its source: ``POST /`` with a
JSON array (one command: ``["SET", "k", "v", "NX"]``), ``POST /pipeline`` with an array of
such arrays, ``Authorization: Bearer <token>``, and
``Upstash-Encoding: base64`` asking for every string in a result base64-encoded (``"OK"``
excepted). Answers are ``{"result": ...}`` or ``{"error": "..."}`` (HTTP 400); a pipeline gets
an array of them. Each command is forwarded as it is to Redis, so its semantics (``SET NX``,
expiries, Lua) are Redis's own.

Not covered (the docs say so): transactions (``/multi-exec``; the guard uses Lua scripts
instead), Upstash's own limits and errors (request size, rate and
command quotas), read-your-writes sync tokens (accepted, not enforced), global replication,
the REST API's Redis-version differences and network latency. Imported as a top-level
module by tests here.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from qstash_demo.services import free_port

TOKEN = "local-upstash-token"


def _encode(value: Any, base64_strings: bool) -> Any:
    if isinstance(value, list):
        return [_encode(item, base64_strings) for item in value]
    if isinstance(value, bytes):
        if value == b"OK" or not base64_strings:
            return value.decode("utf-8", "replace")
        return base64.b64encode(value).decode("ascii")
    return value  # int or None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _run(self, command: list[Any], base64_strings: bool) -> dict[str, Any]:
        connection = self.server.pool.get_connection()
        try:
            connection.send_command(*[str(part) for part in command])  # type: ignore[no-untyped-call]
            reply = connection.read_response()
        except redis.ResponseError as error:
            return {"error": str(error)}
        finally:
            self.server.pool.release(connection)
        return {"result": _encode(reply, base64_strings)}

    def do_POST(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"error": "Unauthorized"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        encoded = self.headers.get("Upstash-Encoding") == "base64"
        path = self.path.rstrip("/")
        if path == "":
            answer = self._run(body, encoded)
            return self._answer(400 if "error" in answer else 200, answer)
        if path == "/pipeline":
            return self._answer(200, [self._run(command, encoded) for command in body])
        return self._answer(404, {"error": "not found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the contract sends 50 claims at once

    def __init__(self, port: int, redis_url: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.pool = redis.ConnectionPool.from_url(redis_url)


@contextmanager
def upstash_rest(redis_url: str) -> Iterator[str]:
    """The local REST server in front of ``redis_url``; yields its URL (token :data:`TOKEN`)."""
    server = _Server(free_port(), redis_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        server.pool.disconnect()
