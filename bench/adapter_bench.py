"""Per-request cost of each adapter, run by ``make bench``. Not a test: it prints, asserts nothing.

Each row drives one framework the way its server does, twice: through a handler decorated
with the adapter ("verified") and through the SAME handler undecorated ("bare"). The
difference is what the adapter adds to one request (verification included); the line for
``Receiver.verify`` alone, in the same run, shows how much of that is the adapter itself.

  flask          ``Flask.__call__`` (WSGI) with a prebuilt environ and a fresh body stream per
                 call, as a WSGI server calls it; the Flask test client as a second row
  cloud funcs    the app of ``functions_framework.create_app`` for a source file written to a
                 temporary directory (what ``functions-framework --source`` serves), via WSGI
  django         ``django.core.handlers.wsgi.WSGIHandler`` of a ``settings.configure()``
                 project without middleware: a function view and a class-based view (mixin)
  lambda         the handler called with a real HTTP API v2 event and a REST (payload 1.0)
                 event from tests/fixtures/lambda
  fastapi        the app called as uvicorn calls it (a scope per request, the body in one
                 message): the route with the QStashVerifier dependency; and, for reference,
                 the same route with a dependency that does nothing (FastAPI's own share)
  starlette      the same, through QStashMiddleware (the bare route passes through it too)
                 and through the verify_qstash decorator
  wsgi, asgi     the framework-neutral middlewares around a plain app (and a Falcon app),
                 driven as the WSGI and ASGI rows above; the bare path passes through them
  http.server    ``BaseHTTPRequestHandler.handle_one_request`` on an in-memory request (the
                 work of the server's connection thread, minus the socket)
  aiohttp        the request aiohttp's server builds (a ``web.Request`` of the parsed head and a
                 fresh ``StreamReader`` of the body) through the decorated handler or the
                 middleware, and through the bare handler (routing, the same for both, left out)
  azure funcs    the function called by keyword with a new ``func.HttpRequest`` per call, as
                 the Python worker calls it
  workflow       upstash-workflow's verification step (its ``_verify_request``) with
                 ``WorkflowReceiver`` for one region and for two (the delivery's pair tried
                 second), against the SDK with no receiver; the SDK's ``qstash.Receiver`` for
                 reference

Every request is a genuine 1 KiB JSON delivery, signed with a one-day lifetime (valid for the
whole run), carrying the headers of a delivery through a load balancer. Before timing, each row
checks that both handlers answer 200 and that a forged body is answered 401 by the verified one.
Rows are timed as pairs (verified and bare back to back, every row in every round, rotating
order); figures are the minimum over rounds of the mean per call in a batch, and the paired
median of per-round differences is shown beside them. Targets (issue 9) print PASS/MISS.

``--profile [ROW ...]`` runs cProfile over the verified and the bare handler of the rows named
(default: all) and lists the functions whose time per request grows the most.

To add a row, write a function taking a :class:`Delivery` and returning
a list of :class:`Row`, and register it with ``@builder("module it needs")``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import timing  # beside this file (the script's directory is on sys.path)

from qstash_receiver import Receiver, load_config
from qstash_receiver.testing import DEMO_KEYS, signed_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

#: Rounds per row: about 20 s in all. Bursts of load on a shared machine last seconds; rounds
#: spread over that long leave each case enough quiet batches for its minimum (61 rounds did
#: not: one run in three put every row 10-30 us high).
ROUNDS = 181
PROFILE_CALLS = 20_000
URL = "https://example.com/api/qstash"
LIFETIME = 24 * 3600  # outlives any run
REGION: Final = "US_EAST_1"
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "lambda"
#: Headers a delivery also carries (the caller IP from QStash, the rest from a load balancer).
EXTRA_HEADERS = {
    "Content-Type": "application/json",
    "Accept-Encoding": "gzip",
    "Upstash-Caller-Ip": "203.0.113.7",
    "X-Forwarded-For": "34.78.10.20",
    "X-Forwarded-Proto": "https",
}

#: One request through one handler; returns the HTTP status it was answered with.
Call = Callable[[], int]


@dataclass(frozen=True)
class Delivery:
    """The request every row sends: one signed delivery, and a forged copy of it."""

    body: bytes
    forged_body: bytes  # same headers, one byte changed: verification must answer 401
    headers: Mapping[str, str]
    receiver: Receiver
    url: str


@dataclass(frozen=True)
class Row:
    """One line of the table: the same handler through the adapter and without it."""

    label: str
    verified: Call
    bare: Call
    forged: Call | None  # the verified handler given Delivery.forged_body; None: a reference
    target_us: float | None = None  # issue 9's ceiling for the added cost, if it sets one


Builder = Callable[[Delivery], list[Row]]
#: (module the rows need, builder), in table order.
BUILDERS: list[tuple[str, Builder]] = []


def builder(requires: str) -> Callable[[Builder], Builder]:
    """Register a row builder; its rows are skipped (and said so) when ``requires`` is absent."""

    def register(func: Builder) -> Builder:
        BUILDERS.append((requires, func))
        return func

    return register


def json_body(size: int) -> bytes:
    """A JSON array of small objects, exactly ``size`` bytes long (``size`` >= 2)."""
    item = b'{"id":12345,"event":"order.created","ok":true}'
    count = max(0, (size - 2) // (len(item) + 1))
    text = b"[" + b",".join([item] * count) + b"]"
    return text[:-1] + b" " * (size - len(text)) + b"]"


def make_delivery(size: int = 1024) -> Delivery:
    current, nxt = DEMO_KEYS[REGION]
    body = json_body(size)
    json.loads(body)  # the bench's own check: the body is the JSON it claims to be
    signed = signed_headers(body, key=current, url=URL, region=REGION, lifetime=LIFETIME)
    return Delivery(
        body=body,
        forged_body=body.replace(b"12345", b"12346", 1),
        headers={**signed, **EXTRA_HEADERS},
        receiver=Receiver(
            config=load_config({}, current_signing_key=current, next_signing_key=nxt)
        ),
        url=URL,
    )


# WSGI: Flask, Cloud Functions and Django are all driven through this.


def wsgi_environ(delivery: Delivery, path: str) -> WSGIEnvironment:
    """The environ a WSGI server builds for the delivery (its body stream replaced per call)."""
    from werkzeug.test import EnvironBuilder

    made = EnvironBuilder(
        path=path,
        base_url="https://example.com",
        method="POST",
        headers=list(delivery.headers.items()),
        data=delivery.body,
    )
    try:
        return made.get_environ()
    finally:
        made.close()


def wsgi_call(app: WSGIApplication, environ: WSGIEnvironment, body: bytes) -> Call:
    """One request through ``app``: a copy of ``environ`` with a fresh body, response drained."""
    status = [""]

    def write(data: bytes) -> None:
        pass

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], Any]:
        status[0] = line
        return write

    def call() -> int:
        env = dict(environ)  # a server builds a new environ per request
        env["wsgi.input"] = io.BytesIO(body)
        result = app(env, start_response)
        try:
            b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(status[0][:3])

    return call


def wsgi_row(
    label: str,
    app: WSGIApplication,
    delivery: Delivery,
    verified_path: str,
    bare_path: str,
    target_us: float | None,
) -> Row:
    verified = wsgi_environ(delivery, verified_path)
    forged = dict(verified, CONTENT_LENGTH=str(len(delivery.forged_body)))
    return Row(
        label,
        verified=wsgi_call(app, verified, delivery.body),
        bare=wsgi_call(app, wsgi_environ(delivery, bare_path), delivery.body),
        forged=wsgi_call(app, forged, delivery.forged_body),
        target_us=target_us,
    )


@builder("flask")
def flask_rows(delivery: Delivery) -> list[Row]:
    from flask import Flask, request

    from qstash_receiver.adapters.flask import verify_qstash

    def view() -> str:
        return str(len(request.get_data()))

    app = Flask("adapter_bench")
    app.add_url_rule("/bare", "bare", view, methods=["POST"])
    decorate = verify_qstash(receiver=delivery.receiver, url=delivery.url)
    app.add_url_rule("/verified", "verified", decorate(view), methods=["POST"])

    client = app.test_client()
    post = partial(client.post, base_url="https://example.com", headers=dict(delivery.headers))
    return [
        wsgi_row("flask (WSGI call)", app, delivery, "/verified", "/bare", 60),
        Row(
            "flask (test client)",
            verified=lambda: post("/verified", data=delivery.body).status_code,
            bare=lambda: post("/bare", data=delivery.body).status_code,
            forged=lambda: post("/verified", data=delivery.forged_body).status_code,
        ),
    ]


GCF_SOURCE = """\
from flask import Request

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.gcf import verify_qstash
from qstash_receiver.testing import DEMO_KEYS

