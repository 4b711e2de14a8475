"""The deliveries every framework-neutral adapter is tried with on a real server (not a test).

The servers are those of tests/servers/neutral_*.py, started as subprocesses in single-region or
migration mode (keys from the environment only); whether a handler ran, and how much of a body
the adapter read, is read from their ``handled <id>`` and ``read <id> <bytes>`` log lines.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import httpx
from qstash_demo.services import Service, serving

from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "tests" / "servers"
BIN = Path(sys.executable).parent
LIMIT = 256 * 1024  # tests/servers/neutral_common.py
EU_CURRENT, EU_NEXT = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]
FORGED_KEY = "sig_forgedByMallory0000000000000"
BINARY = bytes(range(256)) * 200 + b"\xff\xfe\x00\xc3\x28 not utf-8"
MODES = {
    "migration": DEMO_ENV,
    "single": {"QSTASH_CURRENT_SIGNING_KEY": US_CURRENT, "QSTASH_NEXT_SIGNING_KEY": US_NEXT},
}
BASE_ENV = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(SERVERS)}


def gunicorn(app: str) -> Callable[[int], list[str]]:
    """gunicorn with one worker of 8 threads: concurrent copies meet one guard store."""
    return lambda port: [
        *(str(BIN / "gunicorn"), app, "--chdir", str(SERVERS), "-b", f"127.0.0.1:{port}"),
        *("--worker-class", "gthread", "--threads", "8", "--no-control-socket"),
    ]


def uvicorn(app: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *(sys.executable, "-m", "uvicorn", app, "--app-dir", str(SERVERS)),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--lifespan", "off"),
    ]


@contextmanager
def server(command: Callable[[int], list[str]], mode: str, log: Path) -> Iterator[Service]:
    """A test server in ``mode`` (single-region or migration), stopped on exit."""
    env = {**BASE_ENV, **MODES[mode]}
    with serving(log.stem, command, env=env, cwd=ROOT, ready_path="/", log_path=log) as service:
        yield service


def handled(service: Service) -> Counter[str]:
    return Counter(re.findall(r"handled (\S+)$", service.output(), re.M))


def read_bytes(service: Service, message_id: str) -> tuple[int, int] | None:
    """The body bytes the adapter read for ``message_id``, and those of its last read (logged
    once the app returned, which under ASGI may be just after the answer: waited for)."""
    pattern, deadline = rf"read {re.escape(message_id)} (\d+) (\d+)$", time.monotonic() + 10
    found = re.findall(pattern, service.output(), re.M)
    while not found and time.monotonic() < deadline:
        time.sleep(0.05)
        found = re.findall(pattern, service.output(), re.M)
    return (int(found[0][0]), int(found[0][1])) if len(found) == 1 else None


def signed(body: bytes, key: str, region: str, message_id: str) -> dict[str, str]:
    headers = signed_headers(body, key=key, region=region, message_id=message_id)
    return {**headers, "Content-Type": "application/octet-stream"}


def text(status: int, reason: str) -> str:
    phrase = "Error" if status == 489 else HTTPStatus(status).phrase
    return f"{status} {phrase}: {reason}"


def check_every_case(service: Service, prefix: str, mode: str, chunked_status: int = 413) -> None:
    """Every case of the brief against ``service``: genuine (each key of each region, GET,
    binary), the refusals, oversize bodies, the handler's own errors."""
    base, tag = service.url + prefix, uuid.uuid4().hex[:8]
    keys = [(US_CURRENT, "US_EAST_1", "current"), (US_NEXT, "US_EAST_1", "next")]
    if mode == "migration":
        keys += [(EU_CURRENT, "EU_CENTRAL_1", "current"), (EU_NEXT, "EU_CENTRAL_1", "next")]
    json_body = b'{"event": "order.created", "order_id": 4217}'
    with httpx.Client(timeout=30) as client:
        genuine = [
            (f"{tag}_{region}_{used}", json_body, key, region, used, "POST")
            for key, region, used in keys
        ]
        genuine += [
            (f"{tag}_binary", BINARY, US_NEXT, "US_EAST_1", "next", "POST"),
            (f"{tag}_get", b"", US_CURRENT, "US_EAST_1", "current", "GET"),
        ]
        for message_id, body, key, region, used, method in genuine:
            headers = signed(body, key, region, message_id)
            answer = client.request(method, base + "/qstash", content=body, headers=headers)
            assert answer.status_code == 200, (message_id, answer.text)
            seen = answer.json()
            assert seen["message_id"] == message_id
            assert seen["key_region"] == (region if mode == "migration" else None)
            assert seen["key_used"] == used
            assert (seen["length"], seen["same_body"], seen["in_place"]) == (len(body), True, True)
            assert seen["sha256"] == hashlib.sha256(body).hexdigest()
        other = b'{"order_id": 1}'
        refused = {  # the header says US_EAST_1: the EU key is the wrong region's
            "missing": ({}, "missing_signature"),
            "forged": (signed(json_body, FORGED_KEY, "US_EAST_1", f"{tag}_forged"), "invalid"),
            "wrong_region": (signed(json_body, EU_CURRENT, "US_EAST_1", f"{tag}_wr"), "invalid"),
            "tampered": (signed(other, US_CURRENT, "US_EAST_1", f"{tag}_tampered"), "mismatch"),
        }
        reasons = {"invalid": "invalid_signature", "mismatch": "body_mismatch"}
        for name, (headers, short) in refused.items():
            reason = reasons.get(short, short)
            answer = client.post(base + "/qstash", content=json_body, headers=headers)
            assert (answer.status_code, answer.text) == (401, text(401, reason)), name
            assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        for do, status, header, value in (
            ("nonretryable", 489, "upstash-nonretryable-error", "true"),
            ("retry_later", 503, "retry-after", "30"),
        ):
            body = json.dumps({"do": do}).encode()
            headers = signed(body, US_CURRENT, "US_EAST_1", f"{tag}_{do}")
            answer = client.post(base + "/qstash", content=body, headers=headers)
            assert (answer.status_code, answer.headers.get(header)) == (status, value), answer.text
        # Guarded: the refusal released the claim, so a retry of the message runs it again.
        body, once = b'{"do": "nonretryable"}', base + "/once"
        headers = signed(body, US_CURRENT, "US_EAST_1", f"{tag}_released")
        for _ in range(2):
            answer = client.post(once, content=body, headers=headers)
            assert answer.status_code == 489, answer.text
        check_oversize(service, base, tag, chunked_status)
    runs = handled(service)
    assert {m: runs[m] for m, *_ in genuine} == {m: 1 for m, *_ in genuine}
    assert runs[f"{tag}_nonretryable"] == runs[f"{tag}_retry_later"] == 1
    assert runs[f"{tag}_released"] == 2
    assert not [m for m in runs if m.endswith(("_forged", "_wr", "_tampered", "_big"))]


