"""The aiohttp adapter on a real aiohttp server (``web.AppRunner`` on a loopback port): the
decorator on handlers and ``web.View`` methods and the middleware, in single-region and
migration mode, with every answer of DESIGN.md."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp_server import served
from stack_cases import (
    BINARY_BODY,
    FORGED,
    JSON_BODY,
    MIGRATION,
    MODE_REGION_IDS,
    MODE_REGIONS,
    MODES,
    SINGLE,
    Mode,
    forged,
    genuine,
)

from qstash_receiver import (
    ConfigError,
    NonRetryableError,
    QStashError,
    Receiver,
    RetryLater,
    SignatureError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.adapters import aiohttp as adapter
from qstash_receiver.adapters._aiohttp import default_receiver
from qstash_receiver.adapters.aiohttp import (
    get_message,
    qstash_middleware,
    request_url,
    verify_qstash,
)
from qstash_receiver.dedupe import MemoryStore
from qstash_receiver.names import Region

LIMIT = 64 * 1024
KINDS = {"decorator": "/decorated", "view": "/view", "middleware": "/guarded/hook"}
TOO_LARGE = (413, f"413 {HTTPStatus(413).phrase}: body_too_large")


async def _answer(request: web.Request, runs: Counter[str]) -> web.Response:
    message = get_message(request)
    runs[message.message_id or "-"] += 1
    action = request.query.get("do", "ok")
    if action == "nonretryable":
        raise NonRetryableError("the order is gone")
    if action == "retry_later":
        raise RetryLater(20)
    if action == "slow":
        await asyncio.sleep(0.3)
    if action == "raise_ok":
        raise web.HTTPOk(text="raised")
    body = await request.read()  # read again after verification
    return web.json_response(
        {
            "message_id": message.message_id,
            "key_region": message.key_region,
            "body": body.hex(),
            "same": body == message.body,
            "json": await request.json() if body[:1] == b"{" else None,
        }
    )


def make_app(receiver: Receiver, runs: Counter[str], **options: Any) -> web.Application:
    """The decorator, a View, and the middleware on ``/guarded``, all with ``options``."""

    @verify_qstash(receiver=receiver, max_body_bytes=LIMIT, **options)
    async def decorated(request: web.Request) -> web.Response:
        return await _answer(request, runs)

    class View(web.View):
        @verify_qstash(receiver=receiver, max_body_bytes=LIMIT, **options)
        async def post(self) -> web.Response:
            return await _answer(self.request, runs)

    async def guarded(request: web.Request) -> web.Response:
        return await _answer(request, runs)

    async def open_route(request: web.Request) -> web.Response:
        with pytest.raises(LookupError):
            get_message(request)
        return web.Response(text=f"open {len(await request.read())}")

    middleware = qstash_middleware(
        paths=["/guarded"], receiver=receiver, max_body_bytes=LIMIT, **options
    )
    app = web.Application(middlewares=[middleware])
    for method in ("GET", "POST", "PUT", "DELETE"):
        app.router.add_route(method, "/decorated", decorated)
        app.router.add_route(method, "/guarded/{name}", guarded)
    app.router.add_view("/view", View)
    app.router.add_post("/open", open_route)
    return app


@pytest.fixture(scope="module", params=MODES, ids=str)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Mode, str, Counter[str]]]:
    mode: Mode = request.param
    runs = Counter[str]()
    with served(make_app(mode.receiver(), runs)) as base:
        yield mode, base, runs


_HTTP: list[httpx.Client] = []


@pytest.fixture(scope="module", autouse=True)
def http_client() -> Iterator[None]:
    """One client for the module: a new one per request would load certificates every time."""
    with httpx.Client(timeout=30) as client:
        _HTTP.append(client)
        yield
        _HTTP.clear()


def post(base: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return _HTTP[0].post(base + path, content=body, headers=headers)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(("body", "label"), [(JSON_BODY, "json"), (BINARY_BODY, "binary")])
def test_a_genuine_delivery_reaches_the_handler_with_its_message_and_raw_body(
    server: tuple[Mode, str, Counter[str]], kind: str, body: bytes, label: str
) -> None:
    mode, base, _ = server
    for region in mode.regions:
        headers = genuine(body, region, message_id=f"msg_{kind}_{label}_{region}")
        answer = post(base, KINDS[kind], body, headers)
        assert answer.status_code == 200, answer.text
        seen = answer.json()
        expected_keys = region if mode is MIGRATION else None
        assert seen["message_id"] == f"msg_{kind}_{label}_{region}"
        assert seen["key_region"] == expected_keys
        assert bytes.fromhex(seen["body"]) == body
        assert seen["same"] is True
        assert seen["json"] == (json.loads(body) if body is JSON_BODY else None)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("case", sorted(FORGED))
def test_every_forgery_is_refused_with_401_naming_its_reason(
    server: tuple[Mode, str, Counter[str]], kind: str, case: str
) -> None:
    mode, base, runs = server
    before = sum(runs.values())
    for region in mode.regions:
        headers, body = forged(case, JSON_BODY, region)
        answer = post(base, KINDS[kind], body, headers)
        assert (answer.status_code, answer.text) == (401, f"401 Unauthorized: {FORGED[case]}")
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert "Upstash-Signature" not in answer.text
    assert sum(runs.values()) == before  # no handler ran


@pytest.mark.parametrize("kind", ["decorator", "middleware"])  # the View serves POST only
def test_a_schedule_get_with_an_empty_body_is_verified(
    server: tuple[Mode, str, Counter[str]], kind: str
) -> None:
    mode, base, _ = server
    headers = genuine(b"", mode.regions[-1])
    answer = _HTTP[0].get(base + KINDS[kind], headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["body"] == ""


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_handler_errors_become_489_and_503(
    server: tuple[Mode, str, Counter[str]], kind: str
) -> None:
    mode, base, _ = server
    region = mode.regions[-1]
    refused = post(base, KINDS[kind] + "?do=nonretryable", JSON_BODY, genuine(JSON_BODY, region))
    expected = (489, "489 Error: non_retryable: the order is gone")
    assert (refused.status_code, refused.text) == expected
    assert refused.headers["upstash-nonretryable-error"] == "true"
    later = post(base, KINDS[kind] + "?do=retry_later", JSON_BODY, genuine(JSON_BODY, region))
    assert (later.status_code, later.headers["retry-after"]) == (503, "20")


def test_paths_outside_the_middleware_pass_through_unverified(
    server: tuple[Mode, str, Counter[str]],
) -> None:
    _, base, _ = server
    answer = post(base, "/open", JSON_BODY, {})
    assert (answer.status_code, answer.text) == (200, f"open {len(JSON_BODY)}")


@pytest.mark.parametrize("path", ["/guarded", "/guarded/", "/guarded%2Fhook", "/guarded/a/b"])
def test_every_spelling_of_a_covered_path_is_verified(
    server: tuple[Mode, str, Counter[str]], path: str
) -> None:
    _, base, _ = server
    answer = post(base, path, JSON_BODY, {})
    # Verified before routing: refused whether or not a route matches the path.
    assert (answer.status_code, answer.text) == (401, "401 Unauthorized: missing_signature")


def raw_exchange(base: str, head: bytes, chunks: list[bytes], stop_after: int) -> bytes:
    """Send ``head``, then ``chunks`` (chunked framing) until more than ``stop_after`` body bytes
    are out; then send nothing more and wait for the answer (its first bytes)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head)
        sent = 0
        for chunk in chunks:
            if sent > stop_after:
                break
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer:  # the head, then as much body as it declares
            answer += connection.recv(4096)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += connection.recv(4096)
        return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_declared_oversize_body_is_refused_before_any_of_it_is_sent(
    server: tuple[Mode, str, Counter[str]], kind: str
) -> None:
    mode, base, _ = server
    headers = genuine(b"{}", mode.regions[0])
    head = f"POST {KINDS[kind]} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {100 * LIMIT}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    answer = raw_exchange(base, head.encode(), [], 0)  # not a byte of the body is sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert answer.endswith(TOO_LARGE[1].encode())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_streamed_oversize_body_is_refused_after_limit_plus_one_chunk(
    server: tuple[Mode, str, Counter[str]], kind: str
) -> None:
    mode, base, runs = server
    headers = genuine(b"{}", mode.regions[0])
    head = f"POST {KINDS[kind]} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    chunks = [b"x" * 8192] * (100 * LIMIT // 8192)
    before = sum(runs.values())
    # Answered once one chunk past the limit had arrived: the other ~6 MiB were never sent.
    answer = raw_exchange(base, head.encode(), chunks, LIMIT)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert answer.endswith(TOO_LARGE[1].encode())
    assert sum(runs.values()) == before