CURRENT, NEXT = DEMO_KEYS[{region!r}]
RECEIVER = Receiver(config=load_config({{}}, current_signing_key=CURRENT, next_signing_key=NEXT))


def handle(request: Request) -> str:
    return str(len(request.get_data()))


bare = handle
verified = verify_qstash(receiver=RECEIVER, url={url!r})(handle)
"""


@builder("functions_framework")
def gcf_rows(delivery: Delivery) -> list[Row]:
    import functions_framework

    with tempfile.TemporaryDirectory(prefix="adapter_bench_") as folder:
        source = Path(folder) / "main.py"
        source.write_text(GCF_SOURCE.format(region=REGION, url=delivery.url))
        # Two apps of one source, as two deployed functions; the module loads while building.
        verified, bare = (
            functions_framework.create_app(target, str(source), "http")  # type: ignore[no-untyped-call]
            for target in ("verified", "bare")
        )
    verified_env = wsgi_environ(delivery, "/")
    forged_env = dict(verified_env, CONTENT_LENGTH=str(len(delivery.forged_body)))
    return [
        Row(
            "cloud functions (create_app)",
            verified=wsgi_call(verified, verified_env, delivery.body),
            bare=wsgi_call(bare, verified_env, delivery.body),
            forged=wsgi_call(verified, forged_env, delivery.forged_body),
            target_us=60,
        )
    ]


def django_handler(urlpatterns: list[Any]) -> WSGIApplication:
    """A WSGI handler of a project without middleware or apps, routing ``urlpatterns``."""
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    urls = types.ModuleType("adapter_bench_urls")
    urls.urlpatterns = urlpatterns  # type: ignore[attr-defined]
    settings.configure(
        DEBUG=False,
        SECRET_KEY="adapter-bench-only",
        ALLOWED_HOSTS=["example.com"],
        ROOT_URLCONF=urls,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )
    django.setup()
    return WSGIHandler()


@builder("django")
def django_rows(delivery: Delivery) -> list[Row]:
    from django.http import HttpRequest, HttpResponse
    from django.urls import path
    from django.views import View

    from qstash_receiver.adapters.django import QStashVerifiedMixin, verify_qstash

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(len(request.body)))

    class Handler(View):
        def post(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse(str(len(request.body)))

    class Verified(QStashVerifiedMixin, Handler):
        qstash_receiver = delivery.receiver
        qstash_url = delivery.url

    decorate = verify_qstash(receiver=delivery.receiver, url=delivery.url)
    app = django_handler(
        [
            path("function/bare", view),
            path("function/verified", decorate(view)),
            path("class/bare", Handler.as_view()),
            path("class/verified", Verified.as_view()),
        ]
    )
    # Django logs every 4xx answer (the forged check) as a warning of its own.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    return [
        wsgi_row(f"django {kind} view", app, delivery, f"/{kind}/verified", f"/{kind}/bare", 60)
        for kind in ("function", "class")
    ]


@builder("aws_lambda_powertools")
def lambda_rows(delivery: Delivery) -> list[Row]:
    from qstash_receiver.adapters.aws_lambda import verify_qstash
    from qstash_receiver.adapters.aws_lambda.testing import event_with

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "ok"}

    verified = verify_qstash(receiver=delivery.receiver, url=delivery.url)(handler)

    def invoke(func: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> Call:
        # Each invocation gets its own event dict (the runtime parses one per call); the
        # nested parts are shared, which is safe: the adapter only reads them.
        return lambda: int(func(dict(event), None)["statusCode"])

    rows = []
    for label, fixture, target_us in (
        ("lambda HTTP API v2", "http_api.json", 30.0),
        ("lambda REST (payload 1.0)", "apigateway_rest.json", None),
    ):
        template = json.loads((FIXTURES / fixture).read_text())
        event = event_with(template, body=delivery.body, headers=delivery.headers)
        forged = event_with(template, body=delivery.forged_body, headers=delivery.headers)
        rows.append(
            Row(
                label,
                verified=invoke(verified, event),
                bare=invoke(handler, event),
                forged=invoke(verified, forged),
                target_us=target_us,
            )
        )
    return rows


# ASGI: FastAPI and Starlette, called as uvicorn calls an app (a new scope per request).

_LOOP: asyncio.AbstractEventLoop | None = None


def asgi_scope(delivery: Delivery, path: str) -> dict[str, Any]:
    """The scope uvicorn builds for the delivery (``Host`` first, names lower-cased bytes)."""
    headers = {"Host": "example.com", **delivery.headers, "Content-Length": str(len(delivery.body))}
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("34.78.10.20", 40000),
        "server": ("example.com", 443),
        "state": {},
    }


def asgi_call(app: Any, scope: Mapping[str, Any], body: bytes) -> Call:
    """One request through ``app`` on the bench's event loop; the whole body in one message."""
    global _LOOP
    loop = _LOOP = _LOOP or asyncio.new_event_loop()

    async def request() -> int:
        status, pending = 0, True

        async def receive() -> dict[str, Any]:
            nonlocal pending
            if pending:
                pending = False
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope, state={}), receive, send)
        return status

    return lambda: loop.run_until_complete(request())


