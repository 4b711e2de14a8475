"""The Flask and Cloud Functions samples under real servers on loopback.

``gunicorn app:app --chdir samples/flask_app`` and ``functions-framework --target qstash_handler
--source samples/gcf/main.py`` run as subprocesses in migration mode, configured from the
environment only (DEMO_ENV). Deliveries are signed as both regions, plus forged ones; whether
the handler ran is counted from the samples' own ``handled <message_id>`` log lines.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from qstash_demo.services import Service, serving

from qstash_receiver.integration import DEFAULT_MAX_BODY_BYTES
from qstash_receiver.pytest_plugin import QStashSigner
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

#: The phrase of 413 as http.HTTPStatus spells it (it changed in Python 3.13).
TOO_LARGE = HTTPStatus(413).phrase

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAYLOADS = {
    kind: (ROOT / "samples" / folder / "payload.json").read_bytes()
    for kind, folder in (("flask", "flask_app"), ("gcf", "gcf"))
}
PAYLOAD = PAYLOADS["gcf"]
BINARY = bytes(range(256)) * 4 + b"\xff\xfe not utf-8"
EU_CURRENT, EU_NEXT = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]
FORGED_KEY = "sig_forgedByMallory0000000000000"
# Only what the servers need: no QSTASH_* variable of this process can leak in.
BASE_ENV = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **DEMO_ENV}
GEN1_HOST = "us-central1-demo-project.cloudfunctions.net"


def command(kind: str, port: int) -> list[str]:
    if kind == "flask":
        return [
            *(str(BIN / "gunicorn"), "app:app", "--chdir", "samples/flask_app"),
            *("-b", f"127.0.0.1:{port}", "--no-control-socket"),
        ]
    target = "qstash_handler_url_checked" if kind == "gcf-url" else "qstash_handler"
    return [
        *(str(BIN / "functions-framework"), "--target", target),
        *("--source", "samples/gcf/main.py", "--host", "127.0.0.1", "--port", str(port)),
    ]


@dataclass
class Server:
    kind: str
    service: Service

    @property
    def base_url(self) -> str:
        return self.service.url

    def log(self) -> str:
        return self.service.output()

    def handled(self) -> Counter[str]:
        return Counter(re.findall(r"^INFO qstash_sample handled (\S+)$", self.log(), re.M))


@contextmanager
def serve(kind: str, log_path: Path, env: Mapping[str, str] = BASE_ENV) -> Iterator[Server]:
    """Start a server, wait until it answers HTTP, and always stop it (SIGTERM, then kill)."""
    with serving(
        kind,
        partial(command, kind),
        env=env,
        cwd=ROOT,
        ready_path="/",  # any answer (401 here) means ready
        log_path=log_path,
    ) as service:
        yield Server(kind, service)


@pytest.fixture(scope="module", params=["flask", "gcf"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    kind: str = request.param
    with serve(kind, tmp_path_factory.mktemp(kind) / "server.log") as running:
        yield running


@dataclass(frozen=True)
class Delivery:
    name: str
    body: bytes | Iterable[bytes]  # an iterable is sent chunked (no Content-Length)
    headers: dict[str, str]
    status: int
    reason: str | None = None  # rejections
    region: str | None = None  # genuine deliveries
    method: str = "POST"
    path: str | None = None

    @property
    def message_id(self) -> str:
        return self.headers["Upstash-Message-Id"]


def deliveries(kind: str, url: str) -> list[Delivery]:
    """Five genuine deliveries (both regions, both keys, binary, GET) and seven bad ones."""
    tag = f"{kind}_{time.monotonic_ns()}"
    payload = PAYLOADS[kind]

    def signed(
        name: str, body: bytes, key: str, region: str, now: float | None = None
    ) -> dict[str, str]:
        headers = signed_headers(
            body, key=key, url=url, region=region, message_id=f"{tag}_{name}", now=now
        )
        if body and all(32 <= byte < 127 for byte in body):
            headers["Content-Type"] = "application/json"
        elif body:
            headers["Content-Type"] = "application/octet-stream"
        return headers

    def genuine(name: str, body: bytes, key: str, region: str, method: str = "POST") -> Delivery:
        return Delivery(name, body, signed(name, body, key, region), 200, None, region, method)

    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 65536):
            yield b"x" * 65536
        yield b"x" * (total % 65536)

    missing = signed("missing", payload, US_CURRENT, "US_EAST_1")
    del missing["Upstash-Signature"]
    expired = signed("expired", payload, EU_CURRENT, "EU_CENTRAL_1", now=time.time() - 301)
    big = b"o" * (DEFAULT_MAX_BODY_BYTES + 1)
    return [
        genuine("us", payload, US_CURRENT, "US_EAST_1"),
        genuine("eu", payload, EU_CURRENT, "EU_CENTRAL_1"),
        genuine("eu_next", payload, EU_NEXT, "EU_CENTRAL_1"),
        genuine("binary", BINARY, US_NEXT, "US_EAST_1"),
        genuine("get", b"", EU_CURRENT, "EU_CENTRAL_1", method="GET"),
        Delivery(
            "tampered",
            payload.replace(b"1999", b"9999"),
            signed("tampered", payload, US_CURRENT, "US_EAST_1"),
            401,
            "body_mismatch",
        ),
        Delivery("expired", payload, expired, 401, "expired"),
        Delivery("missing", payload, missing, 401, "missing_signature"),
        Delivery(
            "forged",
            payload,
            signed("forged", payload, FORGED_KEY, "EU_CENTRAL_1"),
            401,
            "invalid_signature",
        ),
        Delivery(
            "cross_region",
            payload,
            signed("cross_region", payload, EU_CURRENT, "US_EAST_1"),
            401,
            "invalid_signature",
        ),
        Delivery(
            "oversize", big, signed("oversize", big, US_CURRENT, "US_EAST_1"), 413, "body_too_large"
        ),
        Delivery(
            "oversize_chunked",
            chunks(len(big)),
            signed("oversize_chunked", big, US_CURRENT, "US_EAST_1"),
            413,
            "body_too_large",
        ),
    ]


def send(server: Server, delivery: Delivery, path: str) -> httpx.Response:
    return httpx.request(
        delivery.method,
        server.base_url + (delivery.path or path),
        content=delivery.body,
        headers=delivery.headers,
        timeout=30,
    )


def test_deliveries_from_both_regions_and_forged_ones(
    server: Server, qstash_signer: QStashSigner
) -> None:
    path = "/qstash" if server.kind == "flask" else "/deliveries/any/path"
    sent = deliveries(server.kind, url=server.base_url + path)
    if server.kind == "flask":  # the blueprint the QStash extension protects
        body = PAYLOADS["flask"]
        task = qstash_signer.headers(body, url=server.base_url + "/tasks/bill")
        sent.append(Delivery("task", body, task, 200, region="US_EAST_1", path="/tasks/bill"))
        unsigned = {"Upstash-Message-Id": "msg_task_unsigned"}
        refused = Delivery("task_unsigned", body, unsigned, 401, "missing_signature")
        sent.append(replace(refused, path="/tasks/bill"))
    for delivery in sent:
        response = send(server, delivery, path)
        assert response.status_code == delivery.status, (delivery.name, response.text)
        if delivery.status == 200:
            assert response.json() == {
                "ok": True,
                "message_id": delivery.message_id,
                "key_region": delivery.region,
                "platform": server.kind,
            }
        else:
            phrase = {401: "Unauthorized", 413: TOO_LARGE}[delivery.status]
            assert response.text == f"{delivery.status} {phrase}: {delivery.reason}"
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
    genuine = [d.message_id for d in sent if d.status == 200]
    assert server.handled() == Counter(genuine)  # each genuine one exactly once, nothing else
    for secret in (US_CURRENT, US_NEXT, EU_CURRENT, EU_NEXT):
        assert secret not in server.log()


def test_signatures_never_reach_the_log(server: Server, qstash_signer: QStashSigner) -> None:
    body = PAYLOADS[server.kind]
    path = "/qstash" if server.kind == "flask" else "/"
    headers = qstash_signer.headers(body, url=server.base_url + path, region="US_EAST_1")
    signature = headers["Upstash-Signature"]
    response = httpx.post(server.base_url + path, content=body + b" ", headers=headers)
    assert response.status_code == 401
    assert signature.split(".")[2] not in server.log() + response.text
    assert "body_mismatch" in server.log()  # the rejection itself is logged


def test_gcf_url_check_behind_googles_front_end(tmp_path: Path) -> None:
    # The published demo keys are refused on a cloud runtime: the "deployed" function has its own.
    us_current, eu_current = (
        "sig_deployedUsCurrent000000000000",
        "sig_deployedEuCurrent000000000000",
    )
    deployed = {
        **BASE_ENV,
        "K_SERVICE": "qstash-handler",  # as Cloud Functions sets it
        "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": us_current,
        "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": "sig_deployedUsNext000000000000000",
        "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": eu_current,
        "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": "sig_deployedEuNext000000000000000",
    }
    with serve("gcf-url", tmp_path / "server.log", env=deployed) as server:
        local = server.base_url + "/hooks?tenant=7"
        headers = signed_headers(PAYLOAD, key=us_current, url=local, region="US_EAST_1")
        assert httpx.post(local, content=PAYLOAD, headers=headers).status_code == 200

        public = f"https://{GEN1_HOST}/qstash-handler"
        front_end = {"Host": GEN1_HOST, "X-Forwarded-Proto": "https"}
        headers = {**signed_headers(PAYLOAD, key=eu_current, url=public, region="EU_CENTRAL_1")}
        # The front end strips the function name: the function sees "/".
        response = httpx.post(
            server.base_url + "/", content=PAYLOAD, headers={**headers, **front_end}
        )
        assert response.status_code == 200
        assert response.json()["message_id"] == headers["Upstash-Message-Id"]
        replayed = httpx.post(
            server.base_url + "/other", content=PAYLOAD, headers={**headers, **front_end}
        )
        assert (replayed.status_code, replayed.text) == (401, "401 Unauthorized: url_mismatch")
        elsewhere = signed_headers(PAYLOAD, key=us_current, url=public, region="US_EAST_1")
        direct = httpx.post(server.base_url + "/", content=PAYLOAD, headers=elsewhere)
        assert (direct.status_code, direct.text) == (401, "401 Unauthorized: url_mismatch")
        assert sum(server.handled().values()) == 2


@pytest.mark.parametrize("kind", ["flask", "gcf"])
def test_servers_stop_cleanly_even_when_a_test_fails(kind: str, tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="a failing test"),
        serve(kind, tmp_path / "log") as server,
    ):
        raise RuntimeError("a failing test")
    assert server.service.process.poll() is not None
    assert server.service.process.returncode == 0  # SIGTERM is a graceful shutdown, not a kill
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/", timeout=2)
