"""The ASGI adapters under a real uvicorn on loopback.

The test apps of ``asgi_apps`` run in uvicorn in a thread of this process (so a test can see what
each request read and how often each handler ran); the FastAPI sample runs as ``uvicorn app:app``
in a subprocess configured from the environment only (DEMO_ENV: migration mode), counted from
its ``handled <message_id>`` log lines.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from asgi_apps import (
    CHECKED_PATHS,
    EU_CURRENT,
    HANDLED,
    JSON_BODY,
    LIMIT,
    UNCONFIGURED_PATHS,
    US_CURRENT,
    US_NEXT,
    Counted,
    deliveries,
    fastapi_app,
    phrase,
    read_stopped_at_limit,
    send_every_delivery,
    signed,
    uvicorn_server,
)

from qstash_receiver.pytest_plugin import QStashSigner
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PAYLOAD = (ROOT / "samples" / "fastapi_app" / "payload.json").read_bytes()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Counted]]:
    counted = Counted(fastapi_app())
    with uvicorn_server(counted) as base:
        yield base, counted


@pytest.mark.parametrize("target", sorted(CHECKED_PATHS))
def test_every_delivery_gets_its_answer(served: tuple[str, Counted], target: str) -> None:
    base, _ = served
    path = CHECKED_PATHS[target]
    with httpx.Client(base_url=base, timeout=30) as client:
        send_every_delivery(client, base, path, target, f"uvicorn_{target}")


@pytest.mark.parametrize("target", sorted(CHECKED_PATHS))
def test_oversize_bodies_are_not_read_past_the_limit(
    served: tuple[str, Counted], target: str
) -> None:
    base, counted = served
    path = CHECKED_PATHS[target]
    big = b"z" * (4 * LIMIT)
    chunked_id, declared_id = f"chunked_{target}", f"declared_{target}"

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(big), 16384):
            yield big[start : start + 16384]

    with httpx.Client(base_url=base, timeout=60) as client:
        headers = signed(big, US_CURRENT, "US_EAST_1", base + path, chunked_id)
        chunked = client.post(path, content=chunks(), headers=headers)
        headers = signed(big, US_CURRENT, "US_EAST_1", base + path, declared_id)
        declared = client.post(path, content=big, headers=headers)
    for response in (chunked, declared):
        assert (response.status_code, response.text) == (413, f"413 {phrase(413)}: body_too_large")
    sizes = counted.chunks[chunked_id]
    assert read_stopped_at_limit(sizes, LIMIT), sizes
    assert sum(sizes) < 2 * LIMIT  # of 4 x LIMIT sent
    assert counted.chunks[declared_id] == []  # refused on its Content-Length, nothing read
    assert HANDLED[chunked_id] == HANDLED[declared_id] == 0


@pytest.mark.parametrize("target", sorted(UNCONFIGURED_PATHS))
def test_no_signing_keys_is_a_retryable_500(served: tuple[str, Counted], target: str) -> None:
    base, _ = served
    path = UNCONFIGURED_PATHS[target]
    headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", base + path, f"no_keys_{target}")
    response = httpx.post(base + path, content=JSON_BODY, headers=headers, timeout=30)
    assert (response.status_code, response.text) == (
        500,
        "500 Internal Server Error: configuration_error",
    )
    assert HANDLED[f"no_keys_{target}"] == 0


@pytest.mark.parametrize("target", ["fastapi-async", "starlette-middleware"])
def test_200_concurrent_deliveries_are_each_handled_once(
    served: tuple[str, Counted], target: str
) -> None:
    base, _ = served
    path = CHECKED_PATHS[target]
    keys = [(US_CURRENT, "US_EAST_1"), (EU_CURRENT, "EU_CENTRAL_1"), (US_NEXT, "US_EAST_1")]
    sent = [signed(JSON_BODY, *keys[i % 3], base + path, f"burst_{target}_{i}") for i in range(200)]

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(client.post(path, content=JSON_BODY, headers=h) for h in sent)
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 200
    ids = [dict(h)["Upstash-Message-Id"] for h in sent]
    assert [r.json()["message_id"] for r in responses] == ids  # each its own answer
    assert {i: HANDLED[i] for i in ids} == dict.fromkeys(ids, 1)


# --- the public URL behind a proxy -----------------------------------------------------------

PUBLIC = "https://hooks.example.com/api/fastapi/async?tenant=7"
PROXIED = {"Host": "hooks.example.com", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize("target", ["fastapi-async", "starlette-middleware"])
def test_url_check_with_proxy_headers_and_root_path(target: str) -> None:
    path = CHECKED_PATHS[target]
    public = PUBLIC.replace("/fastapi/async", path)
    trusted = {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1", "root_path": "/api"}
    with uvicorn_server(fastapi_app(), **trusted) as base, httpx.Client(timeout=30) as client:
        local = f"{base}{path}?tenant=7"
        headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", public, f"proxy_{target}")
        ok = client.post(local, content=JSON_BODY, headers=[*headers, *PROXIED.items()])
        assert (ok.status_code, ok.json()["url"]) == (200, public)
        # The same delivery straight to the server: another scheme and host, refused.
        direct = client.post(local, content=JSON_BODY, headers=headers)
        assert (direct.status_code, direct.text) == (401, "401 Unauthorized: url_mismatch")
        other = client.post(
            f"{base}{path}?tenant=8", content=JSON_BODY, headers=[*headers, *PROXIED.items()]
        )
        assert (other.status_code, other.text) == (401, "401 Unauthorized: url_mismatch")
    # A proxy uvicorn does not trust cannot set the scheme: the signed https URL does not match.
    untrusted = {**trusted, "forwarded_allow_ips": "10.9.9.9"}
    with uvicorn_server(fastapi_app(), **untrusted) as base:
        response = httpx.post(
            f"{base}{path}?tenant=7", content=JSON_BODY, headers=[*headers, *PROXIED.items()]
        )
    assert (response.status_code, response.text) == (401, "401 Unauthorized: url_mismatch")
    assert HANDLED[f"proxy_{target}"] == 1


# --- the sample, configured from the environment ---------------------------------------------


@contextmanager
def sample(env: Mapping[str, str], log_path: Path) -> Iterator[str]:
    """``uvicorn app:app`` of samples/fastapi_app on a socket bound here (``--fd``)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    command = [
        *(sys.executable, "-m", "uvicorn", "app:app", "--app-dir", "samples/fastapi_app"),
        *("--fd", str(sock.fileno()), "--no-access-log"),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
            pass_fds=[sock.fileno()],
        )  # fmt: skip
    sock.close()  # the server has its own copy
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    why = f"the sample did not start:\n{log_path.read_text()}"
                    raise RuntimeError(why) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