def check_oversize(service: Service, base: str, tag: str, chunked_status: int = 413) -> None:
    """413 for a body over the limit: declared, unread; chunked, read no further than the read
    that crossed the limit (http.server refuses chunked bodies unread: 411)."""
    big = b"z" * (4 * LIMIT)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(big), 16384):
            yield big[start : start + 16384]

    declared_id, chunked_id = f"{tag}_declared_big", f"{tag}_chunked_big"
    # Each on a connection of its own: a server may close one whose body it did not read.
    with httpx.Client(timeout=30) as fresh:
        headers = signed(big, US_CURRENT, "US_EAST_1", declared_id)
        declared = fresh.post(base + "/qstash", content=big, headers=headers)
    with httpx.Client(timeout=30) as fresh:
        headers = signed(big, US_CURRENT, "US_EAST_1", chunked_id)
        chunked = fresh.post(base + "/qstash", content=chunks(), headers=headers)
    assert (declared.status_code, declared.text) == (413, text(413, "body_too_large"))
    assert read_bytes(service, declared_id) == (0, 0)
    read = read_bytes(service, chunked_id)
    if chunked_status == 411:
        assert (chunked.status_code, chunked.text) == (411, text(411, "length_required"))
        assert read == (0, 0)
        return
    assert (chunked.status_code, chunked.text) == (413, text(413, "body_too_large"))
    assert read is not None
    assert read[0] - read[1] <= LIMIT < read[0], read  # it stopped with the read that crossed


def check_concurrent_copies(service: Service, prefix: str, copies: int = 8) -> None:
    """``copies`` copies of one slow message at once to the guarded route: it runs once."""
    url, message_id = service.url + prefix + "/once", f"copies_{uuid.uuid4().hex[:8]}"
    body = b'{"do": "slow"}'
    headers = signed(body, US_CURRENT, "US_EAST_1", message_id)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(client.post(url, content=body, headers=headers) for _ in range(copies))
            )

    statuses = Counter(answer.status_code for answer in asyncio.run(burst()))
    assert handled(service)[message_id] == 1, statuses
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1, statuses
    again = httpx.post(url, content=body, headers=headers, timeout=30)  # a later copy
    assert (again.status_code, again.text) == (200, text(200, "duplicate"))
    assert handled(service)[message_id] == 1
