"""The Starlette adapter in-process: Starlette's own TestClient for every answer of DESIGN.md
through the middleware and the decorator (sync, async, HTTPEndpoint), and direct ASGI calls
where a test client cannot show it (chunked bodies, what receive() hands over, disconnects)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from asgi_apps import (
    CHECKED_PATHS,
    HANDLED,
    JSON_BODY,
    LIMIT,
    RECEIVER,
    US_CURRENT,
    Counted,
    phrase,
    read_stopped_at_limit,
    send_every_delivery,
    signed,
    starlette_app,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Scope
from typing_extensions import assert_type

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.adapters import starlette as adapter
from qstash_receiver.adapters.starlette import (
    QStashMiddleware,
    get_message,
    request_url,
    verify_qstash,
)

BASE = "http://testserver"
#: The checked routes of the Starlette app (served at its root here, not mounted).
PATHS = {
    name: path.removeprefix("/starlette")
    for name, path in CHECKED_PATHS.items()
    if name.startswith("starlette")
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(starlette_app(), base_url=BASE) as test_client:
        yield test_client


@pytest.mark.parametrize("target", sorted(PATHS))
def test_every_delivery_gets_its_answer(client: TestClient, target: str) -> None:
    path = PATHS[target]
    send_every_delivery(client, BASE, path, target, f"tc_{target}")


@pytest.mark.parametrize("path", ["/mw-unconfigured/hook", "/unconfigured"])
def test_no_signing_keys_is_a_retryable_500(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", BASE + path, "msg_no_keys")
    with caplog.at_level(logging.ERROR, "qstash_receiver"):
        response = client.post(path, content=JSON_BODY, headers=headers)
    assert (response.status_code, response.text) == (
        500,
        "500 Internal Server Error: configuration_error",
    )
    assert HANDLED["msg_no_keys"] == 0
    assert "QStash delivery answered 500" in caplog.text  # the operator's cue


def test_paths_outside_the_middleware_pass_through(client: TestClient) -> None:
    response = client.post("/mwx/hook", content=b"unsigned")  # a sibling of /mw, not below
    assert response.json() == {"verified": False, "length": 8}


def test_without_url_option_the_signed_url_is_not_checked(client: TestClient) -> None:
    # The TS SDK's default, kept: the URL check is opt-in (url=request_url or a fixed URL).
    headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", "https://elsewhere.test/x", "msg_any")
    response = client.post("/any-url", content=JSON_BODY, headers=headers)
    assert response.status_code == 200
    assert response.json()["url"] == "https://elsewhere.test/x"


# --- direct ASGI calls -----------------------------------------------------------------------


def run_asgi(
    app: Any, scope: Scope, chunks: list[bytes], after: list[Message] | None = None
) -> tuple[list[Message], list[Message]]:
    """Call ``app`` once; its receive hands out ``chunks`` (then ``after``, then disconnect
    forever). Returns what the app sent and what it received."""
    received: list[Message] = []
    sent: list[Message] = []
    queue: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ] + list(after or [])

    async def receive() -> Message:
        message = queue.pop(0) if queue else {"type": "http.disconnect"}
        received.append(message)
        return message

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, received


def http_scope(path: str, headers: list[tuple[str, str]], **extra: Any) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        + [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        **extra,
    }


def status_and_text(sent: list[Message]) -> tuple[int, str]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body.decode()


@pytest.mark.parametrize("path", ["/mw/hook", "/async", "/sync", "/endpoint"])
def test_chunked_oversize_stops_reading_at_the_limit(path: str) -> None:
    big = b"c" * (3 * LIMIT)
    headers = signed(big, US_CURRENT, "US_EAST_1", BASE + path, f"msg_chunked_{path}")
    chunks = [big[i : i + 65536] for i in range(0, len(big), 65536)]
    counted = Counted(starlette_app())
    sent, _ = run_asgi(counted, http_scope(path, headers), chunks)
    assert status_and_text(sent) == (413, f"413 {phrase(413)}: body_too_large")
    sizes = counted.chunks[f"msg_chunked_{path}"]
    assert read_stopped_at_limit(sizes, LIMIT)
    assert sum(sizes) < len(big) // 2


@pytest.mark.parametrize("path", ["/mw/hook", "/async"])
def test_declared_oversize_is_refused_before_any_read(path: str) -> None:
    headers = [*signed(b"x", US_CURRENT, "US_EAST_1", BASE + path, "msg_declared")]
    headers.append(("Content-Length", str(LIMIT + 1)))
    counted = Counted(starlette_app())
    sent, received = run_asgi(counted, http_scope(path, headers), [b"x" * 1024] * 2000)
    assert status_and_text(sent)[0] == 413
    assert counted.chunks["msg_declared"] == []  # not one chunk taken from the server
    assert received == []


def test_chunked_body_within_the_limit_is_replayed_whole() -> None:
    body = bytes(range(256)) * 1000
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    headers = signed(body, US_CURRENT, "US_EAST_1", BASE + "/mw/hook", "msg_chunked_ok")
    sent, _ = run_asgi(starlette_app(), http_scope("/mw/hook", headers), chunks)
    status, text = status_and_text(sent)
    assert status == 200
    assert '"same_body":true' in text
    assert f'"length":{len(body)}' in text


def test_the_app_gets_the_body_once_then_the_servers_disconnect() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.extend([await receive(), await receive()])
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = QStashMiddleware(app, receiver=RECEIVER)
    headers = signed(b"abcdef", US_CURRENT, "US_EAST_1", BASE + "/", "msg_replay")
    sent, received = run_asgi(middleware, http_scope("/", headers), [b"abc", b"def"])
    assert status_and_text(sent) == (200, "ok")
    assert seen == [
        {"type": "http.request", "body": b"abcdef", "more_body": False},
        {"type": "http.disconnect"},  # forwarded from the server, after the replay
    ]
    assert [m["type"] for m in received] == ["http.request", "http.request", "http.disconnect"]


def test_a_client_gone_mid_body_gets_no_answer_and_the_app_no_call() -> None:
    called: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        called.append(scope)

    headers = signed(b"abcdef", US_CURRENT, "US_EAST_1", BASE + "/", "msg_gone")
    part = {"type": "http.request", "body": b"abc", "more_body": True}
    sent, _ = run_asgi(
        QStashMiddleware(app, receiver=RECEIVER), http_scope("/", headers), [], [part]
    )
    assert (sent, called) == ([], [])


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_other_scopes_pass_through(kind: str) -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    asyncio.run(QStashMiddleware(app)({"type": kind}, _never, _discard))
    assert calls == [kind]


async def _never() -> Message:
    raise AssertionError("receive must not be called")


async def _discard(message: Message) -> None:
    raise AssertionError("send must not be called")


# --- the URL ---------------------------------------------------------------------------------


def url_of(**scope: Any) -> str:
    base = http_scope("/hooks/a%20b", [])
    base.update(scope)
    return request_url(Request(base))


def test_request_url_is_the_url_as_addressed() -> None:
    assert url_of() == "http://testserver/hooks/a%20b"  # raw_path: percent-encoding kept
    assert url_of(path="/hooks/a b", raw_path=None) == "http://testserver/hooks/a%20b"
    assert url_of(query_string=b"tenant=7&x=%2F") == "http://testserver/hooks/a%20b?tenant=7&x=%2F"
    host = [(b"host", b"hooks.example.com:8443")]
    assert url_of(headers=host, scheme="https") == "https://hooks.example.com:8443/hooks/a%20b"
    # No Host header: the server address, as request.url has it.
    assert url_of(headers=[], server=("10.0.0.5", 8000)) == "http://10.0.0.5:8000/hooks/a%20b"


def test_request_url_keeps_root_path() -> None:
    # uvicorn --root-path /api: path and raw_path both start with it (ASGI spec).
    url = url_of(root_path="/api", path="/api/hooks/a b", raw_path=b"/api/hooks/a%20b")
    assert url == "http://testserver/api/hooks/a%20b"
    # A server whose raw_path lacks the root path: the decoded path wins.
    assert url_of(root_path="/api", path="/api/x", raw_path=b"/x") == "http://testserver/api/x"


def test_middleware_paths_are_below_root_path() -> None:
    middleware = QStashMiddleware(_app_never_called, paths=["/qstash/"], receiver=RECEIVER)
    covers = middleware._covers
    assert covers({"path": "/qstash"})
    assert covers({"path": "/qstash/jobs/7"})
    assert not covers({"path": "/qstashx"})
    assert not covers({"path": "/"})
    assert covers({"path": "/api/qstash", "root_path": "/api"})
    assert not covers({"path": "/api/other", "root_path": "/api"})


async def _app_never_called(scope: Scope, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


# --- options, types, names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_body_bytes": -1}, ValueError),
        ({"clock_tolerance": float("nan")}, ValueError),
        ({"url": 7}, TypeError),
        ({"receiver": "keys"}, TypeError),
        ({"paths": "/qstash"}, ValueError),  # a str, not a list of paths
        ({"paths": ["qstash"]}, ValueError),
        ({"paths": []}, ValueError),
    ],
)
def test_invalid_options_fail_when_the_app_is_built(
    options: dict[str, Any], error: type[Exception]
) -> None:
    app = Starlette(middleware=[Middleware(QStashMiddleware, **options)])
    with pytest.raises(error):
        app.build_middleware_stack()
    if "paths" not in options:
        with pytest.raises(error):
            verify_qstash(**options)


def test_decorator_on_something_that_is_not_an_endpoint() -> None:
    @verify_qstash
    async def view(value: int) -> Response:
        return PlainTextResponse(str(value))

    with pytest.raises(TypeError, match="Starlette endpoints"):
        asyncio.run(view(7))


def test_types_of_the_public_api() -> None:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    def sync_endpoint(request: Request) -> Response:
        return PlainTextResponse("ok")

    bare = verify_qstash(endpoint)
    configured = verify_qstash(url="https://x.test/", max_body_bytes=10)(sync_endpoint)
    assert bare.__wrapped__ is endpoint  # type: ignore[attr-defined]
    assert asyncio.iscoroutinefunction(configured)
    if TYPE_CHECKING:  # checked by mypy --strict: an unused "ignore" fails it
        request = Request({"type": "http"})
        calls = (bare(request), configured(request))
        assert_type(calls, tuple[Coroutine[Any, Any, Response], Coroutine[Any, Any, Response]])
        _ = bare(7)  # type: ignore[arg-type]
        _ = configured("x")  # type: ignore[arg-type]
        verify_qstash(max_body_bytes="10")  # type: ignore[call-overload]
        Middleware(QStashMiddleware, max_body_bytes="10")  # type: ignore[arg-type]
        Middleware(QStashMiddleware, path=["/x"])  # type: ignore[call-arg]
        Middleware(QStashMiddleware, paths=["/x"], url="https://x.test/", clock_tolerance=1)
        assert_type(get_message(Request({"type": "http"})), VerifiedMessage)


def test_get_message_outside_a_verified_request() -> None:
    with pytest.raises(LookupError):
        get_message(Request(http_scope("/", [])))


def test_error_classes_are_reexported() -> None:
    import qstash_receiver

    for name in ("QStashError", "SignatureError", "ConfigError", "VerifiedMessage"):
        assert getattr(adapter, name) is getattr(qstash_receiver, name)
    assert issubclass(SignatureError, QStashError)
    assert issubclass(ConfigError, QStashError)


def test_a_client_gone_mid_body_escapes_from_no_route(caplog: pytest.LogCaptureFixture) -> None:
    """FastAPI's dependency and Starlette's decorator: nothing raised, nothing logged as an
    error (a ClientDisconnect used to escape, and uvicorn logged its traceback)."""
    from fastapi import Depends, FastAPI

    from qstash_receiver.adapters.fastapi import QStashVerifier

    ran: list[str] = []
    api = FastAPI()

    @api.post("/", dependencies=[Depends(QStashVerifier(receiver=RECEIVER))])
    def route() -> str:
        ran.append("fastapi")
        return "ok"

    async def endpoint(request: Request) -> Response:
        ran.append("starlette")
        return PlainTextResponse("ok")

    decorated = Starlette(routes=[Route("/", verify_qstash(receiver=RECEIVER)(endpoint))])
    headers = signed(b"abcdef", US_CURRENT, "US_EAST_1", BASE + "/", "msg_gone")
    part = {"type": "http.request", "body": b"abc", "more_body": True}
    for app in (api, decorated):
        with caplog.at_level(logging.ERROR):
            run_asgi(app, http_scope("/", headers), [], [part])
    assert ran == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
