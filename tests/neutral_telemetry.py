"""How the telemetry tests drive the framework-neutral adapters in-process (WSGI, ASGI,
``http.server``) and aiohttp and Azure Functions: each builder takes the adapter's options and
returns a ``Deliver`` (telemetry_harness) that sends one request inside a SERVER span, where an
HTTP instrumentation would open it, and returns the status answered. The handler is
``telemetry_harness.act``; its exception propagates to the caller, as a server would see it.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from unittest import mock

import azure.functions as func
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from telemetry_harness import PATH, URL, Deliver, act, asgi_with_server_span, server_span

from qstash_receiver.adapters import aiohttp as aiohttp_adapter
from qstash_receiver.adapters import asgi as asgi_adapter
from qstash_receiver.adapters import azure_functions as azure_adapter
from qstash_receiver.adapters import http_server as http_adapter
from qstash_receiver.adapters import wsgi as wsgi_adapter

__all__ = ["BUILDERS", "aiohttp_request", "asgi_call", "environ", "http_call", "http_handler"]
__all__ += ["plain_wsgi_app", "wsgi_call"]


def _length(body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    return {**headers, "Content-Length": str(len(body))}  # as every HTTP client sends it


# --- WSGI ------------------------------------------------------------------------------------


def environ(body: bytes, headers: Mapping[str, str], *, chunked: bool = False) -> dict[str, Any]:
    """A WSGI environ as a server builds it (chunked: no length, a terminated stream)."""
    built: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "hooks.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        built["HTTP_" + name.upper().replace("-", "_")] = value
    if chunked:
        built.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    else:
        built["CONTENT_LENGTH"] = str(len(body))
    return built


def plain_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    assert environ["wsgi.input"].read() == wsgi_adapter.get_message(environ).body  # replayed
    status, text = act(wsgi_adapter.get_message(environ))
    start_response(f"{status} {HTTPStatus(status).phrase}", [("Content-Type", "text/plain")])
    return [text.encode()]


def wsgi_call(app: Any, built: dict[str, Any]) -> int:
    """Call the WSGI ``app`` inside a SERVER span; the status it started its answer with."""
    statuses: list[int] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
        statuses.append(int(status[:3]))
        return lambda _: None

    with server_span():
        b"".join(app(built, start_response))
    return statuses[-1]


def wsgi_middleware(options: dict[str, Any]) -> Deliver:
    app = wsgi_adapter.QStashMiddleware(plain_wsgi_app, paths=[PATH], **options)
    return lambda body, headers: wsgi_call(app, environ(body, headers))


# --- ASGI ------------------------------------------------------------------------------------


def asgi_call(
    app: Any, headers: Mapping[str, str], messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Call ``app`` as a server would, inside a SERVER span; the messages it sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
        "server": ("hooks.example.com", 443),
        "client": ("127.0.0.1", 5000),
    }
    sent: list[dict[str, Any]] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi_with_server_span(app)(scope, receive, send))
    return sent


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    message = asgi_adapter.get_message(scope)
    assert (await receive())["body"] == message.body  # replayed
    status, text = act(message)
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": text.encode()})


def asgi_middleware(options: dict[str, Any]) -> Deliver:
    app = asgi_adapter.QStashMiddleware(_asgi_app, paths=[PATH], **options)

    def deliver(body: bytes, headers: Mapping[str, str]) -> int:
        sent = asgi_call(app, _length(body, headers), [{"type": "http.request", "body": body}])
        return int(sent[0]["status"])

    return deliver


# --- http.server -----------------------------------------------------------------------------


def http_call(handler: type[BaseHTTPRequestHandler], head: Mapping[str, str], body: bytes) -> int:
    """One request as the server's connection thread handles it (minus the socket), inside a
    SERVER span; the status answered."""
    lines = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "hooks.example.com", **head}.items())
    served = handler.__new__(handler)
    raw = f"POST {PATH} HTTP/1.1\r\n{lines}\r\n".encode("latin-1") + body
    served.rfile, served.wfile = io.BytesIO(raw), io.BytesIO()
    served.client_address, served.request_version = ("34.78.10.20", 40000), "HTTP/1.1"
    served.close_connection = True
    with server_span():
        served.handle_one_request()
    return int(served.wfile.getvalue()[9:12])


def http_handler(options: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        @http_adapter.verify_qstash(**options)
        def do_POST(self) -> None:
            message = http_adapter.get_message(self)
            assert self.rfile.read() == message.body  # replayed
            status, text = act(message)
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

    return Handler


def http_server(options: dict[str, Any]) -> Deliver:
    handler = http_handler(options)
    return lambda body, headers: http_call(handler, _length(body, headers), body)


# --- aiohttp ---------------------------------------------------------------------------------


def aiohttp_request(
    headers: Mapping[str, str], chunks: list[bytes], *, gone: bool = False
) -> web.Request:
    """The request aiohttp's server builds: the parsed head and a body stream fed ``chunks``,
    then its end (``gone``: the connection lost instead). Call it on a running loop."""
    payload = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    for chunk in chunks:
        payload.feed_data(chunk)
    if gone:
        payload.set_exception(ConnectionResetError("Connection lost"))
    else:
        payload.feed_eof()
    return make_mocked_request("POST", PATH, headers=dict(headers), payload=payload)


async def _aiohttp_view(request: web.Request) -> web.Response:
    message = aiohttp_adapter.get_message(request)
    assert await request.read() == message.body  # still readable
    status, text = act(message)
    return web.Response(text=text, status=status)


def aiohttp_app(options: dict[str, Any], kind: str) -> Deliver:
    decorated = aiohttp_adapter.verify_qstash(**options)(_aiohttp_view)
    middleware = aiohttp_adapter.qstash_middleware(paths=[PATH], **options)

    async def call(body: bytes, headers: Mapping[str, str]) -> int:
        request = aiohttp_request(_length(body, headers), [body])
        response: web.StreamResponse
        with server_span():  # what aiohttp's server instrumentation opens
            if kind == "decorator":
                response = await decorated(request)
            else:
                response = await middleware(request, _aiohttp_view)
        return response.status

    return lambda body, headers: asyncio.run(call(body, headers))


# --- Azure Functions -------------------------------------------------------------------------


def _azure_answer(req: func.HttpRequest) -> func.HttpResponse:
    message = azure_adapter.get_message(req)
    assert req.get_body() == message.body  # untouched
    status, text = act(message)
    return func.HttpResponse(text, status_code=status)


def azure_function(options: dict[str, Any], is_async: bool) -> Deliver:
    async def async_function(req: func.HttpRequest) -> func.HttpResponse:
        return _azure_answer(req)

    sync = azure_adapter.verify_qstash(**options)(_azure_answer)
    coroutine = azure_adapter.verify_qstash(**options)(async_function)

    def deliver(body: bytes, headers: Mapping[str, str]) -> int:
        req = func.HttpRequest("POST", URL, headers=_length(body, headers), body=body)
        with server_span():  # the worker passes the request by name
            response = asyncio.run(coroutine(req=req)) if is_async else sync(req=req)
        return int(response.status_code)

    return deliver


#: Each adapter's builder, by name.
BUILDERS: dict[str, Callable[[dict[str, Any]], Deliver]] = {
    "wsgi-middleware": wsgi_middleware,
    "asgi-middleware": asgi_middleware,
    "http-server": http_server,
    "aiohttp-decorator": lambda options: aiohttp_app(options, "decorator"),
    "aiohttp-middleware": lambda options: aiohttp_app(options, "middleware"),
    "azure-sync": lambda options: azure_function(options, is_async=False),
    "azure-async": lambda options: azure_function(options, is_async=True),
}
