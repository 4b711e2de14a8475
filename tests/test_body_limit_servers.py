"""A forged oversize body, streamed to each real server, is refused without being read.

Each server of tests/servers/ runs with ``max_body_bytes`` = 4 MiB (``limit_body`` in front of
Django under uvicorn; the FastAPI dependency and the Starlette middleware under uvicorn). The
client streams a forged body from a generator, once with a declared ``Content-Length`` and once
chunked; the server's processes (read from /proc: the gunicorn arbiter and its workers, or the
uvicorn process) may grow at peak by less than twice the limit. The body is 64 MiB here;
``QSTASH_TEST_FORGED_BODY_MB=256`` runs the full-size case.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from http import HTTPStatus

import httpx
import pytest
from limit_servers import US_CURRENT, serve
from memory import peak_growth
from qstash_demo.services import Service

from qstash_receiver.testing import signed_headers

LIMIT = 4 * 1024 * 1024  # large beside the servers' own fixed buffering (uvicorn: ~1 MiB)
FORGED_BYTES = int(os.environ.get("QSTASH_TEST_FORGED_BODY_MB", "64")) * 1024 * 1024
CHUNK = b"f" * 65536
PATHS = {
    "gunicorn-flask": "/limited",
    "functions-framework": "/limited",
    "gunicorn-django": "/qstash/limited/",
    "uvicorn-django": "/qstash/limited/",
    "uvicorn-fastapi": "/limited",
    "uvicorn-starlette-middleware": "/middleware/limited",
}
TOO_LARGE = (413, f"413 {HTTPStatus(413).phrase}: body_too_large")
# Django under WSGI reads no chunked body at all (it trusts CONTENT_LENGTH, absent here, and
# reads 0 bytes), so nothing of it is read and the signature does not match the empty body.
NOT_READ = (401, "401 Unauthorized: body_mismatch")
# A genuine signature of another body: only the body is wrong.
FORGED = signed_headers(b'{"a": "small body"}', key=US_CURRENT, region="US_EAST_1")


@pytest.fixture(scope="module", params=sorted(PATHS))
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Service]]:
    name: str = request.param
    with serve(name, tmp_path_factory.mktemp(name) / "server.log") as service:
        # Warm up: the first request builds the receiver and what the framework loads lazily.
        httpx.post(service.url + PATHS[name], content=b"{}", timeout=30)
        yield name, service


def forged_body(total: int) -> Iterator[bytes]:
    for _ in range(total // len(CHUNK)):
        yield CHUNK


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_forged_oversize_body_is_refused_without_being_read(
    server: tuple[str, Service], framing: str
) -> None:
    name, service = server
    headers = dict(FORGED)
    if framing == "content-length":  # httpx then sends the generator without chunking it
        headers["Content-Length"] = str(FORGED_BYTES)
    with peak_growth(service.process.pid) as growth, httpx.Client(timeout=120) as client:
        response = client.post(
            service.url + PATHS[name], content=forged_body(FORGED_BYTES), headers=headers
        )
    expected = NOT_READ if (name, framing) == ("gunicorn-django", "chunked") else TOO_LARGE
    assert (response.status_code, response.text) == expected
    print(f"{name} {framing} {FORGED_BYTES >> 20} MiB: peak growth {growth.most} KiB")
    assert growth.kib  # every process of the server was measured
    assert growth.most < 2 * LIMIT // 1024, (name, framing, growth.kib)
    assert "handled" not in response.text