def test_a_body_exactly_at_the_limit_is_read_whole() -> None:
    runs = Counter[str]()
    body = b"y" * LIMIT
    with served(make_app(SINGLE.receiver(), runs)) as base:
        answer = post(base, "/decorated", body, genuine(body, "US_EAST_1"))
        assert answer.status_code == 200
        assert bytes.fromhex(answer.json()["body"]) == body
        over = body + b"y"
        assert post(base, "/decorated", over, genuine(over, "US_EAST_1")).status_code == 413


def test_a_body_over_aiohttps_own_client_max_size_is_read_under_max_body_bytes() -> None:
    body = b"z" * (3 * 1024 * 1024 // 2)  # over aiohttp's 1 MiB client_max_size

    @verify_qstash(receiver=SINGLE.receiver(), max_body_bytes=2 * 1024 * 1024)
    async def big(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app = web.Application()
    app.router.add_post("/big", big)
    with served(app) as base:
        answer = post(base, "/big", body, genuine(body, "US_EAST_1"))
    assert (answer.status_code, answer.text) == (200, str(len(body)))


def test_a_client_leaving_mid_body_raises_nothing(caplog: pytest.LogCaptureFixture) -> None:
    runs = Counter[str]()
    with served(make_app(SINGLE.receiver(), runs)) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(
                b"POST /decorated HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10
            )
        answer = post(base, "/decorated", JSON_BODY, genuine(JSON_BODY, "US_EAST_1"))
        assert answer.status_code == 200  # the server is fine
    assert runs == Counter({answer.json()["message_id"]: 1})
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.parametrize("kind", ["decorator", "middleware"])
@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
def test_dedupe_runs_each_message_once_under_concurrent_copies(
    kind: str, mode: Mode, region: Region
) -> None:
    runs, store = Counter[str](), MemoryStore()
    with served(make_app(mode.receiver(), runs, dedupe=store)) as base:
        headers = genuine(JSON_BODY, region, message_id="msg_copies")
        answers: list[httpx.Response] = []

        def deliver() -> None:
            answers.append(post(base, KINDS[kind] + "?do=slow", JSON_BODY, headers))

        copies = [threading.Thread(target=deliver) for _ in range(6)]
        for copy in copies:
            copy.start()
        for copy in copies:
            copy.join()
        again = post(base, KINDS[kind], JSON_BODY, headers)
    assert runs == {"msg_copies": 1}
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {200, 409}, statuses
    handled = [a for a in answers if a.status_code == 200 and a.text.startswith("{")]
    assert len(handled) == 1
    assert all(a.headers.get("retry-after") for a in answers if a.status_code == 409)
    assert (again.status_code, again.text) == (200, "200 OK: duplicate")


def test_a_failed_answer_releases_the_claim_and_a_retry_runs() -> None:
    runs, store = Counter[str](), MemoryStore()
    with served(make_app(MIGRATION.receiver(), runs, dedupe=store)) as base:
        headers = genuine(JSON_BODY, "EU_CENTRAL_1", message_id="msg_retry")
        assert post(base, "/decorated?do=retry_later", JSON_BODY, headers).status_code == 503
        assert post(base, "/decorated", JSON_BODY, headers).status_code == 200
        assert post(base, "/decorated", JSON_BODY, headers).text == "200 OK: duplicate"
    assert runs == {"msg_retry": 2}


def test_a_raised_http_exception_releases_the_claim_even_a_2xx_one() -> None:
    runs, store = Counter[str](), MemoryStore()
    with served(make_app(SINGLE.receiver(), runs, dedupe=store)) as base:
        headers = genuine(JSON_BODY, "US_EAST_1", message_id="msg_raised")
        for _ in range(2):
            answer = post(base, "/decorated?do=raise_ok", JSON_BODY, headers)
            assert (answer.status_code, answer.text) == (200, "raised")
        assert post(base, "/decorated", JSON_BODY, headers).status_code == 200
        assert post(base, "/decorated", JSON_BODY, headers).text == "200 OK: duplicate"
    assert runs == {"msg_raised": 3}  # both raised answers released it: the third run completed


def test_url_option_checks_the_signed_url_with_request_url() -> None:
    runs = Counter[str]()
    with served(make_app(SINGLE.receiver(), runs, url=request_url)) as base:
        for path in KINDS.values():
            right = genuine(JSON_BODY, "US_EAST_1", url=f"{base}{path}?a=1")
            assert post(base, path + "?a=1", JSON_BODY, right).status_code == 200
            wrong = genuine(JSON_BODY, "US_EAST_1", url=f"{base}/elsewhere")
            answer = post(base, path + "?a=1", JSON_BODY, wrong)
            assert (answer.status_code, answer.text) == (401, "401 Unauthorized: url_mismatch")


def test_a_fixed_url_and_the_clock_tolerance() -> None:
    runs = Counter[str]()
    early = genuine(JSON_BODY, "US_EAST_1", url="https://x.test/hook", now=time.time() + 20)
    with served(make_app(SINGLE.receiver(), runs, url="https://x.test/hook")) as base:
        answer = post(base, "/decorated", JSON_BODY, early)
        assert answer.text == "401 Unauthorized: not_yet_valid"
    options = {"url": "https://x.test/hook", "clock_tolerance": 60}
    with served(make_app(SINGLE.receiver(), runs, **options)) as base:
        assert post(base, "/decorated", JSON_BODY, early).status_code == 200


def test_no_usable_keys_is_a_retryable_500(caplog: pytest.LogCaptureFixture) -> None:
    runs = Counter[str]()
    with served(make_app(Receiver(config=load_config({})), runs)) as base:
        for path in KINDS.values():
            answer = post(base, path, JSON_BODY, genuine(JSON_BODY, "US_EAST_1"))
            assert answer.status_code == 500
            assert answer.text == "500 Internal Server Error: configuration_error"
    assert runs == Counter()
    assert "no signing keys" in caplog.text


def test_the_default_receiver_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in MIGRATION.env.items():
        monkeypatch.setenv(name, value)
    default_receiver.reset()
    runs = Counter[str]()

    @verify_qstash
    async def hook(request: web.Request) -> web.Response:
        return web.Response(text=get_message(request).key_region or "")

    async def covered(request: web.Request) -> web.Response:
        return await _answer(request, runs)

    app = web.Application(middlewares=[qstash_middleware(paths=["/mw"])])
    app.router.add_post("/hook", hook)
    app.router.add_post("/mw", covered)
    try:
        with served(app) as base:
            for region in MIGRATION.regions:
                assert post(base, "/hook", b"{}", genuine(b"{}", region)).text == region
                assert post(base, "/mw", b"{}", genuine(b"{}", region)).status_code == 200
    finally:
        default_receiver.reset()


def test_options_are_checked_when_decorating() -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        verify_qstash(max_body_bytes=-1)
    with pytest.raises(TypeError, match="receiver"):
        qstash_middleware(receiver="sig_key")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="paths"):
        qstash_middleware(paths="/qstash")
    with pytest.raises(ValueError, match="paths"):
        qstash_middleware(paths=["qstash"])

    def sync_handler(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(TypeError, match="async"):
        verify_qstash(sync_handler)  # type: ignore[arg-type]


def test_a_decorated_function_that_gets_no_request_is_a_type_error() -> None:
    @verify_qstash
    async def odd(value: int) -> web.Response:
        return web.Response()

    with pytest.raises(TypeError, match="request"):
        asyncio.run(odd(1))


def test_error_classes_and_message_are_reexported() -> None:
    import qstash_receiver

    for cls in (QStashError, SignatureError, ConfigError, VerifiedMessage):
        assert getattr(adapter, cls.__name__) is getattr(qstash_receiver, cls.__name__)


def test_the_sample_app_over_a_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(__file__).resolve().parents[1] / "samples" / "aiohttp_app" / "app.py"
    spec = importlib.util.spec_from_file_location("aiohttp_sample", path)
    assert spec is not None
    assert spec.loader is not None
    sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample)
    for name, value in MIGRATION.env.items():  # the sample reads the environment
        monkeypatch.setenv(name, value)
    default_receiver.reset()
    try:
        with served(sample.create_app()) as base:
            for region in MIGRATION.regions:
                for route in ("/qstash", "/tasks/bill", "/jobs"):
                    message_id = f"m_{region}_{route}"
                    answer = post(
                        base, route, JSON_BODY, genuine(JSON_BODY, region, message_id=message_id)
                    )
                    assert answer.json() == {
                        "ok": True,
                        "message_id": message_id,
                        "key_region": region,
                        "platform": "aiohttp",
                    }
                copy = genuine(JSON_BODY, region, message_id=f"m_{region}_/jobs")
                assert post(base, "/jobs", JSON_BODY, copy).text == "200 OK: duplicate"
                refuse = json.dumps({"case": "non-retryable"}).encode()
                assert post(base, "/jobs", refuse, genuine(refuse, region)).status_code == 489
                tampered = post(base, "/qstash", JSON_BODY + b" ", genuine(JSON_BODY, region))
                assert tampered.text == "401 Unauthorized: body_mismatch"
    finally:
        default_receiver.reset()


def test_a_signature_replayed_under_another_message_id_is_refused() -> None:
    runs, store = Counter[str](), MemoryStore()
    with served(make_app(MIGRATION.receiver(), runs, dedupe=store)) as base:
        headers = genuine(JSON_BODY, "EU_CENTRAL_1", message_id="msg_first")
        assert post(base, "/decorated", JSON_BODY, headers).status_code == 200
        forged = {**headers, "Upstash-Message-Id": "msg_forged"}
        replayed = post(base, "/decorated", JSON_BODY, forged)
        assert (replayed.status_code, replayed.text) == (401, "401 Unauthorized: replayed")
    assert runs == {"msg_first": 1}