def asgi_row(label: str, app: Any, delivery: Delivery, verified_path: str, bare_path: str) -> Row:
    verified = asgi_scope(delivery, verified_path)
    return Row(
        label,
        verified=asgi_call(app, verified, delivery.body),
        bare=asgi_call(app, asgi_scope(delivery, bare_path), delivery.body),
        forged=asgi_call(app, verified, delivery.forged_body),
        target_us=60,
    )


@builder("fastapi")
def fastapi_rows(delivery: Delivery) -> list[Row]:
    from fastapi import Depends, FastAPI, Request
    from starlette.responses import PlainTextResponse, Response

    from qstash_receiver.adapters.fastapi import QStashVerifier, install

    async def view(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    async def nothing(request: Request) -> None:
        pass

    # FastAPI reads the annotations at run time; this module's are strings (future import).
    view.__annotations__.update({"request": Request, "return": Response})
    nothing.__annotations__.update({"request": Request, "return": None})
    app = FastAPI(openapi_url=None)
    install(app)
    app.add_api_route("/bare", view, methods=["POST"])
    verifier = QStashVerifier(receiver=delivery.receiver, url=delivery.url)
    app.add_api_route("/verified", view, methods=["POST"], dependencies=[Depends(verifier)])
    app.add_api_route("/nothing", view, methods=["POST"], dependencies=[Depends(nothing)])
    nothing_row = asgi_row("fastapi no-op dependency", app, delivery, "/nothing", "/bare")
    return [
        asgi_row("fastapi dependency", app, delivery, "/verified", "/bare"),
        # What FastAPI itself spends on one dependency taking the request (no verification).
        replace(nothing_row, forged=None, target_us=None),
    ]


@builder("starlette")
def starlette_rows(delivery: Delivery) -> list[Row]:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from qstash_receiver.adapters.starlette import QStashMiddleware, verify_qstash

    async def view(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    decorated = verify_qstash(receiver=delivery.receiver, url=delivery.url)(view)
    app = Starlette(
        routes=[
            Route("/bare", view, methods=["POST"]),
            Route("/verified", view, methods=["POST"]),
            Route("/decorated", decorated, methods=["POST"]),
        ],
        # The bare route passes through it too, as an app's other routes do.
        middleware=[
            Middleware(
                QStashMiddleware, paths=["/verified"], receiver=delivery.receiver, url=delivery.url
            )
        ],
    )
    return [
        asgi_row("starlette middleware", app, delivery, "/verified", "/bare"),
        asgi_row("starlette decorator", app, delivery, "/decorated", "/bare"),
    ]


# The framework-neutral adapters: WSGI and ASGI middleware around a plain app, http.server.


def _plain_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]


@builder("qstash_receiver.adapters.wsgi")
def wsgi_rows(delivery: Delivery) -> list[Row]:
    from qstash_receiver.adapters.wsgi import QStashMiddleware

    # The bare path passes through the middleware too, as an app's other paths do.
    options = {"receiver": delivery.receiver, "url": delivery.url}
    app = QStashMiddleware(_plain_wsgi, paths=["/verified"], **options)  # type: ignore[arg-type]
    rows = [wsgi_row("wsgi middleware (plain app)", app, delivery, "/verified", "/bare", 60)]
    if importlib.util.find_spec("falcon") is not None:
        import falcon

        class Resource:
            def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
                resp.text = str(len(req.bounded_stream.read()))

        inner: falcon.App[falcon.Request, falcon.Response] = falcon.App()
        inner.add_route("/verified", Resource())
        inner.add_route("/bare", Resource())
        app = QStashMiddleware(inner, paths=["/verified"], **options)  # type: ignore[arg-type]
        rows.append(wsgi_row("wsgi middleware (falcon)", app, delivery, "/verified", "/bare", 60))
    return rows


@builder("qstash_receiver.adapters.asgi")
def asgi_neutral_rows(delivery: Delivery) -> list[Row]:
    from qstash_receiver.adapters.asgi import QStashMiddleware

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        body = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})

    options = {"receiver": delivery.receiver, "url": delivery.url}
    app = QStashMiddleware(plain, paths=["/verified"], **options)  # type: ignore[arg-type]
    return [asgi_row("asgi middleware (plain app)", app, delivery, "/verified", "/bare")]


