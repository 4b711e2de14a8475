"""An app that sends its answer itself (ASGI: Quart's error handlers, a route's own 500, any
response) reaches QStash only once the duplicate guard's claim is ended.

QStash may retry a non-2xx answer at once. Were the claim released after the answer's last
part went out, that retry could find it still held and be answered 409 ``in_progress`` (seen
under uvicorn with Quart). Each test drives the ASGI app directly and records, in one list, the
store's calls and the messages the server is sent: the claim's end comes before the last part.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters import asgi, fastapi, http_server
from qstash_receiver.adapters import starlette as starlette_adapter
from qstash_receiver.dedupe import Claim, MemoryStore
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

URL = "https://hooks.example.com/qstash"
RECEIVER = Receiver(config=load_config(DEMO_ENV))
App = Callable[[Any, Any, Any], Awaitable[None]]


class RecordingStore(MemoryStore):
    """A memory store that writes its claim's end into ``events``."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def complete(self, claim: Claim) -> None:
        super().complete(claim)
        self.events.append("store: complete")

    def release(self, claim: Claim) -> None:
        super().release(claim)
        self.events.append("store: release")


async def answering(scope: Any, receive: Any, send: Any) -> None:
    """A plain ASGI app answering what the body asks, itself (as Quart's error handlers do)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = json.loads(body)["status"]
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"part one, ", "more_body": True})
    await send({"type": "http.response.body", "body": b"the end"})


async def sending_a_file(scope: Any, receive: Any, send: Any) -> None:
    """An app answering with the path-send extension (a file response on a server offering it)."""
    status = json.loads((await receive())["body"])["status"]
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.pathsend", "path": "/dev/null"})


async def sending_zero_copy(scope: Any, receive: Any, send: Any) -> None:
    """An app answering with the zero-copy send extension, in two parts."""
    status = json.loads((await receive())["body"])["status"]
    await send({"type": "http.response.start", "status": status, "headers": []})
    with open("/dev/null", "rb") as file:
        part = {"type": "http.response.zerocopysend", "file": file.fileno()}
        await send({**part, "more_body": True})
        await send(part)


def fastapi_app(store: RecordingStore) -> App:
    app = FastAPI()
    fastapi.install(app)

    @app.post(
        "/qstash",
        dependencies=[Depends(fastapi.QStashVerifier(dedupe=store, url=URL, receiver=RECEIVER))],
    )
    async def route(request: Request) -> Response:
        status = json.loads(await request.body())["status"]
        return PlainTextResponse("answered", status_code=status)

    return app


APPS: dict[str, Callable[[RecordingStore], App]] = {
    "asgi-middleware": lambda store: asgi.QStashMiddleware(
        answering, paths=["/qstash"], dedupe=store, url=URL, receiver=RECEIVER
    ),
    "starlette-middleware": lambda store: starlette_adapter.QStashMiddleware(
        answering, paths=["/qstash"], dedupe=store, url=URL, receiver=RECEIVER
    ),
    "fastapi": fastapi_app,
    "asgi-pathsend": lambda store: asgi.QStashMiddleware(
        sending_a_file, paths=["/qstash"], dedupe=store, url=URL, receiver=RECEIVER
    ),
    "asgi-zerocopysend": lambda store: asgi.QStashMiddleware(
        sending_zero_copy, paths=["/qstash"], dedupe=store, url=URL, receiver=RECEIVER
    ),
}


def deliver(app: App, status: int, events: list[str]) -> None:
    body = json.dumps({"status": status}).encode()
    headers = signed_headers(
        body, key=DEMO_KEYS["US_EAST_1"][0], url=URL, region="US_EAST_1", message_id="msg_1"
    )
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "server": ("hooks.example.com", 443),
        "path": "/qstash",
        "raw_path": b"/qstash",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client stays until the answer
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            events.append(f"server: start {message['status']}")
        elif message["type"] == "http.response.pathsend":
            events.append("server: last part")
        elif message["type"] in ("http.response.body", "http.response.zerocopysend"):
            events.append("server: part" if message.get("more_body") else "server: last part")

    async def serve() -> None:
        await app(scope, receive, send)

    asyncio.run(serve())


@pytest.mark.parametrize("kind", sorted(APPS))
@pytest.mark.parametrize(("status", "end"), [(489, "release"), (500, "release"), (200, "complete")])
def test_the_claim_ends_before_the_answers_last_part(kind: str, status: int, end: str) -> None:
    events: list[str] = []
    store = RecordingStore(events)
    deliver(APPS[kind](store), status, events)
    assert events[0] == f"server: start {status}"
    assert events[-2:] == [f"store: {end}", "server: last part"], events
    assert events.count(f"store: {end}") == 1  # ended once, not again when the app returned


class SlowRecordingStore(RecordingStore):
    """Its claim's end takes a moment, as a remote store's does."""

    def release(self, claim: Claim) -> None:
        time.sleep(0.3)
        super().release(claim)


def test_http_server_sends_the_answer_once_the_claim_is_released() -> None:
    events: list[str] = []
    store = SlowRecordingStore(events)

    class Handler(BaseHTTPRequestHandler):
        @http_server.verify_qstash(dedupe=store, url=URL, receiver=RECEIVER)
        def do_POST(self) -> None:
            self.send_response(json.loads(self.rfile.read())["status"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            for _ in range(2):  # the retry QStash may send at once runs again: 489, not 409
                body = json.dumps({"status": 489}).encode()
                headers = signed_headers(
                    body, key=DEMO_KEYS["US_EAST_1"][0], url=URL, region="US_EAST_1",
                    message_id="msg_1",
                )  # fmt: skip
                port = httpd.server_address[1]
                answer = httpx.post(f"http://127.0.0.1:{port}/", content=body, headers=headers)
                events.append(f"client: {answer.status_code}")
        finally:
            httpd.shutdown()
    assert events == ["store: release", "client: 489"] * 2


def _closing_handler(closes: str, verified: bool) -> type[BaseHTTPRequestHandler]:
    def post(self: BaseHTTPRequestHandler) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"done")
        if closes == "finish":
            self.finish()
        else:
            self.wfile.close()

    guarded = http_server.verify_qstash(dedupe=MemoryStore(), url=URL, receiver=RECEIVER)

    class Handler(BaseHTTPRequestHandler):
        do_POST = guarded(post) if verified else post

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.mark.parametrize("closes", ["wfile.close", "finish"])
def test_http_server_a_method_closing_its_stream_still_answers(closes: str) -> None:
    """A method that closes ``self.wfile`` (or calls ``finish()``) after writing its answer gets
    it to the client as it would undecorated, and the connection is closed after it, without
    the error the standard library meets undecorated (a flush of the closed stream)."""
    answers, errors = [], []

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            errors.append(verified)  # the standard library's own handler prints a traceback

    for verified in (False, True):
        with Server(("127.0.0.1", 0), _closing_handler(closes, verified)) as httpd:
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            try:
                body = b'{"status": 200}'
                headers = signed_headers(
                    body, key=DEMO_KEYS["US_EAST_1"][0], url=URL, region="US_EAST_1",
                    message_id="msg_closing",
                )  # fmt: skip
                port = httpd.server_address[1]
                answer = httpx.post(f"http://127.0.0.1:{port}/", content=body, headers=headers)
                answers.append(
                    (answer.status_code, answer.content, answer.headers.get("connection"))
                )
            finally:
                httpd.shutdown()
    assert answers[1] == (200, b"done", None)  # as the method wrote it
    assert answers[0][:2] == answers[1][:2]  # and as it reaches the client undecorated
    assert True not in errors  # decorated, the connection is closed without an error
