"""The framework-neutral adapters' options and edges, in-process: ``adapters.wsgi`` called as a
WSGI server calls it, ``adapters.asgi`` as an ASGI server does, ``adapters.http_server`` on a
``ThreadingHTTPServer`` in a thread. The same handler behind each records what it saw."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from loopback import in_thread

from qstash_receiver import NonRetryableError, Receiver, VerifiedMessage, load_config
from qstash_receiver.adapters import asgi, http_server, wsgi
from qstash_receiver.dedupe import MemoryStore
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

RECEIVER = Receiver(config=load_config(DEMO_ENV))
US_CURRENT = DEMO_KEYS["US_EAST_1"][0]
OTHER = Receiver(
    config=load_config({}, current_signing_key="sig_other1", next_signing_key="sig_o2")
)
URL = "https://hooks.example.com/qstash"
BODY = b'{"order_id": 4217}'
ADAPTERS = ["wsgi", "asgi", "http_server"]


class Seen:
    """What the handler behind an adapter saw: each message, the body it read, what a callable
    ``url`` was given; ``raise_`` makes it raise."""

    def __init__(self) -> None:
        self.messages: list[VerifiedMessage] = []
        self.bodies: list[bytes] = []
        self.url_args: list[object] = []
        self.raise_: BaseException | None = None

    def url(self, request: object) -> str:
        self.url_args.append(request)
        return URL

    def ran(self, message: VerifiedMessage, body: bytes) -> None:
        self.messages.append(message)
        self.bodies.append(body)
        if self.raise_ is not None:
            raise self.raise_


Answer = tuple[int, dict[str, str], bytes]
Deliver = Callable[[bytes, dict[str, str]], Answer]


def wsgi_deliver(seen: Seen, options: dict[str, Any], **extra: Any) -> Deliver:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.ran(
            wsgi.get_message(environ), environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = wsgi.QStashMiddleware(app, **options)

    def deliver(body: bytes, headers: dict[str, str]) -> Answer:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/qstash", "wsgi.input": io.BytesIO(body)}
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.update(extra)
        environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
        started: list[Any] = []
        chunks = middleware(
            environ, lambda status, hdrs, exc_info=None: started.append((status, hdrs))
        )
        text = b"".join(chunks)
        status, hdrs = started[-1]
        return int(status[:3]), {k.lower(): v for k, v in hdrs}, text

    return deliver


def asgi_deliver(seen: Seen, options: dict[str, Any]) -> Deliver:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        event = await receive()
        seen.ran(asgi.get_message(scope), event["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = asgi.QStashMiddleware(app, **options)

    def deliver(body: bytes, headers: dict[str, str]) -> Answer:
        pairs = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        pairs.append((b"content-length", str(len(body)).encode()))
        scope = {"type": "http", "method": "POST", "path": "/qstash", "headers": pairs}
        events = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return events.pop(0) if events else {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            sent.append(message)

        asyncio.run(middleware(scope, receive, send))
        start = sent[0]
        names = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], names, b"".join(m.get("body", b"") for m in sent[1:])

    return deliver


def http_deliver(seen: Seen, options: dict[str, Any]) -> Iterator[Deliver]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        @http_server.verify_qstash(**options)
        def do_POST(self) -> None:
            seen.ran(
                http_server.get_message(self), self.rfile.read(int(self.headers["Content-Length"]))
            )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with (
        in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base,
        httpx.Client() as client,
    ):

        def deliver(body: bytes, headers: dict[str, str]) -> Answer:
            answer = client.post(base + "/qstash", content=body, headers=headers)
            return answer.status_code, dict(answer.headers), answer.content

        yield deliver


@pytest.fixture(params=ADAPTERS)
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., tuple[Seen, Deliver]]]:
    """Build an adapter with options; returns what its handler saw and how to deliver to it."""
    servers: list[Any] = []

    def build(**options: Any) -> tuple[Seen, Deliver]:
        seen = Seen()
        options.setdefault("receiver", RECEIVER)
        if options.get("url") == "callable":
            options["url"] = seen.url
        if request.param == "wsgi":
            return seen, wsgi_deliver(seen, options)
        if request.param == "asgi":
            return seen, asgi_deliver(seen, options)
        served = http_deliver(seen, options)
        servers.append(served)
        return seen, next(served)

    yield build
    for served in servers:
        served.close()


def sign(body: bytes = BODY, **options: Any) -> dict[str, str]:
    options.setdefault("url", URL)
    return signed_headers(body, key=US_CURRENT, region="US_EAST_1", **options)


def test_a_verified_delivery_reaches_the_handler_with_its_body(make: Any) -> None:
    seen, deliver = make()
    status, _, text = deliver(BODY, sign(message_id="m1"))
    assert (status, text) == (200, b"ok")
    assert [m.message_id for m in seen.messages] == ["m1"]
    assert seen.bodies == [BODY]


def test_url_fixed_and_callable(make: Any, request: pytest.FixtureRequest) -> None:
    seen, deliver = make(url=URL)
    assert deliver(BODY, sign())[0] == 200
    assert deliver(BODY, sign(url=URL + "/other"))[2] == b"401 Unauthorized: url_mismatch"
    seen, deliver = make(url="callable")
    assert deliver(BODY, sign())[0] == 200
    kind = request.node.callspec.params["make"]
    expected = {"wsgi": dict, "asgi": dict, "http_server": BaseHTTPRequestHandler}[kind]
    assert len(seen.url_args) == 1
    assert isinstance(seen.url_args[0], expected)  # the environ, the scope, the handler


def test_clock_tolerance(make: Any) -> None:
    late = sign(now=time.time() - 310)  # expired 10 s ago (5 minutes' lifetime)
    _, strict = make()
    assert strict(BODY, late)[2] == b"401 Unauthorized: expired"
    seen, tolerant = make(clock_tolerance=30)
    assert tolerant(BODY, late)[0] == 200
    assert len(seen.messages) == 1


def test_max_body_bytes(make: Any) -> None:
    seen, deliver = make(max_body_bytes=len(BODY))
    assert deliver(BODY, sign())[0] == 200
    bigger = BODY + b" "
    status, _, text = deliver(bigger, sign(bigger))
    assert (status, text) == (413, b"413 " + _phrase(413) + b": body_too_large")
    assert len(seen.messages) == 1


def _phrase(status: int) -> bytes:
    from http import HTTPStatus

    return HTTPStatus(status).phrase.encode()


def test_receiver(make: Any) -> None:
    _, deliver = make(receiver=OTHER)
    assert deliver(BODY, sign())[2] == b"401 Unauthorized: invalid_signature"
    headers = signed_headers(BODY, key="sig_other1")
    assert deliver(BODY, headers)[0] == 200


def test_dedupe_runs_a_message_once(make: Any) -> None:
    seen, deliver = make(dedupe=MemoryStore())
    headers = sign(message_id="once")
    assert deliver(BODY, headers)[:2][0] == 200
    assert deliver(BODY, headers)[2] == b"200 OK: duplicate"
    assert len(seen.messages) == 1


def test_a_failed_handler_releases_its_claim(make: Any) -> None:
    seen, deliver = make(dedupe=MemoryStore())
    headers = sign(message_id="twice")
    seen.raise_ = NonRetryableError("not now")
    status, names, _ = deliver(BODY, headers)
    assert (status, names["upstash-nonretryable-error"]) == (489, "true")
    seen.raise_ = None
    assert deliver(BODY, headers)[2] == b"ok"  # the claim was released: it runs again
    assert len(seen.messages) == 2


def test_a_signature_replayed_under_another_message_id_is_refused(make: Any) -> None:
    """The guard's replay binding on the neutral adapters: a captured token under a fresh
    ``Upstash-Message-Id`` is 401 ``replayed`` and the handler does not run."""
    seen, deliver = make(dedupe=MemoryStore())
    headers = sign(message_id="msg_first")
    assert deliver(BODY, headers)[2] == b"ok"
    replayed = deliver(BODY, {**headers, "Upstash-Message-Id": "msg_forged"})
    assert (replayed[0], replayed[2]) == (401, b"401 Unauthorized: replayed")
    assert deliver(BODY, headers)[2] == b"200 OK: duplicate"
    assert len(seen.messages) == 1


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
@pytest.mark.parametrize("paths", ["/qstash", [], ["qstash"], [1]])
def test_invalid_paths_are_refused(adapter: str, paths: Any) -> None:
    middleware = {"wsgi": wsgi.QStashMiddleware, "asgi": asgi.QStashMiddleware}[adapter]
    with pytest.raises(ValueError, match="paths"):
        middleware(_never, paths=paths)


@pytest.mark.parametrize("options", [{"max_body_bytes": -1}, {"url": 3}, {"receiver": "x"}])
def test_invalid_options_are_refused_when_applied(options: dict[str, Any]) -> None:
    for apply in (
        lambda: wsgi.QStashMiddleware(lambda *_: [], **options),
        lambda: asgi.QStashMiddleware(_never, **options),
        lambda: http_server.verify_qstash(**options),
    ):
        with pytest.raises((ValueError, TypeError)):
            apply()


def test_get_message_of_an_unverified_request() -> None:
    with pytest.raises(LookupError):
        wsgi.get_message({})
    with pytest.raises(LookupError):
        asgi.get_message({"type": "http"})
    handler = BaseHTTPRequestHandler.__new__(BaseHTTPRequestHandler)
    with pytest.raises(LookupError):
        http_server.get_message(handler)


# --- WSGI edges ------------------------------------------------------------------------------


def _call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[list[str], bytes]:
    started: list[str] = []
    result = app(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        return started, b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()


def _environ(body: bytes, headers: dict[str, str], path: str = "/qstash", **extra: object) -> Any:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "wsgi.input": io.BytesIO(body)}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    environ.update(extra)
    return environ


def test_wsgi_a_lazy_app_is_guarded_by_the_status_it_starts_late() -> None:
    runs: list[str] = []

    def lazy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        runs.append(wsgi.get_message(environ).message_id or "")
        if environ["wsgi.input"].read() == b'"never"':
            raise NonRetryableError("never")
        start_response("200 OK", [])  # only once iterated: a generator
        yield b"done"

    app = wsgi.QStashMiddleware(lazy, receiver=RECEIVER, dedupe=MemoryStore())
    headers = sign(message_id="lazy")
    length = str(len(BODY))
    assert _call_wsgi(app, _environ(BODY, headers, CONTENT_LENGTH=length)) == (["200 OK"], b"done")
    again = _call_wsgi(app, _environ(BODY, headers, CONTENT_LENGTH=length))
    assert again == (["200 OK"], b"200 OK: duplicate")  # the late 200 completed the claim
    never = sign(b'"never"', message_id="never")
    status, text = _call_wsgi(app, _environ(b'"never"', never, CONTENT_LENGTH="7"))
    assert (status, text) == (["489 Error"], b"489 Error: non_retryable: never")  # when iterated
    assert runs == ["lazy", "never"]


def test_wsgi_a_body_without_a_length_is_read_only_from_a_terminated_stream() -> None:
    bodies: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        bodies.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("200 OK", [])
        return [b""]

    middleware = wsgi.QStashMiddleware(app, receiver=RECEIVER, max_body_bytes=len(BODY))
    # No CONTENT_LENGTH and a stream that may never end (PEP 3333): no body is read.
    assert _call_wsgi(middleware, _environ(BODY, sign()))[1] == b"401 Unauthorized: body_mismatch"
    chunked = _environ(BODY, sign())
    chunked["wsgi.input_terminated"] = True  # gunicorn's and werkzeug's chunked bodies
    assert _call_wsgi(middleware, chunked)[0] == ["200 OK"]
    assert bodies == [BODY]  # replayed, with CONTENT_LENGTH set
    stream = io.BytesIO(BODY * 1000)
    chunked = _environ(b"", sign())
    chunked.update({"wsgi.input_terminated": True, "wsgi.input": stream})
    refused = _call_wsgi(middleware, chunked)
    assert refused[0] == ["413 " + _phrase(413).decode()]
    assert stream.tell() == len(BODY) + 1  # read no further than one byte past the limit


def test_wsgi_other_paths_pass_through_untouched() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]

    middleware = wsgi.QStashMiddleware(app, paths=["/qstash"], receiver=RECEIVER)
    for path in ("/qstashx", "/other", "/"):
        assert _call_wsgi(middleware, _environ(b"raw", {}, path)) == (["200 OK"], b"raw")
    assert _call_wsgi(middleware, _environ(b"raw", {}, "/qstash/jobs"))[0][0].startswith("401")


# --- ASGI edges ------------------------------------------------------------------------------


def test_asgi_a_client_gone_mid_body_gets_no_answer_and_the_app_is_not_called() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    middleware = asgi.QStashMiddleware(app, receiver=RECEIVER)
    events = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return events.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/qstash", "headers": list(_asgi_headers(sign()))}
    asyncio.run(middleware(scope, receive, send))
    assert sent == []


def _asgi_headers(headers: dict[str, str]) -> Iterator[tuple[bytes, bytes]]:
    for name, value in headers.items():
        yield name.lower().encode(), value.encode()


def test_asgi_lifespan_and_other_paths_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"] + ":" + scope.get("path", ""))

    middleware = asgi.QStashMiddleware(app, paths=["/qstash"], receiver=RECEIVER)
    for scope in ({"type": "lifespan"}, {"type": "http", "path": "/other", "headers": []}):
        asyncio.run(middleware(scope, _never, _never))
    assert seen == ["lifespan:", "http:/other"]


async def _never(*_: Any) -> Any:
    raise AssertionError("not called")


# --- http.server edges -----------------------------------------------------------------------


def test_http_server_refuses_an_ambiguous_length_and_keeps_the_connection_usable() -> None:
    found: list[object] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        @http_server.verify_qstash(receiver=RECEIVER)
        def do_POST(self) -> None:
            self.send_response(204)
            self.end_headers()

        def do_GET(self) -> None:  # not verified: the last request's message is gone
            try:
                found.append(http_server.get_message(self))
            except LookupError as error:
                found.append(error)
            self.send_response(204)
            self.end_headers()

    import socket

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            signed = "".join(f"{k}: {v}\r\n" for k, v in sign().items())
            request = f"POST /q HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\n{signed}\r\n"
            sock.sendall(request.encode() + BODY + b"GET /q HTTP/1.1\r\nHost: x\r\n\r\n")
            answers = _read_answers(sock, 2)
        assert answers[0].startswith(b"HTTP/1.1 204 ")
        assert answers[1].startswith(b"HTTP/1.1 204 ")
        assert len(found) == 1
        assert isinstance(found[0], LookupError)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            signed = "".join(f"{k}: {v}\r\n" for k, v in sign(b"ab").items())
            two = "Content-Length: 2\r\nContent-Length: 3\r\n"
            sock.sendall(f"POST /q HTTP/1.1\r\nHost: x\r\n{two}{signed}\r\nabc".encode())
            answer = b""
            while chunk := sock.recv(65536):  # until the server closes the connection
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 411 Length Required\r\n")
        assert b"\r\nConnection: close\r\n" in answer
        assert answer.endswith(b"\r\n\r\n411 Length Required: length_required")


def _read_answers(sock: Any, count: int) -> list[bytes]:
    data = b""
    while data.count(b"HTTP/1.1 ") < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return [b"HTTP/1.1 " + part for part in data.split(b"HTTP/1.1 ")[1:]]


def test_wsgi_an_error_after_start_response_replaces_the_answer_with_exc_info() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        raise NonRetryableError("changed its mind")

    calls: list[tuple[str, object]] = []
    middleware = wsgi.QStashMiddleware(app, receiver=RECEIVER)
    environ = _environ(BODY, sign(), CONTENT_LENGTH=str(len(BODY)))
    text = b"".join(middleware(environ, lambda s, h, exc_info=None: calls.append((s, exc_info))))
    assert text == b"489 Error: non_retryable: changed its mind"
    assert [status for status, _ in calls] == ["200 OK", "489 Error"]
    error = calls[1][1]
    assert isinstance(error, tuple)
    assert isinstance(error[1], NonRetryableError)  # PEP 3333: a second call carries exc_info


def test_http_server_an_error_after_the_answer_started_closes_the_connection() -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        @http_server.verify_qstash(receiver=RECEIVER)
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            raise NonRetryableError("too late to say so")

    import socket

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            signed = "".join(f"{k}: {v}\r\n" for k, v in sign().items())
            head = f"POST /q HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\n{signed}\r\n"
            sock.sendall(head.encode() + BODY)
            answer = b""
            while chunk := sock.recv(65536):  # the server closes the connection (no timeout)
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")  # its own answer, and only that
    assert answer.count(b"HTTP/1.1 ") == 1