@builder("qstash_receiver.adapters.http_server")
def http_server_rows(delivery: Delivery) -> list[Row]:
    from http.server import BaseHTTPRequestHandler

    from qstash_receiver.adapters.http_server import verify_qstash

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(str(len(body)))))
            self.end_headers()
            self.wfile.write(str(len(body)).encode())

    class Verified(Handler):
        do_POST = verify_qstash(receiver=delivery.receiver, url=delivery.url)(Handler.do_POST)

    def request(body: bytes) -> bytes:
        headers = {**delivery.headers, "Host": "example.com", "Content-Length": str(len(body))}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return f"POST /qstash HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body

    def call(handler: type[BaseHTTPRequestHandler], raw: bytes) -> Call:
        # One request as the server's connection thread handles it, minus the socket.
        def once() -> int:
            served = handler.__new__(handler)
            served.rfile, served.wfile = io.BytesIO(raw), io.BytesIO()
            served.client_address, served.request_version = ("34.78.10.20", 40000), "HTTP/1.1"
            served.close_connection = True
            served.handle_one_request()
            return int(served.wfile.getvalue()[9:12])

        return once

    return [
        Row(
            "http.server decorator",
            verified=call(Verified, request(delivery.body)),
            bare=call(Handler, request(delivery.body)),
            forged=call(Verified, request(delivery.forged_body)),
            target_us=60,
        )
    ]