BASE_ENV = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"}


def test_sample_in_migration_mode_from_the_environment(
    tmp_path: Path, qstash_signer: QStashSigner
) -> None:
    log_path = tmp_path / "sample.log"
    with sample({**BASE_ENV, **DEMO_ENV}, log_path) as base, httpx.Client(timeout=30) as client:
        genuine, signatures = [], []
        # The sample keeps the default limit (10 MiB): "oversize" (1 MiB) is within it.
        # /tasks/{name} is a JSON POST route: no GET or binary deliveries there.
        for path, skip in (
            ("/qstash", {"oversize"}),
            ("/tasks/bill", {"get", "binary", "oversize"}),
        ):
            for case in deliveries(base + path, f"sample{path.replace('/', '_')}"):
                if case.name in skip:
                    continue
                response = client.request(
                    case.method, base + path, content=case.body, headers=case.headers
                )
                signatures += [v for k, v in case.headers if k == "Upstash-Signature"]
                # The sample checks no URL (the default), so a delivery signed for another
                # URL of this app is accepted.
                if case.status == 200 or case.reason == "url_mismatch":
                    assert response.json() == {
                        "ok": True,
                        "message_id": case.message_id,
                        "key_region": case.region or "US_EAST_1",
                        "platform": "fastapi",
                    }
                    genuine.append(case.message_id)
                else:
                    expected = f"{case.status} {phrase(case.status)}: {case.reason}"
                    assert (response.status_code, response.text) == (case.status, expected)
        payload = qstash_signer.headers(
            SAMPLE_PAYLOAD,
            url=base + "/tasks/refund",
            region="EU_CENTRAL_1",
            message_id="sample_task_payload",
        )
        payload["Content-Type"] = "application/json"
        task = client.post(base + "/tasks/refund", content=SAMPLE_PAYLOAD, headers=payload)
        assert task.status_code == 200
        genuine.append("sample_task_payload")
        unrouted = client.post(base + "/qstash-not-covered", content=b"x")
        assert unrouted.status_code == 404  # neither verified nor routed
    log = log_path.read_text()
    handled = Counter(re.findall(r"^INFO qstash_sample handled (\S+)$", log, re.M))
    assert handled == Counter(genuine)  # each genuine one exactly once, nothing else
    assert "task refund for order 4217" in log
    for current, nxt in DEMO_KEYS.values():
        assert current not in log
        assert nxt not in log
    assert "body_mismatch" in log  # rejections are logged, without their signatures
    assert not [s for s in signatures if s.split(".")[2] in log]


def test_sample_without_keys_answers_500(tmp_path: Path) -> None:
    env = {**BASE_ENV, "QSTASH_REGION": "US_EAST_1"}  # migration mode, but no keys anywhere
    with sample(env, tmp_path / "sample.log") as base:
        for path in ("/qstash", "/tasks/bill"):
            headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", base + path, "no_keys")
            response = httpx.post(base + path, content=JSON_BODY, headers=headers, timeout=30)
            assert (response.status_code, response.text) == (
                500,
                "500 Internal Server Error: configuration_error",
            )
    assert "handled" not in (tmp_path / "sample.log").read_text()
