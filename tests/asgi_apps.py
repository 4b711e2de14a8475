"""Starlette and FastAPI test apps for the ASGI adapters, the deliveries sent to them, and ASGI
plumbing: a receive counter and uvicorn in a thread of the test process.

Imported as a top-level module by tests in this folder (pytest puts tests/ on ``sys.path``).
Every verified route answers what it saw (JSON) and counts its runs in :data:`HANDLED`, so a
test can tell whether a handler ran, and how often.
"""

# No "from __future__ import annotations": FastAPI resolves the routes' annotations at run
# time, and some name dependencies defined inside fastapi_app().
import hashlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Annotated, Any

import anyio.from_thread
import httpx
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.adapters.fastapi import QStashVerifier, install
from qstash_receiver.adapters.starlette import (
    QStashMiddleware,
    get_message,
    request_url,
    verify_qstash,
)
from qstash_receiver.integration import OptionArgs
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

RECEIVER = Receiver(config=load_config(DEMO_ENV))  # migration mode: both regions' keys
UNCONFIGURED = Receiver(config=load_config({}))  # no keys at all: every request is a 500
#: The body limit of the checked routes: just over the 1 MiB binary delivery.
LIMIT = 1024 * 1024 + 1024
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
EU_CURRENT, EU_NEXT = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]
FORGED_KEY = "sig_forgedByMallory0000000000000"
JSON_BODY = b'{"event": "order.created", "order_id": 4217, "amount_cents": 1999}'
BINARY = (bytes(range(256)) * 4096)[: 1024 * 1024 - 5] + b"\xff\xfe\x00\xc3\x28"  # 1 MiB
#: Options of every checked route: migration keys, the signed URL checked, the limit.
CHECKED: OptionArgs = {"receiver": RECEIVER, "url": request_url, "max_body_bytes": LIMIT}

#: Message id -> how many times a handler ran for it.
HANDLED: Counter[str] = Counter()

#: Paths of the checked routes, by what verifies them; ``/starlette`` is a mounted app.
CHECKED_PATHS = {
    "fastapi-async": "/fastapi/async",
    "fastapi-sync": "/fastapi/sync",
    "fastapi-router": "/router/hook",
    "fastapi-middleware": "/fastapi-mw/hook",
    "starlette-middleware": "/starlette/mw/hook",
    "starlette-async": "/starlette/async",
    "starlette-sync": "/starlette/sync",
    "starlette-endpoint": "/starlette/endpoint",
}
#: The same kinds of route with a receiver that has no keys.
UNCONFIGURED_PATHS = {
    "fastapi-dependency": "/fastapi/unconfigured",
    "starlette-middleware": "/starlette/mw-unconfigured/hook",
    "starlette-decorator": "/starlette/unconfigured",
}


def phrase(status: int) -> str:
    return "Error" if status == 489 else HTTPStatus(status).phrase


def seen(message: VerifiedMessage, raw: bytes, request: Request) -> JSONResponse:
    """A verified route's answer: what it saw, ``raw`` being the body it read itself."""
    HANDLED[message.message_id or ""] += 1
    return JSONResponse(
        {
            "ran": True,
            "message_id": message.message_id,
            "key_region": message.key_region,
            "key_used": message.key_used,
            "length": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "same_body": raw == message.body,
            "in_scope": get_message(request) is message,
            "url": message.url,
        }
    )


def starlette_app() -> Starlette:
    """Middleware (``/mw``), decorated sync and async endpoints, an ``HTTPEndpoint``."""

    async def via_middleware(request: Request) -> Response:
        return seen(get_message(request), await request.body(), request)

    @verify_qstash(**CHECKED)
    async def decorated(request: Request) -> Response:
        return seen(get_message(request), await request.body(), request)

    @verify_qstash(**CHECKED)
    def decorated_sync(request: Request) -> Response:
        # Sync endpoints run in a worker thread: the cached body is read through the loop.
        return seen(get_message(request), anyio.from_thread.run(request.body), request)

    class Endpoint(HTTPEndpoint):
        @verify_qstash(**CHECKED)
        async def post(self, request: Request) -> Response:
            return seen(get_message(request), await request.body(), request)

    @verify_qstash(receiver=UNCONFIGURED)
    async def unconfigured(request: Request) -> Response:
        return seen(get_message(request), await request.body(), request)

    @verify_qstash(receiver=RECEIVER)  # the default: no URL check
    async def any_url(request: Request) -> Response:
        return seen(get_message(request), await request.body(), request)

    async def unverified(request: Request) -> Response:
        return JSONResponse({"verified": False, "length": len(await request.body())})

    return Starlette(
        routes=[
            Route("/mw/hook", via_middleware, methods=METHODS),
            Route("/mw-unconfigured/hook", via_middleware, methods=METHODS),
            Route("/mwx/hook", unverified, methods=METHODS),  # not below /mw
            Route("/async", decorated, methods=METHODS),
            Route("/sync", decorated_sync, methods=METHODS),
            Route("/endpoint", Endpoint),
            Route("/unconfigured", unconfigured, methods=METHODS),
            Route("/any-url", any_url, methods=METHODS),
        ],
        middleware=[
            Middleware(QStashMiddleware, paths=["/mw"], **CHECKED),
            Middleware(QStashMiddleware, paths=["/mw-unconfigured"], receiver=UNCONFIGURED),
        ],
    )


