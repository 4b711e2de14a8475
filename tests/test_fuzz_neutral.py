"""Fuzzing the framework-neutral adapters: the WSGI and ASGI middlewares and the http.server
decorator, each driven as its server drives it (a WSGI environ, an ASGI scope and messages, a
raw HTTP request on the handler's ``rfile``).

The deliveries of tests/fuzzing.py (signed, then 0 to 3 mutations of token, body and headers);
``QSTASH_FUZZ_CASES`` sets the count (default 2,000; the big run is 100,000). No false accept,
no exception escaping: every request reaches the handler with exactly a signed delivery, or is
answered 401/413.
"""

from __future__ import annotations

import asyncio
import io
from http.server import BaseHTTPRequestHandler
from typing import Any

from fuzzing import (
    CASES,
    RECEIVER,
    Registry,
    Seen,
    Tally,
    assert_clean,
    delivery,
    judge,
    rng_for,
    seen_as_json,
    seen_from_json,
)

from qstash_receiver.adapters import asgi, http_server, wsgi

METHODS = ["POST", "POST", "POST", "PUT", "GET", "DELETE", "PATCH"]
OPTIONS: Any = {"receiver": RECEIVER, "max_body_bytes": 2048}


def _answer(status: int, body: bytes) -> tuple[int, Seen | None]:
    if status == 200:
        return 200, seen_from_json(body)
    assert status in (401, 413), (status, body[:200])
    return status, None


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [seen_as_json(wsgi.get_message(environ)).encode()]


def test_fuzz_wsgi_middleware() -> None:
    app = wsgi.QStashMiddleware(_wsgi_app, **OPTIONS)
    rng, registry, tally = rng_for("wsgi"), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry, on_the_wire=True)

        def run(made: Any = made, method: str = rng.choice(METHODS)) -> tuple[int, Seen | None]:
            environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": "/qstash"}
            environ["wsgi.input"] = io.BytesIO(made.body)
            environ["CONTENT_LENGTH"] = str(len(made.body))
            for name, value in made.headers:  # as servers do: repeats joined with ", "
                key = "HTTP_" + name.upper().replace("-", "_")
                environ[key] = f"{environ[key]}, {value}" if key in environ else value
            started: list[str] = []
            body = b"".join(app(environ, lambda status, *_: started.append(status)))
            return _answer(int(started[-1][:3]), body)

        judge(tally, registry, made, run)
    assert_clean(tally, "WSGI QStashMiddleware", CASES)


def test_fuzz_asgi_middleware() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send(
            {"type": "http.response.body", "body": seen_as_json(asgi.get_message(scope)).encode()}
        )

    app = asgi.QStashMiddleware(inner, **OPTIONS)
    rng, registry, tally = rng_for("asgi"), Registry(), Tally()
    loop = asyncio.new_event_loop()
    try:
        for _ in range(CASES):
            made = delivery(rng, registry, on_the_wire=True)

            def run(made: Any = made) -> tuple[int, Seen | None]:
                headers = [
                    (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in made.headers
                ]
                headers.append((b"content-length", str(len(made.body)).encode()))
                scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
                events = [{"type": "http.request", "body": made.body, "more_body": False}]
                sent: list[Any] = []

                async def receive() -> Any:
                    return events.pop() if events else {"type": "http.disconnect"}

                async def send(message: Any) -> None:
                    sent.append(message)

                loop.run_until_complete(app(scope, receive, send))
                return _answer(sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]))

            judge(tally, registry, made, run)
    finally:
        loop.close()
    assert_clean(tally, "ASGI QStashMiddleware", CASES)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    @http_server.verify_qstash(**OPTIONS)
    def do_POST(self) -> None:
        answer = seen_as_json(http_server.get_message(self)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST


def test_fuzz_http_server_decorator() -> None:
    rng, registry, tally = rng_for("http_server"), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry, on_the_wire=True)

        def run(made: Any = made, method: str = rng.choice(METHODS)) -> tuple[int, Seen | None]:
            lines = "".join(f"{k}: {v}\r\n" for k, v in made.headers)
            head = f"{method} /api/qstash HTTP/1.1\r\nHost: x\r\n{lines}"
            raw = f"{head}Content-Length: {len(made.body)}\r\n\r\n".encode("latin-1") + made.body
            handler = _Handler.__new__(_Handler)
            handler.rfile, handler.wfile = io.BytesIO(raw), io.BytesIO()
            handler.client_address, handler.close_connection = ("127.0.0.1", 1), True
            handler.handle_one_request()
            answer = handler.wfile.getvalue()
            status, _, body = answer.partition(b"\r\n\r\n")
            return _answer(int(status[9:12]), body)

        judge(tally, registry, made, run)
    assert_clean(tally, "http.server verify_qstash", CASES)
