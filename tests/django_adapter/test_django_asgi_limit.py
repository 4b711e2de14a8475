"""``limit_body`` in front of Django's own ASGI handler, driven as an ASGI server drives it.

Django's ``ASGIHandler`` receives every chunk of a body before a view runs; these tests count
what it received. (tests/test_body_limit_servers.py runs the same under uvicorn.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
from django.core.asgi import get_asgi_application

from qstash_receiver.adapters.django.asgi import ASGIApp, limit_body
from qstash_receiver.testing import DEMO_KEYS, signed_headers

LIMIT = 1024 * 1024
CHUNK = b"c" * 65536
TOO_LARGE = f"413 {HTTPStatus(413).phrase}: body_too_large".encode()
US_CURRENT = DEMO_KEYS["US_EAST_1"][0]
DJANGO = get_asgi_application()


@dataclass
class Exchange:
    """One request through an ASGI app: what it received and what it sent back."""

    chunks: Iterator[bytes]
    received: int = 0  # body chunks taken by the application
    sent: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def endless() -> Iterator[bytes]:
    while True:
        yield CHUNK


def run(
    app: ASGIApp,
    chunks: Iterable[bytes],
    *,
    path: str = "/sync-function/demo/",
    headers: Mapping[str, str] | None = None,
    length: int | None = None,
) -> Exchange:
    exchange = Exchange(iter(chunks))
    sent_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    sent_headers.append((b"host", b"testserver"))
    if length is not None:
        sent_headers.append((b"content-length", str(length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": sent_headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    finished = False

    async def receive() -> Mapping[str, Any]:
        nonlocal finished
        if finished:  # after the body, a server reports the disconnect when it happens
            await asyncio.sleep(3600)
        chunk = next(exchange.chunks, None)
        if chunk is None:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        exchange.received += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Mapping[str, Any]) -> None:
        exchange.sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=60))
    return exchange


def test_django_alone_receives_a_whole_oversize_body_before_answering() -> None:
    # The platform's own behaviour, which limit_body exists for: all 64 chunks are received.
    exchange = run(DJANGO, [CHUNK] * 64, length=64 * len(CHUNK))
    assert exchange.received == 64
    assert exchange.status == 413


def test_a_declared_oversize_body_is_answered_before_django_runs() -> None:
    exchange = run(limit_body(DJANGO, max_body_bytes=LIMIT), endless(), length=256 << 20)
    assert (exchange.received, exchange.status, exchange.body) == (0, 413, TOO_LARGE)
    start = exchange.sent[0]
    assert dict(start["headers"])[b"content-type"] == b"text/plain; charset=utf-8"
    assert dict(start["headers"])[b"content-length"] == str(len(TOO_LARGE)).encode()


def test_a_chunked_body_stops_at_the_first_chunk_past_the_limit() -> None:
    exchange = run(limit_body(DJANGO, max_body_bytes=LIMIT), endless())
    assert exchange.received == LIMIT // len(CHUNK) + 1  # never the rest of an endless body
    assert (exchange.status, exchange.body) == (413, TOO_LARGE)
    assert len(exchange.sent) == 2  # Django saw a disconnect and answered nothing itself


def test_a_body_within_the_limit_reaches_the_view_unchanged() -> None:
    body = json.dumps({"order": 7, "pad": "x" * 70000}).encode()
    headers = signed_headers(body, key=US_CURRENT, region="US_EAST_1", message_id="msg_asgi")
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    exchange = run(limit_body(DJANGO, max_body_bytes=LIMIT), pieces, headers=headers)
    assert exchange.status == 200, exchange.body
    answer = json.loads(exchange.body)
    assert answer["message_id"] == "msg_asgi"
    assert bytes.fromhex(answer["body_hex"]) == body


def test_paths_outside_the_prefixes_are_not_limited() -> None:
    app = limit_body(DJANGO, max_body_bytes=LIMIT, paths=["/qstash/"])
    exchange = run(app, [CHUNK] * 20, path="/plain/")  # 1.25 MiB to a non-QStash path
    assert exchange.received == 20
    assert exchange.status == 403  # Django's own answer (CSRF): it got the request
    limited = run(app, endless(), path="/qstash/hook/")
    assert (limited.status, limited.body) == (413, TOO_LARGE)


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(limit_body(app, max_body_bytes=0)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_an_application_already_answering_is_cut_off_not_overwritten() -> None:
    # An app that starts streaming its answer before reading the whole body (not Django).
    got: list[Mapping[str, Any]] = []

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            got.append(message)
            if message["type"] == "http.disconnect":
                break
        await send({"type": "http.response.body", "body": b"late", "more_body": False})

    exchange = run(limit_body(streaming, max_body_bytes=LIMIT), endless())
    assert got[-1] == {"type": "http.disconnect"}
    assert len(got) == LIMIT // len(CHUNK) + 1
    assert [m["type"] for m in exchange.sent] == ["http.response.start"]  # no 413, no "late"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"paths": "/qstash/"}, TypeError),
        ({"paths": ["qstash/"]}, ValueError),
        ({"paths": [b"/qstash/"]}, ValueError),
        ({"max_body_bytes": -1}, ValueError),
        ({"max_body_bytes": True}, ValueError),
        ({"max_body_bytes": float("nan")}, ValueError),
    ],
)
def test_invalid_options_are_refused_when_wrapping(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        limit_body(DJANGO, **options)