class Order(BaseModel):
    event: str
    order_id: int
    amount_cents: int


async def raw_body(request: Request) -> bytes:
    """A dependency giving a sync path operation the body (cached by the verifier)."""
    return await request.body()


def every_method(
    router: FastAPI | APIRouter, path: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route ``path`` for every QStash method, one route each (one OpenAPI operation id each)."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        for method in METHODS:
            name = f"{endpoint.__name__}_{method.lower()}"
            router.add_api_route(path, endpoint, methods=[method], name=name)
        return endpoint

    return register


def fastapi_app() -> FastAPI:
    """Dependency routes (async, sync, router-wide, with a body parameter), the middleware on
    ``/fastapi-mw``, and :func:`starlette_app` mounted at ``/starlette``."""
    app = FastAPI()
    install(app)
    verifier = QStashVerifier(**CHECKED)
    Verified = Annotated[VerifiedMessage, Depends(verifier)]

    @every_method(app, "/fastapi/async")
    async def dependency(request: Request, message: Verified) -> Response:
        return seen(message, await request.body(), request)

    @every_method(app, "/fastapi/sync")
    def dependency_sync(
        request: Request, message: Verified, raw: Annotated[bytes, Depends(raw_body)]
    ) -> Response:
        return seen(message, raw, request)

    @app.post("/fastapi/order")
    async def order(order: Order, message: Verified, request: Request) -> dict[str, Any]:
        seen(message, await request.body(), request)
        return {"order": order.model_dump(), "message_id": message.message_id}

    unconfigured = QStashVerifier(receiver=UNCONFIGURED)

    @app.post("/fastapi/unconfigured")
    async def no_keys(
        request: Request, message: Annotated[VerifiedMessage, Depends(unconfigured)]
    ) -> Response:
        return seen(message, await request.body(), request)

    @every_method(app, "/fastapi-mw/hook")
    async def via_middleware(request: Request) -> Response:
        return seen(get_message(request), await request.body(), request)

    router = APIRouter(prefix="/router", dependencies=[Depends(verifier)])

    @every_method(router, "/hook")
    async def routed(request: Request, message: Verified) -> Response:
        # The router's dependency and this parameter are one dependency, solved once.
        return seen(message, await request.body(), request)

    app.include_router(router)
    app.add_middleware(QStashMiddleware, paths=["/fastapi-mw"], **CHECKED)
    app.mount("/starlette", starlette_app())
    return app


# --- deliveries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    name: str
    body: bytes
    headers: list[tuple[str, str]]
    status: int
    reason: str | None = None  # rejections
    region: str | None = None  # genuine deliveries
    method: str = "POST"
    key_used: str = "current"

    @property
    def message_id(self) -> str:
        return dict(self.headers)["Upstash-Message-Id"]


def signed(
    body: bytes, key: str, region: str, url: str, message_id: str, **options: Any
) -> list[tuple[str, str]]:
    headers = signed_headers(
        body, key=key, url=url, region=region, message_id=message_id, **options
    )
    kind = "application/json" if body.startswith(b"{") else "application/octet-stream"
    return [*headers.items(), *([("Content-Type", kind)] if body else [])]


def deliveries(url: str, tag: str) -> list[Delivery]:
    """Six genuine deliveries (both regions and keys, GET, 1 MiB binary) and eight refused
    ones, each for ``url``; message ids start with ``tag``."""

    def genuine(name: str, body: bytes, key: str, region: str, **extra: Any) -> Delivery:
        headers = signed(body, key, region, url, f"{tag}_{name}")
        return Delivery(name, body, headers, 200, region=region, **extra)

    def refused(
        name: str, reason: str, key: str = US_CURRENT, region: str = "US_EAST_1", **sign: Any
    ) -> Delivery:
        headers = signed(JSON_BODY, key, region, sign.pop("url", url), f"{tag}_{name}", **sign)
        return Delivery(name, JSON_BODY, headers, 401, reason)

    tampered = refused("tampered", "body_mismatch")
    missing = refused("missing", "missing_signature")
    duplicated = refused("duplicated", "duplicate_signature")
    signature = dict(duplicated.headers)["Upstash-Signature"]
    big = b"o" * (LIMIT + 1)
    return [
        genuine("us", JSON_BODY, US_CURRENT, "US_EAST_1"),
        genuine("eu", JSON_BODY, EU_CURRENT, "EU_CENTRAL_1"),
        genuine("us_next", JSON_BODY, US_NEXT, "US_EAST_1", key_used="next"),
        genuine("eu_next", JSON_BODY, EU_NEXT, "EU_CENTRAL_1", key_used="next"),
        genuine("get", b"", EU_CURRENT, "EU_CENTRAL_1", method="GET"),
        genuine("binary", BINARY, US_NEXT, "US_EAST_1", key_used="next"),
        replace(tampered, body=JSON_BODY.replace(b"1999", b"9999")),
        refused("wrong_region", "invalid_signature", key=EU_CURRENT),
        refused("forged", "invalid_signature", key=FORGED_KEY, region="EU_CENTRAL_1"),
        refused("expired", "expired", now=time.time() - 301),
        refused("wrong_url", "url_mismatch", url=url + "/elsewhere"),
        replace(missing, headers=[h for h in missing.headers if h[0] != "Upstash-Signature"]),
        replace(duplicated, headers=[*duplicated.headers, ("Upstash-Signature", signature)]),
        Delivery(
            "oversize",
            big,
            signed(big, US_CURRENT, "US_EAST_1", url, f"{tag}_oversize"),
            413,
            "body_too_large",
        ),
    ]


def check_answer(delivery: Delivery, status: int, text: str, headers: Any) -> None:
    """The answer must be the one every adapter gives; a verified one must show the body."""
    assert status == delivery.status, (delivery.name, status, text[:200])
    if delivery.status == 200:
        seen_ = json.loads(text)
        assert seen_["message_id"] == delivery.message_id
        assert seen_["key_region"] == delivery.region
        assert seen_["key_used"] == delivery.key_used
        assert seen_["length"] == len(delivery.body)
        assert seen_["sha256"] == hashlib.sha256(delivery.body).hexdigest()
        assert seen_["same_body"] is True
        assert seen_["in_scope"] is True
        assert HANDLED[delivery.message_id] == 1, delivery.name
    else:
        assert text == f"{delivery.status} {phrase(delivery.status)}: {delivery.reason}"
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert HANDLED[delivery.message_id] == 0, delivery.name


# --- ASGI plumbing ---------------------------------------------------------------------------


@dataclass
class Counted:
    """An ASGI wrapper recording, per request (by message id), the body chunk sizes that the
    app below it took from ``receive``: what the server had to read off the socket for it."""

    app: ASGIApp
    chunks: dict[str, list[int]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ids = [v for k, v in scope["headers"] if k == b"upstash-message-id"]
        sizes = self.chunks.setdefault(ids[0].decode() if ids else "", [])

        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sizes.append(len(message.get("body", b"")))
            return message

        await self.app(scope, counting, send)


def send_every_delivery(
    client: httpx.Client | TestClient, base: str, path: str, target: str, tag: str
) -> None:
    """Send each of :func:`deliveries` for ``base + path`` through ``client`` (a real server's
    or a test client) and check each answer; message ids start with ``tag``."""
    for delivery in deliveries(base + path, tag):
        if target == "starlette-endpoint" and delivery.method != "POST":
            continue  # the HTTPEndpoint has a post method only
        response = client.request(
            delivery.method, path, content=delivery.body, headers=delivery.headers
        )
        check_answer(delivery, response.status_code, response.text, response.headers)


def read_stopped_at_limit(sizes: Sequence[int], limit: int) -> bool:
    """True when reading stopped with the first chunk that crossed ``limit``."""
    return sum(sizes[:-1]) <= limit < sum(sizes)


@contextmanager
def uvicorn_server(app: ASGIApp, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a loopback socket from a thread; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = {"lifespan": "off", "log_level": "warning", "access_log": False, **config}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