# aiohttp, Azure Functions and Upstash Workflow.


def _bench_loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    _LOOP = _LOOP or asyncio.new_event_loop()
    return _LOOP


@builder("aiohttp")
def aiohttp_rows(delivery: Delivery) -> list[Row]:
    from unittest import mock

    from aiohttp import web
    from aiohttp.http import HttpVersion11, RawRequestMessage
    from aiohttp.streams import StreamReader
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    from qstash_receiver.adapters.aiohttp import qstash_middleware, verify_qstash

    loop = _bench_loop()
    # The server's side of the connection, built once (a mock per request, as aiohttp's
    # make_mocked_request builds them, costs ~100 us and would hide the adapter's share).
    protocol = mock.Mock(_reading_paused=False, transport=mock.Mock())
    writer, task = mock.Mock(transport=protocol.transport), mock.Mock()

    async def view(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    decorated = verify_qstash(receiver=delivery.receiver, url=delivery.url)(view)
    middleware = qstash_middleware(receiver=delivery.receiver, url=delivery.url)

    def call(body: bytes, through: Any) -> Call:
        """The request aiohttp's server builds (parsed head, body stream), through a handler."""
        headers = {"Host": "example.com", **delivery.headers, "Content-Length": str(len(body))}
        raw = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        head = CIMultiDictProxy(CIMultiDict(headers))
        args = ("POST", "/qstash", HttpVersion11, head, raw, False, None, False, False)
        message = RawRequestMessage(*args, URL("/qstash"))

        async def request() -> int:
            payload = StreamReader(protocol, 2**16, loop=loop)
            payload.feed_data(body)
            payload.feed_eof()
            made = web.Request(message, payload, protocol, writer, task, loop)
            response: web.StreamResponse = await through(made)
            return response.status

        return lambda: loop.run_until_complete(request())

    def through_middleware(request: web.Request) -> Any:
        return middleware(request, view)

    return [
        Row(
            "aiohttp decorator",
            verified=call(delivery.body, decorated),
            bare=call(delivery.body, view),
            forged=call(delivery.forged_body, decorated),
            target_us=60,
        ),
        Row(
            "aiohttp middleware",
            verified=call(delivery.body, through_middleware),
            bare=call(delivery.body, view),
            forged=call(delivery.forged_body, through_middleware),
            target_us=60,
        ),
    ]


@builder("azure.functions")
def azure_rows(delivery: Delivery) -> list[Row]:
    import azure.functions as func

    from qstash_receiver.adapters.azure_functions import verify_qstash

    def function(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(str(len(req.get_body())))

    verified = verify_qstash(receiver=delivery.receiver, url=delivery.url)(function)
    headers = dict(delivery.headers)

    def call(body: bytes, target: Callable[..., func.HttpResponse]) -> Call:
        def invoke() -> int:  # the worker builds one request per invocation, passes it by name
            req = func.HttpRequest("POST", delivery.url, headers=headers, body=body)
            return int(target(req=req).status_code)

        return invoke

    return [
        Row(
            "azure functions (sync)",
            verified=call(delivery.body, verified),
            bare=call(delivery.body, function),
            forged=call(delivery.forged_body, verified),
            target_us=60,
        )
    ]


@builder("upstash_workflow")
def workflow_rows(delivery: Delivery) -> list[Row]:
    from qstash import Receiver as SdkReceiver
    from upstash_workflow.error import WorkflowError
    from upstash_workflow.workflow_requests import _verify_request

    from qstash_receiver.adapters.workflow import WorkflowReceiver
    from qstash_receiver.testing import DEMO_ENV

    # The step of upstash-workflow's serve path that a receiver is: its verify call, with the
    # body as text and the signature; "bare" is the SDK with no receiver (no verification).
    signature, text = delivery.headers["Upstash-Signature"], delivery.body.decode()
    forged_text = delivery.forged_body.decode()

    def call(body: str, receiver: Any) -> Call:
        def invoke() -> int:
            try:
                _verify_request(body, signature, receiver)
            except WorkflowError:
                return 401
            return 200

        return invoke

    # Migration mode: both regions' pairs; the delivery's (US_EAST_1) is tried second.
    migration = WorkflowReceiver(receiver=Receiver(config=load_config(DEMO_ENV)))
    single = WorkflowReceiver(receiver=delivery.receiver)
    current, nxt = DEMO_KEYS[REGION]
    rows = [
        Row(
            "workflow receiver (1 region)",
            verified=call(text, single),
            bare=call(text, None),
            forged=call(forged_text, single),
            target_us=60,
        ),
        Row(
            "workflow receiver (2 regions)",
            verified=call(text, migration),
            bare=call(text, None),
            forged=call(forged_text, migration),
            target_us=60,
        ),
        Row(
            "workflow, the SDK's receiver",  # for reference: qstash.Receiver, one pair
            verified=call(text, SdkReceiver(current, nxt)),
            bare=call(text, None),
            forged=call(forged_text, SdkReceiver(current, nxt)),
        ),
    ]
    return rows


def build_rows(delivery: Delivery) -> list[Row]:
    rows: list[Row] = []
    for requires, build in BUILDERS:
        if importlib.util.find_spec(requires) is None:
            print(f"  (skipped {build.__name__}: {requires} is not installed)")
            continue
        rows.extend(build(delivery))
    for row in rows:
        # The bench's own guard: a row whose verified path does not verify measures nothing.
        answers = (row.verified(), row.bare(), row.forged() if row.forged else None)
        expected = (200, 200, 401 if row.forged else None)
        if answers != expected:
            raise RuntimeError(
                f"bench setup: {row.label} answered {answers} (verified, bare, forged); "
                f"expected {expected}"
            )
    return rows


def verify_alone(delivery: Delivery) -> Callable[[], object]:
    """``Receiver.verify`` on the same delivery, as the adapters call it."""
    return partial(
        delivery.receiver.verify,
        signature=delivery.headers["Upstash-Signature"],
        body=delivery.body,
        url=delivery.url,
        upstash_region=delivery.headers["Upstash-Region"],
    )


def quiet_logs() -> None:
    # Rejections (the forged checks) log at INFO; a deployment would not show them either.
    logging.getLogger("qstash_receiver").setLevel(logging.WARNING)


def run_table(rows: Sequence[Row], delivery: Delivery, rounds: int) -> None:
    cases: dict[tuple[str, str], Callable[[], object]] = {("verify", ""): verify_alone(delivery)}
    for row in rows:
        cases[row.label, "verified"] = row.verified
        cases[row.label, "bare"] = row.bare
    groups = [[("verify", "")]] + [[(r.label, "verified"), (r.label, "bare")] for r in rows]
    load_before = os.getloadavg()[0]
    samples = timing.measure(cases, rounds, groups)
    load_after = os.getloadavg()[0]
    verify_us = min(samples["verify", ""])

    print(
        f"Adapters: microseconds per request, {len(delivery.body)} B JSON delivery, min of "
        f"{rounds} rounds;\nverified and bare handler back to back in every round\n"
    )
    print(f"  Receiver.verify alone (reference): {verify_us:.2f} us\n")
    header = (
        f"{'row':<29} | {'bare us':>8} {'verified':>9} | {'added us':>8} {'paired':>7} "
        f"{'- verify':>8} | {'ratio':>5}"
    )
    print(header)
    print("-" * len(header))
    added: dict[str, float] = {}
    for row in rows:
        verified, bare = samples[row.label, "verified"], samples[row.label, "bare"]
        fast_v, fast_b = min(verified), min(bare)
        added[row.label] = fast_v - fast_b
        paired = statistics.median(v - b for v, b in zip(verified, bare, strict=True))
        print(
            f"{row.label:<29} | {fast_b:8.1f} {fast_v:9.1f} | {fast_v - fast_b:8.1f} "
            f"{paired:7.1f} {fast_v - fast_b - verify_us:8.1f} | {fast_v / fast_b:5.2f}"
        )
    print(
        "\n  added = min(verified) - min(bare); paired = median over rounds of the per-round "
        "difference;\n  - verify = added minus Receiver.verify alone: the adapter's own share"
    )
    cpus = os.cpu_count() or 1
    print(
        f"  1-minute load average before / after: {load_before:.1f} / {load_after:.1f} on "
        f"{cpus} CPUs"
    )
    if max(load_before, load_after) > cpus - 0.5:
        # Seen on a shared 2-CPU machine: the WSGI rows then move by tens of us per run.
        print("  (busy machine: other work competes for the CPUs; rerun when it is idle)")

    print("\nTargets (issue 9; information only)")
    for row in rows:
        if row.target_us is not None:
            mark = "PASS" if added[row.label] <= row.target_us else "MISS"
            print(
                f"  {mark}  {row.label}: added {added[row.label]:.1f} us "
                f"(target <= {row.target_us:.0f} us)"
            )


#: Per function (file, line, name): calls, own time (us) and cumulative time (us) per request.
Profile = dict[tuple[str, int, str], tuple[float, float, float]]


def _per_request(stats: pstats.Stats, calls: int) -> Profile:
    table: Profile = {}
    for func, (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        table[func] = (ncalls / calls, tottime / calls * 1e6, cumtime / calls * 1e6)
    return table


def _entry(call: Callable[[], object]) -> tuple[str, int, str]:
    # The profile key of the function a partial() wraps (Receiver.verify for the reference).
    target = call.func if isinstance(call, partial) else call
    code = target.__code__
    return (code.co_filename, code.co_firstlineno, code.co_name)


def _profile(call: Callable[[], object], calls: int) -> Profile:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    return _per_request(pstats.Stats(profiler), calls)


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    # Shortest readable path: from the package (ours or a dependency's), else as given.
    for marker in (os.sep + "qstash_receiver" + os.sep, "site-packages" + os.sep, "lib" + os.sep):
        if marker in filename:
            filename = filename.rsplit(marker, 1)[1]
            if marker.endswith("qstash_receiver" + os.sep):
                filename = "qstash_receiver/" + filename
            break
    return f"{filename}:{line} {name}" if line else name


def run_profile(rows: Iterable[Row], delivery: Delivery, calls: int, top: int) -> None:
    reference = verify_alone(delivery)
    tables: list[tuple[str, Profile]] = [("Receiver.verify alone", _profile(reference, calls))]
    profiled = tables[0][1][_entry(reference)][2]
    plain = min(timing.measure({"verify": reference}, 11)["verify"])
    print(
        f"cProfile, {calls} calls per handler; figures per request, inflated by the profiler:\n"
        f"Receiver.verify takes {profiled:.1f} us profiled, {plain:.1f} us without "
        f"(divide by about {profiled / plain:.1f})\n"
    )
    for row in rows:
        verified, bare = _profile(row.verified, calls), _profile(row.bare, calls)
        grown = {
            func: (
                stats[0] - bare.get(func, (0, 0, 0))[0],
                stats[1] - bare.get(func, (0, 0, 0))[1],
                stats[2] - bare.get(func, (0, 0, 0))[2],
            )
            for func, stats in verified.items()
        }
        tables.append((f"{row.label}: verified minus bare", grown))
    for title, table in tables:
        total = sum(stats[1] for stats in table.values())
        print(f"== {title} (own time, total {total:.1f} us/request)")
        print(f"{'calls':>6} {'own us':>7} {'cum us':>7}  function")
        ranked = sorted(table.items(), key=lambda item: item[1][1], reverse=True)
        for func, (ncalls, own, cum) in ranked[:top]:
            print(f"{ncalls:6.1f} {own:7.2f} {cum:7.2f}  {_where(func)}")
        print()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--profile", nargs="*", metavar="ROW", help="profile these rows (by label prefix)"
    )
    parser.add_argument("--calls", type=int, default=PROFILE_CALLS, help="calls per profile")
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile")
    options = parser.parse_args(argv)

    quiet_logs()
    delivery = make_delivery()
    rows = build_rows(delivery)
    if options.profile is None:
        print(f"python {sys.version.split()[0]}")
        run_table(rows, delivery, options.rounds)
        return
    wanted = [row for row in rows if any(row.label.startswith(p) for p in options.profile)]
    run_profile(wanted if options.profile else rows, delivery, options.calls, options.top)


if __name__ == "__main__":
    main()
